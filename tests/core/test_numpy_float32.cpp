// float32 reductions in numpy's order: pairwise blocks of <= 128 (8-way
// unrolled) inside chunks of 8192, chunk sums accumulated in float32.
// Expected values were worked out step by step in float32 (round to nearest
// even; above 2^24 only even integers are representable, above 2^26 only
// multiples of 8).
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "qme/core/numpy_float32.hpp"

namespace np = qme::numpy;

namespace {
constexpr float kTwo24 = 16777216.0f;  // 2^24: x + 1 rounds back to x (tie, even)

float naive_sum(const std::vector<float>& x) {
  float s = 0.0f;
  for (float v : x) s += v;
  return s;
}
}  // namespace

TEST_CASE("sum of fewer than 8 elements adds left to right", "[core]") {
  const std::vector<float> x = {0.5f, 0.25f, 0.125f};
  CHECK(np::sum(x.data(), x.size()) == 0.875f);
  CHECK(np::sum(x.data(), 0) == 0.0f);
  // [1 x6, 2^24]: 6 + 2^24 is exact (even).
  const std::vector<float> y = {1, 1, 1, 1, 1, 1, kTwo24};
  CHECK(np::sum(y.data(), y.size()) == kTwo24 + 6.0f);
}

TEST_CASE("sum of 8..128 elements uses eight interleaved accumulators", "[core]") {
  // [1e8, 1 x15], n = 16: r0 = 1e8 + 1 -> 1e8 (spacing 8 at 1e8), r1..r7 = 2;
  // ((1e8 + 2) + 4) + 8: 1e8 + 2 -> 1e8, 1e8 + 4 -> 1e8 (tie, even), + 8 -> 100000008.
  // Naive left-to-right stays at 1e8.
  std::vector<float> x(16, 1.0f);
  x[0] = 1e8f;
  CHECK(np::sum(x.data(), x.size()) == 100000008.0f);
  CHECK(naive_sum(x) == 1e8f);
}

TEST_CASE("sum of 8..128 elements adds the remainder after the tree", "[core]") {
  // [2^24, 1 x12], n = 13: tree of the first 8 = ((2^24+1)+2)+(2+2) = 2^24+6;
  // then +1 five times: 2^24+7 -> 2^24+8 (tie, even), 2^24+9 -> 2^24+8, ...
  std::vector<float> x(13, 1.0f);
  x[0] = kTwo24;
  CHECK(np::sum(x.data(), x.size()) == kTwo24 + 8.0f);
  CHECK(naive_sum(x) == kTwo24);
}

TEST_CASE("sum beyond one block is pairwise, not naive", "[core]") {
  // [2^24, 1 x16383], n = 16384 = two 8192 chunks of 64 blocks of 128.
  // Block 0: r0 = 2^24 (each +1 rounds back), r1..r7 = 16 -> 2^24 + 112;
  // the other 127 blocks are exactly 128 each; every later sum is exact:
  // 2^24 + 112 + 127 * 128 = 2^24 + 16368. Naive: 2^24. Exact: 2^24 + 16383.
  std::vector<float> x(16384, 1.0f);
  x[0] = kTwo24;
  CHECK(np::sum(x.data(), x.size()) == kTwo24 + 16368.0f);
  CHECK(naive_sum(x) == kTwo24);
}

TEST_CASE("sum beyond 8192 elements accumulates chunk sums in float32", "[core]") {
  // n = 24576 = three 8192 chunks: 2^24 at 0, 1 at 13000 (chunk 2), 1 at 20000
  // (chunk 3). Chunks: 2^24, 1, 1 -> (2^24 + 1) -> 2^24, + 1 -> 2^24.
  // One pairwise tree over all 24576 would split at 12288 and give
  // 2^24 + (1 + 1) = 2^24 + 2.
  std::vector<float> x(24576, 0.0f);
  x[0] = kTwo24;
  x[13000] = 1.0f;
  x[20000] = 1.0f;
  CHECK(np::sum(x.data(), x.size()) == kTwo24);
  // Small values in many chunks are exact.
  std::vector<float> ones(20000, 1.0f);
  CHECK(np::sum(ones.data(), ones.size()) == 20000.0f);
}

TEST_CASE("mean divides the float32 sum in double and rounds to float32", "[core]") {
  const std::vector<float> a = {1, 2, 3, 4};
  CHECK(np::mean(a.data(), a.size()) == 2.5f);
  const std::vector<float> b = {1, 2, 2};
  CHECK(np::mean(b.data(), b.size()) == static_cast<float>(5.0 / 3.0));
  // The sum is numpy's pairwise one: (2^24 + 16368) / 16384 = 1024 + 0.999...
  std::vector<float> x(16384, 1.0f);
  x[0] = kTwo24;
  CHECK(np::mean(x.data(), x.size()) == static_cast<float>((16777216.0 + 16368.0) / 16384.0));
}

TEST_CASE("std_dev is the population standard deviation", "[core]") {
  // mean 5, squared deviations 9 1 1 1 0 0 4 16 = 32, / 8 = 4 -> 2.
  const std::vector<float> a = {2, 4, 4, 4, 5, 5, 7, 9};
  CHECK(np::std_dev(a.data(), a.size()) == 2.0f);
  // [1 2 3 4]: variance (2.25 + 0.25 + 0.25 + 2.25) / 4 = 1.25.
  const std::vector<float> b = {1, 2, 3, 4};
  CHECK(np::std_dev(b.data(), b.size()) == std::sqrt(1.25f));
  const std::vector<float> c = {3, 3, 3};
  CHECK(np::std_dev(c.data(), c.size()) == 0.0f);
}

TEST_CASE("plus_epsilon adds 1e-10 in double and rounds to float32", "[core]") {
  CHECK(np::plus_epsilon(1.0f) == 1.0f);
  CHECK(np::plus_epsilon(0.0f) == static_cast<float>(1e-10));
  CHECK(np::plus_epsilon(0.0f) > 0.0f);
}

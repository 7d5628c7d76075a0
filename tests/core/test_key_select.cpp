// The tail selection of a row's score keys and the prefaulting buffer helpers.
#include <catch2/catch.hpp>
#include <cstdint>
#include <random>
#include <vector>

#include "qme/core/key_select.hpp"
#include "qme/core/prefault.hpp"

namespace {

std::vector<uint32_t> expected_indices(const std::vector<uint32_t>& keys, uint32_t threshold) {
  std::vector<uint32_t> out;
  for (size_t j = 0; j < keys.size(); ++j) {
    if (keys[j] >= threshold) out.push_back(static_cast<uint32_t>(j));
  }
  return out;
}

using Select = int64_t (*)(const uint32_t*, int64_t, uint32_t, uint32_t*);

std::vector<uint32_t> run_select(Select select, const std::vector<uint32_t>& keys, uint32_t threshold) {
  std::vector<uint32_t> out(keys.size() + 16, 0xdeadbeefu);
  const int64_t count = select(keys.data(), static_cast<int64_t>(keys.size()), threshold, out.data());
  out.resize(static_cast<size_t>(count));
  return out;
}

}  // namespace

TEST_CASE("indices_at_or_above lists exactly the keys at or above the threshold", "[core]") {
  std::mt19937 gen(7);
  // Lengths around the 16-key blocks, thresholds from none kept to all kept, keys spread over
  // the whole uint32 range (the sign bit flips the order of a signed compare) and in a narrow one.
  for (size_t n : {size_t{0}, size_t{1}, size_t{15}, size_t{16}, size_t{17}, size_t{100}, size_t{7050}}) {
    for (uint32_t spread : {0xffffffffu, 1000u}) {
      std::uniform_int_distribution<uint32_t> key(0x7fffff00u - spread / 2, 0x7fffff00u + spread / 2);
      std::vector<uint32_t> keys(n);
      for (auto& k : keys) k = spread == 0xffffffffu ? gen() : key(gen);
      std::vector<uint32_t> thresholds = {0u, 1u, 0x7fffff00u, 0x80000000u, 0xffffffffu};
      if (n > 0) thresholds.push_back(keys[n / 2]);  // a threshold equal to a key: kept
      for (uint32_t threshold : thresholds) {
        INFO("n " << n << " spread " << spread << " threshold " << threshold);
        const auto expected = expected_indices(keys, threshold);
        CHECK(run_select(qme::indices_at_or_above, keys, threshold) == expected);
        CHECK(run_select(qme::detail::indices_at_or_above_portable, keys, threshold) == expected);
      }
    }
  }
}

TEST_CASE("the prefaulting helpers size and fill vectors as resize and assign do", "[core]") {
  std::vector<int64_t> v = {1, 2, 3};
  qme::resize_prefaulted(v, 5000);  // grows: reserved and populated, old values kept
  REQUIRE(v.size() == 5000);
  CHECK(v[0] == 1);
  CHECK(v[2] == 3);
  CHECK(v[4999] == 0);
  qme::resize_prefaulted(v, 10);  // shrinks: no reallocation
  CHECK(v.size() == 10);
  qme::assign_prefaulted(v, 20000, int64_t{-1});
  REQUIRE(v.size() == 20000);
  CHECK(v.front() == -1);
  CHECK(v.back() == -1);
  qme::assign_prefaulted(v, 3, int64_t{4});
  CHECK(v == std::vector<int64_t>{4, 4, 4});
  std::vector<uint32_t> empty;
  qme::assign_prefaulted(empty, 0, 0u);
  CHECK(empty.empty());
}

// numpy's legacy global generator (np.random.seed / permutation / choice).
// Expected values are numpy's own output (numpy 1.24), quoted in each case.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "qme/core/error.hpp"
#include "qme/core/numpy_random.hpp"

using qme::NumpyLegacyRandom;

TEST_CASE("seeding is MT19937 init_genrand, like std::mt19937", "[core]") {
  // np.random.seed(s) calls init_genrand(s): the raw 32-bit stream equals
  // std::mt19937(s)'s.
  for (uint32_t seed : {0u, 45u, 4294967295u}) {
    NumpyLegacyRandom rng(seed);
    std::mt19937 reference(seed);
    for (int i = 0; i < 5; ++i) CHECK(rng.next_uint32() == reference());
  }
  // Well-known first output of the standard MT19937 with its default seed.
  NumpyLegacyRandom default_seed(5489u);
  CHECK(default_seed.next_uint32() == 3499211612u);
}

TEST_CASE("interval(0) is 0 and draws nothing", "[core]") {
  NumpyLegacyRandom rng(45);
  std::mt19937 reference(45);
  CHECK(rng.interval(0) == 0);
  // numpy's random_interval returns 0 for max == 0 without touching the stream.
  CHECK(rng.next_uint32() == reference());
}

TEST_CASE("interval draws masked values below or equal to max", "[core]") {
  // max = 5: mask = 0b111; values 6 and 7 are rejected and redrawn.
  NumpyLegacyRandom rng(45);
  std::mt19937 reference(45);
  for (int i = 0; i < 200; ++i) {
    uint32_t expected;
    do {
      expected = static_cast<uint32_t>(reference()) & 7u;
    } while (expected > 5u);
    REQUIRE(rng.interval(5) == expected);
  }
}

TEST_CASE("permutation reproduces np.random.permutation", "[core]") {
  // np.random.seed(0); np.random.permutation(10) -> [2 8 4 9 1 6 7 3 0 5]
  NumpyLegacyRandom rng(0);
  CHECK(rng.permutation(10) == std::vector<int64_t>{2, 8, 4, 9, 1, 6, 7, 3, 0, 5});
}

TEST_CASE("permutation of 0 and 1 elements is trivial", "[core]") {
  NumpyLegacyRandom rng(3);
  CHECK(rng.permutation(0).empty());
  CHECK(rng.permutation(1) == std::vector<int64_t>{0});
}

TEST_CASE("choice without replacement reproduces numpy's draws for seed 45", "[core]") {
  // np.random.seed(45); three times:
  //   np.sort(np.random.choice([1, 4, ..., 28], 8, replace=False))
  // (numpy 1.24, ../shared/fixtures/rng/rng_expected.json)
  const std::vector<int64_t> population = {1, 4, 7, 10, 13, 16, 19, 22, 25, 28};
  const std::vector<std::vector<int64_t>> expected = {
      {4, 7, 13, 16, 19, 22, 25, 28}, {1, 7, 10, 13, 19, 22, 25, 28}, {1, 7, 10, 13, 16, 19, 22, 28}};
  NumpyLegacyRandom rng(45);
  for (const auto& draw : expected) {
    auto got = rng.choice_without_replacement(population, 8);
    std::sort(got.begin(), got.end());
    CHECK(got == draw);
  }
}

TEST_CASE("choice takes the first k of the permutation, mapped through the population", "[core]") {
  const std::vector<int64_t> population = {100, 101, 102, 103, 104, 105, 106};
  NumpyLegacyRandom a(7), b(7);
  const auto order = a.permutation(7);
  const auto picked = b.choice_without_replacement(population, 3);
  REQUIRE(picked.size() == 3);
  for (size_t i = 0; i < 3; ++i) CHECK(picked[i] == population[static_cast<size_t>(order[i])]);
  // Both consumed the same number of draws.
  CHECK(a.next_uint32() == b.next_uint32());
}

TEST_CASE("choice of zero elements still shuffles, as numpy does", "[core]") {
  // numpy's choice(a, 0, replace=False) permutes the whole population first.
  NumpyLegacyRandom a(45), b(45);
  CHECK(a.choice_without_replacement({1, 2, 3, 4}, 0).empty());
  b.permutation(4);
  CHECK(a.next_uint32() == b.next_uint32());
}

TEST_CASE("choice of more elements than the population throws", "[core]") {
  NumpyLegacyRandom rng(45);
  CHECK_THROWS_AS(rng.choice_without_replacement({1, 2, 3}, 4), qme::Error);
  CHECK_THROWS_AS(rng.choice_without_replacement({1, 2, 3}, -1), qme::Error);
  CHECK_NOTHROW(rng.choice_without_replacement({1, 2, 3}, 3));
}

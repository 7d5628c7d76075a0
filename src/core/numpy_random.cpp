#include "qme/core/numpy_random.hpp"

#include <numeric>
#include <utility>

#include "qme/core/error.hpp"

namespace qme {

uint64_t NumpyLegacyRandom::interval(uint64_t max) {
  if (max == 0) return 0;
  uint64_t mask = max;
  mask |= mask >> 1;
  mask |= mask >> 2;
  mask |= mask >> 4;
  mask |= mask >> 8;
  mask |= mask >> 16;
  mask |= mask >> 32;
  uint64_t value = 0;
  if (max <= 0xffffffffULL) {
    while ((value = (next_uint32() & mask)) > max) {
    }
  } else {
    // numpy draws 64-bit values as two 32-bit words, high word first.
    auto next64 = [this] {
      const uint64_t hi = next_uint32();
      return (hi << 32) | next_uint32();
    };
    while ((value = (next64() & mask)) > max) {
    }
  }
  return value;
}

std::vector<int64_t> NumpyLegacyRandom::permutation(int64_t n) {
  std::vector<int64_t> out(static_cast<size_t>(n));
  std::iota(out.begin(), out.end(), int64_t{0});
  for (int64_t i = n - 1; i >= 1; --i) {
    const auto j = static_cast<int64_t>(interval(static_cast<uint64_t>(i)));
    std::swap(out[static_cast<size_t>(i)], out[static_cast<size_t>(j)]);
  }
  return out;
}

std::vector<int64_t> NumpyLegacyRandom::choice_without_replacement(const std::vector<int64_t>& population,
                                                                   int64_t k) {
  const auto n = static_cast<int64_t>(population.size());
  if (k < 0 || k > n) {
    throw Error("choice: cannot take " + std::to_string(k) + " of " + std::to_string(n) +
                " without replacement");
  }
  const auto order = permutation(n);
  std::vector<int64_t> out(static_cast<size_t>(k));
  for (int64_t i = 0; i < k; ++i) out[static_cast<size_t>(i)] = population[order[i]];
  return out;
}

}  // namespace qme

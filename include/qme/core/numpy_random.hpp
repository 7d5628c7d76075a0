#pragma once
/// numpy's legacy global generator (np.random.seed / np.random.choice), bit
/// for bit: upstream draws the open-set enrolment subsets with it.
#include <cstdint>
#include <random>
#include <vector>

namespace qme {

class NumpyLegacyRandom {
 public:
  /// np.random.seed(seed): MT19937 init_genrand(seed).
  explicit NumpyLegacyRandom(uint32_t seed) : engine_(seed) {}

  uint32_t next_uint32() { return static_cast<uint32_t>(engine_()); }

  /// Uniform integer in [0, max] by masked rejection (numpy's random_interval).
  uint64_t interval(uint64_t max);

  /// np.random.permutation(n): Fisher-Yates over arange(n), i = n-1 .. 1.
  std::vector<int64_t> permutation(int64_t n);

  /// np.random.choice(population, k, replace=False).
  std::vector<int64_t> choice_without_replacement(const std::vector<int64_t>& population, int64_t k);

 private:
  std::mt19937 engine_;
};

}  // namespace qme

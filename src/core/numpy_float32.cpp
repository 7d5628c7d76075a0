#include "qme/core/numpy_float32.hpp"

#include <cmath>
#include <vector>

namespace qme::numpy {

namespace {

constexpr size_t kPairwiseBlock = 128;  // numpy's PW_BLOCKSIZE

float pairwise_sum(const float* a, size_t n) {
  if (n < 8) {
    float res = 0.0f;
    for (size_t i = 0; i < n; ++i) res += a[i];
    return res;
  }
  if (n <= kPairwiseBlock) {
    float r[8];
    for (int k = 0; k < 8; ++k) r[k] = a[k];
    size_t i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (int k = 0; k < 8; ++k) r[k] += a[i + k];
    }
    float res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  size_t n2 = n / 2;
  n2 -= n2 % 8;
  return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

}  // namespace

float chunk_sum(const float* x, size_t n) {
  return pairwise_sum(x, n);
}

float sum(const float* x, size_t n) {
  float acc = 0.0f;
  for (size_t start = 0; start < n; start += kReduceChunk) {
    const size_t len = (n - start < kReduceChunk) ? n - start : kReduceChunk;
    acc += pairwise_sum(x + start, len);
  }
  return acc;
}

float mean(const float* x, size_t n) {
  return static_cast<float>(static_cast<double>(sum(x, n)) / static_cast<double>(n));
}

float std_dev(const float* x, size_t n) {
  // _var: the mean is divided in float32 (in-place true_divide on a float32 array).
  const float mu = sum(x, n) / static_cast<float>(n);
  std::vector<float> sq(n);
  for (size_t i = 0; i < n; ++i) {
    const float d = x[i] - mu;
    sq[i] = d * d;
  }
  const auto var = static_cast<float>(static_cast<double>(sum(sq.data(), n)) / static_cast<double>(n));
  return std::sqrt(var);
}

}  // namespace qme::numpy

#pragma once
/// float32 reductions computed exactly as numpy 1.2x computes them, so that
/// normalised score matrices match upstream bit for bit (a one-ulp change can
/// swap two neighbouring scores and move a rank metric).
///
/// numpy sums a contiguous float32 array in chunks of its 8192-element buffer:
/// each chunk by pairwise summation (8-way unrolled blocks of <= 128), the
/// chunk sums accumulated in float32.
#include <cstddef>

namespace qme::numpy {

/// numpy's reduction buffer: a float32 sum is the float32 running total of
/// the pairwise sums of consecutive chunks of this many elements.
constexpr size_t kReduceChunk = 8192;

/// The pairwise sum of one chunk (n <= kReduceChunk). Chunks are independent,
/// so they can be summed in parallel and their totals added in order.
float chunk_sum(const float* x, size_t n);

/// np.add.reduce over a contiguous float32 array.
float sum(const float* x, size_t n);

/// arr.mean() for float32: float32(double(sum) / n).
float mean(const float* x, size_t n);

/// arr.std() (ddof 0) for float32, numpy's two-pass algorithm.
float std_dev(const float* x, size_t n);

/// `value + 1e-10` in numpy 1.x promotes the float32 scalar to float64; the
/// result is cast back to float32 when it divides a float32 array.
inline float plus_epsilon(float value) {
  return static_cast<float>(static_cast<double>(value) + 1e-10);
}

}  // namespace qme::numpy

#pragma once
/// numpy 1.2x's default argsort (kind="quicksort": introsort with median of
/// three, insertion sort below 16 elements, heapsort past the depth limit) for
/// float32, reproduced step by step. Upstream ranks with it, so tied scores
/// come out in its order; qme uses it only for rows where a tie can change a
/// metric, the fast counting path everywhere else.
#include <cstdint>
#include <vector>

namespace qme::numpy {

/// order = np.argsort(values) (ascending, NaN last), exactly as numpy 1.24.
void argsort(const float* values, int64_t n, std::vector<int64_t>& order);

/// Like argsort, but only the elements equal to a `focus` value are
/// guaranteed to sit where numpy puts them (their final positions are
/// exact); ranges that cannot hold a focus value are not sorted. Costs about
/// a quickselect per focus value instead of a full sort.
void argsort_focused(const float* values, int64_t n, const std::vector<float>& focus,
                     std::vector<int64_t>& order);

/// positions[k] = where np.argsort(values) (np.argsort(-values) when `negated`) puts
/// values[elements[k]], exactly as numpy 1.24 does. Sorts only the ranges that can hold one of
/// their values (argsort_focused) and looks for them there alone.
void argsort_positions(const float* values, int64_t n, bool negated, const std::vector<int64_t>& elements,
                       std::vector<int64_t>& positions);

/// How introsort's partitions find their stops: sixteen elements at a time with AVX-512, four
/// with AVX2, one by one elsewhere. Every kernel gives numpy's order; the best one the CPU has
/// is used.
enum class PartitionKernel { kAvx512, kAvx2, kPortable };

namespace detail {
/// For tests: runs every later sort with `kernel` (process-wide, not thread-safe); false, and
/// nothing changed, where the CPU lacks it.
bool use_partition_kernel(PartitionKernel kernel);
void use_best_partition_kernel();
}  // namespace detail

}  // namespace qme::numpy

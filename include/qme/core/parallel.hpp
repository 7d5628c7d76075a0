#pragma once
/// Row-parallel loops for the evaluation engine (no torch here: plain threads).
#include <cstdint>
#include <functional>

namespace qme {

/// Threads used by parallel_for: QME_NUM_THREADS if set, else the hardware count.
int default_num_threads();

/// Calls body(begin, end, worker) on disjoint chunks covering [0, n), from up to
/// `num_threads` threads (0 = default_num_threads()). Chunks are handed out
/// dynamically so uneven rows balance. Exceptions propagate (the first one).
void parallel_for(int64_t n, const std::function<void(int64_t, int64_t, int)>& body, int num_threads = 0);

}  // namespace qme

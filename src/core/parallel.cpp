#include "qme/core/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace qme {

int default_num_threads() {
  if (const char* env = std::getenv("QME_NUM_THREADS")) {
    const int n = std::atoi(env);
    if (n > 0) return n;
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

void parallel_for(int64_t n, const std::function<void(int64_t, int64_t, int)>& body, int num_threads) {
  if (n <= 0) return;
  if (num_threads <= 0) num_threads = default_num_threads();
  const int workers = static_cast<int>(std::min<int64_t>(num_threads, n));
  if (workers == 1) {
    body(0, n, 0);
    return;
  }
  const int64_t chunk = std::max<int64_t>(1, n / (int64_t{workers} * 8));
  std::atomic<int64_t> next{0};
  std::exception_ptr failure;
  std::mutex failure_mutex;
  auto work = [&](int worker) {
    try {
      for (int64_t begin = next.fetch_add(chunk); begin < n; begin = next.fetch_add(chunk)) {
        body(begin, std::min(n, begin + chunk), worker);
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(failure_mutex);
      if (!failure) failure = std::current_exception();
    }
  };
  std::vector<std::thread> threads;
  for (int w = 1; w < workers; ++w) threads.emplace_back(work, w);
  work(0);
  for (auto& t : threads) t.join();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace qme

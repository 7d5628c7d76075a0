#include <catch2/catch.hpp>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "qme/core/parallel.hpp"

namespace {

/// Runs parallel_for over [0, n) and returns how often each index was visited
/// and which worker ids were seen.
std::vector<int> visit_counts(int64_t n, int threads, std::vector<int>* workers = nullptr) {
  std::vector<std::atomic<int>> counts(static_cast<size_t>(n));
  for (auto& c : counts) c = 0;
  std::mutex mutex;
  std::atomic<bool> empty_chunk{false};
  // Catch2 assertions are not thread-safe: record, check after the loop.
  qme::parallel_for(
      n,
      [&](int64_t begin, int64_t end, int worker) {
        if (begin >= end) empty_chunk = true;
        for (int64_t i = begin; i < end; ++i) counts[static_cast<size_t>(i)]++;
        std::lock_guard<std::mutex> lock(mutex);
        if (workers) workers->push_back(worker);
      },
      threads);
  CHECK_FALSE(empty_chunk);
  std::vector<int> out;
  for (auto& c : counts) out.push_back(c.load());
  return out;
}

}  // namespace

TEST_CASE("parallel_for covers [0, n) exactly once", "[core]") {
  for (int threads : {1, 2, 8}) {
    for (int64_t n : {int64_t{1}, int64_t{3}, int64_t{7}, int64_t{100}, int64_t{1001}}) {
      INFO("threads " << threads << ", n " << n);
      std::vector<int> workers;
      const auto counts = visit_counts(n, threads, &workers);
      CHECK(counts == std::vector<int>(static_cast<size_t>(n), 1));
      for (int w : workers) {
        CHECK(w >= 0);
        CHECK(w < threads);
      }
    }
  }
}

TEST_CASE("parallel_for with n = 0 never calls the body", "[core]") {
  int calls = 0;
  qme::parallel_for(0, [&](int64_t, int64_t, int) { ++calls; }, 4);
  qme::parallel_for(-3, [&](int64_t, int64_t, int) { ++calls; }, 4);
  CHECK(calls == 0);
}

TEST_CASE("parallel_for rethrows an exception from the body", "[core]") {
  for (int threads : {1, 2, 8}) {
    INFO("threads " << threads);
    CHECK_THROWS_WITH(qme::parallel_for(
                          100,
                          [](int64_t begin, int64_t end, int) {
                            for (int64_t i = begin; i < end; ++i) {
                              if (i == 57) throw std::runtime_error("row 57 failed");
                            }
                          },
                          threads),
                      "row 57 failed");
  }
}

TEST_CASE("default_num_threads honours QME_NUM_THREADS", "[core]") {
  const char* previous = std::getenv("QME_NUM_THREADS");
  const std::string saved = previous ? previous : "";
  ::setenv("QME_NUM_THREADS", "3", 1);
  CHECK(qme::default_num_threads() == 3);
  ::setenv("QME_NUM_THREADS", "garbage", 1);
  CHECK(qme::default_num_threads() >= 1);
  if (previous) {
    ::setenv("QME_NUM_THREADS", saved.c_str(), 1);
  } else {
    ::unsetenv("QME_NUM_THREADS");
  }
  CHECK(qme::default_num_threads() >= 1);
}

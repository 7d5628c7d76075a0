#pragma once
// What the benchmarks share: the median of repeats and the flags that shape a synthetic
// score distribution (qme::synthetic::ScoreDistribution), so each figure can be reproduced on
// narrow cosine bands, matches buried in the bulk, ties and face-less probes.
#include <sys/resource.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <unordered_set>
#include <vector>

#include "common_flags.hpp"  // tools/
#include "qme/core/score_matrix.hpp"
#include "qme/synthetic/synthetic_scores.hpp"

namespace qme::bench {

template <typename F>
double median_seconds(int repeats, F&& body) {
  std::vector<double> times;
  for (int r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    body();
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

/// The distribution flags of qme_synth_scores, and --gallery_per_subject, on an LTCC-sized spec.
/// Minor page faults of this process so far: first-touched memory, which costs this VM ~µs a page.
inline long minor_page_faults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

inline void add_distribution_flags(CLI::App& app, synthetic::SyntheticScoreSpec& spec) {
  tools::add_score_distribution_flags(app, spec.distribution);
  app.add_option("--gallery_per_subject", spec.gallery_per_subject,
                 "gallery entries per subject (matches/row)")
      ->capture_default_str();
}

/// Standard deviation of the scores and the share of distinct values within a row, averaged.
inline void print_distribution(const char* name, const ScoreMatrix& m) {
  double sum = 0, squares = 0, distinct = 0;
  for (float v : m.values) {
    sum += v;
    squares += static_cast<double>(v) * v;
  }
  const double n = static_cast<double>(m.values.size());
  for (int64_t i = 0; i < m.rows; ++i) {
    std::unordered_set<float> seen(m.row(i), m.row(i) + m.cols);
    distinct += static_cast<double>(seen.size()) / static_cast<double>(m.cols);
  }
  std::printf("%s: score std %.4f, distinct values per row %.1f%%\n", name,
              std::sqrt(std::max(0.0, squares / n - (sum / n) * (sum / n))),
              100.0 * distinct / static_cast<double>(m.rows));
}

}  // namespace qme::bench

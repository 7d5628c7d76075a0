#pragma once
/// How many scores of a matrix fall in each 16-bit bin of their score key
/// (ranking.hpp). TAR@FAR finds its ROC points from it and sorts only the few
/// scores around them, when no ScoreTail of the retrieval scan holds them already.
#include <cstdint>
#include <vector>

#include "qme/core/score_matrix.hpp"

namespace qme::eval {

class ScoreKeyHistogram {
 public:
  static constexpr int kBinBits = 16;
  static constexpr int kBins = 1 << kBinBits;

  ScoreKeyHistogram() : counts_(kBins, 0) {}

  static uint32_t bin(uint32_t key) { return key >> kBinBits; }

  /// Adds per-bin counts gathered in a uint32 buffer of kBins entries and
  /// zeroes the buffer (workers count in uint32, flush per chunk of rows).
  void flush(uint32_t* partial);
  void merge(const ScoreKeyHistogram& other);

  const std::vector<int64_t>& counts() const { return counts_; }
  int64_t total() const;

  /// The histogram of a whole matrix on its own (multi-threaded).
  static ScoreKeyHistogram of(const ScoreMatrix& scores, int num_threads = 0);

  /// A score key above which, judging by every 8th row, no more than about `rate` (plus a
  /// margin) of the scores lie: where a tail worth keeping starts. `share`, when given, gets
  /// the sampled share of scores at or above it (to reserve the tail once).
  static uint32_t estimate_tail_key(const ScoreMatrix& scores, double rate, double* share = nullptr);

 private:
  std::vector<int64_t> counts_;
};

}  // namespace qme::eval

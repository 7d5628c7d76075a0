#pragma once
/// How many scores of a matrix fall in each 16-bit bin of their score key
/// (ranking.hpp). TAR@FAR finds its ROC points from it and sorts only the few
/// scores around them. The retrieval scan fills it on the way, since it
/// computes every key anyway: one pass over the matrix instead of two.
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

  /// The scores at or above `tail_key`, kept by whoever fills the histogram so that TAR@FAR
  /// need not read the matrix a second time: each score's key and whether its pair is genuine
  /// (same identity), in one list per worker of the scan that kept them (never merged: the
  /// first report of a process pays for every page it touches).
  struct TailScore {
    uint32_t key;
    uint32_t genuine;
  };
  uint32_t tail_key = 0xffffffffu;  // nothing kept
  double tail_share = 0;            // the estimated share of scores at or above tail_key
  std::vector<std::vector<TailScore>> tails;

  /// A score key above which, judging by every 8th row, no more than about `rate` (plus a
  /// margin) of the scores lie: where a tail worth keeping starts. `share`, when given, gets
  /// the sampled share of scores at or above it (to reserve the tail once).
  static uint32_t estimate_tail_key(const ScoreMatrix& scores, double rate, double* share = nullptr);

 private:
  std::vector<int64_t> counts_;
};

}  // namespace qme::eval

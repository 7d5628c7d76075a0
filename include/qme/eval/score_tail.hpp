#pragma once
/// The highest scores of a matrix, kept by the retrieval scan on its way so that TAR@FAR reads
/// the matrix no second time: the ROC points of the report's FARs (at most a few percent of the
/// impostor pairs) lie among them. Everything below the cut is only counted.
#include <cstdint>
#include <vector>

namespace qme::eval {

struct ScoreTail {
  struct Score {
    uint32_t key;      // score_key of the score
    uint32_t genuine;  // 1 when its pair is of one identity
  };
  /// Scores whose key (score_key) is at or above this are kept. The default keeps nothing.
  uint32_t key = 0xffffffffu;
  double share = 0;     // the estimated share of scores at or above `key` (to reserve once)
  int64_t scanned = 0;  // scores seen
  int64_t nan = 0;      // NaN among them
  /// One list per worker of the scan that kept them (never merged: the first report of a
  /// process pays for every page it touches).
  std::vector<std::vector<Score>> lists;
};

}  // namespace qme::eval

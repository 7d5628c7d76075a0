#pragma once
/// The highest scores of a matrix, kept by the retrieval scan on its way so that TAR@FAR reads
/// the matrix no second time: the ROC points of the report's FARs (at most a few percent of the
/// impostor pairs) lie among them. Everything below the cut is only counted.
#include <cstdint>
#include <vector>

namespace qme::eval {

struct ScoreTail {
  /// Scores whose key (score_key) is at or above this are kept. The default keeps nothing.
  uint32_t key = 0xffffffffu;
  double share = 0;     // the estimated share of scores at or above `key` (to reserve once)
  int64_t scanned = 0;  // scores seen
  int64_t nan = 0;      // NaN among them
  /// The kept keys of impostor and of genuine pairs, 4 bytes a score, in lists (one or more per
  /// worker of the scan, never merged: the first report of a process pays for every page it
  /// touches).
  std::vector<std::vector<uint32_t>> impostors, genuines;

  int64_t kept() const {
    int64_t n = 0;
    for (const auto* lists : {&impostors, &genuines}) {
      for (const auto& list : *lists) n += static_cast<int64_t>(list.size());
    }
    return n;
  }
  /// f(key, genuine) for every kept score.
  template <class F>
  void for_each(F&& f) const {
    for (const auto& list : impostors) {
      for (auto k : list) f(k, false);
    }
    for (const auto& list : genuines) {
      for (auto k : list) f(k, true);
    }
  }
};

}  // namespace qme::eval

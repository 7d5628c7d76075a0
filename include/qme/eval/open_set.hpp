#pragma once
/// Open-set identification (upstream `compute_fnir_at_fpir` / `DIR_FAR`):
/// enrol a subset of the gallery subjects, then measure how many mated probes
/// find their mate at rank 1 above the threshold that lets a given share of
/// non-mated probes through.
#include <cstdint>
#include <vector>

#include "qme/core/score_matrix.hpp"

namespace qme::eval {

struct OpenSetDraw {
  std::vector<double> tpir;       // per FPIR target; float32 values, as upstream
  std::vector<double> fnir;       // 1 - tpir in float32
  std::vector<double> threshold;  // float64, as upstream reports it
  int64_t num_mated = 0;
  int64_t num_non_mated = 0;
};

/// One draw: `merged` is (Q, U) with columns ordered like `subject_pids`
/// (ascending); `enrolled` is the sorted subset of subject_pids. A probe with
/// a NaN among its enrolled scores is never identified (upstream's ascending
/// argsort puts NaN last, i.e. at rank 1); a tie at rank 1 is resolved in
/// numpy's sort order. Undefined values (no mated / no non-mated probe) are NaN.
OpenSetDraw open_set_draw(const ScoreMatrix& merged, const std::vector<int64_t>& probe_pids,
                          const std::vector<int64_t>& subject_pids, const std::vector<int64_t>& enrolled,
                          const std::vector<double>& fpirs);

}  // namespace qme::eval

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

/// What one probe row says against one draw's enrolled columns: the per-probe part of a draw,
/// which the bootstrap reuses for every resample.
struct OpenSetProbe {
  bool mated = false;        // the probe's subject is enrolled
  bool mate_is_top = false;  // rank-1 hit, before thresholding
  float mate_score = 0;
  float best_score = 0;    // max over enrolled columns; NaN if any is NaN (np.max)
  float lowest_score = 0;  // min over enrolled columns; NaN if any is NaN (np.min)
};

struct OpenSetDrawProbes {
  std::vector<OpenSetProbe> probes;         // one per probe row
  std::vector<int32_t> non_mated_by_score;  // non-mated probes, maxima high to low, NaN first
};

/// The per-probe outcomes of one draw; arguments as open_set_draw's.
OpenSetDrawProbes open_set_draw_probes(const ScoreMatrix& merged, const std::vector<int64_t>& probe_pids,
                                       const std::vector<int64_t>& subject_pids,
                                       const std::vector<int64_t>& enrolled);

/// A draw's TPIR/FNIR/threshold per FPIR target from its probes, each probe counted
/// `weights[i]` times (nullptr: once), exactly as open_set_draw on the matrix whose rows repeat
/// that often.
OpenSetDraw summarise_open_set_draw(const OpenSetDrawProbes& probes, const std::vector<double>& fpirs,
                                    const int32_t* weights = nullptr);

/// One draw: `merged` is (Q, U) with columns ordered like `subject_pids`
/// (ascending); `enrolled` is the sorted subset of subject_pids. A probe with
/// a NaN among its enrolled scores is never identified (upstream's ascending
/// argsort puts NaN last, i.e. at rank 1); a tie at rank 1 is resolved in
/// numpy's sort order. Undefined values (no mated / no non-mated probe) are NaN.
OpenSetDraw open_set_draw(const ScoreMatrix& merged, const std::vector<int64_t>& probe_pids,
                          const std::vector<int64_t>& subject_pids, const std::vector<int64_t>& enrolled,
                          const std::vector<double>& fpirs);

/// The open-set protocol of upstream's `test_score`: numpy's legacy generator is seeded once
/// with `seed`, then each of `num_draws` draws enrols
/// sort(np.random.choice(subject_pids, int(enrol_fraction * #subjects), replace=False)).
struct OpenSetProtocol {
  uint32_t seed = 45;
  int num_draws = 10;
  double enrol_fraction = 0.8;
};

/// A value over the draws as pandas summarises it: NaN draws skipped, the mean, and the
/// sample standard deviation (ddof 1). std is NaN with fewer than two defined draws; both are
/// NaN with none.
struct DrawStatistic {
  double mean = 0;
  double std = 0;
};

/// pandas' summary of one value over the draws (see DrawStatistic).
DrawStatistic draw_statistic(const std::vector<double>& values);

struct OpenSetSummary {
  int64_t enrol_count = 0;               // subjects enrolled in each draw
  std::vector<DrawStatistic> tpir;       // per FPIR target
  std::vector<DrawStatistic> fnir;       // per FPIR target
  std::vector<DrawStatistic> threshold;  // per FPIR target (upstream reports the mean only)
  std::vector<OpenSetDraw> draws;        // every draw, in order
};

/// int(enrol_fraction * #subjects): the subjects each draw enrols.
int64_t open_set_enrol_count(size_t num_subjects, const OpenSetProtocol& protocol);

/// The protocol's enrolment draws, each sorted ascending.
std::vector<std::vector<int64_t>> open_set_enrolments(const std::vector<int64_t>& subject_pids,
                                                      const OpenSetProtocol& protocol);

/// The summary of given draws with `targets` FPIR targets each.
OpenSetSummary summarise_open_set(const std::vector<OpenSetDraw>& draws, size_t targets, int64_t enrol_count);

/// FNIR@FPIR (and TPIR@FPIR) under upstream's protocol: open_set_draw over `protocol`'s
/// seeded enrolment draws, summarised per FPIR target. Arguments as open_set_draw's, with
/// `subject_pids` the ascending ids of all gallery subjects. evaluate() reports exactly these
/// numbers (TPIR/FNIR@FPIR, FNIR@FPIR_threshold, their _std, num_galley1_templates). A draw
/// without a mated or non-mated probe contributes NaN, which the summary skips.
OpenSetSummary fnir_at_fpir(const ScoreMatrix& merged, const std::vector<int64_t>& probe_pids,
                            const std::vector<int64_t>& subject_pids, const std::vector<double>& fpirs,
                            const OpenSetProtocol& protocol = {});

}  // namespace qme::eval

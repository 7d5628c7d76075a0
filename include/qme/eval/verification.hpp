#pragma once
/// Verification: scikit-learn's roc_curve over all probe x gallery pairs and
/// TAR at fixed FARs (upstream `compute_tar_at_far`).
#include <cstdint>
#include <optional>
#include <vector>

#include "qme/core/score_matrix.hpp"
#include "qme/eval/score_tail.hpp"

namespace qme::eval {

/// sklearn.metrics.roc_curve(labels, scores) (1.2): thresholds at distinct
/// scores, corner points only when drop_intermediate, (0, 0) prepended with
/// threshold max + 1. Scores must not contain NaN. Sorts everything: meant for
/// tests, plots and small inputs; tar_at_far is the fast path.
struct RocCurve {
  std::vector<double> fpr, tpr, thresholds;
};
RocCurve roc_curve(const std::vector<float>& scores, const std::vector<uint8_t>& is_match,
                   bool drop_intermediate = true);

/// Smallest false-accept count c with c / negatives >= far, in sklearn's float64 arithmetic:
/// the first ROC point at or past FAR `far` has at least this many false accepts.
int64_t needed_false_accepts(double far, int64_t negatives);

/// roc_curve's drop_intermediate: an inner point b between a and c is kept when either count's
/// second difference is non-zero.
inline bool roc_point_kept(int64_t fps_a, int64_t fps_b, int64_t fps_c, int64_t tps_a, int64_t tps_b,
                           int64_t tps_c) {
  return fps_c - 2 * fps_b + fps_a != 0 || tps_c - 2 * tps_b + tps_a != 0;
}

struct VerificationPoint {
  double far = 0;        // the requested false-accept rate
  double tar = 0;        // true-accept rate at the first ROC point with FPR >= far
  double threshold = 0;  // that point's score threshold
};

/// TAR@FAR over all pairs of `scores` (match = same pid). NaN scores count as
/// the lowest non-NaN score (0 when all are NaN), as upstream does. Finds each
/// ROC point by a score histogram and a sort of the few scores around it,
/// never the whole matrix. Undefined values (no match / no non-match pair) are NaN.
/// `tail`, when given, must be the retrieval scan's ScoreTail of `scores`: the points come from
/// it where it holds them (tar_at_far_from_tail), else from a histogram of the whole matrix
/// and one more pass over it, with the same results. evaluate() reports these points as
/// TAR@<far>FAR and Threshold@<far>FAR.
std::vector<VerificationPoint> tar_at_far(const ScoreMatrix& scores, const std::vector<int64_t>& query_pids,
                                          const std::vector<int64_t>& gallery_pids,
                                          const std::vector<double>& fars, int num_threads = 0,
                                          const ScoreTail* tail = nullptr);

/// tar_at_far from the scores of a tail alone (every score at or above tail.key of a
/// query_pids x gallery_pids matrix), or nullopt where the tail does not hold every window
/// around the FARs' ROC points (or cannot settle NaN or a degenerate matrix).
std::optional<std::vector<VerificationPoint>> tar_at_far_from_tail(const std::vector<int64_t>& query_pids,
                                                                   const std::vector<int64_t>& gallery_pids,
                                                                   const std::vector<double>& fars,
                                                                   const ScoreTail& tail);

/// The same numbers from the full sorted ROC curve (reference implementation).
std::vector<VerificationPoint> tar_at_far_exhaustive(const ScoreMatrix& scores,
                                                     const std::vector<int64_t>& query_pids,
                                                     const std::vector<int64_t>& gallery_pids,
                                                     const std::vector<double>& fars);

}  // namespace qme::eval

#pragma once
/// The pseudo-quality loss that trains the quality estimator (upstream loss.py,
/// ScoreTripletLoss.cal_rank_loss_cc): a probe whose own identity ranks first among the
/// training centers in the face model's scores should get weight 1, one ranked at or below
/// the rank threshold tau weight 0, linearly in between.
#include <torch/types.h>

#include <cstdint>

namespace qme::loss {

/// scores (B, N), labels (B,), center_labels (N,) -> (B,) int64: the 1-based rank, in each
/// row sorted by descending score, of the best-ranked center whose label is the probe's;
/// N when no center has the probe's label (upstream's rule for identities without a center).
/// Order: descending score, NaN above every number (torch.sort's order), ties by lower center
/// index first (a stable sort; upstream's unstable argsort leaves tie order unspecified).
torch::Tensor best_center_rank(const torch::Tensor& scores, const torch::Tensor& labels,
                               const torch::Tensor& center_labels);

/// ranks (B,) -> (B, 1) float32 targets ReLU((tau - rank) / (tau - 1)), computed as upstream
/// does (integer difference, float32 division). Throws UsageError unless tau > 1.
torch::Tensor pseudo_quality_target(const torch::Tensor& ranks, int64_t rank_threshold);

/// predicted (B, 1) quality weights, scores (B, N) of the face model against the centers ->
/// scalar MSE(predicted, pseudo_quality_target(best_center_rank(...), tau)), differentiable
/// in `predicted` only. Throws UsageError on mismatched shapes or tau <= 1.
torch::Tensor pseudo_quality_loss(const torch::Tensor& predicted, const torch::Tensor& scores,
                                  const torch::Tensor& labels, const torch::Tensor& center_labels,
                                  int64_t rank_threshold = 3);

}  // namespace qme::loss

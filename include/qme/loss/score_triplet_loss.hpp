#pragma once
/// The score triplet loss that trains the QME fusion head (upstream loss.py,
/// ScoreTripletLoss.cal_score_loss_cc): fused scores of a batch of probes against the training
/// centers should be <= 0 for other identities and >= margin for the probe's own.
#include <torch/types.h>

namespace qme::loss {

/// (B, N) bool: labels[i] == center_labels[j]. labels (B,), center_labels (N,), any integer type.
torch::Tensor match_mask(const torch::Tensor& labels, const torch::Tensor& center_labels);

/// fused (B, N) float scores, labels (B,), center_labels (N,) -> scalar
///   mean(ReLU(fused[non-match])) + mean(ReLU(margin - fused[match])),
/// differentiable in `fused`. One deliberate deviation: a term whose set is empty (a batch
/// without any match, or one that matches every center) contributes 0 instead of upstream's
/// NaN, which would poison every weight at the next optimiser step. Throws UsageError on
/// mismatched shapes.
torch::Tensor score_triplet_loss(const torch::Tensor& fused, const torch::Tensor& labels,
                                 const torch::Tensor& center_labels, double margin = 1.0);

}  // namespace qme::loss

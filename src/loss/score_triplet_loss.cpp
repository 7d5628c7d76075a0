#include "qme/loss/score_triplet_loss.hpp"

#include <torch/torch.h>

#include "qme/core/error.hpp"

namespace qme::loss {

namespace {

/// The mean of `values`, or 0 (keeping the graph) when there are none.
torch::Tensor mean_or_zero(const torch::Tensor& values) {
  return values.numel() > 0 ? values.mean() : values.sum();
}

}  // namespace

torch::Tensor match_mask(const torch::Tensor& labels, const torch::Tensor& center_labels) {
  if (labels.dim() != 1 || center_labels.dim() != 1)
    throw UsageError("match_mask: labels (B,) and center_labels (N,) must be 1-D");
  return labels.to(center_labels.device()).unsqueeze(1) == center_labels.unsqueeze(0);
}

torch::Tensor score_triplet_loss(const torch::Tensor& fused, const torch::Tensor& labels,
                                 const torch::Tensor& center_labels, double margin) {
  if (fused.dim() != 2 || labels.dim() != 1 || center_labels.dim() != 1 || fused.size(0) != labels.size(0) ||
      fused.size(1) != center_labels.size(0)) {
    throw UsageError("score_triplet_loss: fused scores must be (B, N) with B labels and N center labels");
  }
  const auto mask = match_mask(labels.to(fused.device()), center_labels.to(fused.device()));
  // Boolean indexing as upstream's fused[mask] / fused[~mask]: row-major order, so the means
  // add the same float32 values in the same order.
  const auto non_match = torch::relu(fused.masked_select(mask.logical_not()));
  const auto match = torch::relu(margin - fused.masked_select(mask));
  return mean_or_zero(non_match) + mean_or_zero(match);
}

}  // namespace qme::loss

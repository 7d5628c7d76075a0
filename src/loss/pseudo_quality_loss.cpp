#include "qme/loss/pseudo_quality_loss.hpp"

#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "qme/core/error.hpp"
#include "qme/loss/score_triplet_loss.hpp"

namespace qme::loss {

namespace {

/// True when a sorts before b in descending order: NaN first, then larger values; ties (and
/// NaN against NaN) by lower index.
bool ranks_before(double a, int64_t ia, double b, int64_t ib) {
  const bool na = std::isnan(a), nb = std::isnan(b);
  if (na != nb) return na;
  if (!na && a != b) return a > b;
  return ia < ib;
}

/// 1-based rank of the best center in `row` (n scores) whose match flag is set; n if none.
int64_t best_rank_in_row(const double* row, const bool* match, int64_t n) {
  int64_t best = -1;
  for (int64_t j = 0; j < n; ++j) {
    if (match[j] && (best < 0 || ranks_before(row[j], j, row[best], best))) best = j;
  }
  if (best < 0) return n;
  int64_t above = 0;
  for (int64_t k = 0; k < n; ++k) above += ranks_before(row[k], k, row[best], best) ? 1 : 0;
  return above + 1;
}

}  // namespace

torch::Tensor best_center_rank(const torch::Tensor& scores, const torch::Tensor& labels,
                               const torch::Tensor& center_labels) {
  if (scores.dim() != 2 || labels.dim() != 1 || center_labels.dim() != 1 ||
      scores.size(0) != labels.size(0) || scores.size(1) != center_labels.size(0)) {
    throw UsageError("best_center_rank: scores must be (B, N) with B labels and N center labels");
  }
  const auto values = scores.detach().to(torch::kCPU, torch::kDouble).contiguous();
  const auto mask = match_mask(labels.to(torch::kCPU), center_labels.to(torch::kCPU)).contiguous();
  const int64_t b = scores.size(0), n = scores.size(1);
  auto ranks = torch::empty({b}, torch::kInt64);
  auto* out = ranks.data_ptr<int64_t>();
  for (int64_t i = 0; i < b; ++i) {
    out[i] = best_rank_in_row(values.data_ptr<double>() + i * n, mask.data_ptr<bool>() + i * n, n);
  }
  return ranks.to(scores.device());
}

torch::Tensor pseudo_quality_target(const torch::Tensor& ranks, int64_t rank_threshold) {
  if (rank_threshold <= 1)
    throw UsageError("the pseudo-quality loss needs rank_threshold > 1, got " +
                     std::to_string(rank_threshold));
  // Upstream: (tau - ranks) / (tau - 1) on int64 tensors, a float32 true division.
  const auto diff = (rank_threshold - ranks.to(torch::kInt64)).to(torch::kFloat32);
  return torch::relu(diff / static_cast<float>(rank_threshold - 1)).unsqueeze(-1);
}

torch::Tensor pseudo_quality_loss(const torch::Tensor& predicted, const torch::Tensor& scores,
                                  const torch::Tensor& labels, const torch::Tensor& center_labels,
                                  int64_t rank_threshold) {
  if (predicted.dim() != 2 || predicted.size(1) != 1 || predicted.size(0) != scores.size(0))
    throw UsageError("pseudo_quality_loss: predicted weights must be (B, 1) with B = the scores' rows");
  const auto target = pseudo_quality_target(best_center_rank(scores, labels, center_labels), rank_threshold);
  return torch::mse_loss(predicted, target.to(predicted.device(), predicted.scalar_type()));
}

}  // namespace qme::loss

#pragma once
/// Per-step scoring for training: a batch of sample features (each the mean of the sample's
/// cached frame features) against one model's training centers, with the model's similarity
/// (scores::Similarity, upstream's sim_fn). The centers are prepared once, so a step only pays
/// for the batch: one pass over the centers for cosine, one per BigGait part, with a kernel
/// vectorised for the CPU it runs on (LibTorch's products on CUDA).
/// Rules as scores::similarity_matrix: cosine with each norm clamped at 1e-8 (PyTorch 1.13's
/// cosine_similarity; a zero center, e.g. one missing for this model after
/// formats::align_centers, scores 0); BigGait 1 / (1 + mean over the 16 parts of the L2
/// distance), on features centred by the centers' mean with near pairs recomputed directly
/// (no cancellation); a row with a NaN or Inf value scores 0 against everything. Matches the
/// score-matrix builder to ~1e-6 (tests/train/test_center_scorer.cpp).
#include <torch/types.h>

#include "qme/scores/similarity.hpp"

namespace qme::train {

class CenterScorer {
 public:
  /// centers (C, d) float, on the device the scores will be computed on. Throws InputError when
  /// d does not suit `similarity`, UsageError when centers is not 2-D.
  CenterScorer(const torch::Tensor& centers, scores::Similarity similarity);

  /// probes (B, d) -> (B, C) float32 scores, without gradients.
  torch::Tensor score(const torch::Tensor& probes) const;

  int64_t num_centers() const { return num_centers_; }
  int64_t dim() const { return dim_; }
  scores::Similarity similarity() const { return similarity_; }

 private:
  torch::Tensor score_cosine(const torch::Tensor& probes) const;
  torch::Tensor score_parts(const torch::Tensor& probes) const;
  /// BigGait: squared distances d2 (P, B, C) that cancellation made unreliable (below
  /// 1/16 of the two squared norms) recomputed directly from the parts.
  void refine_near_pairs(torch::Tensor& d2, const torch::Tensor& norms, const torch::Tensor& qp) const;
  /// BigGait: (N, d) -> centred parts (P, N, d / P); zeroes rows flagged invalid.
  torch::Tensor to_parts(const torch::Tensor& rows) const;

  scores::Similarity similarity_;
  int64_t num_centers_ = 0;
  int64_t dim_ = 0;
  torch::Tensor values_;  ///< cosine: (C, d) unit rows; BigGait: (P, C, d / P) centred parts
  torch::Tensor norms_;   ///< BigGait: (P, C) squared norm of each centred part
  torch::Tensor centre_;  ///< BigGait: (d,) mean of the valid centers
  torch::Tensor valid_;   ///< (C,) bool: finite center rows
};

/// (B, T, d) frame features -> (B, d) sample features: the mean over each sample's T frames,
/// as upstream aggregates a clip (face and body models). A NaN frame makes its sample NaN.
torch::Tensor sample_features(const torch::Tensor& frames);

}  // namespace qme::train

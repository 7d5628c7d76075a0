#pragma once
// One QME training forward + backward on the CPU without autograd (private to qme_torch; the
// score-loss trainer calls it): the two LSN experts in train mode (BatchNorm batch statistics
// and running-stat update, Linear -> SELU -> dropout -> Linear -> dropout, mean over the
// outputs), the quality-weighted mixture and the score triplet loss, differentiated by hand into the
// parameters' .grad(). The same function as QmeMixture::forward + loss::score_triplet_loss + backward()
// (tested to agree to float round-off), but as a few loops over B x G rows instead of ~150 LibTorch
// operations, most of them tiny matrix products that LibTorch sends to the system BLAS.
// Dropout masks come from its own seeded counter-based generator (saved with the resume state).
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "qme/fusion/qme_mixture.hpp"

namespace qme::fusion::detail {

class FusedMixtureStep {
 public:
  /// Throws UsageError unless the head is on the CPU in float32 (the trainer then uses the
  /// modules instead).
  FusedMixtureStep(QmeMixture& model, uint64_t seed);

  /// True when this head can take the fused path (CPU, float32).
  static bool supports(const QmeMixture& model);

  /// scores (B, M, G) float32 CPU, quality (B, 1) float32 (undefined when the head has no QE:
  /// q = 0.5), labels (B,) and center_labels (G,) int64 CPU. Updates the BatchNorm running
  /// statistics, sets every expert parameter's .grad() and returns the loss.
  double run(const torch::Tensor& scores, const torch::Tensor& quality, const torch::Tensor& labels,
             const torch::Tensor& center_labels, double margin);

  std::string rng_state() const;
  void restore_rng(const std::string& state);

 private:
  struct Expert {
    torch::Tensor bn_weight, bn_bias, running_mean, running_var, num_batches_tracked;
    torch::Tensor fc1_weight, fc1_bias, fc2_weight, fc2_bias;
    double eps = 1e-5, momentum = 0.1;
    // Per-step buffers, column-major over the R = B x G rows so every loop runs over a
    // contiguous row range (kept between steps to avoid allocations).
    std::vector<float> mean, invstd;  // (M)
    std::vector<float> y, xhat;       // (M, R) normalised scores, and before the affine
    std::vector<float> z1, act, d1;   // (H, R) fc1 output, SELU, after dropout
    std::vector<float> out;           // (R) the expert's score
    std::vector<float> drop1, drop2;  // (H, R), (O, R) dropout multipliers (0 or 1 / (1 - p))
  };

  void forward(Expert& e, const float* scores);
  void backward(Expert& e, const std::vector<float>& grad_out);
  void draw_mask(std::vector<float>& multipliers, size_t n);
  void normalise(Expert& e, const float* scores);
  void hidden_layer(Expert& e);
  void output_layer(Expert& e);

  std::vector<Expert> experts_;
  int64_t b_ = 0, m_ = 0, g_ = 0, h_ = 0, o_ = 0;
  double dropout_ = 0.0;
  // Dropout bits: a counter-based generator (SplitMix64 of key + counter), fast and vectorisable,
  // whose whole state is (key, counter).
  uint64_t rng_key_ = 0;
  uint64_t rng_counter_ = 0;
};

}  // namespace qme::fusion::detail

#pragma once
/// The quality estimators (QE) that weigh the two fusion experts, upstream's
/// `Face_Quality_Estimator` and `Quality_Estimator`. Both summarise a frame's intermediate
/// backbone features by per-channel mean and unbiased std ("style"), map that to one weight in
/// (0, 1) and average the weights over a probe's frames.
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <string>
#include <vector>

#include "qme/fusion/mlp.hpp"

namespace qme::fusion {

struct FaceQualityEstimatorOptions {
  TORCH_ARG(int64_t, patch_dim) = 512;  ///< channels C of the face ViT's tokens
  TORCH_ARG(int64_t, num_blocks) = 2;   ///< intermediate blocks K (upstream: blocks 8 and 16)
  TORCH_ARG(double, dropout) = 0.0;
};

/// Face QE: style (K*2*C, laid out [block][stat][channel]) -> Mlp(4C, 2C, C, ReLU) ->
/// Linear(C, 1) -> sigmoid.
class FaceQualityEstimatorImpl : public torch::nn::Module {
 public:
  explicit FaceQualityEstimatorImpl(const FaceQualityEstimatorOptions& options = {});
  /// (B, T, K, P, C) -> (B, 1), the mean over T of each frame's weight. A 4-D input
  /// (T, K, P, C) is one probe's frames and gives the T per-frame weights (T,), unaveraged, as
  /// upstream returns them.
  torch::Tensor forward(const torch::Tensor& intermediates);
  /// (N, K, P, C) -> (N, K*2*C): per block, the mean and unbiased std over the P tokens.
  static torch::Tensor style_statistics(const torch::Tensor& frames);
  /// (B, T, K, P, C) -> (B, T, K*2*C): style_statistics of every frame, the per-frame numbers
  /// qme caches (docs/architecture.md §2.3) so training never needs the tokens.
  static torch::Tensor statistics(const torch::Tensor& intermediates);
  /// (N, K*2*C) -> (N, 1) weights in (0, 1): the QE on precomputed statistics.
  torch::Tensor frame_weights(const torch::Tensor& statistics);
  /// (B, T, K*2*C) cached statistics -> (B, 1), the mean over T of each frame's weight:
  /// forward(x) == forward_statistics(statistics(x)), bit for bit.
  torch::Tensor forward_statistics(const torch::Tensor& statistics);
  const FaceQualityEstimatorOptions& options() const { return options_; }

 private:
  FaceQualityEstimatorOptions options_;
  Mlp f_style_mlp_{nullptr};
  torch::nn::Sequential weight_assigner_{nullptr};
};
TORCH_MODULE(FaceQualityEstimator);

struct BodyQualityEstimatorOptions {
  TORCH_ARG(std::vector<int64_t>, channels) = std::vector<int64_t>{512, 1024};  ///< ResNet layer2, layer3
  TORCH_ARG(int64_t, hidden_out) = 512;
  TORCH_ARG(double, dropout) = 0.0;
};

/// Body QE: per map and channel the mean and unbiased std over H*W, interleaved (channel, stat)
/// -> Mlp(2S, S, 512, ReLU) -> Linear(512, 1) -> sigmoid, S = sum of channels.
class BodyQualityEstimatorImpl : public torch::nn::Module {
 public:
  explicit BodyQualityEstimatorImpl(const BodyQualityEstimatorOptions& options = {});
  /// maps[i] (B, T, C_i, H_i, W_i) -> (B, 1), the mean over T of each frame's weight.
  torch::Tensor forward(const std::vector<torch::Tensor>& maps);
  /// maps[i] (B, T, C_i, H_i, W_i) -> (B, T, 2*S), S = sum of C_i.
  static torch::Tensor style_statistics(const std::vector<torch::Tensor>& maps);
  /// (..., 2*S) -> (..., 1) weights in (0, 1).
  torch::Tensor frame_weights(const torch::Tensor& statistics);
  /// (B, T, 2*S) cached statistics -> (B, 1), the mean over T of each frame's weight:
  /// forward(maps) == forward_statistics(style_statistics(maps)), bit for bit.
  torch::Tensor forward_statistics(const torch::Tensor& statistics);
  const BodyQualityEstimatorOptions& options() const { return options_; }

 private:
  BodyQualityEstimatorOptions options_;
  Mlp style_mlp_{nullptr};
  torch::nn::Sequential weight_assigner_{nullptr};
};
TORCH_MODULE(BodyQualityEstimator);

/// A quality estimator's weights frozen for inference over many frames (the QE is frozen
/// during QME training, and its weights are computed for every cached frame): on the CPU, when
/// LibTorch has oneDNN, the weight matrices are laid out for oneDNN once and each call is two
/// oneDNN inner products (LibTorch's own CPU products go through the system BLAS, which on
/// Debian is the ~30x slower reference BLAS); elsewhere the module's own layers. Always eval
/// mode (no dropout), no gradients. Equals the module's frame_weights / forward_statistics up
/// to float32 round-off (~1e-7), and its results may differ in the last bit between calls with
/// other row counts. A snapshot: build a new one after the weights change.
class FrozenQualityEstimator {
 public:
  explicit FrozenQualityEstimator(const FaceQualityEstimator& qe);
  explicit FrozenQualityEstimator(const BodyQualityEstimator& qe);

  /// (..., S) statistics -> (..., 1) per-frame weights in (0, 1).
  torch::Tensor frame_weights(const torch::Tensor& statistics) const;
  /// (B, T, S) -> (B, 1), the mean over T of the frame weights.
  torch::Tensor forward_statistics(const torch::Tensor& statistics) const;
  /// S, the statistics per frame (2048 face, 3072 body).
  int64_t statistics_width() const { return width_; }

 private:
  void init(const torch::nn::Module& qe, const std::string& mlp);

  int64_t width_ = 0;
  bool onednn_ = false;
  /// fc1, fc2, weight_assigner.0 (w1_, w2_ in oneDNN's layout when onednn_)
  torch::Tensor w1_, b1_, w2_, b2_, w3_, b3_;
};

}  // namespace qme::fusion

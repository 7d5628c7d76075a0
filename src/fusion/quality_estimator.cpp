#include "qme/fusion/quality_estimator.hpp"

#include <torch/torch.h>

#include <numeric>

#include "qme/core/error.hpp"

namespace qme::fusion {

namespace {

torch::nn::Sequential weight_assigner(int64_t in_features) {
  // A Sequential so the state-dict keys are upstream's "weight_assigner.0.*".
  return torch::nn::Sequential(torch::nn::Linear(in_features, 1));
}

std::string shape_of(const torch::Tensor& t) {
  std::string out = "[";
  for (int64_t i = 0; i < t.dim(); ++i) out += (i ? ", " : "") + std::to_string(t.size(i));
  return out + "]";
}

}  // namespace

FaceQualityEstimatorImpl::FaceQualityEstimatorImpl(const FaceQualityEstimatorOptions& options)
    : options_(options) {
  const int64_t c = options_.patch_dim();
  f_style_mlp_ = register_module("f_style_mlp", Mlp(MlpOptions(options_.num_blocks() * 2 * c, 2 * c, c)
                                                        .activation(Activation::kRelu)
                                                        .dropout(options_.dropout())));
  weight_assigner_ = register_module("weight_assigner", weight_assigner(c));
}

torch::Tensor FaceQualityEstimatorImpl::style_statistics(const torch::Tensor& frames) {
  if (frames.dim() != 4)
    throw UsageError("face QE statistics need (N, K, P, C) features, got " + shape_of(frames));
  // Upstream's order of operations: blocks first, statistics over tokens, stacked (mean, std)
  // before the channels, then one row per frame laid out [block][stat][channel].
  const auto by_block = frames.permute({1, 0, 2, 3}).contiguous();  // (K, N, P, C)
  const auto style =
      torch::stack({by_block.mean(2), by_block.std(2, /*unbiased=*/true)}, -2);  // (K, N, 2, C)
  return style.permute({1, 0, 2, 3}).reshape({frames.size(0), -1});
}

torch::Tensor FaceQualityEstimatorImpl::frame_weights(const torch::Tensor& statistics) {
  return torch::sigmoid(weight_assigner_->forward(f_style_mlp_(statistics)));
}

torch::Tensor FaceQualityEstimatorImpl::forward(const torch::Tensor& intermediates) {
  if (intermediates.dim() == 4) {
    // One probe's frames: upstream returns the per-frame weights, not their mean.
    return frame_weights(style_statistics(intermediates)).mean(1);
  }
  if (intermediates.dim() != 5) {
    throw UsageError("the face QE takes (B, T, K, P, C) or (T, K, P, C) features, got " +
                     shape_of(intermediates));
  }
  const int64_t b = intermediates.size(0);
  const int64_t t = intermediates.size(1);
  const auto frames =
      intermediates.reshape({b * t, intermediates.size(2), intermediates.size(3), intermediates.size(4)});
  return frame_weights(style_statistics(frames)).reshape({b, t, 1}).mean(1);
}

BodyQualityEstimatorImpl::BodyQualityEstimatorImpl(const BodyQualityEstimatorOptions& options)
    : options_(options) {
  const auto& ch = options_.channels();
  const int64_t s = std::accumulate(ch.begin(), ch.end(), int64_t{0});
  if (ch.empty() || s < 1) throw UsageError("the body QE needs at least one feature map with channels");
  style_mlp_ = register_module("style_mlp", Mlp(MlpOptions(2 * s, s, options_.hidden_out())
                                                    .activation(Activation::kRelu)
                                                    .dropout(options_.dropout())));
  weight_assigner_ = register_module("weight_assigner", weight_assigner(options_.hidden_out()));
}

torch::Tensor BodyQualityEstimatorImpl::style_statistics(const std::vector<torch::Tensor>& maps) {
  std::vector<torch::Tensor> styles;
  for (const auto& map : maps) {
    if (map.dim() != 5) throw UsageError("the body QE takes (B, T, C, H, W) maps, got " + shape_of(map));
    const auto flat = map.reshape({map.size(0), map.size(1), map.size(2), -1});
    styles.push_back(torch::stack({flat.mean(-1), flat.std(-1, /*unbiased=*/true)}, -1));  // (B, T, C, 2)
  }
  if (styles.empty()) throw UsageError("the body QE needs at least one feature map");
  const auto style = torch::cat(styles, 2);  // (B, T, S, 2): interleaved (channel, stat)
  return style.reshape({style.size(0), style.size(1), -1});
}

torch::Tensor BodyQualityEstimatorImpl::frame_weights(const torch::Tensor& statistics) {
  return torch::sigmoid(weight_assigner_->forward(style_mlp_(statistics)));
}

torch::Tensor BodyQualityEstimatorImpl::forward(const std::vector<torch::Tensor>& maps) {
  return frame_weights(style_statistics(maps)).mean(1);
}

}  // namespace qme::fusion

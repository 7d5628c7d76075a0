#include "qme/fusion/quality_estimator.hpp"

#include <torch/torch.h>

#include <numeric>

#include "qme/core/error.hpp"
#include "qme/io/tensor_shape.hpp"
#include "qme/kernels/inner_product.hpp"

namespace qme::fusion {

namespace {

torch::nn::Sequential weight_assigner(int64_t in_features) {
  // A Sequential so the state-dict keys are upstream's "weight_assigner.0.*".
  return torch::nn::Sequential(torch::nn::Linear(in_features, 1));
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
    throw UsageError("face QE statistics need (N, K, P, C) features, got " + io::shape_text(frames));
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

torch::Tensor FaceQualityEstimatorImpl::statistics(const torch::Tensor& intermediates) {
  if (intermediates.dim() != 5) {
    throw UsageError("face QE statistics need (B, T, K, P, C) features, got " +
                     io::shape_text(intermediates));
  }
  const int64_t b = intermediates.size(0);
  const int64_t t = intermediates.size(1);
  const auto frames =
      intermediates.reshape({b * t, intermediates.size(2), intermediates.size(3), intermediates.size(4)});
  return style_statistics(frames).reshape({b, t, -1});
}

torch::Tensor FaceQualityEstimatorImpl::forward_statistics(const torch::Tensor& statistics) {
  const int64_t s = 2 * options_.num_blocks() * options_.patch_dim();
  if (statistics.dim() != 3 || statistics.size(2) != s) {
    throw UsageError("the face QE takes (B, T, " + std::to_string(s) + ") statistics, got " +
                     io::shape_text(statistics));
  }
  const int64_t b = statistics.size(0);
  const int64_t t = statistics.size(1);
  // One row per frame, as the token path feeds the MLP, so both give the same bits.
  return frame_weights(statistics.reshape({b * t, s})).reshape({b, t, 1}).mean(1);
}

torch::Tensor FaceQualityEstimatorImpl::forward(const torch::Tensor& intermediates) {
  if (intermediates.dim() == 4) {
    // One probe's frames: upstream returns the per-frame weights, not their mean.
    return frame_weights(style_statistics(intermediates)).mean(1);
  }
  if (intermediates.dim() != 5) {
    throw UsageError("the face QE takes (B, T, K, P, C) or (T, K, P, C) features, got " +
                     io::shape_text(intermediates));
  }
  return forward_statistics(statistics(intermediates));
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
    if (map.dim() != 5)
      throw UsageError("the body QE takes (B, T, C, H, W) maps, got " + io::shape_text(map));
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

torch::Tensor BodyQualityEstimatorImpl::forward_statistics(const torch::Tensor& statistics) {
  const int64_t s = style_mlp_->options().in_features();
  if (statistics.dim() != 3 || statistics.size(2) != s) {
    throw UsageError("the body QE takes (B, T, " + std::to_string(s) + ") statistics, got " +
                     io::shape_text(statistics));
  }
  return frame_weights(statistics).mean(1);
}

torch::Tensor BodyQualityEstimatorImpl::forward(const std::vector<torch::Tensor>& maps) {
  return forward_statistics(style_statistics(maps));
}

FrozenQualityEstimator::FrozenQualityEstimator(const FaceQualityEstimator& qe) {
  if (!qe) throw UsageError("FrozenQualityEstimator: no quality estimator");
  init(*qe, "f_style_mlp");
}

FrozenQualityEstimator::FrozenQualityEstimator(const BodyQualityEstimator& qe) {
  if (!qe) throw UsageError("FrozenQualityEstimator: no quality estimator");
  init(*qe, "style_mlp");
}

void FrozenQualityEstimator::init(const torch::nn::Module& qe, const std::string& mlp) {
  const auto params = qe.named_parameters();
  const auto get = [&](const std::string& name) { return params[name].detach().clone(); };
  w1_ = get(mlp + ".fc1.weight");
  b1_ = get(mlp + ".fc1.bias");
  w2_ = get(mlp + ".fc2.weight");
  b2_ = get(mlp + ".fc2.bias");
  w3_ = get("weight_assigner.0.weight");
  b3_ = get("weight_assigner.0.bias");
  width_ = w1_.size(1);
  onednn_ = kernels::onednn_inner_product(w1_);
  if (onednn_) {
    // The weights are oneDNN's source operand, converted once; the frames are its (small)
    // "weight" operand, so each call re-packs only the frames.
    w1_ = w1_.to_mkldnn();
    w2_ = w2_.to_mkldnn();
  }
}

torch::Tensor FrozenQualityEstimator::frame_weights(const torch::Tensor& statistics) const {
  if (statistics.dim() < 1 || statistics.size(-1) != width_) {
    throw UsageError("the quality estimator takes (..., " + std::to_string(width_) + ") statistics, got " +
                     io::shape_text(statistics));
  }
  torch::NoGradGuard no_grad;
  auto sizes = statistics.sizes().vec();
  const auto x = statistics.reshape({-1, width_}).to(b1_.device(), torch::kFloat32).contiguous();
  torch::Tensor h;
  if (onednn_) {
    // (out, N) = W x^T; bias per row, then back to (N, out) for the next product.
    const auto h1 = torch::relu(kernels::times_transposed(w1_, x).add_(b1_.unsqueeze(1)));
    h = kernels::times_transposed(w2_, h1.t()).add_(b2_.unsqueeze(1)).t();
  } else {
    h = torch::linear(torch::relu(torch::linear(x, w1_, b1_)), w2_, b2_);
  }
  sizes.back() = 1;
  return torch::sigmoid(torch::linear(h, w3_, b3_)).reshape(sizes);
}

torch::Tensor FrozenQualityEstimator::forward_statistics(const torch::Tensor& statistics) const {
  if (statistics.dim() != 3) {
    throw UsageError("the quality estimator takes (B, T, S) statistics, got " + io::shape_text(statistics));
  }
  return frame_weights(statistics).mean(1);
}

}  // namespace qme::fusion

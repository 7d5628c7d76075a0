#include "qme/fusion/mlp.hpp"

#include <torch/torch.h>

namespace qme::fusion {

namespace {

/// a (N, K) times b (M, K) transposed -> (N, M), by oneDNN's inner product.
torch::Tensor onednn_times_transposed(const torch::Tensor& a, const torch::Tensor& b) {
  return torch::mkldnn_linear(a.contiguous().to_mkldnn(), b.contiguous(), {}).to_dense();
}

/// y = x W^T + b with its backward through oneDNN (x (N, in), W (out, in), b (out)).
struct OneDnnLinear : torch::autograd::Function<OneDnnLinear> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, const torch::Tensor& bias) {
    ctx->save_for_backward({x, weight});
    return onednn_times_transposed(x, weight).add_(bias);
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& x = saved[0];
    const auto& weight = saved[1];
    const auto g = grads[0].contiguous();
    torch::Tensor gx, gw, gb;
    if (ctx->needs_input_grad(0)) gx = onednn_times_transposed(g, weight.t());
    if (ctx->needs_input_grad(1)) gw = onednn_times_transposed(g.t(), x.t());
    if (ctx->needs_input_grad(2)) gb = g.sum(0);
    return {gx, gw, gb};
  }
};

bool onednn_training(const torch::Tensor& x, bool training) {
  return training && torch::GradMode::is_enabled() && x.device().is_cpu() &&
         x.scalar_type() == torch::kFloat32 && at::hasMKLDNN();
}

}  // namespace

torch::Tensor MlpImpl::linear(torch::nn::Linear& fc, const torch::Tensor& x) {
  if (!onednn_training(x, is_training())) return fc(x);
  const int64_t in = x.size(-1);
  auto out_shape = x.sizes().vec();
  out_shape.back() = fc->weight.size(0);
  return OneDnnLinear::apply(x.reshape({-1, in}), fc->weight, fc->bias).reshape(out_shape);
}

MlpImpl::MlpImpl(const MlpOptions& options) : options_(options) {
  fc1_ = register_module("fc1", torch::nn::Linear(options_.in_features(), options_.hidden_features()));
  fc2_ = register_module("fc2", torch::nn::Linear(options_.hidden_features(), options_.out_features()));
  drop_ = register_module("drop", torch::nn::Dropout(options_.dropout()));
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  auto h = linear(fc1_, x);
  switch (options_.activation()) {
    case Activation::kGelu:
      h = torch::gelu(h);
      break;
    case Activation::kRelu:
      h = torch::relu(h);
      break;
    case Activation::kSelu:
      h = torch::selu(h);
      break;
  }
  h = drop_(h);
  return drop_(linear(fc2_, h));
}

}  // namespace qme::fusion

#include "qme/fusion/mlp.hpp"

#include <torch/torch.h>

#include "qme/kernels/inner_product.hpp"

namespace qme::fusion {

namespace {

bool onednn_training(const torch::Tensor& x, bool training) {
  return training && torch::GradMode::is_enabled() && !x.is_mkldnn() && kernels::onednn_inner_product(x);
}

}  // namespace

torch::Tensor MlpImpl::linear(torch::nn::Linear& fc, const torch::Tensor& x) {
  if (!onednn_training(x, is_training())) return fc(x);
  const int64_t in = x.size(-1);
  auto out_shape = x.sizes().vec();
  out_shape.back() = fc->weight.size(0);
  return kernels::linear_onednn(x.reshape({-1, in}), fc->weight, fc->bias).reshape(out_shape);
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

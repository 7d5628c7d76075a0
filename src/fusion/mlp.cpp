#include "qme/fusion/mlp.hpp"

#include <torch/torch.h>

namespace qme::fusion {

MlpImpl::MlpImpl(const MlpOptions& options) : options_(options) {
  fc1_ = register_module("fc1", torch::nn::Linear(options_.in_features(), options_.hidden_features()));
  fc2_ = register_module("fc2", torch::nn::Linear(options_.hidden_features(), options_.out_features()));
  drop_ = register_module("drop", torch::nn::Dropout(options_.dropout()));
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  auto h = fc1_(x);
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
  return drop_(fc2_(h));
}

}  // namespace qme::fusion

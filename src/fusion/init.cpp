#include "qme/fusion/init.hpp"

#include <torch/torch.h>

#include <cmath>

namespace qme::fusion {

void trunc_normal_(torch::Tensor tensor, double mean, double std, double a, double b) {
  // timm: draw uniformly between the CDF values of the bounds, map back through the inverse
  // normal CDF (via erfinv), then clamp away round-off.
  const auto normal_cdf = [](double x) { return (1.0 + std::erf(x / std::sqrt(2.0))) / 2.0; };
  const double low = normal_cdf((a - mean) / std);
  const double high = normal_cdf((b - mean) / std);
  torch::NoGradGuard no_grad;
  tensor.uniform_(2.0 * low - 1.0, 2.0 * high - 1.0);
  tensor.erfinv_();
  tensor.mul_(std * std::sqrt(2.0));
  tensor.add_(mean);
  tensor.clamp_(a, b);
}

namespace {

void init_if_linear(torch::nn::Module& module) {
  auto* linear = module.as<torch::nn::LinearImpl>();
  if (linear == nullptr) return;
  trunc_normal_(linear->weight, 0.0, 0.02);
  if (linear->bias.defined()) {
    torch::NoGradGuard no_grad;
    linear->bias.zero_();
  }
}

}  // namespace

void init_linear_weights(torch::nn::Module& module) {
  // Not modules(include_self=true): that needs the module to be held by a shared_ptr, which it
  // is not yet while its constructor runs.
  init_if_linear(module);
  for (const auto& m : module.modules(/*include_self=*/false)) init_if_linear(*m);
}

}  // namespace qme::fusion

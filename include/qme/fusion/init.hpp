#pragma once
/// Upstream's initialisation for training from scratch: every Linear weight drawn from timm's
/// truncated normal (std 0.02, cut at +-2), every Linear bias 0. BatchNorm keeps LibTorch's
/// (weight 1, bias 0), as in PyTorch.
#include <torch/nn/module.h>

namespace qme::fusion {

/// Fills `tensor` in place with N(mean, std) truncated to [a, b], by timm's inverse-CDF method.
void trunc_normal_(torch::Tensor tensor, double mean = 0.0, double std = 1.0, double a = -2.0,
                   double b = 2.0);

/// Upstream's `_init_weights` applied to `module` and every submodule that is a Linear.
void init_linear_weights(torch::nn::Module& module);

}  // namespace qme::fusion

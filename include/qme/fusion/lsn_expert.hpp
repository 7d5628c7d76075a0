#pragma once
/// One fusion expert, upstream's `LSN` (learnable score normalisation): a BatchNorm1d over the
/// M models' scores, then an Mlp(M, mlp_ratio*M, out_dim, SELU) applied to each gallery
/// column's M scores, averaged over its out_dim outputs.
#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

#include "qme/fusion/mlp.hpp"

namespace qme::fusion {

struct LsnExpertOptions {
  explicit LsnExpertOptions(int64_t num_models) : num_models_(num_models) {}
  TORCH_ARG(int64_t, num_models);
  TORCH_ARG(int64_t, mlp_ratio) = 3;
  TORCH_ARG(int64_t, out_dim) = 1;
  TORCH_ARG(double, dropout) = 0.0;
};

class LsnExpertImpl : public torch::nn::Module {
 public:
  explicit LsnExpertImpl(const LsnExpertOptions& options);
  /// scores (B, M, G) -> fused (B, G)
  torch::Tensor forward(const torch::Tensor& scores);
  const LsnExpertOptions& options() const { return options_; }

 private:
  LsnExpertOptions options_;
  torch::nn::BatchNorm1d bn_{nullptr};
  Mlp score_mlp_{nullptr};
};
TORCH_MODULE(LsnExpert);

}  // namespace qme::fusion

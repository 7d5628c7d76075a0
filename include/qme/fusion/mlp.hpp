#pragma once
/// Upstream's two-layer `Mlp` (timm style): fc1 -> activation -> dropout -> fc2 -> dropout.
#include <torch/nn/module.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

namespace qme::fusion {

enum class Activation { kGelu, kRelu, kSelu };

struct MlpOptions {
  MlpOptions(int64_t in_features, int64_t hidden_features, int64_t out_features)
      : in_features_(in_features), hidden_features_(hidden_features), out_features_(out_features) {}
  TORCH_ARG(int64_t, in_features);
  TORCH_ARG(int64_t, hidden_features);
  TORCH_ARG(int64_t, out_features);
  TORCH_ARG(Activation, activation) = Activation::kGelu;  // upstream's default
  TORCH_ARG(double, dropout) = 0.0;
};

class MlpImpl : public torch::nn::Module {
 public:
  explicit MlpImpl(const MlpOptions& options);
  /// (..., in_features) -> (..., out_features). Training on the CPU in float32 (train mode,
  /// gradients on) runs both layers forward and backward through oneDNN's inner product:
  /// Debian's LibTorch sends torch::linear to the reference BLAS, 5-20x slower at the QE's sizes.
  /// Eval mode keeps torch::nn::Linear (the inference path the parity tests pin).
  torch::Tensor forward(const torch::Tensor& x);
  const MlpOptions& options() const { return options_; }

 private:
  torch::Tensor linear(torch::nn::Linear& fc, const torch::Tensor& x);

  MlpOptions options_;
  torch::nn::Linear fc1_{nullptr};
  torch::nn::Linear fc2_{nullptr};
  torch::nn::Dropout drop_{nullptr};
};
TORCH_MODULE(Mlp);

}  // namespace qme::fusion

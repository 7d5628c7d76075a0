#include "qme/kernels/inner_product.hpp"

#include <torch/torch.h>

namespace qme::kernels {

namespace {

/// The autograd function of linear_onednn: saves x and W, and computes every gradient product
/// with times_transposed.
struct OneDnnLinear : torch::autograd::Function<OneDnnLinear> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, const torch::Tensor& bias) {
    ctx->save_for_backward({x, weight});
    return times_transposed(x, weight).add_(bias);
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& x = saved[0];
    const auto& weight = saved[1];
    const auto g = grads[0].contiguous();
    torch::Tensor gx, gw, gb;
    if (ctx->needs_input_grad(0)) gx = times_transposed(g, weight.t());
    if (ctx->needs_input_grad(1)) gw = times_transposed(g.t(), x.t());
    if (ctx->needs_input_grad(2)) gb = g.sum(0);
    return {gx, gw, gb};
  }
};

}  // namespace

bool onednn_inner_product(const at::Tensor& t) {
  if (!at::hasMKLDNN()) return false;
  return t.is_mkldnn() || (t.device().is_cpu() && t.scalar_type() == torch::kFloat32);
}

at::Tensor times_transposed(const at::Tensor& a, const at::Tensor& b) {
  if (!onednn_inner_product(a)) return torch::mm(a, b.t());
  const auto source = a.is_mkldnn() ? a : a.contiguous().to_mkldnn();
  return torch::mkldnn_linear(source, b.contiguous(), {}).to_dense();
}

at::Tensor linear_onednn(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  return OneDnnLinear::apply(x, weight, bias);
}

}  // namespace qme::kernels

#pragma once
/// The CPU inner product every dense layer of qme runs through: score matrices (probes x
/// gallery), the fusion MLPs in training (forward and backward) and the frozen quality
/// estimator. Debian's LibTorch sends torch::mm / torch::linear to the reference BLAS (5-30x
/// slower at these sizes), so on the CPU in float32 these use oneDNN's inner product
/// (torch::mkldnn_linear) wherever LibTorch has it; elsewhere (CUDA, other dtypes) LibTorch's
/// own ops.
#include <ATen/core/Tensor.h>

namespace qme::kernels {

/// True when `t` can go through oneDNN: a float32 CPU tensor (or one already in oneDNN's
/// layout) and a LibTorch built with it.
bool onednn_inner_product(const at::Tensor& t);

/// a (N, K) times b (M, K) transposed -> (N, M), dense float32. `a` may already be in
/// oneDNN's layout (weights converted once with .to_mkldnn()), so that a call re-packs only
/// `b`. Through oneDNN when onednn_inner_product(a), else torch::mm(a, b.t()).
at::Tensor times_transposed(const at::Tensor& a, const at::Tensor& b);

/// y = x W^T + b (x (N, in), W (out, in), b (out)) whose forward and backward products all run
/// through times_transposed: an autograd function for training on the CPU.
at::Tensor linear_onednn(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);

}  // namespace qme::kernels

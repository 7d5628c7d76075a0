#pragma once
// QME inference on the CPU without LibTorch ops: the two LSN experts and their quality-weighted
// mixture evaluated pair by pair, eight gallery entries at a time, straight from the models'
// score matrices into the fused matrix. Every float32 operation is the one LibTorch 1.13's CPU
// path performs (checked against it bit for bit in tests/fusion/test_qme_inference.cpp), so the
// fused scores, and every report computed from them, are upstream's:
//   BatchNorm1d (eval)  alpha = weight * (1 / sqrt(var + eps)), beta = fma(-mean, alpha, bias),
//                       y = fma(x, alpha, beta)
//   Linear              sum_k x_k * w_k from 0 in input order, no fused multiply-add, then + bias
//   SELU                x > 0 ? x * scale : (Sleef exp(x) - 1) * (alpha * scale)
//   mixture             q * e0 + (1 - q) * e1
// Torch-free: the weights come in as plain arrays.
#include <cstdint>
#include <vector>

#include "qme/core/score_matrix.hpp"

namespace qme::fusion::detail {

/// The most models the kernel fuses (more go through LibTorch's ops).
constexpr int64_t kMaxKernelModels = 8;

/// One LSN expert (BatchNorm1d over M models, Mlp(M, H, 1) with SELU) in eval mode.
struct ExpertWeights {
  std::vector<float> bn_alpha, bn_beta;  // M: the normalisation as one multiply-add
  std::vector<float> fc1_weight;         // H x M, row-major (torch's Linear layout)
  std::vector<float> fc1_bias;           // H
  std::vector<float> fc2_weight;         // H (one output)
  float fc2_bias = 0;
};

/// BatchNorm1d's eval-mode terms, computed as LibTorch computes them (float32).
void set_batch_norm(ExpertWeights& expert, const std::vector<float>& running_mean,
                    const std::vector<float>& running_var, const std::vector<float>& weight,
                    const std::vector<float>& bias, double eps);

/// Whether this CPU runs the kernel: it needs AVX2 and FMA, as LibTorch's vector exp does.
bool mixture_kernel_available();

/// Fuses rows [row_begin, row_end) of the M = matrices.size() score matrices (each rows x cols,
/// row-major) into `out` (same layout): quality[i] mixes the two experts (q = 0.5 when quality
/// is null). Call only when mixture_kernel_available().
void fuse_rows(const ExpertWeights& expert0, const ExpertWeights& expert1,
               const std::vector<const float*>& matrices, int64_t cols, const float* quality,
               int64_t row_begin, int64_t row_end, float* out);

/// Throws Error unless the matrices share one shape.
void check_same_shape(const std::vector<const ScoreMatrix*>& matrices);

/// fuse_rows over every row of `matrices` (checked to share one shape), on the evaluation
/// threads; `quality` holds one weight per row, or is null for q = 0.5.
ScoreMatrix fuse_matrices(const ExpertWeights& expert0, const ExpertWeights& expert1,
                          const std::vector<const ScoreMatrix*>& matrices, const float* quality);

}  // namespace qme::fusion::detail

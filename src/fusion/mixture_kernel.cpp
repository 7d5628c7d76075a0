// Compiled with -ffp-contract=off: every multiply and add below must round on its own, as
// LibTorch's kernels do, except the one fused multiply-add BatchNorm uses.
#include "mixture_kernel.hpp"

#include <cmath>
#include <cstring>
#include <string>

#include "qme/core/error.hpp"
#include "qme/core/parallel.hpp"
#include "qme/core/prefault.hpp"

#if defined(QME_HAVE_SLEEF) && (defined(__x86_64__) || defined(__i386__))
#define QME_MIXTURE_KERNEL 1
#include <immintrin.h>
#endif

namespace qme::fusion::detail {

// SELU's constants as LibTorch casts them to float32 (at::selu -> elu with input scale 1).
constexpr float kSeluAlpha = static_cast<float>(1.6732632423543772848170429916717);
constexpr float kSeluScale = static_cast<float>(1.0507009873554804934193349852946);

void set_batch_norm(ExpertWeights& expert, const std::vector<float>& running_mean,
                    const std::vector<float>& running_var, const std::vector<float>& weight,
                    const std::vector<float>& bias, double eps) {
  const size_t m = running_mean.size();
  expert.bn_alpha.resize(m);
  expert.bn_beta.resize(m);
  for (size_t c = 0; c < m; ++c) {
    const float invstd = 1.0f / std::sqrt(running_var[c] + static_cast<float>(eps));
    expert.bn_alpha[c] = invstd * weight[c];
    expert.bn_beta[c] = std::fma(-running_mean[c], expert.bn_alpha[c], bias[c]);
  }
}

void check_same_shape(const std::vector<const ScoreMatrix*>& matrices) {
  for (const auto* m : matrices) {
    if (m->rows != matrices.front()->rows || m->cols != matrices.front()->cols) {
      throw Error("QME inference: the models' score matrices differ in shape (" + std::to_string(m->rows) +
                  "x" + std::to_string(m->cols) + " vs " + std::to_string(matrices.front()->rows) + "x" +
                  std::to_string(matrices.front()->cols) + ")");
    }
  }
}

ScoreMatrix fuse_matrices(const ExpertWeights& expert0, const ExpertWeights& expert1,
                          const std::vector<const ScoreMatrix*>& matrices, const float* quality) {
  check_same_shape(matrices);
  const int64_t rows = matrices.front()->rows;
  const int64_t cols = matrices.front()->cols;
  ScoreMatrix out;
  out.rows = rows;
  out.cols = cols;
  resize_prefaulted(out.values, static_cast<size_t>(rows * cols));
  std::vector<const float*> data;
  for (const auto* m : matrices) data.push_back(m->values.data());
  parallel_for(rows, [&](int64_t begin, int64_t end, int) {
    fuse_rows(expert0, expert1, data, cols, quality, begin, end, out.values.data());
  });
  return out;
}

#ifndef QME_MIXTURE_KERNEL

bool mixture_kernel_available() {
  return false;
}

void fuse_rows(const ExpertWeights&, const ExpertWeights&, const std::vector<const float*>&, int64_t,
               const float*, int64_t, int64_t, float*) {}

#else

bool mixture_kernel_available() {
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

// Everything from here to the pop is compiled for AVX2 + FMA (clang ignores GCC's pragma).
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif

// Sleef's runtime-dispatched 8-lane exp (libsleef, what LibTorch's Vectorized<float>::exp calls).
// Declared here: sleef.h shows it only to translation units compiled with -mavx.
extern "C" __m256 Sleef_expf8_u10(__m256);

namespace {

constexpr int kLanes = 8;
constexpr auto kMaxModels = static_cast<size_t>(kMaxKernelModels);

inline __m256 broadcast(float v) {
  return _mm256_set1_ps(v);
}

/// LibTorch's vectorised ELU with SELU's constants.
inline __m256 selu(__m256 h) {
  const __m256 positive = _mm256_mul_ps(h, broadcast(kSeluScale));
  const __m256 above_zero = _mm256_cmp_ps(h, _mm256_setzero_ps(), _CMP_GT_OQ);
  if (_mm256_movemask_ps(above_zero) == 0xFF) return positive;
  const __m256 negative =
      _mm256_mul_ps(_mm256_sub_ps(Sleef_expf8_u10(h), broadcast(1.0f)), broadcast(kSeluAlpha * kSeluScale));
  return _mm256_blendv_ps(negative, positive, above_zero);
}

/// One expert's score for eight pairs; scores[m] holds model m's eight scores.
__m256 expert_scores(const ExpertWeights& e, const __m256* scores, size_t models) {
  __m256 x[kMaxModels] = {};
  for (size_t m = 0; m < models; ++m) {
    x[m] = _mm256_fmadd_ps(scores[m], broadcast(e.bn_alpha[m]), broadcast(e.bn_beta[m]));
  }
  const float* w1 = e.fc1_weight.data();
  __m256 out = _mm256_setzero_ps();
  for (size_t k = 0; k < e.fc1_bias.size(); ++k, w1 += models) {
    __m256 hidden = _mm256_setzero_ps();
    for (size_t m = 0; m < models; ++m) hidden = _mm256_add_ps(hidden, _mm256_mul_ps(x[m], broadcast(w1[m])));
    hidden = _mm256_add_ps(hidden, broadcast(e.fc1_bias[k]));
    out = _mm256_add_ps(out, _mm256_mul_ps(selu(hidden), broadcast(e.fc2_weight[k])));
  }
  return _mm256_add_ps(out, broadcast(e.fc2_bias));
}

/// Eight (or, at the row's end, fewer) pairs starting at column j of row `row`.
void fuse_lanes(const ExpertWeights& e0, const ExpertWeights& e1, const std::vector<const float*>& matrices,
                int64_t offset, int lanes, float q, float* out) {
  __m256 scores[kMaxModels] = {};
  for (size_t m = 0; m < matrices.size(); ++m) {
    if (lanes == kLanes) {
      scores[m] = _mm256_loadu_ps(matrices[m] + offset);
    } else {
      float padded[kLanes] = {0, 0, 0, 0, 0, 0, 0, 0};
      std::memcpy(padded, matrices[m] + offset, static_cast<size_t>(lanes) * sizeof(float));
      scores[m] = _mm256_loadu_ps(padded);
    }
  }
  const size_t models = matrices.size();
  const __m256 fused = _mm256_add_ps(_mm256_mul_ps(broadcast(q), expert_scores(e0, scores, models)),
                                     _mm256_mul_ps(broadcast(1.0f - q), expert_scores(e1, scores, models)));
  if (lanes == kLanes) {
    _mm256_storeu_ps(out + offset, fused);
  } else {
    float padded[kLanes];
    _mm256_storeu_ps(padded, fused);
    std::memcpy(out + offset, padded, static_cast<size_t>(lanes) * sizeof(float));
  }
}

}  // namespace

void fuse_rows(const ExpertWeights& expert0, const ExpertWeights& expert1,
               const std::vector<const float*>& matrices, int64_t cols, const float* quality,
               int64_t row_begin, int64_t row_end, float* out) {
  for (int64_t i = row_begin; i < row_end; ++i) {
    const float q = quality ? quality[i] : 0.5f;
    for (int64_t j = 0; j < cols; j += kLanes) {
      const int lanes = static_cast<int>(cols - j < kLanes ? cols - j : kLanes);
      fuse_lanes(expert0, expert1, matrices, i * cols + j, lanes, q, out);
    }
  }
}

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#endif

}  // namespace qme::fusion::detail

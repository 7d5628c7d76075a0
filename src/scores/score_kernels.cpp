#include "score_kernels.hpp"

#include <algorithm>
#include <cmath>

#include "qme/core/target_clones.hpp"

#define QME_KERNEL_CLONES QME_TARGET_CLONES("avx512f", "avx2", "default")

namespace qme::scores::kernels {

float direct_sq_distance(const float* a, const float* b, int64_t n) {
  double sum = 0;
  for (int64_t c = 0; c < n; ++c) {
    const double d = static_cast<double>(a[c]) - b[c];
    sum += d * d;
  }
  return static_cast<float>(sum);
}

QME_KERNEL_CLONES
void accumulate_part_distances(float* acc, float* ab, float qn, const float* gn, int64_t cols,
                               const float* probe_part, const float* gallery_part, int64_t channels) {
  float* d2 = ab;
  int near = 0;  // any distance to recompute; an OR-reduction vectorises, the fix-up below does not
  for (int64_t j = 0; j < cols; ++j) {
    d2[j] = qn + gn[j] - 2.0f * ab[j];
    near |= d2[j] < kRefineShare * (qn + gn[j]);
  }
  if (near) {
    for (int64_t j = 0; j < cols; ++j) {
      if (d2[j] < kRefineShare * (qn + gn[j])) {
        d2[j] = direct_sq_distance(probe_part, gallery_part + j * channels, channels);
      }
    }
  }
  for (int64_t j = 0; j < cols; ++j) acc[j] += std::sqrt(std::max(d2[j], 0.0f));
}

QME_KERNEL_CLONES
void finish_parts_row(float* dist_sum, bool probe_valid, const uint8_t* gallery_valid, int64_t cols,
                      int64_t parts) {
  if (!probe_valid) {
    std::fill(dist_sum, dist_sum + cols, 0.0f);
    return;
  }
  const float n = static_cast<float>(parts);
  for (int64_t j = 0; j < cols; ++j) {
    dist_sum[j] = gallery_valid[j] ? 1.0f / (1.0f + dist_sum[j] / n) : 0.0f;
  }
}

QME_KERNEL_CLONES
void cosine_row(float* dst, const float* products, bool probe_valid, const uint8_t* gallery_valid,
                int64_t cols) {
  if (!probe_valid) {
    std::fill(dst, dst + cols, 0.0f);
    return;
  }
  for (int64_t j = 0; j < cols; ++j) dst[j] = gallery_valid[j] ? products[j] : 0.0f;
}

}  // namespace qme::scores::kernels

#pragma once
// Row kernels of the score matrices (internal to src/scores). Plain C++ in a
// torch-free translation unit built with -fno-math-errno, so that the square
// roots vectorise.
#include <cstdint>

namespace qme::scores::kernels {

/// BigGait's squared part distance as ||a||^2 + ||b||^2 - 2ab loses digits to
/// cancellation when the distance is small next to the norms (near-duplicate
/// features): below this share of ||a||^2 + ||b||^2 it is recomputed directly.
/// Float32 round-off in ab is ~1e-6 of the norms, so the distance keeps ~5
/// significant digits everywhere (upstream subtracts first, then takes norms).
constexpr float kRefineShare = 1.0f / 16;

/// sum_c (a[c] - b[c])^2 in double, rounded to float.
float direct_sq_distance(const float* a, const float* b, int64_t n);

/// One probe row, one part: ab[j] = a.b_j (overwritten), qn = ||a||^2,
/// gn[j] = ||b_j||^2; adds ||a - b_j|| to acc[j]. `probe_part` (channels values)
/// and `gallery_part` (cols x channels) are the centred part features, for the
/// direct recomputation where the product form cancels.
void accumulate_part_distances(float* acc, float* ab, float qn, const float* gn, int64_t cols,
                               const float* probe_part, const float* gallery_part, int64_t channels);

/// dist_sum[j] -> 1 / (1 + dist_sum[j] / parts), or 0 where either feature is invalid.
void finish_parts_row(float* dist_sum, bool probe_valid, const uint8_t* gallery_valid, int64_t cols,
                      int64_t parts);

/// dst[j] = products[j], or 0 where either feature is invalid.
void cosine_row(float* dst, const float* products, bool probe_valid, const uint8_t* gallery_valid,
                int64_t cols);

}  // namespace qme::scores::kernels

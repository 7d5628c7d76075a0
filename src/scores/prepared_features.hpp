#pragma once
// Features laid out for the score matrices' products (internal to src/scores): shared by the
// CPU kernels (score_matrices.cpp) and the LibTorch path (device_scores.cpp). Torch-free.
#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "qme/scores/score_matrices.hpp"

namespace qme::scores {

/// Rows with a non-finite value are zeroed and flagged invalid: every score they take part
/// in is 0.
struct PreparedFeatures {
  std::vector<float> values;  // cosine: (rows, channels) unit rows; biggait: (parts, rows, channels) centred
  std::vector<float> sq_norms;  // biggait: (parts, rows) squared norm of each part
  std::vector<uint8_t> valid;   // per row
  int64_t parts = 1, rows = 0, channels = 0;
};

/// Cosine: each row divided by max(its norm, eps), as torch.nn.functional.cosine_similarity.
PreparedFeatures prepare_cosine(const FeatureRows& f, int threads);

/// BigGait: the rows minus `centre`, split into their 16 parts (value c * 16 + p is channel c
/// of part p, upstream's reshape(-1, 16)).
PreparedFeatures prepare_parts(const FeatureRows& f, const std::vector<double>& centre, int threads);

/// Mean of the rows without NaN or Inf: BigGait's distances do not change when both sides are
/// shifted by the same vector, and ||a||^2 + ||b||^2 - 2ab loses far less to cancellation on
/// centred features.
std::vector<double> centre_of(const FeatureRows& f);

/// Probes and gallery prepared for `similarity` (BigGait's centred on the gallery's mean).
std::pair<PreparedFeatures, PreparedFeatures> prepare_features(const FeatureRows& probes,
                                                               const FeatureRows& gallery,
                                                               Similarity similarity, int threads);

/// Throws InputError when the widths differ or do not suit `similarity`.
void check_inputs(const FeatureRows& probes, const FeatureRows& gallery, Similarity similarity);

/// A tile of probe rows [r0, r1) x gallery columns [c0, c1).
struct Tile {
  int64_t r0, r1, c0, c1;
  int64_t rows() const { return r1 - r0; }
  int64_t cols() const { return c1 - c0; }
};

/// f(tile) for the tiles of a probes x gallery matrix, probe blocks outer: at most 512 probe
/// rows and at most `tile_elements` (>= 1) scores a tile, so that memory beyond the output stays
/// bounded for large galleries.
template <class F>
void for_each_tile(int64_t probes, int64_t gallery, int64_t tile_elements, F&& f) {
  const int64_t rows_per_tile = std::min<int64_t>({probes, 512, tile_elements});
  const int64_t cols_per_tile = std::max<int64_t>(1, tile_elements / rows_per_tile);
  for (int64_t r0 = 0; r0 < probes; r0 += rows_per_tile) {
    for (int64_t c0 = 0; c0 < gallery; c0 += cols_per_tile) {
      f(Tile{r0, std::min(probes, r0 + rows_per_tile), c0, std::min(gallery, c0 + cols_per_tile)});
    }
  }
}

/// similarity_matrix on the CPU's own kernels (oneDNN products, fused element-wise steps),
/// whatever options.device says.
ScoreMatrix cpu_similarity_matrix(const FeatureRows& probes, const FeatureRows& gallery,
                                  Similarity similarity, const ScoreOptions& options);

/// torch.nn.functional.cosine_similarity's default eps: each norm is clamped at it.
constexpr float kCosineEps = 1e-8f;

}  // namespace qme::scores

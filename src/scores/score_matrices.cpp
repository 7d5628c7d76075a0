#include "qme/scores/score_matrices.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>

#include "cpu_inner_product.hpp"
#include "prepared_features.hpp"
#include "qme/core/error.hpp"
#include "qme/core/parallel.hpp"
#include "qme/core/prefault.hpp"
#include "score_kernels.hpp"

namespace qme::scores {

namespace {

// CPU tiles: at most this many scores (4 MB).
constexpr int64_t kCpuTileElements = int64_t{1} << 20;

DeviceScoring& installed_device_scoring() {
  static DeviceScoring scoring = nullptr;
  return scoring;
}

bool finite_row(const float* row, int64_t dim) {
  // An all-ones exponent is Inf or NaN; the integer test vectorises, std::isfinite does not.
  uint32_t non_finite = 0;
  for (int64_t k = 0; k < dim; ++k) {
    uint32_t bits;
    std::memcpy(&bits, row + k, sizeof bits);
    non_finite |= static_cast<uint32_t>((bits & 0x7f800000u) == 0x7f800000u);
  }
  return non_finite == 0;
}

/// Part p's rows [first, first + count) of prepared features.
const float* part_rows(const PreparedFeatures& f, int64_t p, int64_t first) {
  return f.values.data() + (p * f.rows + first) * f.channels;
}

/// One cosine tile, written into `out`; `products` holds the tile's dot products.
void cosine_tile(const PreparedFeatures& q, const PreparedFeatures& g, const Tile& t, float* products,
                 int threads, ScoreMatrix& out) {
  kernels::times_transposed(part_rows(q, 0, t.r0), t.rows(), part_rows(g, 0, t.c0), t.cols(), q.channels,
                            products);
  parallel_for(
      t.rows(),
      [&](int64_t begin, int64_t end, int) {
        for (int64_t i = t.r0 + begin; i < t.r0 + end; ++i) {
          kernels::cosine_row(out.row(i) + t.c0, products + (i - t.r0) * t.cols(),
                              q.valid[static_cast<size_t>(i)], g.valid.data() + t.c0, t.cols());
        }
      },
      threads);
}

/// One BigGait tile: the part distances accumulate in `out`, then become scores.
void parts_tile(const PreparedFeatures& q, const PreparedFeatures& g, const Tile& t, float* products,
                int threads, ScoreMatrix& out) {
  for (int64_t i = t.r0; i < t.r1; ++i) std::fill(out.row(i) + t.c0, out.row(i) + t.c1, 0.0f);
  for (int64_t p = 0; p < q.parts; ++p) {
    kernels::times_transposed(part_rows(q, p, t.r0), t.rows(), part_rows(g, p, t.c0), t.cols(), q.channels,
                              products);
    const float* qn = q.sq_norms.data() + p * q.rows;
    const float* gn = g.sq_norms.data() + p * g.rows;
    parallel_for(
        t.rows(),
        [&](int64_t begin, int64_t end, int) {
          for (int64_t i = t.r0 + begin; i < t.r0 + end; ++i) {
            kernels::accumulate_part_distances(out.row(i) + t.c0, products + (i - t.r0) * t.cols(), qn[i],
                                               gn + t.c0, t.cols(), part_rows(q, p, i), part_rows(g, p, t.c0),
                                               q.channels);
          }
        },
        threads);
  }
  parallel_for(
      t.rows(),
      [&](int64_t begin, int64_t end, int) {
        for (int64_t i = t.r0 + begin; i < t.r0 + end; ++i) {
          kernels::finish_parts_row(out.row(i) + t.c0, q.valid[static_cast<size_t>(i)], g.valid.data() + t.c0,
                                    t.cols(), q.parts);
        }
      },
      threads);
}

/// The CPU kernels' options: the device is the CPU, or "auto" where no LibTorch device scoring
/// is installed to look for CUDA.
bool on_cpu_kernels(const ScoreOptions& options) {
  if (options.generic_kernels) return false;
  return options.device == "cpu" || (options.device == "auto" && !installed_device_scoring());
}

}  // namespace

PreparedFeatures prepare_cosine(const FeatureRows& f, int threads) {
  PreparedFeatures out;
  out.rows = f.rows;
  out.channels = f.dim;
  out.valid.assign(static_cast<size_t>(f.rows), 0);
  resize_prefaulted(out.values, static_cast<size_t>(f.rows * f.dim));
  float* dst = out.values.data();
  parallel_for(
      f.rows,
      [&](int64_t begin, int64_t end, int) {
        for (int64_t i = begin; i < end; ++i) {
          const float* x = f.data + i * f.dim;
          float* y = dst + i * f.dim;
          double sq = 0;
          for (int64_t k = 0; k < f.dim; ++k) sq += static_cast<double>(x[k]) * x[k];
          // A float's square is finite in double: only a NaN or Inf value makes this non-finite.
          if (!std::isfinite(sq)) {
            std::fill(y, y + f.dim, 0.0f);
            continue;
          }
          out.valid[static_cast<size_t>(i)] = 1;
          // upstream (torch 1.13) divides each vector by max(norm, eps) before the dot product.
          const float norm = std::max(static_cast<float>(std::sqrt(sq)), kCosineEps);
          for (int64_t k = 0; k < f.dim; ++k) y[k] = x[k] / norm;
        }
      },
      threads);
  return out;
}

std::vector<double> centre_of(const FeatureRows& f) {
  std::vector<double> centre(static_cast<size_t>(f.dim), 0.0);
  int64_t count = 0;
  for (int64_t i = 0; i < f.rows; ++i) {
    const float* x = f.data + i * f.dim;
    if (!finite_row(x, f.dim)) continue;
    for (int64_t k = 0; k < f.dim; ++k) centre[static_cast<size_t>(k)] += x[k];
    ++count;
  }
  if (count > 0) {
    for (auto& c : centre) c /= static_cast<double>(count);
  }
  return centre;
}

PreparedFeatures prepare_parts(const FeatureRows& f, const std::vector<double>& centre, int threads) {
  PreparedFeatures out;
  out.parts = kBigGaitParts;
  out.rows = f.rows;
  out.channels = f.dim / out.parts;
  const int64_t parts = out.parts, channels = out.channels;
  out.valid.assign(static_cast<size_t>(f.rows), 0);
  resize_prefaulted(out.values, static_cast<size_t>(parts * f.rows * channels));
  out.sq_norms.resize(static_cast<size_t>(parts * f.rows));
  float* dst = out.values.data();
  float* norms = out.sq_norms.data();
  parallel_for(
      f.rows,
      [&](int64_t begin, int64_t end, int) {
        std::vector<double> sq(static_cast<size_t>(parts));
        for (int64_t i = begin; i < end; ++i) {
          const float* x = f.data + i * f.dim;
          std::fill(sq.begin(), sq.end(), 0.0);
          if (!finite_row(x, f.dim)) {
            for (int64_t p = 0; p < parts; ++p) {
              std::fill(dst + (p * f.rows + i) * channels, dst + (p * f.rows + i + 1) * channels, 0.0f);
            }
          } else {
            out.valid[static_cast<size_t>(i)] = 1;
            for (int64_t c = 0; c < channels; ++c) {
              for (int64_t p = 0; p < parts; ++p) {
                const int64_t k = c * parts + p;
                const auto v = static_cast<float>(x[k] - centre[static_cast<size_t>(k)]);
                dst[(p * f.rows + i) * channels + c] = v;
                sq[static_cast<size_t>(p)] += static_cast<double>(v) * v;
              }
            }
          }
          for (int64_t p = 0; p < parts; ++p)
            norms[p * f.rows + i] = static_cast<float>(sq[static_cast<size_t>(p)]);
        }
      },
      threads);
  return out;
}

std::pair<PreparedFeatures, PreparedFeatures> prepare_features(const FeatureRows& probes,
                                                               const FeatureRows& gallery,
                                                               Similarity similarity, int threads) {
  if (similarity == Similarity::kCosine)
    return {prepare_cosine(probes, threads), prepare_cosine(gallery, threads)};
  const auto centre = centre_of(gallery);
  return {prepare_parts(probes, centre, threads), prepare_parts(gallery, centre, threads)};
}

void check_inputs(const FeatureRows& probes, const FeatureRows& gallery, Similarity similarity) {
  if (probes.rows < 0 || gallery.rows < 0) throw Error("similarity_matrix: negative row count");
  if (probes.dim != gallery.dim) {
    throw InputError("probe features have " + std::to_string(probes.dim) +
                     " columns but gallery features have " + std::to_string(gallery.dim));
  }
  check_feature_dim(similarity, probes.dim, "features", "dim");
}

ScoreMatrix cpu_similarity_matrix(const FeatureRows& probes, const FeatureRows& gallery,
                                  Similarity similarity, const ScoreOptions& options) {
  check_inputs(probes, gallery, similarity);
  ScoreMatrix out(probes.rows, gallery.rows);
  if (probes.rows == 0 || gallery.rows == 0) return out;
  const int threads = options.num_threads > 0 ? options.num_threads : default_num_threads();
  const kernels::OneDnnThreads onednn_threads(threads);
  const auto start = std::chrono::steady_clock::now();
  const auto [q, g] = prepare_features(probes, gallery, similarity, threads);
  const auto prepared = std::chrono::steady_clock::now();
  // Tiles of at most kCpuTileElements scores: the products then stay in cache, and each
  // gallery chunk is reordered for oneDNN once per probe block.
  std::vector<float> products;  // sized by the first tile, the largest
  for_each_tile(probes.rows, gallery.rows,
                std::max<int64_t>(1, std::min(options.block_elements, kCpuTileElements)),
                [&](const Tile& tile) {
                  resize_prefaulted(products, static_cast<size_t>(tile.rows() * tile.cols()));
                  if (similarity == Similarity::kCosine) {
                    cosine_tile(q, g, tile, products.data(), threads, out);
                  } else {
                    parts_tile(q, g, tile, products.data(), threads, out);
                  }
                });
  const auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
  spdlog::debug("{} scores {}x{} ({}-d) on cpu: features prepared in {:.0f} ms, scored in {:.0f} ms",
                to_string(similarity), probes.rows, gallery.rows, probes.dim, ms(start, prepared),
                ms(prepared, std::chrono::steady_clock::now()));
  return out;
}

void set_device_scoring(DeviceScoring scoring) {
  installed_device_scoring() = scoring;
}

ScoreMatrix similarity_matrix(const FeatureRows& probes, const FeatureRows& gallery, Similarity similarity,
                              const ScoreOptions& options) {
  if (on_cpu_kernels(options)) return cpu_similarity_matrix(probes, gallery, similarity, options);
  if (const auto scoring = installed_device_scoring()) return scoring(probes, gallery, similarity, options);
  throw UsageError("scores on device '" + options.device + "'" +
                   (options.generic_kernels ? " with the generic kernels" : "") +
                   " need qme's LibTorch side, which this program does not load (use cpu)");
}

std::vector<float> subject_templates(const FeatureRows& gallery, const std::vector<int64_t>& gallery_pids,
                                     const std::vector<int64_t>& subjects) {
  if (static_cast<int64_t>(gallery_pids.size()) != gallery.rows) {
    throw InputError("gallery pids", "",
                     "has " + std::to_string(gallery_pids.size()) + " entries for " +
                         std::to_string(gallery.rows) + " gallery rows");
  }
  const auto num_subjects = static_cast<int64_t>(subjects.size());
  std::vector<std::vector<int64_t>> members(subjects.size());
  for (int64_t i = 0; i < gallery.rows; ++i) {
    const auto it = std::lower_bound(subjects.begin(), subjects.end(), gallery_pids[static_cast<size_t>(i)]);
    if (it != subjects.end() && *it == gallery_pids[static_cast<size_t>(i)]) {
      members[static_cast<size_t>(it - subjects.begin())].push_back(i);
    }
  }
  const int64_t dim = gallery.dim;
  std::vector<float> templates(static_cast<size_t>(num_subjects * dim));
  parallel_for(num_subjects, [&](int64_t begin, int64_t end, int) {
    std::vector<double> sum(static_cast<size_t>(dim));
    std::vector<int64_t> nan_count(static_cast<size_t>(dim));  // per value: rows where it is NaN
    for (int64_t u = begin; u < end; ++u) {
      std::fill(sum.begin(), sum.end(), 0.0);
      std::fill(nan_count.begin(), nan_count.end(), 0);
      const auto& rows = members[static_cast<size_t>(u)];
      for (const int64_t i : rows) {
        const float* x = gallery.data + i * dim;
        if (finite_row(x, dim)) {
          for (int64_t k = 0; k < dim; ++k) sum[static_cast<size_t>(k)] += x[k];
          continue;
        }
        for (int64_t k = 0; k < dim; ++k) {
          if (std::isnan(x[k])) {
            ++nan_count[static_cast<size_t>(k)];
          } else {
            sum[static_cast<size_t>(k)] += x[k];
          }
        }
      }
      float* t = templates.data() + u * dim;
      for (int64_t k = 0; k < dim; ++k) {
        const auto n = static_cast<int64_t>(rows.size()) - nan_count[static_cast<size_t>(k)];
        // np.nanmean of no value is NaN (with a RuntimeWarning upstream).
        t[k] = n == 0 ? std::numeric_limits<float>::quiet_NaN()
                      : static_cast<float>(sum[static_cast<size_t>(k)] / static_cast<double>(n));
      }
    }
  });
  return templates;
}

TestLabels test_labels(const formats::TestFeatures& features) {
  TestLabels labels;
  labels.query = features.query_labels;
  labels.gallery = features.gallery_labels;
  labels.unique_gallery_pids = unique_sorted(features.gallery_labels.pids);
  return labels;
}

ModelScores build_model_scores(const formats::TestFeatures& features, Similarity similarity,
                               const ScoreOptions& options) {
  const FeatureRows probes{features.query.data(), features.num_query(), features.dim};
  const FeatureRows gallery{features.gallery.data(), features.num_gallery(), features.dim};
  const auto subjects = unique_sorted(features.gallery_labels.pids);
  const auto templates = subject_templates(gallery, features.gallery_labels.pids, subjects);
  const FeatureRows merged{templates.data(), static_cast<int64_t>(subjects.size()), features.dim};
  ModelScores scores;
  scores.score_mat = similarity_matrix(probes, gallery, similarity, options);
  scores.merge_score_mat = similarity_matrix(probes, merged, similarity, options);
  return scores;
}

}  // namespace qme::scores

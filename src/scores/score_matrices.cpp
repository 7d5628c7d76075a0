#include "qme/scores/score_matrices.hpp"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>

#include "qme/core/error.hpp"
#include "qme/core/parallel.hpp"
#include "qme/kernels/inner_product.hpp"
#include "score_kernels.hpp"

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace qme::scores {

namespace {

// torch.nn.functional.cosine_similarity's default eps: each norm is clamped at it.
constexpr float kCosineEps = 1e-8f;

// CPU tiles: at most this many scores (4 MB), at most this many probe rows.
constexpr int64_t kCpuTileElements = int64_t{1} << 20;
constexpr int64_t kMaxTileRows = 512;

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

/// A new float32 CPU tensor for a large layout copy. On Linux its pages are
/// marked for transparent huge pages before anything touches them: first-touch
/// page faults otherwise cost as much as the copy itself (a 4096-d gallery of
/// 7,050 rows is 28,000 4 KiB pages).
torch::Tensor empty_layout(torch::IntArrayRef shape) {
  auto tensor = torch::empty(shape, torch::kFloat32);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  const auto bytes = static_cast<size_t>(tensor.numel()) * sizeof(float);
  constexpr size_t kHuge = size_t{2} << 20;
  if (bytes >= 4 * kHuge) {
    const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
    const auto begin = reinterpret_cast<uintptr_t>(tensor.data_ptr<float>());
    const auto first = (begin + page - 1) / page * page;
    const auto last = (begin + bytes) / page * page;
    // Advice only: where the kernel says no, the pages are ordinary ones.
    if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
  }
#endif
  return tensor;
}

/// LibTorch's intra-op thread count for the duration of one call.
class TorchThreads {
 public:
  explicit TorchThreads(int wanted) : saved_(torch::get_num_threads()) {
    if (wanted != saved_) torch::set_num_threads(wanted);
  }
  ~TorchThreads() {
    if (torch::get_num_threads() != saved_) torch::set_num_threads(saved_);
  }
  TorchThreads(const TorchThreads&) = delete;
  TorchThreads& operator=(const TorchThreads&) = delete;

 private:
  int saved_;
};

torch::Device resolve(const std::string& name) {
  if (name == "auto")
    return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  if (name != "cpu" && name.rfind("cuda", 0) != 0) {
    throw UsageError("device must be auto, cpu, cuda or cuda:N, got '" + name + "'");
  }
  torch::Device device(torch::kCPU);
  try {
    device = torch::Device(name);
  } catch (const c10::Error&) {
    throw UsageError("device must be auto, cpu, cuda or cuda:N, got '" + name + "'");
  }
  if (device.is_cuda()) {
    if (!torch::cuda::is_available()) {
      throw UsageError("device " + name + " requested but this LibTorch has no CUDA device (use cpu)");
    }
    if (device.has_index() && device.index() >= static_cast<int>(torch::cuda::device_count())) {
      throw UsageError("device " + name + " requested but only " +
                       std::to_string(torch::cuda::device_count()) + " CUDA device(s) are visible");
    }
  }
  return device;
}

/// Features laid out for matrix products. Rows with a non-finite value are
/// zeroed and flagged invalid: every score they take part in is 0.
struct Prepared {
  torch::Tensor values;    // cosine: (N, d) unit rows; biggait: (P, N, C) centred
  torch::Tensor sq_norms;  // biggait: (P, N) squared norm of each part
  std::vector<uint8_t> valid;
};

Prepared prepare_cosine(const FeatureRows& f, int threads) {
  Prepared out;
  out.valid.assign(static_cast<size_t>(f.rows), 0);
  out.values = empty_layout({f.rows, f.dim});
  float* dst = out.values.data_ptr<float>();
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

/// Mean of the rows without NaN or Inf: BigGait's distances do not change when
/// both sides are shifted by the same vector, and ||a||^2 + ||b||^2 - 2ab loses
/// far less to cancellation on centred features.
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

Prepared prepare_parts(const FeatureRows& f, const std::vector<double>& centre, int threads) {
  const int64_t parts = kBigGaitParts;
  const int64_t channels = f.dim / parts;
  Prepared out;
  out.valid.assign(static_cast<size_t>(f.rows), 0);
  out.values = empty_layout({parts, f.rows, channels});
  out.sq_norms = torch::empty({parts, f.rows}, torch::kFloat32);
  float* dst = out.values.data_ptr<float>();
  float* norms = out.sq_norms.data_ptr<float>();
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
            // upstream: feature.reshape(-1, 16), i.e. value c*16 + p is channel c of part p.
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

/// (b, k) x (n, k)^T -> (b, n), dense float32 on the inputs' device. On the CPU
/// oneDNN's inner product where LibTorch has it: it does not depend on the BLAS
/// LibTorch was linked with (a reference BLAS is ~30x slower).
torch::Tensor products(const torch::Tensor& probes, const torch::Tensor& gallery) {
  return qme::kernels::times_transposed(probes, gallery);
}

void check_inputs(const FeatureRows& probes, const FeatureRows& gallery, Similarity similarity) {
  if (probes.rows < 0 || gallery.rows < 0) throw Error("similarity_matrix: negative row count");
  if (probes.dim != gallery.dim) {
    throw InputError("probe features have " + std::to_string(probes.dim) +
                     " columns but gallery features have " + std::to_string(gallery.dim));
  }
  check_feature_dim(similarity, probes.dim, "features", "dim");
}

/// A tile of probe rows [r0, r1) x gallery columns [c0, c1).
struct Tile {
  int64_t r0, r1, c0, c1;
};

/// One cosine tile on the CPU, written into `out`.
void cosine_tile_cpu(const Prepared& q, const Prepared& g, const Tile& t, ScoreMatrix& out) {
  const auto ab = products(q.values.slice(0, t.r0, t.r1), g.values.slice(0, t.c0, t.c1));
  const float* src = ab.data_ptr<float>();
  const int64_t width = t.c1 - t.c0;
  at::parallel_for(t.r0, t.r1, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      kernels::cosine_row(out.row(i) + t.c0, src + (i - t.r0) * width, q.valid[static_cast<size_t>(i)],
                          g.valid.data() + t.c0, width);
    }
  });
}

/// One BigGait tile on the CPU: the part distances accumulate in `out`, then
/// become scores.
void parts_tile_cpu(const Prepared& q, const Prepared& g, const Tile& t, ScoreMatrix& out) {
  const int64_t width = t.c1 - t.c0;
  const int64_t parts = kBigGaitParts;
  const int64_t channels = q.values.size(2);
  const int64_t q_rows = q.values.size(1);
  const int64_t g_rows = g.values.size(1);
  const float* qn = q.sq_norms.data_ptr<float>();
  const float* gn = g.sq_norms.data_ptr<float>();
  const float* qv = q.values.data_ptr<float>();
  const float* gv = g.values.data_ptr<float>();
  for (int64_t i = t.r0; i < t.r1; ++i) std::fill(out.row(i) + t.c0, out.row(i) + t.c1, 0.0f);
  for (int64_t p = 0; p < parts; ++p) {
    auto ab = products(q.values[p].slice(0, t.r0, t.r1), g.values[p].slice(0, t.c0, t.c1));
    float* products_p = ab.data_ptr<float>();
    at::parallel_for(t.r0, t.r1, 1, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        kernels::accumulate_part_distances(
            out.row(i) + t.c0, products_p + (i - t.r0) * width, qn[p * q_rows + i], gn + p * g_rows + t.c0,
            width, qv + (p * q_rows + i) * channels, gv + (p * g_rows + t.c0) * channels, channels);
      }
    });
  }
  at::parallel_for(t.r0, t.r1, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      kernels::finish_parts_row(out.row(i) + t.c0, q.valid[static_cast<size_t>(i)], g.valid.data() + t.c0,
                                width, parts);
    }
  });
}

/// Squared distances of one part for a probe block, with tensor operations
/// (CUDA, or the CPU when asked for the generic path).
torch::Tensor part_sq_distances(const torch::Tensor& qp, const torch::Tensor& qn, const torch::Tensor& gp,
                                const torch::Tensor& gn) {
  const auto norms = qn.unsqueeze(1) + gn.unsqueeze(0);
  auto d2 = products(qp, gp).mul_(-2.0).add_(norms);
  const auto near = (d2 < norms * static_cast<double>(kernels::kRefineShare)).nonzero();
  constexpr int64_t kChunk = 1 << 14;  // pairs recomputed at once: kChunk x channels values
  for (int64_t k0 = 0; k0 < near.size(0); k0 += kChunk) {
    const auto pairs = near.slice(0, k0, std::min(near.size(0), k0 + kChunk));
    const auto i = pairs.select(1, 0);
    const auto j = pairs.select(1, 1);
    const auto exact = (qp.index_select(0, i).to(torch::kFloat64) - gp.index_select(0, j).to(torch::kFloat64))
                           .pow(2)
                           .sum(1)
                           .to(torch::kFloat32);
    d2.index_put_({i, j}, exact);
  }
  return d2;
}

/// A tile with tensor operations on the features' device; it comes back to `out`.
void tile_generic(const Prepared& q, const Prepared& g, const torch::Tensor& q_valid,
                  const torch::Tensor& g_valid, Similarity similarity, const Tile& t, ScoreMatrix& out) {
  torch::Tensor tile;
  if (similarity == Similarity::kCosine) {
    tile = products(q.values.slice(0, t.r0, t.r1), g.values.slice(0, t.c0, t.c1));
  } else {
    tile = torch::zeros({t.r1 - t.r0, t.c1 - t.c0}, q.values.options());
    for (int64_t p = 0; p < kBigGaitParts; ++p) {
      const auto d2 = part_sq_distances(q.values[p].slice(0, t.r0, t.r1), q.sq_norms[p].slice(0, t.r0, t.r1),
                                        g.values[p].slice(0, t.c0, t.c1), g.sq_norms[p].slice(0, t.c0, t.c1));
      tile.add_(d2.clamp_min(0.0).sqrt_());
    }
    tile.div_(static_cast<double>(kBigGaitParts)).add_(1.0).reciprocal_();
  }
  const auto mask =
      q_valid.slice(0, t.r0, t.r1).unsqueeze(1).logical_and(g_valid.slice(0, t.c0, t.c1).unsqueeze(0));
  tile = torch::where(mask, tile, torch::zeros_like(tile)).to(torch::kCPU).contiguous();
  const int64_t width = t.c1 - t.c0;
  for (int64_t i = t.r0; i < t.r1; ++i) {
    const float* src = tile.data_ptr<float>() + (i - t.r0) * width;
    std::copy(src, src + width, out.row(i) + t.c0);
  }
}

Prepared to_device(Prepared prepared, const torch::Device& device) {
  if (device.is_cpu()) return prepared;
  prepared.values = prepared.values.to(device);
  if (prepared.sq_norms.defined()) prepared.sq_norms = prepared.sq_norms.to(device);
  return prepared;
}

torch::Tensor valid_mask(const std::vector<uint8_t>& valid, const torch::Device& device) {
  auto mask = torch::empty({static_cast<int64_t>(valid.size())}, torch::kBool);
  std::copy(valid.begin(), valid.end(), reinterpret_cast<uint8_t*>(mask.data_ptr<bool>()));
  return mask.to(device);
}

}  // namespace

ScoreMatrix similarity_matrix(const FeatureRows& probes, const FeatureRows& gallery, Similarity similarity,
                              const ScoreOptions& options) {
  check_inputs(probes, gallery, similarity);
  ScoreMatrix out(probes.rows, gallery.rows);
  if (probes.rows == 0 || gallery.rows == 0) return out;
  const torch::Device device = resolve(options.device);
  torch::NoGradGuard no_grad;
  const int threads = options.num_threads > 0 ? options.num_threads : default_num_threads();
  TorchThreads torch_threads(threads);
  const auto start = std::chrono::steady_clock::now();

  Prepared q, g;
  if (similarity == Similarity::kCosine) {
    q = prepare_cosine(probes, threads);
    g = prepare_cosine(gallery, threads);
  } else {
    const auto centre = centre_of(gallery);
    q = prepare_parts(probes, centre, threads);
    g = prepare_parts(gallery, centre, threads);
  }
  q = to_device(std::move(q), device);
  g = to_device(std::move(g), device);

  const auto prepared = std::chrono::steady_clock::now();
  const bool generic = !device.is_cpu() || options.generic_kernels;
  // Tiles of probe rows x gallery columns. On the CPU at most kCpuTileElements
  // scores: the products then stay in cache and in the allocator's free lists
  // (a fresh 16 MB buffer per product costs as much in page faults as the
  // product), and each gallery chunk is reordered for oneDNN once per probe block.
  const int64_t tile_elements = std::max<int64_t>(
      1, generic ? options.block_elements : std::min(options.block_elements, kCpuTileElements));
  const int64_t rows_per_tile = std::min({probes.rows, kMaxTileRows, tile_elements});
  const int64_t cols_per_tile = std::max<int64_t>(1, tile_elements / rows_per_tile);
  torch::Tensor q_valid, g_valid;
  if (generic) {
    q_valid = valid_mask(q.valid, device);
    g_valid = valid_mask(g.valid, device);
  }
  for (int64_t r0 = 0; r0 < probes.rows; r0 += rows_per_tile) {
    for (int64_t c0 = 0; c0 < gallery.rows; c0 += cols_per_tile) {
      const Tile tile{r0, std::min(probes.rows, r0 + rows_per_tile), c0,
                      std::min(gallery.rows, c0 + cols_per_tile)};
      if (generic) {
        tile_generic(q, g, q_valid, g_valid, similarity, tile, out);
      } else if (similarity == Similarity::kCosine) {
        cosine_tile_cpu(q, g, tile, out);
      } else {
        parts_tile_cpu(q, g, tile, out);
      }
    }
  }
  const auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
  spdlog::debug("{} scores {}x{} ({}-d) on {}: features prepared in {:.0f} ms, scored in {:.0f} ms",
                to_string(similarity), probes.rows, gallery.rows, probes.dim, device.str(),
                ms(start, prepared), ms(prepared, std::chrono::steady_clock::now()));
  return out;
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

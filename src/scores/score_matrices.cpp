#include "qme/scores/score_matrices.hpp"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "qme/core/error.hpp"
#include "qme/core/parallel.hpp"

namespace qme::scores {

namespace {

// torch.nn.functional.cosine_similarity's default eps: each norm is clamped at it.
constexpr float kCosineEps = 1e-8f;

bool finite_row(const float* row, int64_t dim) {
  for (int64_t k = 0; k < dim; ++k) {
    if (!std::isfinite(row[k])) return false;
  }
  return true;
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
  if (name != "cpu" && name.rfind("cuda", 0) != 0) {
    throw UsageError("device must be cpu, cuda or cuda:N, got '" + name + "'");
  }
  const torch::Device device(name);
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

std::vector<uint8_t> valid_rows(const FeatureRows& f, int threads) {
  std::vector<uint8_t> valid(static_cast<size_t>(f.rows));
  parallel_for(f.rows, [&](int64_t begin, int64_t end, int) {
    for (int64_t i = begin; i < end; ++i) valid[static_cast<size_t>(i)] = finite_row(f.data + i * f.dim, f.dim);
  }, threads);
  return valid;
}

Prepared prepare_cosine(const FeatureRows& f, int threads) {
  Prepared out;
  out.valid = valid_rows(f, threads);
  out.values = torch::zeros({f.rows, f.dim}, torch::kFloat32);
  float* dst = out.values.data_ptr<float>();
  parallel_for(f.rows, [&](int64_t begin, int64_t end, int) {
    for (int64_t i = begin; i < end; ++i) {
      if (!out.valid[static_cast<size_t>(i)]) continue;
      const float* x = f.data + i * f.dim;
      double sq = 0;
      for (int64_t k = 0; k < f.dim; ++k) sq += static_cast<double>(x[k]) * x[k];
      // upstream (torch 1.13) divides each vector by max(norm, eps) before the dot product.
      const float norm = std::max(static_cast<float>(std::sqrt(sq)), kCosineEps);
      float* y = dst + i * f.dim;
      for (int64_t k = 0; k < f.dim; ++k) y[k] = x[k] / norm;
    }
  }, threads);
  return out;
}

/// Mean of the valid rows: BigGait's distances do not change when both sides
/// are shifted by the same vector, and ||a||^2 + ||b||^2 - 2ab loses far less
/// to cancellation on centred features.
std::vector<double> centre_of(const FeatureRows& f, const std::vector<uint8_t>& valid) {
  std::vector<double> centre(static_cast<size_t>(f.dim), 0.0);
  int64_t count = 0;
  for (int64_t i = 0; i < f.rows; ++i) {
    if (!valid[static_cast<size_t>(i)]) continue;
    const float* x = f.data + i * f.dim;
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
  out.valid = valid_rows(f, threads);
  out.values = torch::zeros({parts, f.rows, channels}, torch::kFloat32);
  out.sq_norms = torch::zeros({parts, f.rows}, torch::kFloat32);
  float* dst = out.values.data_ptr<float>();
  float* norms = out.sq_norms.data_ptr<float>();
  parallel_for(f.rows, [&](int64_t begin, int64_t end, int) {
    std::vector<double> sq(static_cast<size_t>(parts));
    for (int64_t i = begin; i < end; ++i) {
      if (!out.valid[static_cast<size_t>(i)]) continue;
      const float* x = f.data + i * f.dim;
      std::fill(sq.begin(), sq.end(), 0.0);
      // upstream: feature.reshape(-1, 16), i.e. value c*16 + p is channel c of part p.
      for (int64_t c = 0; c < channels; ++c) {
        for (int64_t p = 0; p < parts; ++p) {
          const int64_t k = c * parts + p;
          const auto v = static_cast<float>(x[k] - centre[static_cast<size_t>(k)]);
          dst[(p * f.rows + i) * channels + c] = v;
          sq[static_cast<size_t>(p)] += static_cast<double>(v) * v;
        }
      }
      for (int64_t p = 0; p < parts; ++p) norms[p * f.rows + i] = static_cast<float>(sq[static_cast<size_t>(p)]);
    }
  }, threads);
  return out;
}

/// (b, k) x (n, k)^T -> (b, n), dense float32 on the inputs' device. On the CPU
/// oneDNN's inner product where LibTorch has it: it does not depend on the BLAS
/// LibTorch was linked with (a reference BLAS is ~30x slower).
torch::Tensor products(const torch::Tensor& probes, const torch::Tensor& gallery) {
  if (probes.is_cpu() && at::hasMKLDNN()) {
    return torch::mkldnn_linear(probes.contiguous().to_mkldnn(), gallery, {}).to_dense();
  }
  return torch::mm(probes, gallery.t());
}

void check_inputs(const FeatureRows& probes, const FeatureRows& gallery, Similarity similarity) {
  if (probes.rows < 0 || gallery.rows < 0) throw Error("similarity_matrix: negative row count");
  if (probes.dim != gallery.dim) {
    throw InputError("probe features have " + std::to_string(probes.dim) + " columns but gallery features have " +
                     std::to_string(gallery.dim));
  }
  check_feature_dim(similarity, probes.dim, "features", "dim");
}

/// The score block [b0, b1) x G on the CPU, written into `out`.
void cosine_block_cpu(const Prepared& q, const Prepared& g, int64_t b0, int64_t b1, ScoreMatrix& out) {
  const auto ab = products(q.values.slice(0, b0, b1), g.values);
  const float* src = ab.data_ptr<float>();
  const int64_t cols = out.cols;
  at::parallel_for(b0, b1, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      float* dst = out.row(i);
      const float* row = src + (i - b0) * cols;
      if (!q.valid[static_cast<size_t>(i)]) {
        std::fill(dst, dst + cols, 0.0f);
        continue;
      }
      for (int64_t j = 0; j < cols; ++j) dst[j] = g.valid[static_cast<size_t>(j)] ? row[j] : 0.0f;
    }
  });
}

void parts_block_cpu(const Prepared& q, const Prepared& g, int64_t b0, int64_t b1, ScoreMatrix& out) {
  const int64_t cols = out.cols;
  const int64_t parts = kBigGaitParts;
  const float* qn = q.sq_norms.data_ptr<float>();
  const float* gn = g.sq_norms.data_ptr<float>();
  const int64_t q_rows = q.sq_norms.size(1);
  const int64_t g_rows = g.sq_norms.size(1);
  // The sum of the part distances accumulates in the output rows.
  std::fill(out.row(b0), out.row(b0) + (b1 - b0) * cols, 0.0f);
  for (int64_t p = 0; p < parts; ++p) {
    const auto ab = products(q.values[p].slice(0, b0, b1), g.values[p]);
    const float* src = ab.data_ptr<float>();
    const float* gnp = gn + p * g_rows;
    at::parallel_for(b0, b1, 1, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const float qi = qn[p * q_rows + i];
        const float* row = src + (i - b0) * cols;
        float* acc = out.row(i);
        for (int64_t j = 0; j < cols; ++j) {
          acc[j] += std::sqrt(std::max(qi + gnp[j] - 2.0f * row[j], 0.0f));
        }
      }
    });
  }
  at::parallel_for(b0, b1, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      float* dst = out.row(i);
      const bool valid = q.valid[static_cast<size_t>(i)];
      for (int64_t j = 0; j < cols; ++j) {
        dst[j] = valid && g.valid[static_cast<size_t>(j)] ? 1.0f / (1.0f + dst[j] / static_cast<float>(parts)) : 0.0f;
      }
    }
  });
}

/// The same on a CUDA device, with tensor operations; the block comes back to `out`.
void block_on_device(const Prepared& q, const Prepared& g, const torch::Tensor& q_valid,
                     const torch::Tensor& g_valid, Similarity similarity, int64_t b0, int64_t b1,
                     ScoreMatrix& out) {
  torch::Tensor block;
  if (similarity == Similarity::kCosine) {
    block = products(q.values.slice(0, b0, b1), g.values);
  } else {
    block = torch::zeros({b1 - b0, out.cols}, q.values.options());
    for (int64_t p = 0; p < kBigGaitParts; ++p) {
      auto d2 = products(q.values[p].slice(0, b0, b1), g.values[p]).mul_(-2.0);
      d2.add_(q.sq_norms[p].slice(0, b0, b1).unsqueeze(1)).add_(g.sq_norms[p].unsqueeze(0));
      block.add_(d2.clamp_min_(0.0).sqrt_());
    }
    block.div_(static_cast<double>(kBigGaitParts)).add_(1.0).reciprocal_();
  }
  const auto mask = q_valid.slice(0, b0, b1).unsqueeze(1).logical_and(g_valid.unsqueeze(0));
  block = torch::where(mask, block, torch::zeros_like(block)).to(torch::kCPU).contiguous();
  std::copy(block.data_ptr<float>(), block.data_ptr<float>() + block.numel(), out.row(b0));
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

  Prepared q, g;
  if (similarity == Similarity::kCosine) {
    q = prepare_cosine(probes, threads);
    g = prepare_cosine(gallery, threads);
  } else {
    const auto centre = centre_of(gallery, valid_rows(gallery, threads));
    q = prepare_parts(probes, centre, threads);
    g = prepare_parts(gallery, centre, threads);
  }
  q = to_device(std::move(q), device);
  g = to_device(std::move(g), device);

  const int64_t rows_per_block = std::max<int64_t>(1, options.block_elements / gallery.rows);
  torch::Tensor q_valid, g_valid;
  if (!device.is_cpu()) {
    q_valid = valid_mask(q.valid, device);
    g_valid = valid_mask(g.valid, device);
  }
  for (int64_t b0 = 0; b0 < probes.rows; b0 += rows_per_block) {
    const int64_t b1 = std::min(probes.rows, b0 + rows_per_block);
    if (!device.is_cpu()) {
      block_on_device(q, g, q_valid, g_valid, similarity, b0, b1, out);
    } else if (similarity == Similarity::kCosine) {
      cosine_block_cpu(q, g, b0, b1, out);
    } else {
      parts_block_cpu(q, g, b0, b1, out);
    }
  }
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
    std::vector<int64_t> count(static_cast<size_t>(dim));
    for (int64_t u = begin; u < end; ++u) {
      std::fill(sum.begin(), sum.end(), 0.0);
      std::fill(count.begin(), count.end(), 0);
      for (const int64_t i : members[static_cast<size_t>(u)]) {
        const float* x = gallery.data + i * dim;
        for (int64_t k = 0; k < dim; ++k) {
          if (std::isnan(x[k])) continue;
          sum[static_cast<size_t>(k)] += x[k];
          ++count[static_cast<size_t>(k)];
        }
      }
      float* t = templates.data() + u * dim;
      for (int64_t k = 0; k < dim; ++k) {
        const auto n = count[static_cast<size_t>(k)];
        // np.nanmean of no value is NaN (with a RuntimeWarning upstream).
        t[k] = n == 0 ? std::numeric_limits<float>::quiet_NaN()
                      : static_cast<float>(sum[static_cast<size_t>(k)] / static_cast<double>(n));
      }
    }
  });
  return templates;
}

TestLabels test_labels(const io::TestFeatures& features) {
  TestLabels labels;
  labels.query = features.query_labels;
  labels.gallery = features.gallery_labels;
  labels.unique_gallery_pids = unique_sorted(features.gallery_labels.pids);
  return labels;
}

ModelScores build_model_scores(const io::TestFeatures& features, Similarity similarity,
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

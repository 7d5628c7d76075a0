#include "qme/scores/device_scores.hpp"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>

#include "prepared_features.hpp"
#include "qme/core/error.hpp"
#include "qme/core/parallel.hpp"
#include "qme/kernels/inner_product.hpp"
#include "qme/scores/score_matrices.hpp"
#include "score_kernels.hpp"

namespace qme::scores {

namespace {

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

/// Prepared features as tensors on `device`: (rows, channels) for cosine, (parts, rows, channels)
/// and their (parts, rows) squared norms for BigGait.
struct DeviceFeatures {
  torch::Tensor values, sq_norms;
};

DeviceFeatures to_device(const PreparedFeatures& f, const torch::Device& device) {
  const auto borrow = [](const std::vector<float>& v, torch::IntArrayRef shape) {
    return torch::from_blob(const_cast<float*>(v.data()), shape, torch::kFloat32);
  };
  DeviceFeatures out;
  if (f.parts == 1) {
    out.values = borrow(f.values, {f.rows, f.channels}).to(device);
  } else {
    out.values = borrow(f.values, {f.parts, f.rows, f.channels}).to(device);
    out.sq_norms = borrow(f.sq_norms, {f.parts, f.rows}).to(device);
  }
  return out;
}

/// (b, k) x (n, k)^T -> (b, n), dense float32 on the inputs' device.
torch::Tensor products(const torch::Tensor& probes, const torch::Tensor& gallery) {
  return qme::kernels::times_transposed(probes, gallery);
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
void tile_generic(const DeviceFeatures& q, const DeviceFeatures& g, const torch::Tensor& q_valid,
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

torch::Tensor valid_mask(const std::vector<uint8_t>& valid, const torch::Device& device) {
  auto mask = torch::empty({static_cast<int64_t>(valid.size())}, torch::kBool);
  std::copy(valid.begin(), valid.end(), reinterpret_cast<uint8_t*>(mask.data_ptr<bool>()));
  return mask.to(device);
}

/// similarity_matrix with tensor operations on the resolved device; the CPU's own kernels where
/// that is the CPU and the generic path was not asked for.
ScoreMatrix device_similarity_matrix(const FeatureRows& probes, const FeatureRows& gallery,
                                     Similarity similarity, const ScoreOptions& options) {
  check_inputs(probes, gallery, similarity);
  const torch::Device device = resolve(options.device);
  if (device.is_cpu() && !options.generic_kernels) {
    return cpu_similarity_matrix(probes, gallery, similarity, options);
  }
  ScoreMatrix out(probes.rows, gallery.rows);
  if (probes.rows == 0 || gallery.rows == 0) return out;
  torch::NoGradGuard no_grad;
  const int threads = options.num_threads > 0 ? options.num_threads : default_num_threads();
  TorchThreads torch_threads(threads);
  const auto start = std::chrono::steady_clock::now();
  const auto [q, g] = prepare_features(probes, gallery, similarity, threads);
  const auto qd = to_device(q, device), gd = to_device(g, device);
  const auto q_valid = valid_mask(q.valid, device), g_valid = valid_mask(g.valid, device);
  const auto prepared = std::chrono::steady_clock::now();
  for_each_tile(probes.rows, gallery.rows, std::max<int64_t>(1, options.block_elements),
                [&](const Tile& tile) { tile_generic(qd, gd, q_valid, g_valid, similarity, tile, out); });
  const auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
  spdlog::debug("{} scores {}x{} ({}-d) on {}: features prepared in {:.0f} ms, scored in {:.0f} ms",
                to_string(similarity), probes.rows, gallery.rows, probes.dim, device.str(),
                ms(start, prepared), ms(prepared, std::chrono::steady_clock::now()));
  return out;
}

}  // namespace

void enable_device_scores() {
  set_device_scoring(&device_similarity_matrix);
}

}  // namespace qme::scores

#include "qme/train/center_scorer.hpp"

#include <torch/torch.h>

#include "center_kernels.hpp"
#include "qme/core/error.hpp"

namespace qme::train {

namespace {

constexpr double kCosineEps = 1e-8;
/// Below this share of ||a||^2 + ||b||^2 the product form of a squared part distance has lost
/// too many digits to cancellation; such pairs are recomputed directly (as the score kernels do).
constexpr double kRefineShare = 1.0 / 16;

torch::Tensor finite_rows(const torch::Tensor& rows) {
  return torch::isfinite(rows).all(1);
}

torch::Tensor zero_invalid(const torch::Tensor& rows, const torch::Tensor& valid) {
  return torch::where(valid.unsqueeze(1), rows, torch::zeros({}, rows.options()));
}

torch::Tensor unit_rows(const torch::Tensor& rows) {
  return rows / rows.norm(2, 1, true).clamp_min(kCosineEps);
}

/// rows (N, k) x centers (C, k)^T into out (N, C) on the CPU, the centers split across
/// LibTorch's intra-op threads.
void cpu_products(const torch::Tensor& rows, const torch::Tensor& centers, torch::Tensor out) {
  const auto a = rows.contiguous();
  const int64_t cols = centers.size(0), dim = a.size(1);
  const float* pa = a.data_ptr<float>();
  const float* pb = centers.data_ptr<float>();
  float* po = out.data_ptr<float>();
  at::parallel_for(0, cols, 64, [&](int64_t begin, int64_t end) {
    kernels::dot_products(pa, a.size(0), pb + begin * dim, end - begin, dim, po + begin, cols);
  });
}

/// rows (N, k) x centers (C, k)^T -> (N, C): the vectorised kernel on the CPU, LibTorch's
/// product elsewhere.
torch::Tensor products(const torch::Tensor& rows, const torch::Tensor& centers) {
  if (!rows.is_cpu()) return torch::mm(rows, centers.t());
  auto out = torch::empty({rows.size(0), centers.size(0)}, rows.options());
  cpu_products(rows, centers, out);
  return out;
}

}  // namespace

void CenterScorer::refine_near_pairs(torch::Tensor& d2, const torch::Tensor& norms,
                                     const torch::Tensor& qp) const {
  if (!d2.is_cpu()) {
    const auto near = (d2 < norms * kRefineShare).nonzero();
    if (near.size(0) == 0) return;
    const auto part = near.select(1, 0), i = near.select(1, 1), j = near.select(1, 2);
    const auto a = qp.index({part, i}).to(torch::kFloat64);
    const auto b = values_.index({part, j}).to(torch::kFloat64);
    d2.index_put_({part, i, j}, (a - b).pow(2).sum(1).to(torch::kFloat32));
    return;
  }
  // The same on the CPU as one pass, without index tensors (a handful of pairs per step).
  const int64_t parts = d2.size(0), rows = d2.size(1), cols = d2.size(2), k = qp.size(2);
  auto* d = d2.data_ptr<float>();
  const auto* n = norms.data_ptr<float>();
  const auto* a = qp.data_ptr<float>();
  const auto* b = values_.data_ptr<float>();
  for (int64_t p = 0; p < parts; ++p) {
    for (int64_t i = 0; i < rows; ++i) {
      for (int64_t j = 0; j < cols; ++j) {
        const int64_t at = (p * rows + i) * cols + j;
        if (!(d[at] < n[at] * static_cast<float>(kRefineShare))) continue;
        const float* x = a + (p * rows + i) * k;
        const float* y = b + (p * cols + j) * k;
        double sum = 0.0;
        for (int64_t c = 0; c < k; ++c) {
          const double diff = static_cast<double>(x[c]) - y[c];
          sum += diff * diff;
        }
        d[at] = static_cast<float>(sum);
      }
    }
  }
}

CenterScorer::CenterScorer(const torch::Tensor& centers, scores::Similarity similarity)
    : similarity_(similarity) {
  if (!centers.defined() || centers.dim() != 2) throw UsageError("CenterScorer: centers must be (C, d)");
  num_centers_ = centers.size(0);
  dim_ = centers.size(1);
  scores::check_feature_dim(similarity, dim_, "centers", "dim");
  torch::NoGradGuard no_grad;
  const auto c = centers.to(torch::kFloat32).contiguous();
  valid_ = finite_rows(c);
  const auto clean = zero_invalid(c, valid_);
  if (similarity_ == scores::Similarity::kCosine) {
    values_ = unit_rows(clean).contiguous();
    return;
  }
  // Centre on the valid centers' mean: part distances do not change, cancellation shrinks.
  const auto count = valid_.sum().item<int64_t>();
  centre_ = count > 0 ? (clean.to(torch::kFloat64).sum(0) / static_cast<double>(count)).to(torch::kFloat32)
                      : torch::zeros({dim_}, c.options());
  values_ = to_parts(clean);
  norms_ = values_.to(torch::kFloat64).pow(2).sum(2).to(torch::kFloat32);  // (P, C)
}

torch::Tensor CenterScorer::to_parts(const torch::Tensor& rows) const {
  // upstream: feature.reshape(-1, 16), i.e. value c*16 + p is channel c of part p.
  const int64_t parts = scores::kBigGaitParts;
  const auto centred = rows - centre_;
  return centred.reshape({rows.size(0), dim_ / parts, parts}).permute({2, 0, 1}).contiguous();
}

torch::Tensor CenterScorer::score(const torch::Tensor& probes) const {
  if (probes.dim() != 2 || probes.size(1) != dim_) {
    throw UsageError("CenterScorer: probes must be (B, " + std::to_string(dim_) + ")");
  }
  torch::NoGradGuard no_grad;
  return similarity_ == scores::Similarity::kCosine ? score_cosine(probes) : score_parts(probes);
}

torch::Tensor CenterScorer::score_cosine(const torch::Tensor& probes) const {
  const auto p = probes.to(values_.device(), torch::kFloat32);
  const auto valid = finite_rows(p);
  const auto unit = unit_rows(zero_invalid(p, valid));
  const auto s = products(unit, values_);
  return torch::where(valid.unsqueeze(1).logical_and(valid_.unsqueeze(0)), s, torch::zeros({}, s.options()));
}

torch::Tensor CenterScorer::score_parts(const torch::Tensor& probes) const {
  const auto p = probes.to(values_.device(), torch::kFloat32);
  const auto valid = finite_rows(p);
  const auto qp = to_parts(zero_invalid(p, valid));                          // (P, B, k)
  const auto qn = qp.to(torch::kFloat64).pow(2).sum(2).to(torch::kFloat32);  // (P, B)
  const auto norms = (qn.unsqueeze(2) + norms_.unsqueeze(1)).contiguous();   // (P, B, C)
  torch::Tensor ab;
  if (!qp.is_cpu()) {
    ab = torch::bmm(qp, values_.transpose(1, 2));
  } else {
    ab = torch::empty({qp.size(0), qp.size(1), num_centers_}, qp.options());
    for (int64_t part = 0; part < qp.size(0); ++part) cpu_products(qp[part], values_[part], ab[part]);
  }
  auto d2 = ab.mul_(-2.0).add_(norms).contiguous();
  refine_near_pairs(d2, norms, qp);
  auto s = d2.clamp_min_(0.0)
               .sqrt_()
               .sum(0)
               .div_(static_cast<double>(scores::kBigGaitParts))
               .add_(1.0)
               .reciprocal_();
  return torch::where(valid.unsqueeze(1).logical_and(valid_.unsqueeze(0)), s, torch::zeros({}, s.options()));
}

torch::Tensor sample_features(const torch::Tensor& frames) {
  if (frames.dim() != 3) throw UsageError("sample_features: frames must be (B, T, d)");
  return frames.mean(1);
}

}  // namespace qme::train

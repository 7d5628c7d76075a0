#include "fused_mixture_step.hpp"

#include <torch/torch.h>

#include <cmath>
#include <sstream>

#include "qme/core/error.hpp"
#include "qme/core/random_mixing.hpp"
#include "qme/io/checkpoint.hpp"

namespace qme::fusion::detail {

namespace {

// torch.nn.SELU
constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
constexpr double kSeluScale = 1.0507009873554804934193349852946;

using core::splitmix64;

torch::Tensor& grad_of(torch::Tensor& parameter) {
  auto& grad = parameter.mutable_grad();
  if (!grad.defined()) grad = torch::zeros_like(parameter);
  return grad;
}

}  // namespace

bool FusedMixtureStep::supports(const QmeMixture& model) {
  const auto params = model->parameters();
  return !params.empty() && params.front().is_cpu() && params.front().scalar_type() == torch::kFloat32;
}

FusedMixtureStep::FusedMixtureStep(QmeMixture& model, uint64_t seed) : rng_key_(splitmix64(seed)) {
  if (!supports(model)) throw UsageError("the fused training step needs a float32 head on the CPU");
  const auto& o = model->options();
  dropout_ = o.dropout();
  m_ = o.num_models();
  h_ = o.num_models() * o.mlp_ratio();
  o_ = o.out_dim();
  const auto state = io::state_dict(*model);
  const auto modules = model->named_modules();
  for (int64_t i = 0; i < o.num_experts(); ++i) {
    const std::string p = "experts." + std::to_string(i) + ".";
    Expert e;
    e.bn_weight = state[p + "bn.weight"];
    e.bn_bias = state[p + "bn.bias"];
    e.running_mean = state[p + "bn.running_mean"];
    e.running_var = state[p + "bn.running_var"];
    e.num_batches_tracked = state[p + "bn.num_batches_tracked"];
    e.fc1_weight = state[p + "score_mlp.fc1.weight"];
    e.fc1_bias = state[p + "score_mlp.fc1.bias"];
    e.fc2_weight = state[p + "score_mlp.fc2.weight"];
    e.fc2_bias = state[p + "score_mlp.fc2.bias"];
    const auto& bn = modules[p + "bn"]->as<torch::nn::BatchNorm1dImpl>()->options;
    e.eps = bn.eps();
    e.momentum = bn.momentum().value_or(0.1);
    experts_.push_back(std::move(e));
  }
}

void FusedMixtureStep::draw_mask(std::vector<float>& multipliers, size_t n) {
  // Keep with probability 1 - p (two 32-bit uniforms per 64-bit value, compared as integers),
  // scaled by 1 / (1 - p) as nn.Dropout does.
  const auto threshold = static_cast<uint64_t>(std::ldexp(dropout_, 32));
  const float scale = dropout_ < 1.0 ? static_cast<float>(1.0 / (1.0 - dropout_)) : 0.0f;
  const size_t pairs = (n + 1) / 2;
  multipliers.resize(2 * pairs);
  float* __restrict out = multipliers.data();
  const uint64_t base = rng_key_ + rng_counter_;
  for (size_t i = 0; i < pairs; ++i) {
    const uint64_t bits = splitmix64(base + i);
    out[2 * i] = (bits >> 32) >= threshold ? scale : 0.0f;
    out[2 * i + 1] = (bits & 0xffffffffu) >= threshold ? scale : 0.0f;
  }
  rng_counter_ += pairs;
  multipliers.resize(n);
}

/// BatchNorm1d in train mode: batch statistics over the B x G rows of each model (in double, as
/// PyTorch's CPU kernel accumulates), the running statistics updated with the unbiased
/// variance, and the normalised scores y (M, R).
void FusedMixtureStep::normalise(Expert& e, const float* s) {
  const int64_t rows = b_ * g_;
  e.mean.resize(static_cast<size_t>(m_));
  e.invstd.resize(static_cast<size_t>(m_));
  e.y.resize(static_cast<size_t>(m_ * rows));
  e.xhat.resize(static_cast<size_t>(m_ * rows));
  auto* rm = e.running_mean.data_ptr<float>();
  auto* rv = e.running_var.data_ptr<float>();
  const auto* gamma = e.bn_weight.data_ptr<float>();
  const auto* beta = e.bn_bias.data_ptr<float>();
  for (int64_t m = 0; m < m_; ++m) {
    double sum = 0.0;
    for (int64_t b = 0; b < b_; ++b)
      for (int64_t g = 0; g < g_; ++g) sum += s[(b * m_ + m) * g_ + g];
    const double mean = sum / static_cast<double>(rows);
    double var_sum = 0.0;
    for (int64_t b = 0; b < b_; ++b) {
      for (int64_t g = 0; g < g_; ++g) {
        const double d = s[(b * m_ + m) * g_ + g] - mean;
        var_sum += d * d;
      }
    }
    const double invstd = 1.0 / std::sqrt(var_sum / static_cast<double>(rows) + e.eps);
    const auto i = static_cast<size_t>(m);
    e.mean[i] = static_cast<float>(mean);
    e.invstd[i] = static_cast<float>(invstd);
    rm[m] = static_cast<float>(e.momentum * mean + (1 - e.momentum) * rm[m]);
    rv[m] =
        static_cast<float>(e.momentum * (var_sum / static_cast<double>(rows - 1)) + (1 - e.momentum) * rv[m]);
    // y = x * alpha + beta with alpha = invstd * gamma, beta = bias - mean * alpha (PyTorch's form).
    const float alpha = e.invstd[i] * gamma[m];
    const float shift = beta[m] - e.mean[i] * alpha;
    float* y = e.y.data() + m * rows;
    float* xhat = e.xhat.data() + m * rows;
    for (int64_t b = 0; b < b_; ++b) {
      const float* x = s + (b * m_ + m) * g_;
      for (int64_t g = 0; g < g_; ++g) {
        y[b * g_ + g] = x[g] * alpha + shift;
        xhat[b * g_ + g] = (x[g] - e.mean[i]) * e.invstd[i];
      }
    }
  }
  e.num_batches_tracked.add_(1);
}

/// z1 = fc1(y), act = SELU(z1) (LibTorch's vectorised kernel), d1 = dropout(act), all (H, R).
void FusedMixtureStep::hidden_layer(Expert& e) {
  const int64_t rows = b_ * g_;
  e.z1.resize(static_cast<size_t>(h_ * rows));
  e.act.resize(static_cast<size_t>(h_ * rows));
  const auto* w1 = e.fc1_weight.data_ptr<float>();
  const auto* b1 = e.fc1_bias.data_ptr<float>();
  for (int64_t h = 0; h < h_; ++h) {
    float* z = e.z1.data() + h * rows;
    std::fill(z, z + rows, b1[h]);
    for (int64_t m = 0; m < m_; ++m) {
      const float w = w1[h * m_ + m];
      const float* __restrict y = e.y.data() + m * rows;
      float* __restrict zr = z;
      for (int64_t r = 0; r < rows; ++r) zr[r] += w * y[r];
    }
  }
  auto act = torch::from_blob(e.act.data(), {h_ * rows}, torch::kFloat32);
  at::elu_out(act, torch::from_blob(e.z1.data(), {h_ * rows}, torch::kFloat32), kSeluAlpha, kSeluScale, 1.0);
  if (dropout_ > 0.0) {
    e.d1.resize(e.act.size());
    float* __restrict d1 = e.d1.data();
    const float* __restrict a = e.act.data();
    const float* __restrict drop = e.drop1.data();
    const size_t n = e.act.size();
    for (size_t i = 0; i < n; ++i) d1[i] = a[i] * drop[i];
  } else {
    e.d1 = e.act;
  }
}

/// out = mean over the O outputs of dropout(fc2(d1)), (R).
void FusedMixtureStep::output_layer(Expert& e) {
  const int64_t rows = b_ * g_;
  const auto* w2 = e.fc2_weight.data_ptr<float>();
  const auto* b2 = e.fc2_bias.data_ptr<float>();
  e.out.assign(static_cast<size_t>(rows), 0.0f);
  std::vector<float> z2(static_cast<size_t>(rows));
  for (int64_t o = 0; o < o_; ++o) {
    std::fill(z2.begin(), z2.end(), b2[o]);
    float* __restrict z = z2.data();
    for (int64_t h = 0; h < h_; ++h) {
      const float w = w2[o * h_ + h];
      const float* __restrict d1 = e.d1.data() + h * rows;
      for (int64_t r = 0; r < rows; ++r) z[r] += w * d1[r];
    }
    if (dropout_ > 0.0) {
      const float* __restrict drop = e.drop2.data() + o * rows;
      for (int64_t r = 0; r < rows; ++r) z[r] *= drop[r];
    }
    float* __restrict out = e.out.data();
    for (int64_t r = 0; r < rows; ++r) out[r] += z[r];
  }
  if (o_ > 1) {
    const float inv = 1.0f / static_cast<float>(o_);
    for (auto& v : e.out) v *= inv;
  }
}

void FusedMixtureStep::forward(Expert& e, const float* s) {
  const int64_t rows = b_ * g_;
  if (dropout_ > 0.0) {
    draw_mask(e.drop1, static_cast<size_t>(h_ * rows));
    draw_mask(e.drop2, static_cast<size_t>(o_ * rows));
  }
  normalise(e, s);
  hidden_layer(e);
  output_layer(e);
}

namespace {

/// sum_r a[r] * b[r] with eight independent float partial sums (vectorisable), added in double.
double dot(const float* a, const float* b, int64_t n) {
  float part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t r = 0;
  for (; r + 8 <= n; r += 8)
    for (int k = 0; k < 8; ++k) part[k] += a[r + k] * b[r + k];
  double sum = 0.0;
  for (float p : part) sum += p;
  for (; r < n; ++r) sum += static_cast<double>(a[r]) * b[r];
  return sum;
}

double total(const float* a, int64_t n) {
  float part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t r = 0;
  for (; r + 8 <= n; r += 8)
    for (int k = 0; k < 8; ++k) part[k] += a[r + k];
  double sum = 0.0;
  for (float p : part) sum += p;
  for (; r < n; ++r) sum += a[r];
  return sum;
}

}  // namespace

void FusedMixtureStep::backward(Expert& e, const std::vector<float>& grad_out) {
  const int64_t rows = b_ * g_;
  const auto* w1 = e.fc1_weight.data_ptr<float>();
  const auto* w2 = e.fc2_weight.data_ptr<float>();
  const float inv_o = 1.0f / static_cast<float>(o_);
  const auto store = [](torch::Tensor& parameter, int64_t index, double value) {
    grad_of(parameter).data_ptr<float>()[index] = static_cast<float>(value);
  };
  // Output layer: dz2 (O, R); the gradient reaching d1 accumulates in dd1 (H, R).
  std::vector<float> dz2(static_cast<size_t>(rows)), dd1(static_cast<size_t>(h_ * rows), 0.0f);
  for (int64_t o = 0; o < o_; ++o) {
    const float* __restrict grad = grad_out.data();
    float* __restrict dz = dz2.data();
    for (int64_t r = 0; r < rows; ++r) dz[r] = grad[r] * inv_o;
    if (dropout_ > 0.0) {
      const float* __restrict drop = e.drop2.data() + o * rows;
      for (int64_t r = 0; r < rows; ++r) dz[r] *= drop[r];
    }
    store(e.fc2_bias, o, total(dz2.data(), rows));
    for (int64_t h = 0; h < h_; ++h) {
      store(e.fc2_weight, o * h_ + h, dot(dz2.data(), e.d1.data() + h * rows, rows));
      const float w = w2[o * h_ + h];
      float* __restrict d = dd1.data() + h * rows;
      const float* __restrict src = dz2.data();
      for (int64_t r = 0; r < rows; ++r) d[r] += w * src[r];
    }
  }
  // Hidden layer: dz1 = dd1 * dropout * SELU'(z1), in place; SELU'(z) = scale for z > 0, else
  // scale * alpha * exp(z) = SELU(z) + scale * alpha.
  const auto scale = static_cast<float>(kSeluScale);
  const auto scale_alpha = static_cast<float>(kSeluScale * kSeluAlpha);
  {
    const size_t n = dd1.size();
    float* __restrict d = dd1.data();
    const float* __restrict z = e.z1.data();
    const float* __restrict a = e.act.data();
    if (dropout_ > 0.0) {
      const float* __restrict drop = e.drop1.data();
      for (size_t i = 0; i < n; ++i) d[i] *= drop[i];
    }
    for (size_t i = 0; i < n; ++i) {
      // Branch-free (the sign of z is a coin flip): exactly scale or a + scale * alpha.
      const float positive = static_cast<float>(z[i] > 0.0f);
      d[i] *= positive * scale + (1.0f - positive) * (a[i] + scale_alpha);
    }
  }
  std::vector<float> dy(static_cast<size_t>(m_ * rows), 0.0f);
  for (int64_t h = 0; h < h_; ++h) {
    const float* dz1 = dd1.data() + h * rows;
    store(e.fc1_bias, h, total(dz1, rows));
    for (int64_t m = 0; m < m_; ++m) {
      store(e.fc1_weight, h * m_ + m, dot(dz1, e.y.data() + m * rows, rows));
      const float w = w1[h * m_ + m];
      float* __restrict d = dy.data() + m * rows;
      for (int64_t r = 0; r < rows; ++r) d[r] += w * dz1[r];
    }
  }
  // BatchNorm affine parameters (the scores need no gradient).
  for (int64_t m = 0; m < m_; ++m) {
    store(e.bn_weight, m, dot(dy.data() + m * rows, e.xhat.data() + m * rows, rows));
    store(e.bn_bias, m, total(dy.data() + m * rows, rows));
  }
}

double FusedMixtureStep::run(const torch::Tensor& scores, const torch::Tensor& quality,
                             const torch::Tensor& labels, const torch::Tensor& center_labels, double margin) {
  torch::NoGradGuard no_grad;
  const auto s = scores.contiguous();
  b_ = s.size(0);
  g_ = s.size(2);
  if (s.size(1) != m_ || b_ * g_ < 2)
    throw UsageError("fused training step: scores must be (B, M, G) with B * G > 1");
  const float* sp = s.data_ptr<float>();
  for (auto& e : experts_) forward(e, sp);

  const auto q = quality.defined() ? quality.contiguous() : torch::full({b_, 1}, 0.5f);
  const auto* qp = q.data_ptr<float>();
  const auto lab = labels.contiguous();
  const auto cen = center_labels.contiguous();
  const auto* lp = lab.data_ptr<int64_t>();
  const auto* cp = cen.data_ptr<int64_t>();
  // fused = q * expert0 + (1 - q) * expert1; the triplet loss and its gradient.
  const int64_t rows = b_ * g_;
  std::vector<float> fused(static_cast<size_t>(rows));
  int64_t n_match = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const float qb = qp[r / g_];
    fused[static_cast<size_t>(r)] =
        qb * experts_[0].out[static_cast<size_t>(r)] + (1 - qb) * experts_[1].out[static_cast<size_t>(r)];
    n_match += lp[r / g_] == cp[r % g_] ? 1 : 0;
  }
  const int64_t n_non = rows - n_match;
  double non_sum = 0.0, match_sum = 0.0;
  std::vector<float> grad0(static_cast<size_t>(rows)), grad1(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    const float f = fused[static_cast<size_t>(r)];
    double d = 0.0;
    if (lp[r / g_] == cp[r % g_]) {
      const auto hinge = static_cast<float>(margin - f);
      if (hinge > 0.0f) {
        match_sum += hinge;
        d = -1.0 / static_cast<double>(n_match);
      }
    } else if (f > 0.0f) {
      non_sum += f;
      d = 1.0 / static_cast<double>(n_non);
    }
    const double qb = qp[r / g_];
    grad0[static_cast<size_t>(r)] = static_cast<float>(d * qb);
    grad1[static_cast<size_t>(r)] = static_cast<float>(d * (1.0 - qb));
  }
  backward(experts_[0], grad0);
  backward(experts_[1], grad1);
  return (n_non > 0 ? non_sum / static_cast<double>(n_non) : 0.0) +
         (n_match > 0 ? match_sum / static_cast<double>(n_match) : 0.0);
}

std::string FusedMixtureStep::rng_state() const {
  return std::to_string(rng_key_) + " " + std::to_string(rng_counter_);
}

void FusedMixtureStep::restore_rng(const std::string& state) {
  std::istringstream in(state);
  uint64_t key = 0, counter = 0;
  in >> key >> counter;
  if (in.fail()) throw InputError("fused training step: the saved dropout generator state does not parse");
  rng_key_ = key;
  rng_counter_ = counter;
}

}  // namespace qme::fusion::detail

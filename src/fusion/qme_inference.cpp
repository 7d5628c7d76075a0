#include "qme/fusion/qme_inference.hpp"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>
#include <utility>

#include "mixture_kernel.hpp"
#include "qme/core/error.hpp"
#include "qme/fusion/qme_mixture.hpp"
#include "qme/fusion/qme_table_column.hpp"
#include "qme/io/checkpoint.hpp"
#include "qme/io/hdf5_file.hpp"

namespace qme::fusion {

namespace {

// Up to this much activation memory the whole matrix goes through in one pass, as upstream's
// does: the matrix kernels tile rows by the batch size, so other block boundaries can move a
// fused score by one float32 ulp. Larger matrices (MSMT17-sized) go in blocks of this size.
constexpr int64_t kBlockBytes = int64_t{1} << 30;

/// Probes per forward pass: the activations of one row are about G * (M + 2 * hidden + out)
/// floats per expert, with room for the copies between layers.
int64_t rows_per_block(const QmeMixtureOptions& head, int64_t cols, int64_t requested) {
  if (requested > 0) return requested;
  const int64_t hidden = head.num_models() * head.mlp_ratio();
  const int64_t per_row =
      std::max<int64_t>(1, cols) * (head.num_models() + 2 * hidden + head.out_dim()) * 2 * 4;
  return std::max<int64_t>(1, kBlockBytes / per_row);
}

std::vector<float> float_values(const torch::Tensor& t) {
  const auto c = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

using KernelExperts = std::pair<detail::ExpertWeights, detail::ExpertWeights>;

/// The CPU kernel's copy of the two experts' weights, or nothing where the kernel cannot
/// reproduce LibTorch exactly: another device, a module in training mode, more than one output
/// per expert, too many models, or a CPU without AVX2 and FMA.
std::optional<KernelExperts> kernel_experts(QmeMixture& model, const torch::Device& device) {
  const auto& head = model->options();
  if (!device.is_cpu() || model->is_training() || !detail::mixture_kernel_available() ||
      head.out_dim() != 1 || head.num_experts() != 2 || head.num_models() > detail::kMaxKernelModels) {
    return std::nullopt;
  }
  const auto parameters = model->named_parameters();
  const auto buffers = model->named_buffers();
  const auto modules = model->named_modules();
  auto expert = [&](int index) {
    const std::string prefix = "experts." + std::to_string(index) + ".";
    const auto* bn = modules[prefix + "bn"]->as<torch::nn::BatchNorm1d>();
    detail::ExpertWeights e;
    detail::set_batch_norm(e, float_values(buffers[prefix + "bn.running_mean"]),
                           float_values(buffers[prefix + "bn.running_var"]),
                           float_values(parameters[prefix + "bn.weight"]),
                           float_values(parameters[prefix + "bn.bias"]), bn->options.eps());
    e.fc1_weight = float_values(parameters[prefix + "score_mlp.fc1.weight"]);
    e.fc1_bias = float_values(parameters[prefix + "score_mlp.fc1.bias"]);
    e.fc2_weight = float_values(parameters[prefix + "score_mlp.fc2.weight"]);
    e.fc2_bias = float_values(parameters[prefix + "score_mlp.fc2.bias"]).at(0);
    return e;
  };
  return KernelExperts{expert(0), expert(1)};
}

}  // namespace

struct QmeInference::Impl {
  std::string path;
  QmeInferenceOptions options;
  QmeMixture model{nullptr};
};

QmeInference::QmeInference(const std::string& checkpoint_path, const QmeInferenceOptions& options)
    : impl_(std::make_unique<Impl>()) {
  impl_->path = checkpoint_path;
  impl_->options = options;
  const auto checkpoint = io::read_checkpoint(checkpoint_path);
  auto head = qme_options_from_state(checkpoint.model_state_dict, checkpoint_path);
  head.use_qe(options.use_qe).quality_estimator(QualityEstimatorKind::kNone);
  impl_->model = QmeMixture(head);
  const auto diff =
      io::load_state_dict(*impl_->model, checkpoint.model_state_dict, checkpoint_path, /*strict=*/false);
  // The head's shape came from these very entries, so only foreign keys can differ.
  for (const auto& key : diff.unexpected) {
    if (key.rfind("qe.", 0) != 0) {
      throw InputError(checkpoint_path, "model_state_dict", "does not match a QME head: " + diff.describe());
    }
  }
  if (!diff.missing.empty()) {
    throw InputError(checkpoint_path, "model_state_dict", "does not match a QME head: " + diff.describe());
  }
  if (!diff.unexpected.empty()) {
    spdlog::debug("{}: {} quality-estimator entries skipped (inference reads precomputed weights)",
                  checkpoint_path, diff.unexpected.size());
  }
  impl_->model->eval();
}

QmeInference::~QmeInference() = default;
QmeInference::QmeInference(QmeInference&&) noexcept = default;
QmeInference& QmeInference::operator=(QmeInference&&) noexcept = default;

const std::string& QmeInference::checkpoint_path() const {
  return impl_->path;
}

int64_t QmeInference::num_models() const {
  return impl_->model->options().num_models();
}

void QmeInference::check_models(const std::vector<std::string>& models) const {
  check_model_count(impl_->path, num_models(), models);
}

ScoreMatrix fuse_score_matrices(QmeMixture& model, const std::vector<const ScoreMatrix*>& matrices,
                                const std::vector<float>& quality, int64_t block_rows,
                                const torch::Device& device, bool cpu_kernel) {
  const auto& head = model->options();
  if (static_cast<int64_t>(matrices.size()) != head.num_models()) {
    throw Error("QME inference: " + std::to_string(matrices.size()) + " score matrices for a head of " +
                std::to_string(head.num_models()) + " models");
  }
  detail::check_same_shape(matrices);
  const int64_t rows = matrices.front()->rows;
  const int64_t cols = matrices.front()->cols;
  if (head.use_qe() && static_cast<int64_t>(quality.size()) != rows) {
    throw Error("QME inference: " + std::to_string(quality.size()) + " quality weights for " +
                std::to_string(rows) + " probes");
  }
  const auto experts = cpu_kernel ? kernel_experts(model, device) : std::nullopt;
  if (experts) {
    return detail::fuse_matrices(experts->first, experts->second, matrices,
                                 head.use_qe() ? quality.data() : nullptr);
  }
  ScoreMatrix out(rows, cols);
  const int64_t block = rows_per_block(head, cols, block_rows);
  model->eval();
  c10::InferenceMode no_grad;
  for (int64_t r0 = 0; r0 < rows; r0 += block) {
    const int64_t b = std::min(block, rows - r0);
    std::vector<torch::Tensor> parts;
    for (const auto* m : matrices) {
      parts.push_back(torch::from_blob(const_cast<float*>(m->row(r0)), {b, cols}, torch::kFloat32));
    }
    const auto scores = torch::stack(parts, 1).to(device);  // (b, M, G), as upstream's cat of unsqueeze(1)
    torch::Tensor q;
    if (head.use_qe()) {
      q = torch::from_blob(const_cast<float*>(quality.data() + r0), {b, 1}, torch::kFloat32).to(device);
    }
    const auto fused = model->forward(scores, q).to(torch::kCPU).contiguous();
    std::memcpy(out.row(r0), fused.data_ptr<float>(), static_cast<size_t>(b * cols) * sizeof(float));
  }
  return out;
}

ScoreMatrix QmeInference::fuse(const std::vector<const ScoreMatrix*>& matrices,
                               const std::vector<float>& quality) const {
  return fuse_score_matrices(impl_->model, matrices, quality, impl_->options.block_rows, torch::kCPU,
                             impl_->options.cpu_kernel);
}

ModelScores QmeInference::fuse(const std::vector<const ModelScores*>& models,
                               const std::vector<float>& quality) const {
  return fuse_each_kind(
      models, [&](const std::vector<const ScoreMatrix*>& matrices) { return fuse(matrices, quality); });
}

namespace {

/// The "qme" column on LibTorch's head: the checkpoint is read when it is made.
class QmeTableFusion : public QmeTableColumn {
 public:
  QmeTableFusion(const std::string& checkpoint_path, const std::string& face_weights_path, bool use_qe)
      : QmeTableColumn(checkpoint_path, face_weights_path, use_qe) {
    QmeInferenceOptions options;
    options.use_qe = use_qe;
    model_ = std::make_unique<QmeInference>(checkpoint_path, options);
  }

 protected:
  int64_t num_models() const override { return model_->num_models(); }
  ScoreMatrix fuse_matrices(const std::vector<const ScoreMatrix*>& matrices,
                            const std::vector<float>& quality) const override {
    return model_->fuse(matrices, quality);
  }

 private:
  std::unique_ptr<QmeInference> model_;
};

}  // namespace

std::unique_ptr<eval::ScoreFusion> make_qme_table_fusion(const std::string& checkpoint_path,
                                                         const std::string& face_weights_path, bool use_qe) {
  return std::make_unique<QmeTableFusion>(checkpoint_path, face_weights_path, use_qe);
}

}  // namespace qme::fusion

#include "qme/train/score_loss_trainer.hpp"

#include <torch/torch.h>

#include "fusion/fused_mixture_step.hpp"  // private to qme_torch (src/ is on its include path)
#include "qme/core/error.hpp"
#include "qme/io/tensor_shape.hpp"
#include "qme/loss/score_triplet_loss.hpp"
#include "resume_archive.hpp"

namespace qme::train {

namespace {

constexpr const char* kScoreLossKind = "score_loss";

torch::nn::Module* quality_estimator(const fusion::QmeMixture& model) {
  if (auto face = model->face_quality_estimator()) return face.get();
  if (auto body = model->body_quality_estimator()) return body.get();
  return nullptr;
}

/// Moves the head to `device`, freezes its QE and returns what Adam optimises: every
/// parameter that still requires a gradient (upstream passes the frozen QE too, but Adam
/// skips parameters without a gradient, so the updates are the same).
std::vector<torch::Tensor> trainable_parameters(fusion::QmeMixture& model, const torch::Device& device) {
  if (!model) throw UsageError("ScoreLossTrainer: no model");
  model->to(device);
  if (auto* qe = quality_estimator(model)) {
    for (auto& p : qe->parameters()) p.set_requires_grad(false);
  }
  std::vector<torch::Tensor> out;
  for (const auto& p : model->parameters()) {
    if (p.requires_grad()) out.push_back(p);
  }
  return out;
}

torch::Tensor checked_center_labels(const torch::Tensor& labels, const torch::Device& device) {
  if (!labels.defined() || labels.dim() != 1 || labels.numel() == 0)
    throw UsageError("ScoreLossTrainer: center_labels must be a non-empty (C,) tensor");
  return labels.to(device, torch::kInt64).contiguous();
}

}  // namespace

ScoreLossTrainerOptions score_loss_trainer_options(const config::TrainConfig& config,
                                                   int64_t steps_per_epoch) {
  ScoreLossTrainerOptions options;
  options.optimisation.lr = config.lr_rate;
  options.optimisation.weight_decay = config.weight_decay;
  options.optimisation.steps_per_epoch = steps_per_epoch;
  options.margin = config.triplet_margin;
  options.modality_dropout = config.modality_dropout;
  options.seed = static_cast<uint64_t>(config.seed);
  return options;
}

ScoreLossTrainer::ScoreLossTrainer(fusion::QmeMixture model, const torch::Tensor& center_labels,
                                   const ScoreLossTrainerOptions& options)
    : options_(options),
      model_(std::move(model)),
      center_labels_(checked_center_labels(center_labels, options.device)),
      optimisation_(trainable_parameters(model_, options.device), options.optimisation),
      dropout_(options.modality_dropout, options.seed) {
  freeze_quality_estimator();
  if (options_.fused_step && fusion::detail::FusedMixtureStep::supports(model_)) {
    fused_ = std::make_unique<fusion::detail::FusedMixtureStep>(model_, options_.seed + 1);
  }
  enter_train_mode();
}

ScoreLossTrainer::~ScoreLossTrainer() = default;
ScoreLossTrainer::ScoreLossTrainer(ScoreLossTrainer&&) = default;
ScoreLossTrainer& ScoreLossTrainer::operator=(ScoreLossTrainer&&) = default;

void ScoreLossTrainer::freeze_quality_estimator() {
  if (auto face = model_->face_quality_estimator()) {
    frozen_qe_.emplace(face);
  } else if (auto body = model_->body_quality_estimator()) {
    frozen_qe_.emplace(body);
  } else {
    frozen_qe_.reset();
  }
}

void ScoreLossTrainer::enter_train_mode() {
  model_->train();
  if (auto* qe = quality_estimator(model_)) qe->eval();  // upstream's MoNormQE_dev.train()
}

torch::Tensor ScoreLossTrainer::frame_quality(const torch::Tensor& stats) {
  if (!frozen_qe_) throw UsageError("ScoreLossTrainer: the head has no quality estimator");
  return frozen_qe_->frame_weights(stats.to(options_.device, torch::kFloat32)).reshape({-1});
}

torch::Tensor ScoreLossTrainer::quality_of(const ScoreLossBatch& batch, int64_t batch_size) {
  if (!model_->options().use_qe()) return {};
  if (batch.quality.defined()) {
    if (batch.quality.dim() != 2 || batch.quality.size(0) != batch_size || batch.quality.size(1) != 1)
      throw UsageError("ScoreLossTrainer: quality must be (B, 1), got " + io::shape_text(batch.quality));
    return batch.quality.to(options_.device, torch::kFloat32);
  }
  if (!batch.quality_stats.defined() || batch.quality_stats.dim() != 3 ||
      batch.quality_stats.size(0) != batch_size)
    throw UsageError(
        "ScoreLossTrainer: the head uses a QE: give quality (B, 1) or quality_stats (B, T, S), got " +
        io::shape_text(batch.quality_stats));
  if (!frozen_qe_)
    throw UsageError("ScoreLossTrainer: use_qe is set but the head carries no quality estimator");
  return frozen_qe_->forward_statistics(batch.quality_stats.to(options_.device, torch::kFloat32));
}

StepResult ScoreLossTrainer::step(const ScoreLossBatch& batch) {
  const int64_t m = model_->options().num_models();
  if (!batch.scores.defined() || batch.scores.dim() != 3 || batch.scores.size(1) != m ||
      batch.scores.size(2) != center_labels_.size(0)) {
    throw UsageError("ScoreLossTrainer: scores must be (B, " + std::to_string(m) + ", " +
                     std::to_string(center_labels_.size(0)) + "), got " + io::shape_text(batch.scores));
  }
  const int64_t b = batch.scores.size(0);
  if (!batch.labels.defined() || batch.labels.dim() != 1 || batch.labels.size(0) != b)
    throw UsageError("ScoreLossTrainer: labels must be (" + std::to_string(b) + ",), got " +
                     io::shape_text(batch.labels));

  enter_train_mode();
  optimisation_.zero_grad();
  StepResult result;
  result.dropped = dropout_.draw(m);
  auto scores = batch.scores.to(options_.device, torch::kFloat32);
  for (int64_t i = 0; i < m; ++i) {
    if (!result.dropped[static_cast<size_t>(i)]) continue;
    if (scores.is_same(batch.scores)) scores = scores.clone();  // never write into the caller's batch
    scores.select(1, i).zero_();
  }
  const auto q = quality_of(batch, b);
  const auto labels = batch.labels.to(options_.device, torch::kInt64);
  if (fused_) {
    result.loss = fused_->run(scores, q, labels, center_labels_, options_.margin);
  } else {
    const auto loss =
        loss::score_triplet_loss(model_->forward(scores, q), labels, center_labels_, options_.margin);
    loss.backward();
    result.loss = loss.item<double>();
  }
  result.lr = optimisation_.finish_step();
  result.step = optimisation_.steps_done();
  return result;
}

void ScoreLossTrainer::save_resume_state(const std::string& path) const {
  torch::serialize::OutputArchive archive;
  resume::write_header(archive, kScoreLossKind);
  resume::write_module(archive, "model", *model_);
  optimisation_.save(archive);
  archive.write("modality_dropout_rng", c10::IValue(dropout_.state()));
  archive.write("fused_dropout_rng", c10::IValue(fused_ ? fused_->rng_state() : std::string()));
  resume::write_torch_rng(archive, options_.device);
  resume::save_atomically(archive, path);
}

void ScoreLossTrainer::load_resume_state(const std::string& path) {
  torch::serialize::InputArchive archive;
  resume::load(archive, path);
  resume::check_header(archive, kScoreLossKind, path);
  const auto rng = resume::read_string(archive, "modality_dropout_rng", path);
  const auto fused_rng = resume::read_string(archive, "fused_dropout_rng", path);
  if (fused_ && fused_rng.empty()) {
    throw InputError(path, "fused_dropout_rng",
                     "is empty: the run was saved without the fused step (fused_step false)");
  }
  resume::read_module(archive, "model", *model_, path);
  optimisation_.load(archive, path);
  dropout_.restore(rng);
  if (fused_) fused_->restore_rng(fused_rng);
  resume::read_torch_rng(archive, options_.device, path);
  freeze_quality_estimator();
  enter_train_mode();
}

io::StateDict ScoreLossTrainer::model_snapshot() const {
  return snapshot_state_dict(*model_);
}

void ScoreLossTrainer::write_checkpoint(const std::string& path) const {
  write_model_checkpoint(path, model_snapshot());
}

io::StateDict snapshot_state_dict(const torch::nn::Module& module) {
  io::StateDict out;
  for (const auto& item : io::state_dict(module))
    out.insert(item.key(), item.value().detach().to(torch::kCPU).clone());
  return out;
}

void write_model_checkpoint(const std::string& path, const io::StateDict& state) {
  io::Checkpoint checkpoint;
  checkpoint.model_state_dict = state;
  io::write_checkpoint(path, checkpoint);
}

}  // namespace qme::train

#include "qme/train/quality_trainer.hpp"

#include <torch/torch.h>

#include "qme/core/error.hpp"
#include "qme/io/tensor_shape.hpp"
#include "qme/loss/pseudo_quality_loss.hpp"
#include "qme/train/score_loss_trainer.hpp"
#include "resume_archive.hpp"

namespace qme::train {

namespace {

constexpr const char* kQualityKind = "quality";

}  // namespace

QualityTrainerOptions quality_trainer_options(const config::TrainConfig& config, int64_t steps_per_epoch,
                                              int64_t rank_threshold) {
  QualityTrainerOptions options;
  options.optimisation.lr = config.lr_rate;
  options.optimisation.weight_decay = config.weight_decay;
  options.optimisation.steps_per_epoch = steps_per_epoch;
  options.rank_threshold = rank_threshold;
  return options;
}

QualityTrainer::QualityTrainer(fusion::FaceQualityEstimator qe, const torch::Tensor& center_labels,
                               const QualityTrainerOptions& options)
    : options_(options), face_(std::move(qe)) {
  if (!face_) throw UsageError("QualityTrainer: no quality estimator");
  module_ = face_.ptr();
  const auto& o = face_->options();
  stats_width_ = 2 * o.num_blocks() * o.patch_dim();
  init(center_labels);
}

QualityTrainer::QualityTrainer(fusion::BodyQualityEstimator qe, const torch::Tensor& center_labels,
                               const QualityTrainerOptions& options)
    : options_(options), body_(std::move(qe)) {
  if (!body_) throw UsageError("QualityTrainer: no quality estimator");
  module_ = body_.ptr();
  int64_t channels = 0;
  for (const auto c : body_->options().channels()) channels += c;
  stats_width_ = 2 * channels;
  init(center_labels);
}

void QualityTrainer::init(const torch::Tensor& center_labels) {
  if (options_.rank_threshold <= 1)
    throw UsageError("QualityTrainer: rank_threshold must be > 1, got " +
                     std::to_string(options_.rank_threshold));
  if (!center_labels.defined() || center_labels.dim() != 1 || center_labels.numel() == 0)
    throw UsageError("QualityTrainer: center_labels must be a non-empty (C,) tensor");
  center_labels_ = center_labels.to(options_.device, torch::kInt64).contiguous();
  module_->to(options_.device);
  optimisation_ = std::make_unique<Optimisation>(module_->parameters(), options_.optimisation);
  module_->train();
}

torch::Tensor QualityTrainer::frame_quality(const torch::Tensor& stats) {
  const auto x = stats.to(options_.device, torch::kFloat32);
  const auto frozen = face_ ? fusion::FrozenQualityEstimator(face_) : fusion::FrozenQualityEstimator(body_);
  return frozen.frame_weights(x).reshape({-1});
}

StepResult QualityTrainer::step(const QualityBatch& batch) {
  if (!batch.stats.defined() || batch.stats.dim() != 3 || batch.stats.size(2) != stats_width_) {
    throw UsageError("QualityTrainer: stats must be (B, T, " + std::to_string(stats_width_) + "), got " +
                     io::shape_text(batch.stats));
  }
  const int64_t b = batch.stats.size(0);
  const int64_t c = center_labels_.size(0);
  if (!batch.face_scores.defined() || batch.face_scores.dim() != 2 || batch.face_scores.size(0) != b ||
      batch.face_scores.size(1) != c) {
    throw UsageError("QualityTrainer: face_scores must be (" + std::to_string(b) + ", " + std::to_string(c) +
                     "), got " + io::shape_text(batch.face_scores));
  }
  if (!batch.labels.defined() || batch.labels.dim() != 1 || batch.labels.size(0) != b)
    throw UsageError("QualityTrainer: labels must be (" + std::to_string(b) + ",), got " +
                     io::shape_text(batch.labels));

  module_->train();
  optimisation_->zero_grad();
  const auto stats = batch.stats.to(options_.device, torch::kFloat32);
  const auto weights = face_ ? face_->forward_statistics(stats) : body_->forward_statistics(stats);
  const auto loss = loss::pseudo_quality_loss(weights, batch.face_scores, batch.labels, center_labels_,
                                              options_.rank_threshold);
  loss.backward();
  StepResult result;
  result.loss = loss.item<double>();
  result.lr = optimisation_->finish_step();
  result.step = optimisation_->steps_done();
  return result;
}

void QualityTrainer::save_resume_state(const std::string& path) const {
  torch::serialize::OutputArchive archive;
  resume::write_header(archive, kQualityKind);
  resume::write_module(archive, "model", *module_);
  optimisation_->save(archive);
  resume::write_torch_rng(archive, options_.device);
  resume::save_atomically(archive, path);
}

void QualityTrainer::load_resume_state(const std::string& path) {
  torch::serialize::InputArchive archive;
  resume::load(archive, path);
  resume::check_header(archive, kQualityKind, path);
  resume::read_module(archive, "model", *module_, path);
  optimisation_->load(archive, path);
  resume::read_torch_rng(archive, options_.device, path);
  module_->train();
}

io::StateDict QualityTrainer::model_snapshot() const {
  return snapshot_state_dict(*module_);
}

void QualityTrainer::write_checkpoint(const std::string& path) const {
  write_model_checkpoint(path, model_snapshot());
}

}  // namespace qme::train

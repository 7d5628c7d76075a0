#pragma once
/// Quality-estimator training, upstream's `main.py --mode mod_qe`, on cached per-frame QE
/// statistics (docs/architecture.md §2.3) instead of the face backbone's tokens. One step, in upstream's
/// order: zero_grad; weights = QE(stats) in train mode (its dropout active), the mean over each
/// sample's frames; pseudo-quality loss against the rank of the sample's identity among the
/// training centers in the face model's scores; backward; Adam step; scheduler step with
/// epoch + step / steps_per_epoch. No modality dropout (upstream applies it in score mode only).
#include <torch/nn/module.h>
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "qme/config/train_config.hpp"
#include "qme/fusion/quality_estimator.hpp"
#include "qme/io/checkpoint.hpp"
#include "qme/train/optimisation.hpp"

namespace qme::train {

struct QualityTrainerOptions {
  OptimisationOptions optimisation;
  int64_t rank_threshold = 3;  ///< tau of the pseudo-quality target (> 1); upstream's --rank_threshold
  torch::Device device = torch::kCPU;
};

/// lr_rate and weight_decay from a training config, upstream's schedule, the given
/// steps_per_epoch (len(trainloader)) and rank threshold.
QualityTrainerOptions quality_trainer_options(const config::TrainConfig& config, int64_t steps_per_epoch,
                                              int64_t rank_threshold = 3);

/// One training batch. Tensors may live on any device; they are moved to the trainer's.
struct QualityBatch {
  torch::Tensor stats;        ///< (B, T, S) per-frame QE statistics (S = 2048 face, 3072 body)
  torch::Tensor face_scores;  ///< (B, C) the face model's scores of the samples vs the C centers
  torch::Tensor labels;       ///< (B,) integer training pids
};

class QualityTrainer {
 public:
  /// Trains a face QE (upstream's Face_Quality_Estimator) / a body QE (its Quality_Estimator).
  /// `center_labels` (C,): the pid of every training center. The QE is moved to
  /// options.device. Throws UsageError on bad options or an empty center set.
  QualityTrainer(fusion::FaceQualityEstimator qe, const torch::Tensor& center_labels,
                 const QualityTrainerOptions& options);
  QualityTrainer(fusion::BodyQualityEstimator qe, const torch::Tensor& center_labels,
                 const QualityTrainerOptions& options);

  /// One optimisation step. Throws UsageError on mis-shaped batches.
  StepResult step(const QualityBatch& batch);

  /// The QE being trained (the face or body one).
  torch::nn::Module& model() { return *module_; }
  fusion::FaceQualityEstimator face_model() const { return face_; }  ///< null for a body QE
  fusion::BodyQualityEstimator body_model() const { return body_; }  ///< null for a face QE
  /// (F, S) per-frame statistics -> (F,) weights, in eval mode without gradients (for
  /// evaluation: upstream writes the test probes' weights every test_per_step steps).
  torch::Tensor frame_quality(const torch::Tensor& stats);

  const torch::Tensor& center_labels() const { return center_labels_; }
  const QualityTrainerOptions& options() const { return options_; }
  Optimisation& optimisation() { return *optimisation_; }
  int64_t steps_done() const { return optimisation_->steps_done(); }
  double learning_rate() const { return optimisation_->learning_rate(); }

  /// As ScoreLossTrainer's: model, Adam, schedule, step counter and LibTorch's default
  /// generator (the QE's dropout), one file written atomically.
  void save_resume_state(const std::string& path) const;
  void load_resume_state(const std::string& path);

  /// A deep copy of the QE's state dict (upstream's names: f_style_mlp.*, weight_assigner.*).
  io::StateDict model_snapshot() const;
  /// The QE as upstream's mod_qe checkpoint {"model_state_dict": f_style_mlp.*, ...}: the file
  /// upstream's qe_ckpt_path (and qme's QME training) loads.
  void write_checkpoint(const std::string& path) const;

 private:
  void init(const torch::Tensor& center_labels);

  QualityTrainerOptions options_;
  fusion::FaceQualityEstimator face_{nullptr};
  fusion::BodyQualityEstimator body_{nullptr};
  std::shared_ptr<torch::nn::Module> module_;
  int64_t stats_width_ = 0;
  torch::Tensor center_labels_;
  std::unique_ptr<Optimisation> optimisation_;
};

}  // namespace qme::train

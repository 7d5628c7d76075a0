#pragma once
/// QME fusion-head training, upstream's `main.py --mode score_loss`, on in-memory batches of
/// precomputed scores: qme never re-runs a backbone, so a batch holds each model's scores of
/// B training samples against the C training centers and the face QE's cached per-frame
/// statistics (docs/architecture.md §2.3). One step, in upstream's order:
///   zero_grad; modality dropout (each model's scores zeroed with probability p, drawn in
///   model order); q = frozen QE (eval mode, no grad); fused = q * expert0 + (1 - q) * expert1
///   (experts in train mode: BatchNorm batch statistics + running-stat update, dropout);
///   score triplet loss vs. the center labels; backward; Adam step; scheduler step with
///   epoch + step / steps_per_epoch.
///
/// The run loop (evaluation, early stopping, logging) sits on top:
///   ScoreLossTrainer trainer(head, center_labels, score_loss_trainer_options(cfg, spe));
///   for (...) { auto r = trainer.step(batch); ... trainer.model()->eval(); evaluate ...; }
///   trainer.save_resume_state(path);  /  trainer.load_resume_state(path);
#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "qme/config/train_config.hpp"
#include "qme/fusion/qme_mixture.hpp"
#include "qme/io/checkpoint.hpp"
#include "qme/train/modality_dropout.hpp"
#include "qme/train/optimisation.hpp"

namespace qme::fusion::detail {
class FusedMixtureStep;
}

namespace qme::train {

struct ScoreLossTrainerOptions {
  OptimisationOptions optimisation;
  double margin = 1.0;               ///< triplet_margin
  double modality_dropout = 0.5398;  ///< per model and step; 0 turns it off
  uint64_t seed = 42;                ///< seeds the modality-dropout (and fused-step dropout) generators
  torch::Device device = torch::kCPU;
  /// A float32 head on the CPU: run forward + backward as one hand-differentiated pass over the
  /// B x G rows (the same function, tested against autograd; ~150 LibTorch operations fewer,
  /// most of them tiny matrix products sent to the system BLAS). Its MLP-dropout masks come
  /// from its own generator (seeded with seed + 1) instead of LibTorch's. false: the modules
  /// and autograd (always used on CUDA).
  bool fused_step = true;
};

/// lr_rate, weight_decay, triplet_margin, modality_dropout and seed from a training config;
/// upstream's schedule (T_0 300, T_mult 2, eta_min 0); steps_per_epoch = len(trainloader).
ScoreLossTrainerOptions score_loss_trainer_options(const config::TrainConfig& config,
                                                   int64_t steps_per_epoch);

/// One training batch. Tensors may live on any device; they are moved to the trainer's.
struct ScoreLossBatch {
  torch::Tensor scores;  ///< (B, M, C) float32: model m's scores of sample b vs center c (model_list order)
  torch::Tensor labels;  ///< (B,) integer training pids
  /// (B, T, S) per-frame QE statistics (S = 2048 face, 3072 body); read when the head uses a
  /// QE and `quality` is undefined.
  torch::Tensor quality_stats;
  /// (B, 1) quality weights computed beforehand (e.g. mean of frame_quality() over a sample's
  /// frames: the QE is frozen, so they never change); takes precedence over quality_stats.
  torch::Tensor quality;
};

class ScoreLossTrainer {
 public:
  /// `model`: the head, its "qe" already loaded from the QE checkpoint when it has one (the QE
  /// is frozen: eval mode, no gradients, not optimised, as upstream without cotrain_qe).
  /// `center_labels` (C,): the pid of every training center (formats::center_labels). The model
  /// is moved to options.device. Throws UsageError on bad options or an empty center set.
  ScoreLossTrainer(fusion::QmeMixture model, const torch::Tensor& center_labels,
                   const ScoreLossTrainerOptions& options);
  ~ScoreLossTrainer();
  ScoreLossTrainer(ScoreLossTrainer&&);
  ScoreLossTrainer& operator=(ScoreLossTrainer&&);

  /// One optimisation step (see the file comment). Throws UsageError on mis-shaped batches.
  StepResult step(const ScoreLossBatch& batch);

  /// (F, S) per-frame statistics -> (F,) the frozen QE's weight of each frame, in eval mode
  /// without gradients (fusion::FrozenQualityEstimator: oneDNN on the CPU). The mean over a
  /// sample's frames equals what step() computes from quality_stats up to float32 round-off
  /// (the kernels may block other row counts differently). Precompute it once for every cached
  /// frame: the QE never changes in this mode, and 8 frames x 2048 statistics per sample cost
  /// more than the rest of a step. Throws UsageError when the head has no QE.
  torch::Tensor frame_quality(const torch::Tensor& stats);

  fusion::QmeMixture& model() { return model_; }
  const torch::Tensor& center_labels() const { return center_labels_; }
  const ScoreLossTrainerOptions& options() const { return options_; }
  Optimisation& optimisation() { return optimisation_; }
  int64_t steps_done() const { return optimisation_.steps_done(); }
  double learning_rate() const { return optimisation_.learning_rate(); }

  /// Everything needed to continue bit for bit (model incl. running stats, Adam moments,
  /// schedule, step counter, modality-dropout generator, LibTorch's default generator), in one
  /// file written atomically. qme-internal format (a torch::serialize archive).
  void save_resume_state(const std::string& path) const;
  /// Restores a save_resume_state file into this trainer, which must have been built with the
  /// same model configuration and schedule. Throws InputError naming the file otherwise.
  void load_resume_state(const std::string& path);

  /// A deep copy of the model's state dict (upstream's names), e.g. the best model so far.
  io::StateDict model_snapshot() const;
  /// The model as an upstream-loadable checkpoint {"model_state_dict": experts.*, qe.*}.
  void write_checkpoint(const std::string& path) const;

 private:
  void enter_train_mode();
  torch::Tensor quality_of(const ScoreLossBatch& batch, int64_t batch_size);

  void freeze_quality_estimator();

  ScoreLossTrainerOptions options_;
  fusion::QmeMixture model_;
  std::optional<fusion::FrozenQualityEstimator> frozen_qe_;  ///< the QE for inference, laid out once
  torch::Tensor center_labels_;
  Optimisation optimisation_;
  ModalityDropout dropout_;
  std::unique_ptr<fusion::detail::FusedMixtureStep> fused_;  ///< null: modules + autograd
};

/// Writes a state dict as upstream's checkpoint {"model_state_dict": ...}, atomically
/// (io::write_checkpoint); torch.load and qme's readers load it.
void write_model_checkpoint(const std::string& path, const io::StateDict& state);

/// Deep copy (detached, on the CPU) of a module's state dict in PyTorch's order.
io::StateDict snapshot_state_dict(const torch::nn::Module& module);

}  // namespace qme::train

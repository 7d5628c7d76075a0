#pragma once
/// A whole training run, upstream's main.py `train()`, from qme's caches (no backbone runs):
///
/// --mode mod_qe (the face quality estimator):
///   every step: a batch of training samples' per-frame QE statistics, the pseudo-quality loss
///   against the rank of the sample's identity in the face model's scores vs the training
///   centers; every test_per_step steps: the test probes' quality weights, computed from
///   `{feats_dir}/{face}_{ds}_test_qe.h5`, go to `{feats_dir}/mod_qe_{run}_{ds}_{step}.h5` and
///   the QE to `{ckpt_dir}/MEME/{log_prefix}-{run}-{ds}-{step}.pth` (upstream's names). qme
///   also evaluates after the last step when it is not a multiple of test_per_step, so the
///   final QE is always written.
/// --mode score_loss (the QME fusion head, with the frozen QE):
///   every step: the samples' scores vs the centers of every model (modality dropout), the
///   score triplet loss; every test_per_step steps: QME on `{feats_dir}/scoremats_{ds}.h5`,
///   mixed by one quality weight per probe, and the full evaluation report; the model is
///   selected by GR_top1 + GR_mAP + TAR@1.00%FAR - FNIR@1.00%FPIR (x100, "overall"), training
///   stops after early_stop_patience evaluations without improvement, at max_step, or after
///   `epoch` epochs; the selected model is written to
///   `{ckpt_dir}/QME/{log_prefix}-{ds}-bs{B}-seq{S}-{overall:.2f}-{step}.pth`, upstream's
///   name and layout. (Upstream writes nothing when the epochs run out first; qme writes the
///   selected model then too.)
///
/// Step numbers count the optimiser steps done; an evaluation follows step k * test_per_step.
/// (Upstream evaluates after step k * test_per_step - 1 and names its files k * test_per_step.)
///
/// The run folder holds the resolved configs (backbone_cfg.yaml, train_cfg.yaml), run.json
/// (the settings), log.jsonl and state.json (run_log.hpp), the trainer's latest resume file
/// and, for score_loss, the best model so far and the test quality weights used. A checkpoint
/// is taken at every evaluation, at the end and on interruption (SIGINT or
/// TrainingRunOptions::stop_requested); `resume` continues from it and produces the same
/// files and log as an uninterrupted run. Deterministic for a seed on one machine.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "qme/config/backbone_config.hpp"
#include "qme/config/train_config.hpp"

namespace qme::pipeline {

struct TrainingRunOptions {
  std::string mode = "mod_qe";  ///< mod_qe or score_loss
  std::string dataset;
  config::BackboneConfig backbone;
  config::TrainConfig train;  ///< seed overrides already applied
  int64_t epoch = 5;
  int64_t max_step = 1500;  ///< 0: no limit
  int64_t test_per_step = 10;
  int64_t early_stop_patience = 10;
  int64_t rank_threshold = 3;
  bool use_qe = true;
  std::string device = "auto";  ///< auto, cpu, cuda, cuda:N
  std::string log_prefix = "lsf";
  std::string run_name = "run";

  std::string center_dir = "mod_center_feat";  ///< centers and training-frames caches
  std::string feats_dir = "test_feats";  ///< score matrices, test QE statistics; mod_qe writes weights here
  std::string ckpt_dir = "checkpoints";  ///< QME/ and MEME/ below it
  std::string run_dir;                   ///< empty: runs/{log_prefix}-{mode}-{dataset}-{run_name}
  /// score_loss: the test quality weights. Empty: computed with the frozen QE from the face
  /// model's test QE statistics when they exist, else the backbone config's face_weights.
  std::string face_weights;
  std::string qe_ckpt;  ///< score_loss: the trained QE; empty: the backbone config's qe_ckpt_path
  bool resume = false;  ///< continue the run in run_dir from its last checkpoint

  /// The command that resumes this run, for the message on interruption.
  std::string resume_command;
  /// Install a SIGINT handler for the run: Ctrl-C stops after the current step with a
  /// checkpoint (a second Ctrl-C kills the process).
  bool handle_sigint = true;
  /// Called after every step with the steps done; returning true stops the run there as
  /// SIGINT does (tests, embedders).
  std::function<bool(int64_t)> stop_requested;
  bool show_progress = true;
};

enum class RunStatus { kFinished, kInterrupted };

struct TrainingRunResult {
  RunStatus status = RunStatus::kFinished;
  std::string stop_reason;  ///< early_stop, max_step, epochs, interrupted
  int64_t steps_done = 0;
  int64_t steps_per_epoch = 0;
  std::string run_dir;
  std::string log_path;
  // score_loss
  bool has_best = false;
  double best_overall = 0.0;
  int64_t best_step = 0;
  std::string best_checkpoint;    ///< {ckpt_dir}/QME/...pth; empty without any evaluation
  std::string test_face_weights;  ///< the quality weights the evaluations used ("" without QE)
  // mod_qe
  std::vector<std::string> face_weights_files;
  std::vector<std::string> qe_checkpoints;
};

/// "runs/{log_prefix}-{mode}-{dataset}-{run_name}".
std::string default_run_dir(const std::string& log_prefix, const std::string& mode,
                            const std::string& dataset, const std::string& run_name);

/// Upstream's checkpoint name "{log_prefix}-{ds}-bs{B}-seq{S}-{overall:.2f}-{step}.pth".
std::string qme_checkpoint_name(const std::string& log_prefix, const std::string& dataset,
                                int64_t train_batch, int64_t num_sample, double overall, int64_t step);

/// Upstream's selection metric, x100: GR_top1 + GR_mAP + TAR@1.00%FAR - FNIR@1.00%FPIR.
double selection_overall(double gr_top1, double gr_map, double tar_at_1_far, double fnir_at_1_fpir);

/// Runs (or resumes) a training run. Throws InputError for bad inputs (missing or mismatched
/// caches, a model_list that does not fit them, a settings change on resume) and UsageError for
/// bad options (including a fresh run in a folder that holds one, or --resume without one).
/// Returns kInterrupted (after writing a checkpoint) when stopped by SIGINT or stop_requested.
TrainingRunResult run_training(const TrainingRunOptions& options);

}  // namespace qme::pipeline

#pragma once
// The two kinds of training run behind run_training (internal to the training job): what a step and an
// evaluation do in --mode mod_qe and --mode score_loss. The run loop (training_run.cpp) owns
// the schedule of evaluations, model selection, checkpoints and the log.
#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "qme/pipeline/training_run.hpp"
#include "qme/train/optimisation.hpp"

namespace qme::pipeline::detail {

/// What one evaluation produced.
struct Evaluation {
  nlohmann::json record = nlohmann::json::object();  ///< merged into the log's "eval" record
  bool has_overall = false;                          ///< score_loss: a selection metric
  double overall = 0.0;
  std::vector<std::string> outputs;  ///< files written for the user
  std::string summary;               ///< one line for the terminal
};

class Stage {
 public:
  virtual ~Stage() = default;
  /// len(trainloader).
  virtual int64_t steps_per_epoch() const = 0;
  /// Training samples (for the start record).
  virtual int64_t num_samples() const = 0;
  /// One optimisation step on the schedule's next batch.
  virtual train::StepResult step() = 0;
  virtual int64_t steps_done() const = 0;
  /// Evaluates the current model after `step` steps.
  virtual Evaluation evaluate(int64_t step) = 0;
  /// The trainer's resume state.
  virtual void save_resume(const std::string& path) const = 0;
  virtual void load_resume(const std::string& path) = 0;
  /// The current model as an upstream checkpoint.
  virtual void write_model(const std::string& path) const = 0;
  /// Names of the models a step's modality dropout can zero (model_list order); empty for QE.
  virtual const std::vector<std::string>& scored_models() const = 0;
  /// The test quality weights file the evaluations use ("" when none).
  virtual std::string test_face_weights() const { return ""; }
  /// Writes what the run folder keeps of the stage's inputs (score_loss: the computed test
  /// quality weights), once the inputs have all been read and checked.
  virtual void prepare_run_dir(const std::string& /*dir*/) {}
};

/// Checks that every output folder of the run can be written, then loads the caches and test
/// files of `options.mode` and builds its trainer on `device`. Writes nothing.
std::unique_ptr<Stage> make_stage(const TrainingRunOptions& options, const torch::Device& device);

}  // namespace qme::pipeline::detail

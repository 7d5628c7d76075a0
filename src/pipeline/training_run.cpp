#include "qme/pipeline/training_run.hpp"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <optional>
#include <regex>

#include <unistd.h>

#include "qme/core/error.hpp"
#include "qme/core/progress.hpp"
#include "qme/io/output_directory.hpp"
#include "qme/io/text_file.hpp"
#include "qme/train/device.hpp"
#include "qme/train/run_log.hpp"
#include "training_stages.hpp"

namespace qme::pipeline {

using train::describe_settings_change;
using train::read_run_state;
using train::resolve_device;
using train::RunLog;
using train::RunState;
using train::StepResult;
using train::write_run_state;

namespace fs = std::filesystem;

namespace {

// --------------------------------------------------------------------------------------------
// Ctrl-C: the first SIGINT asks the run to stop after its current step (with a checkpoint); the
// handler then restores the default action, so a second one ends the process at once.

volatile std::sig_atomic_t g_sigint = 0;

extern "C" void on_sigint(int) {
  g_sigint = 1;
  std::signal(SIGINT, SIG_DFL);
}

class SigintGuard {
 public:
  explicit SigintGuard(bool install) : installed_(install) {
    if (!installed_) return;
    g_sigint = 0;
    previous_ = std::signal(SIGINT, on_sigint);
  }
  ~SigintGuard() {
    if (installed_) std::signal(SIGINT, previous_ == SIG_ERR ? SIG_DFL : previous_);
  }
  SigintGuard(const SigintGuard&) = delete;
  SigintGuard& operator=(const SigintGuard&) = delete;

 private:
  bool installed_;
  void (*previous_)(int) = SIG_DFL;
};

// --------------------------------------------------------------------------------------------
// The run folder

std::string in_dir(const std::string& dir, const std::string& name) {
  return (fs::path(dir) / name).string();
}

void check_options(const TrainingRunOptions& o) {
  if (o.mode != "mod_qe" && o.mode != "score_loss") {
    throw UsageError("--mode must be mod_qe or score_loss, got '" + o.mode + "'");
  }
  if (o.dataset.empty()) throw UsageError("--dataset is empty");
  if (o.epoch < 1) throw UsageError("--epoch must be >= 1");
  if (o.max_step < 0) throw UsageError("--max_step must be >= 0");
  if (o.test_per_step < 1) throw UsageError("--test_per_step must be >= 1");
  if (o.early_stop_patience < 1) throw UsageError("--early_stop_patience must be >= 1");
  if (o.rank_threshold < 2) throw UsageError("--rank_threshold must be >= 2");
  if (o.backbone.model_list.empty()) throw InputError(o.backbone.source, "model_list", "is empty");
}

/// Everything that must be the same when a run is resumed (epoch and max_step may change).
nlohmann::json run_settings(const TrainingRunOptions& o, const torch::Device& device) {
  return {{"mode", o.mode},
          {"dataset", o.dataset},
          {"backbone_cfg", config::to_yaml(o.backbone)},
          {"train_cfg", config::to_yaml(o.train)},
          {"epoch", o.epoch},
          {"max_step", o.max_step},
          {"test_per_step", o.test_per_step},
          {"early_stop_patience", o.early_stop_patience},
          {"rank_threshold", o.rank_threshold},
          {"use_qe", o.use_qe},
          {"device", device.str()},
          {"log_prefix", o.log_prefix},
          {"run_name", o.run_name},
          {"center_dir", o.center_dir},
          {"feats_dir", o.feats_dir},
          {"ckpt_dir", o.ckpt_dir},
          {"face_weights", o.face_weights},
          {"qe_ckpt", o.qe_ckpt}};
}

/// A fresh run: the folder must not hold a run. A resumed one: reads state.json and checks the
/// settings. Writes nothing.
RunState check_run_dir(const TrainingRunOptions& o, const std::string& dir, const nlohmann::json& settings) {
  const auto state_path = in_dir(dir, "state.json");
  if (!o.resume) {
    if (fs::exists(state_path)) {
      throw UsageError("the run folder " + dir + " already holds a run (" + state_path +
                       "): add --resume to continue it, or choose another --run_dir / --run_name");
    }
    RunState state;
    state.settings = settings;
    return state;
  }
  if (!fs::exists(state_path)) {
    throw UsageError("--resume: " + dir + " holds no checkpoint to resume from (" + state_path +
                     " does not exist; a run writes it at its first evaluation)");
  }
  auto state = read_run_state(state_path);
  const auto change = describe_settings_change(state.settings, settings, {"epoch", "max_step"});
  if (!change.empty()) {
    throw InputError(state_path, "settings",
                     "differ from this command's, so the run cannot be resumed: " + change);
  }
  if (state.finished) {
    throw UsageError("the run in " + dir + " has finished (" + state.stop_reason + " after step " +
                     std::to_string(state.steps_done) +
                     "); start a new one with another --run_dir / --run_name");
  }
  state.settings = settings;
  return state;
}

/// A fresh run's folder: the resolved configs and the settings.
void write_run_dir(const TrainingRunOptions& o, const std::string& dir, const nlohmann::json& settings) {
  io::ensure_output_directory(dir);
  io::write_text_file(in_dir(dir, "backbone_cfg.yaml"), config::to_yaml(o.backbone));
  io::write_text_file(in_dir(dir, "train_cfg.yaml"), config::to_yaml(o.train));
  io::write_text_file(in_dir(dir, "run.json"), settings.dump(2) + "\n");
}

/// Removes the trainer and best-model files of earlier checkpoints.
void remove_stale_files(const std::string& dir, const RunState& state) {
  static const std::regex kStale(R"((resume|best)-step[0-9]+\.(pt|pth))");
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const auto name = entry.path().filename().string();
    if (!std::regex_match(name, kStale) || name == state.trainer_state || name == state.best_model) continue;
    fs::remove(entry.path(), ec);
  }
}

/// Copies `from` to `to` through a temporary file, so `to` is never half written.
void copy_atomically(const std::string& from, const std::string& to) {
  io::ensure_output_directory(fs::path(to).parent_path().string());
  const auto tmp = to + ".tmp-" + std::to_string(::getpid());
  fs::copy_file(from, tmp, fs::copy_options::overwrite_existing);
  fs::rename(tmp, to);
}

// --------------------------------------------------------------------------------------------
// The loop

class RunLoop {
 public:
  RunLoop(const TrainingRunOptions& o, std::string dir, RunState state, std::unique_ptr<detail::Stage> stage)
      : o_(o),
        dir_(std::move(dir)),
        state_(std::move(state)),
        stage_(std::move(stage)),
        log_(in_dir(dir_, "log.jsonl"), o.resume ? state_.log_bytes : -1) {
    if (!o.resume) log_.write(start_record());
  }

  TrainingRunResult run() {
    const int64_t spe = stage_->steps_per_epoch();
    int64_t limit = o_.epoch * spe;
    if (o_.max_step > 0) limit = std::min(limit, o_.max_step);
    std::optional<ProgressReporter> progress;
    if (o_.show_progress && stage_->steps_done() < limit) {
      progress.emplace(o_.mode, limit - stage_->steps_done(), ProgressOptions("step"));
    }
    while (stage_->steps_done() < limit) {
      const auto r = stage_->step();
      log_step(r);
      if (progress) {
        progress->set_postfix(postfix(r));
        progress->advance();
      }
      const bool early_stop = r.step % o_.test_per_step == 0 && evaluate(r.step);
      const bool interrupted = !early_stop && stop_requested(r.step);
      if (early_stop || interrupted) {
        if (progress) progress->finish();
        return early_stop ? finish("early_stop") : interrupt();
      }
    }
    if (progress) progress->finish();
    const int64_t done = stage_->steps_done();
    if (o_.mode == "mod_qe" && done > 0 && done % o_.test_per_step != 0) evaluate(done);
    return finish(o_.max_step > 0 && done >= o_.max_step ? "max_step" : "epochs");
  }

 private:
  nlohmann::json start_record() const {
    return {{"event", "start"},
            {"mode", o_.mode},
            {"dataset", o_.dataset},
            {"models", o_.backbone.model_list},
            {"seed", o_.train.seed},
            {"samples", stage_->num_samples()},
            {"steps_per_epoch", stage_->steps_per_epoch()},
            {"train_batch", o_.train.train_batch},
            {"num_sample", o_.train.num_sample},
            {"test_face_weights", stage_->test_face_weights()}};
  }

  void log_step(const StepResult& r) {
    const int64_t spe = stage_->steps_per_epoch();
    nlohmann::json rec = {
        {"event", "step"}, {"step", r.step}, {"epoch", (r.step - 1) / spe}, {"loss", r.loss}, {"lr", r.lr}};
    if (!r.dropped.empty()) {
      auto dropped = nlohmann::json::array();
      for (size_t m = 0; m < r.dropped.size(); ++m) {
        if (r.dropped[m]) dropped.push_back(stage_->scored_models()[m]);
      }
      rec["dropped"] = dropped;
    }
    log_.write(rec);
  }

  std::string postfix(const StepResult& r) const {
    auto out = fmt::format("loss {:.4f} lr {:.3g}", r.loss, r.lr);
    if (state_.has_best) out += fmt::format(" best {:.2f}@{}", state_.best_overall, state_.best_step);
    return out;
  }

  bool stop_requested(int64_t step) const {
    return g_sigint != 0 || (o_.stop_requested && o_.stop_requested(step));
  }

  /// Evaluates, selects, logs and checkpoints; true when early stopping triggers.
  bool evaluate(int64_t step) {
    auto ev = stage_->evaluate(step);
    ++state_.evaluations;
    state_.outputs.insert(state_.outputs.end(), ev.outputs.begin(), ev.outputs.end());
    nlohmann::json rec = {{"event", "eval"}, {"step", step}};
    rec.update(ev.record);
    bool stop = false;
    if (ev.has_overall) {
      select(step, ev);
      rec["best_overall"] = state_.best_overall;
      rec["best_step"] = state_.best_step;
      rec["early_stop_counter"] = state_.early_stop_counter;
      stop = state_.early_stop_counter >= o_.early_stop_patience;
      spdlog::info("step {}: {} (best {:.2f} at step {})", step, ev.summary, state_.best_overall,
                   state_.best_step);
    } else {
      spdlog::info("step {}: {}", step, ev.summary);
    }
    log_.write(rec);
    checkpoint();
    return stop;
  }

  /// Upstream's selection: a strictly better overall becomes the best and resets the counter.
  void select(int64_t step, const detail::Evaluation& ev) {
    if (state_.has_best && !(ev.overall > state_.best_overall)) {
      ++state_.early_stop_counter;
      return;
    }
    state_.has_best = true;
    state_.best_overall = ev.overall;
    state_.best_step = step;
    state_.best_metrics = ev.record.contains("metrics") ? ev.record["metrics"] : nlohmann::json::object();
    state_.best_model = "best-step" + std::to_string(step) + ".pth";
    state_.early_stop_counter = 0;
    stage_->write_model(in_dir(dir_, state_.best_model));
  }

  void checkpoint() {
    state_.steps_done = stage_->steps_done();
    state_.trainer_state = "resume-step" + std::to_string(state_.steps_done) + ".pt";
    stage_->save_resume(in_dir(dir_, state_.trainer_state));
    state_.log_bytes = log_.flush();
    write_run_state(in_dir(dir_, "state.json"), state_);
    remove_stale_files(dir_, state_);
  }

  TrainingRunResult interrupt() {
    checkpoint();
    auto result = make_result(RunStatus::kInterrupted, "interrupted");
    spdlog::warn("interrupted after step {}: checkpoint in {}{}", state_.steps_done, dir_,
                 o_.resume_command.empty() ? std::string() : "; resume with: " + o_.resume_command);
    return result;
  }

  TrainingRunResult finish(const std::string& reason) {
    if (o_.mode == "score_loss") write_selected_model();
    nlohmann::json rec = {{"event", "end"}, {"reason", reason}, {"steps_done", stage_->steps_done()}};
    if (state_.has_best) {
      rec["best_overall"] = state_.best_overall;
      rec["best_step"] = state_.best_step;
      rec["checkpoint"] = state_.final_checkpoint;
      rec["best_metrics"] = state_.best_metrics;
    }
    log_.write(rec);
    state_.finished = true;
    state_.stop_reason = reason;
    checkpoint();
    spdlog::info(
        "{} finished after {} steps ({}){}", o_.mode, state_.steps_done, reason,
        state_.final_checkpoint.empty() ? std::string() : "; selected model: " + state_.final_checkpoint);
    return make_result(RunStatus::kFinished, reason);
  }

  /// Upstream's final checkpoint: the best model under its selection name in {ckpt_dir}/QME.
  void write_selected_model() {
    if (!state_.has_best) {
      spdlog::warn("no evaluation ran (test_per_step {} > {} steps): no QME checkpoint written",
                   o_.test_per_step, stage_->steps_done());
      return;
    }
    const auto name = qme_checkpoint_name(o_.log_prefix, o_.dataset, o_.train.train_batch,
                                          o_.train.num_sample, state_.best_overall, state_.best_step);
    state_.final_checkpoint = in_dir(in_dir(o_.ckpt_dir, "QME"), name);
    copy_atomically(in_dir(dir_, state_.best_model), state_.final_checkpoint);
    state_.outputs.push_back(state_.final_checkpoint);
  }

  TrainingRunResult make_result(RunStatus status, const std::string& reason) const {
    TrainingRunResult r;
    r.status = status;
    r.stop_reason = reason;
    r.steps_done = stage_->steps_done();
    r.steps_per_epoch = stage_->steps_per_epoch();
    r.run_dir = dir_;
    r.log_path = log_.path();
    r.has_best = state_.has_best;
    r.best_overall = state_.best_overall;
    r.best_step = state_.best_step;
    r.best_checkpoint = state_.final_checkpoint;
    r.test_face_weights = stage_->test_face_weights();
    for (const auto& f : state_.outputs) {
      if (f.size() >= 3 && f.compare(f.size() - 3, 3, ".h5") == 0) r.face_weights_files.push_back(f);
      if (o_.mode == "mod_qe" && f.size() >= 4 && f.compare(f.size() - 4, 4, ".pth") == 0)
        r.qe_checkpoints.push_back(f);
    }
    return r;
  }

  const TrainingRunOptions& o_;
  std::string dir_;
  RunState state_;
  std::unique_ptr<detail::Stage> stage_;
  RunLog log_;
};

}  // namespace

std::string default_run_dir(const std::string& log_prefix, const std::string& mode,
                            const std::string& dataset, const std::string& run_name) {
  return (fs::path("runs") / (log_prefix + "-" + mode + "-" + dataset + "-" + run_name)).string();
}

std::string qme_checkpoint_name(const std::string& log_prefix, const std::string& dataset,
                                int64_t train_batch, int64_t num_sample, double overall, int64_t step) {
  return fmt::format("{}-{}-bs{}-seq{}-{:.2f}-{}.pth", log_prefix, dataset, train_batch, num_sample, overall,
                     step);
}

double selection_overall(double gr_top1, double gr_map, double tar_at_1_far, double fnir_at_1_fpir) {
  return (gr_top1 + gr_map + tar_at_1_far - fnir_at_1_fpir) * 100.0;
}

TrainingRunResult run_training(const TrainingRunOptions& options) {
  check_options(options);
  const torch::Device device(resolve_device(options.device).str());
  const auto dir = options.run_dir.empty()
                       ? default_run_dir(options.log_prefix, options.mode, options.dataset, options.run_name)
                       : options.run_dir;
  const auto settings = run_settings(options, device);
  auto state = check_run_dir(options, dir, settings);
  spdlog::info("{} on {} ({}): run folder {}", options.mode, options.dataset, device.str(), dir);
  auto stage = detail::make_stage(options, device);  // reads and checks every input
  if (!options.resume) write_run_dir(options, dir, settings);
  stage->prepare_run_dir(dir);
  if (options.resume) {
    stage->load_resume(in_dir(dir, state.trainer_state));
    if (stage->steps_done() != state.steps_done) {
      throw InputError(in_dir(dir, state.trainer_state), "",
                       "holds step " + std::to_string(stage->steps_done()) + " but state.json says " +
                           std::to_string(state.steps_done));
    }
    spdlog::info("resuming after step {}", state.steps_done);
  }
  SigintGuard sigint(options.handle_sigint);
  RunLoop loop(options, dir, std::move(state), std::move(stage));
  return loop.run();
}

}  // namespace qme::pipeline

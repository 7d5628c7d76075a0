/// qme_main: trains the face quality estimator (--mode mod_qe) or the QME fusion head
/// (--mode score_loss), as upstream's main.py, from qme's caches (qme::pipeline::run_training).
/// Flags keep upstream's names and defaults.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "common_flags.hpp"
#include "qme/config/backbone_config.hpp"
#include "qme/config/train_config.hpp"
#include "qme/core/error.hpp"
#include "qme/core/logging.hpp"
#include "qme/pipeline/training_run.hpp"
#include "qme/train/device.hpp"
#include "tool_main.hpp"

namespace {

constexpr int kExitInterrupted = 130;  // the shell's code for a SIGINT stop

// The flags bind straight to the training run's options; the rest are what the tool resolves
// (config paths, the seed override) or accepts for upstream compatibility.
struct Options {
  qme::pipeline::TrainingRunOptions run = upstream_defaults();
  std::string backbone_cfg;  // empty: configs/backbone_cfg-{dataset}.yaml
  std::string train_cfg;     // empty: configs/train_cfg-{dataset}.yaml
  int64_t seed = -1;         // -1: the training config's
  std::string log_level = "info";
  // upstream flags that have no effect here (training reads only the caches)
  std::string root = "/data";
  std::string description;
  int num_worker = 1;
  std::string debug = "true";

  static qme::pipeline::TrainingRunOptions upstream_defaults() {
    qme::pipeline::TrainingRunOptions run;
    run.dataset = "ltcc";  // upstream main.py's default
    return run;
  }
};

// log_prefix and run_name become parts of checkpoint and weight file names.
const CLI::Validator kFileNamePart(
    [](std::string& value) -> std::string {
      if (value.empty()) return "must not be empty";
      if (value.find_first_of("/\\ \t\n") != std::string::npos) {
        return "must not contain '/', '\\' or spaces (it becomes part of file names)";
      }
      return "";
    },
    "NAME");

void add_training_flags(CLI::App& app, Options& o) {
  app.add_option("--mode", o.run.mode,
                 "mod_qe: train the face quality estimator; score_loss: train the QME fusion head")
      ->check(CLI::IsMember({"mod_qe", "score_loss"}))
      ->capture_default_str();
  qme::tools::add_dataset_flag(app, o.run.dataset);
  app.add_option("--backbone_cfg", o.backbone_cfg,
                 "backbone config (default: configs/backbone_cfg-{dataset}.yaml)");
  app.add_option("--train_cfg", o.train_cfg, "training config (default: configs/train_cfg-{dataset}.yaml)");
  qme::tools::add_root_flag(app, o.root);
  app.add_option("--epoch", o.run.epoch, "training epochs")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--max_step", o.run.max_step, "stop after this many steps (0: no limit)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--test_per_step", o.run.test_per_step, "evaluate every this many steps")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--early_stop_patience", o.run.early_stop_patience,
                 "score_loss: stop after this many evaluations without improvement")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--use_qe", o.run.use_qe, "weight the experts with the quality estimator (false: fixed 0.5)")
      ->capture_default_str();
  // The pseudo-quality target divides by rank_threshold - 1.
  app.add_option("--rank_threshold", o.run.rank_threshold, "mod_qe: rank below which a probe counts as good")
      ->check(CLI::Range(2, 1 << 30))
      ->capture_default_str();
  app.add_option("--seed", o.seed, "override the training config's seed (-1: keep it)")
      ->check(CLI::Range(int64_t{-1}, int64_t{4294967295}))
      ->capture_default_str();
  qme::tools::add_device_flag(app, o.run.device);
}

void add_file_flags(CLI::App& app, Options& o) {
  app.add_option("--log_prefix", o.run.log_prefix, "first part of checkpoint names")
      ->check(kFileNamePart)
      ->capture_default_str();
  app.add_option("--run_name", o.run.run_name, "run name in QE checkpoint and weight file names")
      ->check(kFileNamePart)
      ->capture_default_str();
  app.add_option("--center_dir", o.run.center_dir,
                 "centers and training-frames caches (qme_precompute_center --save_path)")
      ->capture_default_str();
  app.add_option("--feats_dir", o.run.feats_dir,
                 "score matrices and test QE statistics; mod_qe writes the probes' weights here")
      ->capture_default_str();
  app.add_option("--ckpt_dir", o.run.ckpt_dir, "checkpoints go to its QME/ (score_loss) and MEME/ (mod_qe)")
      ->capture_default_str();
  app.add_option("--run_dir", o.run.run_dir,
                 "run folder: resolved configs, log.jsonl, resume state (default: "
                 "runs/{log_prefix}-{mode}-{dataset}-{run_name})");
  app.add_flag("--resume", o.run.resume, "continue the run in --run_dir from its last checkpoint");
  app.add_option(
      "--face_weights", o.run.face_weights,
      "score_loss: test quality weights (default: computed with the QE from the test QE statistics)");
  app.add_option("--qe_ckpt", o.run.qe_ckpt,
                 "score_loss: trained quality estimator (default: backbone config qe_ckpt_path)");
  app.add_option("--progress", o.run.show_progress, "show a progress line")->capture_default_str();
  qme::tools::add_log_level_flag(app, o.log_level);
  app.add_option("--description", o.description, "run description (logged)");
  app.add_option("--num_worker", o.num_worker, "accepted for upstream compatibility; no effect");
  app.add_option("--debug", o.debug, "accepted for upstream compatibility (wandb); no effect");
}

/// The command line that continues this run.
std::string resume_command(int argc, char** argv) {
  std::string out;
  bool has_resume = false;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    has_resume = has_resume || arg == "--resume" || arg.rfind("--resume=", 0) == 0;
    if (arg.find_first_of(" \t'\"$") != std::string::npos) arg = "'" + arg + "'";
    out += (out.empty() ? "" : " ") + arg;
  }
  return has_resume ? out : out + " --resume";
}

/// The run's options with the configs read and the seed override applied.
qme::pipeline::TrainingRunOptions run_options(const Options& o) {
  auto r = o.run;
  r.backbone = qme::config::load_backbone_config(
      o.backbone_cfg.empty() ? qme::config::default_backbone_config_path(r.dataset) : o.backbone_cfg);
  r.train = qme::config::load_train_config(
      o.train_cfg.empty() ? qme::config::default_train_config_path(r.dataset) : o.train_cfg);
  if (o.seed >= 0) r.train.seed = o.seed;
  return r;
}

int run(const Options& o, const std::string& resume_cmd) {
  qme::setup_logging(o.log_level);
  if (!o.description.empty()) spdlog::info("{}", o.description);
  auto options = run_options(o);
  options.resume_command = resume_cmd;
  qme::train::resolve_device(o.run.device);  // a bad --device is a usage error before any file is read
  const auto result = qme::pipeline::run_training(options);
  if (result.status == qme::pipeline::RunStatus::kInterrupted) {
    std::fprintf(stderr,
                 "qme_main: interrupted after step %lld; the checkpoint is in %s; resume with:\n  %s\n",
                 static_cast<long long>(result.steps_done), result.run_dir.c_str(), resume_cmd.c_str());
    return kExitInterrupted;
  }
  if (!result.best_checkpoint.empty()) std::printf("%s\n", result.best_checkpoint.c_str());
  for (const auto& f : result.face_weights_files) std::printf("%s\n", f.c_str());
  for (const auto& f : result.qe_checkpoints) std::printf("%s\n", f.c_str());
  return qme::kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Train the QME quality estimator or fusion head from cached features (upstream main.py)",
               "qme_main"};
  Options options;
  add_training_flags(app, options);
  add_file_flags(app, options);
  const auto resume_cmd = resume_command(argc, argv);
  return qme::tools::run_tool(app, argc, argv, [&] { return run(options, resume_cmd); });
}

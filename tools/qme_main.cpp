/// qme_main: trains the face quality estimator (--mode mod_qe) or the QME fusion head
/// (--mode score_loss), as upstream's main.py. Flags keep upstream's names and defaults.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <string>

#include "qme/config/backbone_config.hpp"
#include "qme/config/train_config.hpp"
#include "qme/core/error.hpp"
#include "qme/core/logging.hpp"
#include "qme/train/device.hpp"
#include "common_flags.hpp"
#include "tool_main.hpp"

namespace {

struct Options {
  std::string mode = "mod_qe";
  std::string dataset = "ltcc";
  std::string backbone_cfg;  // empty: configs/backbone_cfg-{dataset}.yaml
  std::string train_cfg;     // empty: configs/train_cfg-{dataset}.yaml
  std::string root = "/data";
  int epoch = 5;
  int max_step = 1500;
  int test_per_step = 10;
  int early_stop_patience = 10;
  bool use_qe = true;
  int rank_threshold = 3;
  std::string device = "auto";
  std::string log_prefix = "lsf";
  std::string run_name = "run";
  std::string log_level = "info";
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

void add_flags(CLI::App& app, Options& o) {
  app.add_option("--mode", o.mode,
                 "mod_qe: train the face quality estimator; score_loss: train the QME fusion head")
      ->check(CLI::IsMember({"mod_qe", "score_loss"}))
      ->capture_default_str();
  qme::tools::add_dataset_flag(app, o.dataset);
  app.add_option("--backbone_cfg", o.backbone_cfg,
                 "backbone config (default: configs/backbone_cfg-{dataset}.yaml)");
  app.add_option("--train_cfg", o.train_cfg,
                 "training config (default: configs/train_cfg-{dataset}.yaml)");
  qme::tools::add_root_flag(app, o.root);
  app.add_option("--epoch", o.epoch, "training epochs")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--max_step", o.max_step, "stop after this many steps (0: no limit)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--test_per_step", o.test_per_step, "evaluate every this many steps")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--early_stop_patience", o.early_stop_patience,
                 "stop after this many evaluations without improvement")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--use_qe", o.use_qe,
                 "weight the experts with the quality estimator (false: fixed 0.5)")
      ->capture_default_str();
  // The pseudo-quality target divides by rank_threshold - 1.
  app.add_option("--rank_threshold", o.rank_threshold, "rank below which a probe counts as good")
      ->check(CLI::Range(2, 1 << 30))
      ->capture_default_str();
  qme::tools::add_device_flag(app, o.device);
  app.add_option("--log_prefix", o.log_prefix, "first part of checkpoint names")
      ->check(kFileNamePart)
      ->capture_default_str();
  app.add_option("--run_name", o.run_name, "run name in QE checkpoint and weight file names")
      ->check(kFileNamePart)
      ->capture_default_str();
  qme::tools::add_log_level_flag(app, o.log_level);
}

int run(const Options& o) {
  qme::setup_logging(o.log_level);
  const auto backbone = qme::config::load_backbone_config(
      o.backbone_cfg.empty() ? qme::config::default_backbone_config_path(o.dataset)
                             : o.backbone_cfg);
  const auto train = qme::config::load_train_config(
      o.train_cfg.empty() ? qme::config::default_train_config_path(o.dataset) : o.train_cfg);
  // Both the QE and the quality-weighted mixture read the face model's intermediate features.
  if ((o.mode == "mod_qe" || o.use_qe) && !qme::config::quality_face_model(backbone)) {
    throw qme::InputError(backbone.source, "model_list",
                          "needs adaface or kprpe for the face quality estimator (--mode " +
                              o.mode + (o.mode == "mod_qe" ? "" : " with --use_qe true") + ")");
  }
  const auto device = qme::train::resolve_device(o.device);
  spdlog::debug("{} on {}: {} models from {}, training config {}", o.mode, device.str(),
                backbone.model_list.size(), backbone.source, train.source);
  throw qme::UsageError("the " + o.mode + " training stage is not available in this build yet");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Train the QME quality estimator or fusion head (upstream main.py)", "qme_main"};
  Options options;
  add_flags(app, options);
  return qme::tools::run_tool(app, argc, argv, [&] { return run(options); });
}

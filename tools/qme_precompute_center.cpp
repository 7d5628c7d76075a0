/// qme_precompute_center: per-identity, per-outfit center features of a training set for one
/// model, as upstream's precompute_center.py. Flags keep upstream's names and defaults.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <string>

#include "qme/config/backbone_config.hpp"
#include "qme/core/error.hpp"
#include "qme/core/logging.hpp"
#include "qme/train/device.hpp"
#include "common_flags.hpp"
#include "tool_main.hpp"

namespace {

struct Options {
  std::string mode = "adaface";
  std::string dataset = "mevid";
  std::string backbone_cfg;  // empty: configs/backbone_cfg-{dataset}.yaml
  std::string root = "/data";
  std::string save_path = "./mod_center_feat/";
  int train_batch = 1;
  int num_sample = 100;
  std::string device = "auto";
  std::string log_level = "info";
};

void add_flags(CLI::App& app, Options& o) {
  app.add_option("--mode", o.mode, "the model whose centers are computed")
      ->check(CLI::IsMember(qme::config::known_models()))
      ->capture_default_str();
  qme::tools::add_dataset_flag(app, o.dataset);
  app.add_option("--backbone_cfg", o.backbone_cfg,
                 "backbone config for the model's weights (default: "
                 "configs/backbone_cfg-{dataset}.yaml; its model_list is replaced by --mode)");
  qme::tools::add_root_flag(app, o.root);
  app.add_option("--save_path", o.save_path, "folder for the center files")->capture_default_str();
  app.add_option("--train_batch", o.train_batch, "samples per batch")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--num_sample", o.num_sample, "frames per training sample (dense sampling step)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  qme::tools::add_device_flag(app, o.device);
  qme::tools::add_log_level_flag(app, o.log_level);
}

int run(const Options& o) {
  qme::setup_logging(o.log_level);
  // Upstream reads only the weight paths: the model list is overwritten with --mode.
  const auto backbone = qme::config::load_backbone_config(
      o.backbone_cfg.empty() ? qme::config::default_backbone_config_path(o.dataset)
                             : o.backbone_cfg);
  const auto device = qme::train::resolve_device(o.device);
  spdlog::debug("{} centers for {} on {}, weights from {}", o.mode, o.dataset, device.str(),
                backbone.source);
  throw qme::UsageError("the center precomputation stage is not available in this build yet");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Center features of a training set for one model (upstream precompute_center.py)",
               "qme_precompute_center"};
  Options options;
  add_flags(app, options);
  return qme::tools::run_tool(app, argc, argv, [&] { return run(options); });
}

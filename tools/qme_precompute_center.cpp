/// qme_precompute_center: per-identity, per-outfit center features of a training set for one
/// model, as upstream's precompute_center.py, plus qme's training-frames cache. Flags keep
/// upstream's names and defaults; --num_shards/--shard_index split the work, --merge_shards
/// assembles the parts.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "common_flags.hpp"
#include "qme/config/backbone_config.hpp"
#include "qme/core/error.hpp"
#include "qme/core/logging.hpp"
#include "qme/pipeline/extraction.hpp"
#include "qme/train/device.hpp"
#include "tool_main.hpp"

namespace {

// The flags bind straight to the extraction's options; the rest are what the tool resolves (the
// backbone config, the device) or accepts for upstream compatibility.
struct Options {
  qme::pipeline::CenterExtractionOptions job = upstream_defaults();
  std::string backbone_cfg;  // empty: configs/backbone_cfg-{dataset}.yaml
  std::string device = "auto";
  std::string log_level = "info";
  int train_batch = 1;
  bool merge_shards = false;

  static qme::pipeline::CenterExtractionOptions upstream_defaults() {
    qme::pipeline::CenterExtractionOptions job;  // upstream precompute_center.py's defaults
    job.model = "adaface";
    job.dataset = "mevid";
    job.root = "/data";
    job.save_path = "./mod_center_feat/";
    return job;
  }
};

void add_flags(CLI::App& app, Options& o) {
  app.add_option("--mode", o.job.model, "the model whose centers are computed")
      ->check(CLI::IsMember(qme::config::known_models()))
      ->capture_default_str();
  qme::tools::add_dataset_flag(app, o.job.dataset);
  app.add_option("--backbone_cfg", o.backbone_cfg,
                 "backbone config for the model's weights (default: "
                 "configs/backbone_cfg-{dataset}.yaml; its model_list is replaced by --mode)");
  qme::tools::add_root_flag(app, o.job.root);
  app.add_option("--save_path", o.job.save_path, "folder for the center files")->capture_default_str();
  app.add_option("--train_batch", o.train_batch,
                 "upstream's samples per batch; accepted for compatibility, qme batches by --batch_frames")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--num_sample", o.job.num_sample, "frames per training sample (dense sampling step)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--views", o.job.views, "rows per frame in the training-frames cache (> 1: augmented views)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--batch_frames", o.job.batch_frames, "frames per forward pass")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--num_workers", o.job.num_workers, "threads reading and resizing frames")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  qme::tools::add_optimize_flag(app, o.job.optimize);
  qme::tools::add_shard_flags(app, o.job.shard);
  app.add_flag("--merge_shards", o.merge_shards,
               "assemble the parts of a --num_shards run into the center files and the training-frames "
               "cache");
  app.add_option("--seed", o.job.seed, "seed of the face-crop choice (frames with several faces)")
      ->capture_default_str();
  qme::tools::add_device_flag(app, o.device);
  qme::tools::add_log_level_flag(app, o.log_level);
}

int run(const Options& o) {
  qme::setup_logging(o.log_level);
  qme::tools::check_shard_flags(o.job.shard, !o.merge_shards, o.merge_shards, "extraction", "--merge_shards");
  if (o.merge_shards) {
    const auto result = qme::pipeline::merge_center_shards(o.job.save_path, o.job.model, o.job.dataset,
                                                           o.job.num_sample, o.job.shard.num_shards);
    std::printf("%s\n%s\n%s\n", result.frames_path.c_str(), result.centers_path.c_str(),
                result.training_frames_path.c_str());
    return qme::kExitOk;
  }
  auto options = o.job;
  // Upstream reads only the weight paths: the model list is overwritten with --mode.
  options.backbone = qme::config::load_backbone_config(
      o.backbone_cfg.empty() ? qme::config::default_backbone_config_path(options.dataset) : o.backbone_cfg);
  options.device = qme::train::resolve_device(o.device).str();
  spdlog::debug("{} centers for {} on {}, weights from {}", options.model, options.dataset, options.device,
                options.backbone.source);
  const auto result = qme::pipeline::extract_centers(options);
  std::printf("%s\n", result.frames_path.c_str());
  if (!result.centers_path.empty()) std::printf("%s\n", result.centers_path.c_str());
  std::printf("%s\n", result.training_frames_path.c_str());
  return qme::kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Center features of a training set for one model (upstream precompute_center.py)",
               "qme_precompute_center"};
  Options options;
  add_flags(app, options);
  return qme::tools::run_tool(app, argc, argv, [&] { return run(options); });
}

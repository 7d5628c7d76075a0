/// qme_precompute_center: per-identity, per-outfit center features of a training set for one
/// model, as upstream's precompute_center.py, plus qme's training-frames cache. Flags keep
/// upstream's names and defaults; --num_shards/--shard_index split the work, --merge_shards
/// assembles the parts.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "common_flags.hpp"
#include "qme/backbone/extraction.hpp"
#include "qme/config/backbone_config.hpp"
#include "qme/core/error.hpp"
#include "qme/core/logging.hpp"
#include "qme/train/device.hpp"
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
  int64_t views = 1;
  int64_t batch_frames = 32;
  int num_workers = 1;
  bool optimize = true;
  int64_t num_shards = 1;
  int64_t shard_index = 0;
  bool merge_shards = false;
  uint64_t seed = 1;
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
  app.add_option("--train_batch", o.train_batch,
                 "upstream's samples per batch; accepted for compatibility, qme batches by --batch_frames")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--num_sample", o.num_sample, "frames per training sample (dense sampling step)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--views", o.views, "rows per frame in the training-frames cache (> 1: augmented views)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--batch_frames", o.batch_frames, "frames per forward pass")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--num_workers", o.num_workers, "threads reading and resizing frames")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  qme::tools::add_optimize_flag(app, o.optimize);
  qme::tools::add_shard_flags(app, o.num_shards, o.shard_index);
  app.add_flag("--merge_shards", o.merge_shards,
               "assemble the parts of a --num_shards run into the center files and the training-frames "
               "cache");
  app.add_option("--seed", o.seed, "seed of the face-crop choice (frames with several faces)")
      ->capture_default_str();
  qme::tools::add_device_flag(app, o.device);
  qme::tools::add_log_level_flag(app, o.log_level);
}

int run(const Options& o) {
  qme::setup_logging(o.log_level);
  qme::tools::check_shard_flags(o.num_shards, o.shard_index, !o.merge_shards, o.merge_shards, "extraction",
                                "--merge_shards");
  if (o.merge_shards) {
    const auto result =
        qme::backbone::merge_center_shards(o.save_path, o.mode, o.dataset, o.num_sample, o.num_shards);
    std::printf("%s\n%s\n%s\n", result.frames_path.c_str(), result.centers_path.c_str(),
                result.training_frames_path.c_str());
    return qme::kExitOk;
  }
  // Upstream reads only the weight paths: the model list is overwritten with --mode.
  const auto backbone = qme::config::load_backbone_config(
      o.backbone_cfg.empty() ? qme::config::default_backbone_config_path(o.dataset) : o.backbone_cfg);
  const auto device = qme::train::resolve_device(o.device);
  spdlog::debug("{} centers for {} on {}, weights from {}", o.mode, o.dataset, device.str(), backbone.source);
  qme::backbone::CenterExtractionOptions options;
  options.model = o.mode;
  options.dataset = o.dataset;
  options.root = o.root;
  options.backbone = backbone;
  options.device = device.str();
  options.batch_frames = o.batch_frames;
  options.num_workers = o.num_workers;
  options.optimize = o.optimize;
  options.seed = o.seed;
  options.shard = {o.num_shards, o.shard_index};
  options.save_path = o.save_path;
  options.num_sample = o.num_sample;
  options.views = o.views;
  const auto result = qme::backbone::extract_centers(options);
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

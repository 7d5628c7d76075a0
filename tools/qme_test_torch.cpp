// qme_test's LibTorch module: the runs qme_test cannot do without LibTorch, feature extraction
// (--eval_mode feat, merge) and scores on a CUDA device. qme_test (torch-free) opens it with
// dlopen only for those runs and hands it its command line, which it runs as a whole.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

#include "qme/core/logging.hpp"
#include "qme/pipeline/extraction.hpp"
#include "qme/scores/device_scores.hpp"
#include "qme/train/device.hpp"
#include "qme_test_cli.hpp"
#include "tool_main.hpp"

namespace {

using qme::tools::test_tool::Options;
using qme::tools::test_tool::report;

/// --eval_mode feat: extract (one shard of) the test features; a whole run also reports.
int extract(const Options& o, const qme::config::BackboneConfig& backbone,
            const qme::scores::ScoreOptions& scores) {
  auto options = o.feat;
  options.backbone = backbone;
  options.device = scores.device;
  const auto result = qme::pipeline::extract_test_features(options);
  if (options.shard.sharded()) {
    std::printf("%s\n", result.features_path.c_str());
    spdlog::info(
        "shard {} of {} done; once every shard is, assemble them with --eval_mode merge "
        "--num_shards {}",
        options.shard.shard_index, options.shard.num_shards, options.shard.num_shards);
    return qme::kExitOk;
  }
  return report(o, scores);
}

int run(const Options& o) {
  qme::setup_logging(o.log_level);
  const auto backbone = qme::tools::test_tool::check_flags(o);
  qme::scores::enable_device_scores();
  qme::scores::ScoreOptions scores;
  scores.device = qme::train::resolve_device(o.device).str();
  spdlog::debug("{} for {} on {} ({})", o.eval_mode, o.feat.model, o.feat.dataset, scores.device);
  if (o.eval_mode == "feat") return extract(o, backbone, scores);
  if (o.eval_mode == "merge") {
    qme::pipeline::merge_test_shards(o.feat.feats_dir, o.feat.model, o.feat.dataset, o.feat.shard.num_shards);
    return report(o, scores);
  }
  if (o.eval_mode == "gather") return qme::tools::test_tool::gather(o, scores);
  return report(o, scores);
}

}  // namespace

extern "C" __attribute__((visibility("default"))) int qme_test_torch_main(int argc, char** argv) {
  CLI::App app{"Test features, one model's report, or a score-matrix file (upstream test.py)", "qme_test"};
  Options options;
  qme::tools::test_tool::add_flags(app, options);
  return qme::tools::run_tool(app, argc, argv, [&] { return run(options); });
}

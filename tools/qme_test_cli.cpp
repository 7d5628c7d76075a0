#include "qme_test_cli.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common_flags.hpp"
#include "qme/core/error.hpp"
#include "qme/eval/paper_table.hpp"
#include "qme/io/output_directory.hpp"
#include "qme/io/text_file.hpp"
#include "qme/pipeline/score_jobs.hpp"
#include "qme/pipeline/tables_job.hpp"

namespace qme::tools::test_tool {

pipeline::TestExtractionOptions Options::upstream_defaults() {
  pipeline::TestExtractionOptions feat;  // upstream test.py's defaults
  feat.model = "aim";
  feat.dataset = "mevid";
  feat.root = "/data";
  return feat;
}

namespace {

std::vector<std::string> split_models(const std::string& text) {
  std::vector<std::string> models;
  std::stringstream in(text);
  for (std::string model; std::getline(in, model, ',');) models.push_back(model);
  return models;
}

// --mode is one model, or for gather a comma-separated list (upstream: mode.split(',')).
const CLI::Validator kModelList(
    [](std::string& value) -> std::string {
      const auto& known = qme::config::known_models();
      for (const auto& model : split_models(value)) {
        if (std::find(known.begin(), known.end(), model) != known.end()) continue;
        std::string names;
        for (const auto& name : known) names += (names.empty() ? "" : ", ") + name;
        return "unknown model '" + model + "' (known models: " + names + ")";
      }
      return "";
    },
    "MODEL[,MODEL...]");

}  // namespace

void add_flags(CLI::App& app, Options& o) {
  app.add_option("--mode", o.feat.model, "model name; for gather, comma-separated model names")
      ->check(kModelList)
      ->capture_default_str();
  add_dataset_flag(app, o.feat.dataset);
  app.add_option("--eval_mode", o.eval_mode,
                 "feat: extract test features and report; merge: assemble the --num_shards parts of "
                 "feat; score: report from a features file; gather: score-matrix file for the --mode models")
      ->check(CLI::IsMember({"feat", "merge", "score", "gather"}))
      ->capture_default_str();
  app.add_option("--backbone_cfg", o.backbone_cfg,
                 "backbone config for the model's weights, read by feat (default: "
                 "configs/backbone_cfg-{dataset}.yaml)");
  add_root_flag(app, o.feat.root);
  app.add_option("--feats_dir", o.feat.feats_dir, "folder of features and score-matrix files")
      ->capture_default_str();
  add_device_flag(app, o.device,
                  ": where features are extracted (feat) and the score matrices' products run "
                  "(score, gather)");
  app.add_option("--json", o.json, "score, feat, merge: write the model's full evaluation report as JSON");
  app.add_option("--batch_frames", o.feat.batch_frames,
                 "feat: frames per forward pass (clips of 8 frames: this / 8)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--num_workers", o.feat.num_workers, "feat: threads reading and resizing frames")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  add_optimize_flag(app, o.feat.optimize, "feat: ");
  add_shard_flags(app, o.feat.shard);
  app.add_option("--seed", o.feat.seed, "feat: seed of the face-crop choice (frames with several faces)")
      ->capture_default_str();
  add_log_level_flag(app, o.log_level);
}

namespace {

/// Every metric of a report, one per line ("nan": a value upstream cannot define).
std::string format_report(const qme::eval::EvaluationReport& report) {
  std::string text;
  char line[160];
  for (const auto& [name, value] : report.entries()) {
    std::snprintf(line, sizeof line, "  %-28s %.6g\n", name.c_str(), value);
    text += line;
  }
  return text;
}

}  // namespace

int report(const Options& o, const scores::ScoreOptions& scores) {
  qme::pipeline::ScoreJobOptions options;
  options.model = o.feat.model;
  options.dataset = o.feat.dataset;
  options.feats_dir = o.feat.feats_dir;
  options.scores = scores;
  const auto result = qme::pipeline::run_score(options);
  std::fputs(qme::eval::format_paper_table(qme::pipeline::table_columns(result), false).c_str(), stdout);
  std::printf("\nfull report (%s):\n%s", options.model.c_str(),
              format_report(result.single.front().report).c_str());
  if (!o.json.empty()) qme::io::write_text_file(o.json, qme::pipeline::tables_to_json(result).dump(1) + "\n");
  return qme::kExitOk;
}

/// --eval_mode gather: the score-matrix file of the --mode models.
int gather(const Options& o, const scores::ScoreOptions& scores) {
  qme::pipeline::GatherOptions options;
  options.models = split_models(o.feat.model);
  options.dataset = o.feat.dataset;
  options.feats_dir = o.feat.feats_dir;
  options.scores = scores;
  std::printf("%s\n", qme::pipeline::run_gather(options).path.c_str());
  return qme::kExitOk;
}

config::BackboneConfig check_flags(const Options& o) {
  const bool extracts = o.eval_mode == "feat";
  const auto& model = o.feat.model;
  if (o.eval_mode != "gather" && split_models(model).size() != 1) {
    throw qme::UsageError("--eval_mode " + o.eval_mode + " takes one model in --mode, got '" + model + "'");
  }
  if (o.eval_mode == "gather" && !o.json.empty()) {
    throw qme::UsageError("--json applies to --eval_mode score and feat (gather writes a score-matrix file)");
  }
  check_shard_flags(o.feat.shard, extracts, o.eval_mode == "merge", "--eval_mode feat", "--eval_mode merge");
  qme::io::check_output_file(o.json);  // before any work ("": none)
  // Only feature extraction needs weights; score and gather read --feats_dir alone, so a
  // missing default config must not stop them.
  qme::config::BackboneConfig backbone;
  if (extracts || !o.backbone_cfg.empty()) {
    backbone = qme::config::load_backbone_config(
        o.backbone_cfg.empty() ? qme::config::default_backbone_config_path(o.feat.dataset) : o.backbone_cfg);
    spdlog::debug("weights from {}", backbone.source);
  }
  return backbone;
}

bool needs_libtorch(const Options& o) {
  if (o.eval_mode == "feat" || o.eval_mode == "merge") return true;
  if (o.device == "cpu") return false;
#ifdef QME_TORCH_HAS_CUDA
  return true;  // "auto" looks for a GPU, "cuda[:N]" needs one
#else
  return o.device != "auto";  // this LibTorch has no CUDA: "auto" is the CPU
#endif
}

}  // namespace qme::tools::test_tool

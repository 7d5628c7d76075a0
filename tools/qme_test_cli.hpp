#pragma once
/// What qme_test (torch-free) and its LibTorch module (qme_test_torch.cpp) share: the flags,
/// their checks, and the score and gather jobs, which run on the CPU without LibTorch.
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "qme/config/backbone_config.hpp"
#include "qme/pipeline/extraction.hpp"
#include "qme/scores/score_matrices.hpp"

namespace qme::tools::test_tool {

/// The flags bind straight to the feature extraction's options, whose model, dataset and folder
/// the score and gather jobs read too; the rest are what the tool resolves or writes.
struct Options {
  pipeline::TestExtractionOptions feat = upstream_defaults();
  std::string eval_mode = "score";
  std::string backbone_cfg;  // empty: configs/backbone_cfg-{dataset}.yaml
  std::string device = "auto";
  std::string json;  // score: the full report as JSON
  std::string log_level = "info";

  static pipeline::TestExtractionOptions upstream_defaults();
};

void add_flags(CLI::App& app, Options& o);

/// The flags' combinations (before any work); the backbone config where the run reads one.
config::BackboneConfig check_flags(const Options& o);

/// Whether the run needs LibTorch: feature extraction (feat, merge), or scores on a device other
/// than the CPU's kernels ("auto" only where this build's LibTorch has CUDA).
bool needs_libtorch(const Options& o);

/// --eval_mode score (and the end of feat, merge): one model's report from its features file.
int report(const Options& o, const scores::ScoreOptions& scores);

/// --eval_mode gather: the score-matrix file of the --mode models.
int gather(const Options& o, const scores::ScoreOptions& scores);

}  // namespace qme::tools::test_tool

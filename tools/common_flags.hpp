#pragma once
/// Flags several executables share, spelled, documented and checked the same
/// way everywhere (names as upstream's argparse flags).
#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "qme/config/backbone_config.hpp"
#include "qme/core/error.hpp"
#include "qme/pipeline/extraction.hpp"
#include "qme/synthetic/synthetic_scores.hpp"

namespace qme::tools {

inline CLI::Option* add_dataset_flag(CLI::App& app, std::string& dataset) {
  return app.add_option("--dataset", dataset, "ccvid, mevid or ltcc")
      ->check(CLI::IsMember(qme::config::known_datasets()))
      ->capture_default_str();
}

inline CLI::Option* add_root_flag(CLI::App& app, std::string& root) {
  return app.add_option("--root", root, "root folder of the datasets")->capture_default_str();
}

inline CLI::Option* add_device_flag(CLI::App& app, std::string& device, const std::string& what = "") {
  return app.add_option("--device", device, "auto (CUDA when available), cpu, cuda or cuda:N" + what)
      ->capture_default_str();
}

/// --spread, --gain, --quantum, --faceless: the shape of synthetic scores (qme_synth_scores and
/// the benchmarks), so a figure can be reproduced on realistic distributions.
inline void add_score_distribution_flags(CLI::App& app, qme::synthetic::ScoreDistribution& d) {
  app.add_option("--spread", d.spread_scale, "impostor spread x this (a narrow band: < 1)")
      ->capture_default_str();
  app.add_option("--gain", d.gain_scale, "genuine gain x this (matches in the bulk: < 1)")
      ->capture_default_str();
  app.add_option("--quantum", d.quantum, "round scores to multiples of this (ties; 0: none)")
      ->capture_default_str();
  app.add_option("--faceless", d.faceless_fraction, "share of probes with all-zero face rows")
      ->capture_default_str();
}

inline CLI::Option* add_log_level_flag(CLI::App& app, std::string& level) {
  return app.add_option("--log_level", level, "trace, debug, info, warn, error or off")
      ->capture_default_str();
}

/// --optimize true|false: the extraction's fidelity switch (README "Feature extraction").
inline CLI::Option* add_optimize_flag(CLI::App& app, bool& optimize, const std::string& prefix = "") {
  return app
      .add_option("--optimize", optimize,
                  prefix +
                      "true: fold BatchNorm into the convolutions (optimize_for_inference), faster, features "
                      "within ~5e-4 relative of the eager model; false: run the export as it is")
      ->capture_default_str();
}

/// --num_shards / --shard_index: one shard of an extraction (e.g. a Slurm array task).
inline void add_shard_flags(CLI::App& app, pipeline::ShardSpec& shard) {
  app.add_option("--num_shards", shard.num_shards,
                 "split the extraction by video into this many shards (one per job), then merge them")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--shard_index", shard.shard_index,
                 "the shard this run extracts, 0 .. num_shards-1 (e.g. $SLURM_ARRAY_TASK_ID)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
}

/// UsageError unless the shard flags fit the mode: an index below the count, sharding only when
/// extracting (`extract_name`), and a merge (`merge_name`) of at least two shards.
inline void check_shard_flags(const pipeline::ShardSpec& shard, bool extracting, bool merging,
                              const std::string& extract_name, const std::string& merge_name) {
  const auto [num_shards, shard_index] = shard;
  if (shard_index >= num_shards) {
    throw UsageError("--shard_index " + std::to_string(shard_index) + " must be below --num_shards " +
                     std::to_string(num_shards));
  }
  if (merging && num_shards < 2) {
    throw UsageError(merge_name + " needs --num_shards N (N >= 2), the shard count of the runs to merge");
  }
  if (!extracting && !merging && (num_shards > 1 || shard_index > 0)) {
    throw UsageError("--num_shards and --shard_index apply to " + extract_name + " and " + merge_name);
  }
}

}  // namespace qme::tools

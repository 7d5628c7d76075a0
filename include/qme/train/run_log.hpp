#pragma once
/// A training run's records on disk (torch-free):
/// - `log.jsonl`, one JSON object per line: {"event": "start", ...} once, {"event": "step",
///   "step", "epoch", "loss", "lr", ["dropped"]} per step, {"event": "eval", "step", ...every
///   metric...} per evaluation and {"event": "end", ...} at the end. It holds no times, so the
///   same seed and inputs give the same file, byte for byte, interrupted and resumed or not;
/// - `state.json`, the resume point: steps done, the trainer's resume file, the log's length
///   then, model selection (best so far, early-stop counter) and the run's settings. Written
///   atomically after the files it names, so it never points at a half-written file.
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace qme::train {

class RunLog {
 public:
  /// Opens `path` for appending. keep_bytes < 0 (a fresh run) empties it; otherwise (a resumed
  /// run) it is cut to `keep_bytes`, the length recorded with the checkpoint, dropping records
  /// of steps after it. Throws InputError naming the file when it cannot be opened or is
  /// shorter than keep_bytes.
  RunLog(std::string path, int64_t keep_bytes);

  /// Appends `record` as one line.
  void write(const nlohmann::json& record);
  /// Flushes to disk; returns the file's length.
  int64_t flush();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::ofstream out_;
  int64_t bytes_ = 0;
};

struct RunState {
  int64_t steps_done = 0;
  int64_t log_bytes = 0;
  std::string trainer_state;  ///< the trainer's resume file, relative to the run folder
  int64_t evaluations = 0;
  // model selection (score_loss)
  bool has_best = false;
  double best_overall = 0.0;
  int64_t best_step = 0;
  std::string best_model;       ///< the best model's checkpoint, relative to the run folder
  nlohmann::json best_metrics;  ///< its evaluation report
  int64_t early_stop_counter = 0;
  // the end
  bool finished = false;
  std::string stop_reason;           ///< early_stop, max_step, epochs
  std::string final_checkpoint;      ///< score_loss: the selected checkpoint's path
  std::vector<std::string> outputs;  ///< files written for the user (weights, checkpoints)
  nlohmann::json settings;           ///< what must not change between a run and its resumption
};

nlohmann::json to_json(const RunState& state);
/// Throws InputError naming `source` and the key when a field is missing or of the wrong type.
RunState run_state_from_json(const nlohmann::json& json, const std::string& source);

/// Writes `state` atomically (temporary file + rename).
void write_run_state(const std::string& path, const RunState& state);
/// Throws InputError naming the file when it is missing or malformed.
RunState read_run_state(const std::string& path);

/// The keys of two settings objects whose values differ ("key: was A, now B; ..."), leaving
/// out `ignored`; empty when they agree.
std::string describe_settings_change(const nlohmann::json& before, const nlohmann::json& now,
                                     const std::vector<std::string>& ignored = {});

}  // namespace qme::train

#pragma once
/// Progress of a long loop (feature extraction, training steps) with rate and ETA. spdlog stays
/// the logger: on a terminal the reporter redraws one status line on stderr (`\r`), elsewhere
/// (logs, Slurm) it writes an info line through spdlog every `log_interval_s` seconds, and always
/// a last line when the loop ends. Nothing is shown when spdlog's level is above info.
///
///   qme::ProgressReporter progress("query clips", clips.size(), {"clip"});
///   for (...) { ...; progress.advance(batch_size); }
///   progress.finish();
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <utility>

namespace qme {

struct ProgressOptions {
  ProgressOptions() = default;
  explicit ProgressOptions(std::string counted) : unit(std::move(counted)) {}

  std::string unit = "it";         ///< what is counted, shown in the rate ("12.5 clip/s")
  double log_interval_s = 30;      ///< seconds between lines when stderr is not a terminal
  double redraw_interval_s = 0.2;  ///< seconds between redraws on a terminal
  /// Where lines go: nullptr = automatic (terminal: redraw on stderr, otherwise spdlog). Tests
  /// and embedders pass their own; `final` marks the last line.
  std::function<void(const std::string& line, bool final)> sink;
  /// Seconds since an arbitrary origin; nullptr = std::chrono::steady_clock. For tests.
  std::function<double()> clock;
};

/// "label  45/100 [=========>          ] 45%  12.3 clip/s  ETA 4s  loss 0.12": a pure function of
/// its arguments (no clock), so it can be tested. `total` <= 0 means unknown (no bar, no ETA).
std::string format_progress(const std::string& label, int64_t done, int64_t total, double elapsed_s,
                            const std::string& unit, const std::string& postfix = "");

/// "45s", "3m05s", "2h01m".
std::string format_duration(double seconds);

/// Thread-safe: workers may call advance() concurrently.
class ProgressReporter {
 public:
  ProgressReporter(std::string label, int64_t total, ProgressOptions options = {});
  /// Finishes (one last line) if finish() was not called.
  ~ProgressReporter();
  ProgressReporter(const ProgressReporter&) = delete;
  ProgressReporter& operator=(const ProgressReporter&) = delete;

  /// Counts `n` more units done and shows the line if it is due.
  void advance(int64_t n = 1);
  /// Extra text after the ETA, e.g. the current loss; shown with the next line.
  void set_postfix(std::string postfix);
  /// Shows the last line (with the total time) once; later calls do nothing.
  void finish();

  int64_t done() const;
  double elapsed_s() const;

 private:
  void emit(bool final);

  std::string label_;
  int64_t total_;
  ProgressOptions options_;
  bool terminal_ = false;
  double start_ = 0;
  double last_emit_ = 0;
  int64_t done_ = 0;
  std::string postfix_;
  bool finished_ = false;
  mutable std::mutex mutex_;
};

}  // namespace qme

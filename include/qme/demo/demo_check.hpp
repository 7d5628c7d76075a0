#pragma once
/// Checks what demo/run_demo.sh leaves in its output folder: every file of every stage exists
/// and opens with the reader that consumes it, and QME is compared with the single models and
/// the classic baselines on the selection metric (GR_top1 + GR_mAP + TAR@1.00%FAR -
/// FNIR@1.00%FPIR, x100, what QME training selects by).
#include <string>
#include <utility>
#include <vector>

namespace qme::demo {

struct DemoCheckOptions {
  std::string out;  ///< the demo's --out folder
  std::string dataset = "ccvid";
  /// The column QME must beat: a baseline name (zscore, minmax, rhe, min, mean, max) or "best"
  /// (the best of the baselines in the table).
  std::string beat = "best";
};

struct DemoCheckResult {
  std::vector<std::string> files_checked;
  std::vector<std::pair<std::string, double>> overall;  ///< column -> selection metric, table order
  std::string target;                                   ///< the column QME was compared with
  double target_overall = 0, qme_overall = 0;
  bool qme_wins = false;
};

/// Throws InputError naming the first file that is missing or does not open (and what was
/// expected in it); returns the comparison.
DemoCheckResult check_demo_output(const DemoCheckOptions& options);

/// The comparison as text: one line per column, then the verdict.
std::string format_demo_check(const DemoCheckResult& result);

}  // namespace qme::demo

#pragma once
/// The paper-style table: one row per headline metric, one column per model,
/// baseline or QME, in percent with one decimal (upstream: round(3) * 100).
#include <string>
#include <vector>

#include "qme/eval/evaluation_report.hpp"

namespace qme::eval {

struct TableColumn {
  std::string name;
  const EvaluationReport* report;
  /// Optional: a ± per metric printed after the value (e.g. half a bootstrap interval).
  const EvaluationReport* spread = nullptr;
};

/// GR_top1, GR_mAP, TAR@1.00%FAR, FNIR@1.00%FPIR, FNIR@1.00%FPIR_std, CC_top1, CC_mAP.
const std::vector<std::string>& paper_table_rows();

/// numpy's round(value, 3) * 100, as the notebook prints it; NaN stays NaN.
double table_percent(double value);

/// Rows of cells (the first row the header) as fixed-width text, the first column left-aligned
/// and the others right-aligned, or as a GitHub Markdown table when `markdown`.
std::string format_text_table(const std::vector<std::vector<std::string>>& cells, bool markdown);

/// Fixed-width text, or a GitHub Markdown table when `markdown`.
std::string format_paper_table(const std::vector<TableColumn>& columns, bool markdown);

}  // namespace qme::eval

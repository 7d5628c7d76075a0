#pragma once
/// qme_tables --quality_bins: the probes split into B bins of equal size by their face quality
/// weight (quantile edges), and every column's full evaluation report per bin, so that a table
/// shows how each model and fusion behaves on low- and high-quality probes.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "qme/core/identity_labels.hpp"
#include "qme/core/score_matrix.hpp"
#include "qme/eval/evaluation_report.hpp"
#include "qme/eval/score_fusion.hpp"

namespace qme::analysis {

/// B + 1 bin edges: numpy.quantile(weights, numpy.linspace(0, 1, B + 1)) with numpy's default
/// ("linear") interpolation, computed in double. Throws UsageError naming --quality_bins when
/// bins < 1, InputError when `weights` is empty or holds a NaN or an infinite weight.
std::vector<double> quality_bin_edges(const std::vector<float>& weights, int bins);

/// The bin of each weight: b with edges[b] <= w < edges[b + 1], the last bin closed on the right
/// (numpy.digitize(w, edges[1:-1])), so that every weight inside [edges.front(), edges.back()]
/// lands in exactly one bin. Tied weights may leave a bin empty (two equal edges): it is kept.
std::vector<int> quality_bin_of(const std::vector<float>& weights, const std::vector<double>& edges);

/// The matrices' rows and the query labels of `probes` (indices, in the order given); gallery
/// and subjects unchanged.
ModelScores select_probes(const ModelScores& scores, const std::vector<int64_t>& probes);
TestLabels select_probes(const TestLabels& labels, const std::vector<int64_t>& probes);

struct QualityBinsOptions {
  std::vector<float> weights;  // one per probe, in score-matrix order
  int bins = 5;
  eval::EvalOptions eval;         // per-bin evaluation (its context is replaced by the column and bin)
  std::string weights_file = {};  // optional: named in the error when the weights do not fit
};

/// One evaluated column and its report for each bin, lowest quality first.
struct QualityBinColumn {
  std::string key;    // as in the tables JSON ("adaface", "zscore", "qme")
  std::string label;  // as in the table ("QME")
  eval::ColumnKind kind = eval::ColumnKind::kModel;
  std::vector<eval::EvaluationReport> reports;
};

/// The quality bins of one qme_tables run. The edges and the bins' probes are fixed when it is
/// constructed (throwing as quality_bin_edges does); each column observed adds its reports.
class QualityBins {
 public:
  explicit QualityBins(QualityBinsOptions options);
  QualityBins(const QualityBins&) = delete;  // observer() holds `this`
  QualityBins& operator=(const QualityBins&) = delete;

  /// For TablesOptions::observers (this object must outlive the run). Throws InputError when the
  /// score matrices have a different number of probes than there are weights.
  eval::ScoresObserver observer();
  /// What observer() does for one column.
  void add(const eval::TableColumnId& column, const ModelScores& scores, const TestLabels& labels);

  int num_bins() const { return static_cast<int>(probes_.size()); }
  const std::vector<double>& edges() const { return edges_; }
  /// The probes of each bin, ascending.
  const std::vector<std::vector<int64_t>>& probes() const { return probes_; }
  std::vector<int64_t> counts() const;
  const std::vector<QualityBinColumn>& columns() const { return columns_; }

 private:
  QualityBinsOptions options_;
  std::vector<double> edges_;
  std::vector<std::vector<int64_t>> probes_;
  std::vector<QualityBinColumn> columns_;
};

/// {"edges": [B + 1 numbers], "counts": [B probe counts],
///  "columns": {column key: [one report per bin: {metric: value}]}}; NaN -> null.
nlohmann::json quality_bins_json(const QualityBins& bins);

/// One metric per bin as a table: a row per bin ("1: [0, 0.017) n=30"), a column per evaluated
/// column, values in percent with one decimal as in the paper table ("n/a" where undefined).
std::string format_quality_bins_table(const QualityBins& bins, const std::string& metric, bool markdown);

}  // namespace qme::analysis

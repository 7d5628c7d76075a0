#pragma once
/// What `qme_tables` does, as a library call: read a score-matrix file,
/// evaluate each model, each classic baseline and each learned fusion (QME),
/// and return every report with its in-process evaluation time.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "qme/eval/classic_fusion.hpp"
#include "qme/eval/evaluation_report.hpp"
#include "qme/eval/paper_table.hpp"

namespace qme::eval {

/// Fused matrices from the evaluated models' matrices (names and matrices in table order) and
/// the file's labels. Throws InputError when it cannot fuse these models.
using LearnedFusionFn =
    std::function<ModelScores(const std::vector<std::string>& models,
                              const std::vector<const ModelScores*>& scores, const TestLabels& labels)>;

/// A fusion computed outside eval: QME needs LibTorch, which eval must not include, so the
/// caller (qme_tables, via qme::fusion) supplies it and run_tables evaluates its matrices
/// exactly like the baselines'.
/// Refuses inputs a learned fusion cannot use (e.g. a face-weights file with a different number
/// of probes), by throwing; run_tables calls it before any work.
using LearnedFusionCheck =
    std::function<void(const std::vector<std::string>& models, const TestLabels& labels)>;

struct LearnedFusion {
  std::string name;    // report key, e.g. "qme"
  std::string column;  // table column, e.g. "QME"
  LearnedFusionFn fuse;
  LearnedFusionCheck check;  // optional
};

/// Which part of the table a column belongs to.
enum class ColumnKind { kModel, kBaseline, kLearned };

/// Names one column of the table: `key` as in the JSON and in file names (the model name, the
/// baseline method, or the learned fusion's report key such as "qme"), `label` as printed in
/// the table and the plots' legends (e.g. "QME").
struct TableColumnId {
  std::string key;
  std::string label;
  ColumnKind kind = ColumnKind::kModel;
};

/// Sees each evaluated column's matrices while they are still in memory (the plots' curves,
/// the rank lists, the bootstrap and the quality bins are computed from them).
using ScoresObserver =
    std::function<void(const TableColumnId& column, const ModelScores& scores, const TestLabels& labels)>;

struct TablesOptions {
  std::string scoremats;                // scoremats_{ds}.h5
  std::vector<std::string> models;      // empty: every model in the file
  std::vector<FusionMethod> baselines;  // evaluated on `models`, in this order
  std::vector<LearnedFusion> learned;   // evaluated after the baselines, in this order
  uint32_t seed = 45;
  int num_threads = 0;
  /// Each is called after each column's evaluation, in table order, in the order given.
  std::vector<ScoresObserver> observers;
};

struct NamedReport {
  std::string name;
  EvaluationReport report;
  double seconds = 0;  // in-process time of evaluate()
};

struct LearnedReport {
  NamedReport named;   // named.name: the report key, e.g. "qme"
  std::string column;  // the table column, e.g. "QME"
};

struct TablesResult {
  std::vector<std::string> models;
  std::vector<NamedReport> single;
  std::vector<NamedReport> fusion;
  std::vector<LearnedReport> learned;
};

/// Throws InputError / UsageError on a bad file, an unknown model, etc.
TablesResult run_tables(const TablesOptions& options);

/// One report as JSON: metric name -> number, null where the value is undefined (NaN).
nlohmann::json report_json(const EvaluationReport& report);

/// {"models": [...], "single": {m: report}, "fusion": {method: report},
///  "<learned>": report (e.g. "qme"),
///  "timing_s": {"single/<m>": s, "fusion/<method>": s, "<learned>": s}}; NaN -> null.
nlohmann::json tables_to_json(const TablesResult& result);

/// Every metric of every report: header "metric,<col>,...", full precision.
std::string tables_to_csv(const TablesResult& result);

/// The paper table's columns: models, then baselines, then learned fusions.
std::vector<TableColumn> table_columns(const TablesResult& result);

}  // namespace qme::eval

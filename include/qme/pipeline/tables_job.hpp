#pragma once
/// What `qme_tables` does, as a library call (the pipeline area holds the executables' jobs): read a
/// score-matrix file, evaluate each model, each classic baseline and each learned fusion (QME), and return
/// every report with its in-process evaluation time.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "qme/eval/classic_fusion.hpp"
#include "qme/eval/evaluation_report.hpp"
#include "qme/eval/paper_table.hpp"
#include "qme/eval/score_fusion.hpp"

namespace qme::pipeline {

using eval::NamedReport;

struct TablesOptions {
  std::string scoremats;                      // scoremats_{ds}.h5
  std::vector<std::string> models;            // empty: every model in the file
  std::vector<eval::FusionMethod> baselines;  // evaluated on `models`, in this order
  /// Learned fusions (e.g. QME, from qme::fusion, which eval cannot include), evaluated after
  /// the baselines, in this order.
  std::vector<std::shared_ptr<eval::ScoreFusion>> learned;
  uint32_t seed = 45;
  int num_threads = 0;
  /// Each is called after each column's evaluation, in table order, in the order given.
  std::vector<eval::ScoresObserver> observers;
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

/// {"models": [...], "single": {m: report}, "fusion": {method: report},
///  "<learned>": report (e.g. "qme"),
///  "timing_s": {"single/<m>": s, "fusion/<method>": s, "<learned>": s}}; NaN -> null.
nlohmann::json tables_to_json(const TablesResult& result);

/// Every metric of every report: header "metric,<col>,...", full precision.
std::string tables_to_csv(const TablesResult& result);

/// The paper table's columns: models, then baselines, then learned fusions.
std::vector<eval::TableColumn> table_columns(const TablesResult& result);

}  // namespace qme::pipeline

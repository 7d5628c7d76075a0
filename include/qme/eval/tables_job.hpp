#pragma once
/// What `qme_tables` does, as a library call: read a score-matrix file,
/// evaluate each model and each classic baseline, and return every report
/// with its in-process evaluation time.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "qme/eval/classic_fusion.hpp"
#include "qme/eval/evaluation_report.hpp"
#include "qme/eval/paper_table.hpp"

namespace qme::eval {

struct TablesOptions {
  std::string scoremats;                // scoremats_{ds}.h5
  std::vector<std::string> models;      // empty: every model in the file
  std::vector<FusionMethod> baselines;  // evaluated on `models`, in this order
  uint32_t seed = 45;
  int num_threads = 0;
};

struct NamedReport {
  std::string name;
  EvaluationReport report;
  double seconds = 0;  // in-process time of evaluate()
};

struct TablesResult {
  std::vector<std::string> models;
  std::vector<NamedReport> single;
  std::vector<NamedReport> fusion;
};

/// Throws InputError / UsageError on a bad file, an unknown model, etc.
TablesResult run_tables(const TablesOptions& options);

/// {"models": [...], "single": {m: report}, "fusion": {method: report},
///  "timing_s": {"single/<m>": s, "fusion/<method>": s}}; NaN -> null.
nlohmann::json tables_to_json(const TablesResult& result);

/// Every metric of every report: header "metric,<col>,...", full precision.
std::string tables_to_csv(const TablesResult& result);

/// The paper table's columns: models, then baselines.
std::vector<TableColumn> table_columns(const TablesResult& result);

}  // namespace qme::eval

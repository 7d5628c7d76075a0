#include "qme/pipeline/tables_job.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "qme/core/error.hpp"
#include "qme/eval/paper_table.hpp"
#include "qme/formats/score_matrix_file.hpp"

namespace qme::pipeline {

using eval::ColumnKind;
using eval::TableColumnId;

namespace {

NamedReport timed_report(const std::string& name, const ModelScores& scores, const TestLabels& labels,
                         const TablesOptions& options) {
  eval::EvalOptions eval_options;
  eval_options.open_set.seed = options.seed;
  eval_options.num_threads = options.num_threads;
  eval_options.context = name;
  const auto start = std::chrono::steady_clock::now();
  NamedReport out{name, eval::evaluate(scores.score_mat, scores.merge_score_mat, labels, eval_options), 0};
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  spdlog::info("{}: evaluated in {:.1f} ms", name, out.seconds * 1e3);
  return out;
}

void notify(const TablesOptions& options, const TableColumnId& column, const ModelScores& scores,
            const TestLabels& labels) {
  for (const auto& observer : options.observers) observer(column, scores, labels);
}

std::string csv_number(double v) {
  if (std::isnan(v)) return "";
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%.17g", v);
  return buffer;
}

}  // namespace

namespace {

/// The fused columns in table order: the baselines, then the learned fusions.
std::vector<std::shared_ptr<eval::ScoreFusion>> fused_columns(const TablesOptions& options) {
  std::vector<std::shared_ptr<eval::ScoreFusion>> columns;
  for (auto& classic : eval::classic_score_fusions(options.baselines, options.num_threads))
    columns.push_back(std::move(classic));
  columns.insert(columns.end(), options.learned.begin(), options.learned.end());
  return columns;
}

void record(TablesResult& result, const TableColumnId& column, NamedReport named) {
  if (column.kind == ColumnKind::kLearned) {
    result.learned.push_back({std::move(named), column.label});
  } else {
    result.fusion.push_back(std::move(named));
  }
}

}  // namespace

TablesResult run_tables(const TablesOptions& options) {
  const formats::ScoreMatrixFile file(options.scoremats);
  TablesResult result;
  result.models = options.models.empty() ? file.models() : options.models;
  if (result.models.empty()) throw InputError(options.scoremats, "", "holds no '<model>/score_mat' dataset");
  const auto fusions = fused_columns(options);
  // Every input is checked before the first matrix is read.
  for (const auto& model : result.models) file.check_model(model);
  for (const auto& fusion : fusions) fusion->check(result.models, file.labels());
  std::vector<ModelScores> scores;
  for (const auto& model : result.models) scores.push_back(file.read_model(model));
  for (size_t k = 0; k < scores.size(); ++k) {
    result.single.push_back(timed_report(result.models[k], scores[k], file.labels(), options));
    notify(options, {result.models[k], result.models[k], ColumnKind::kModel}, scores[k], file.labels());
  }
  std::vector<const ModelScores*> inputs;
  for (const auto& s : scores) inputs.push_back(&s);
  ModelScores fused;  // one buffer for every column: each is evaluated before the next is fused
  for (const auto& fusion : fusions) {
    const auto column = fusion->column();
    const auto start = std::chrono::steady_clock::now();
    fusion->fuse(result.models, inputs, file.labels(), fused);
    spdlog::info("{}: fused in {:.1f} ms", column.key,
                 std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    record(result, column, timed_report(column.key, fused, file.labels(), options));
    notify(options, column, fused, file.labels());
  }
  return result;
}

nlohmann::json tables_to_json(const TablesResult& result) {
  nlohmann::json out;
  out["models"] = result.models;
  out["single"] = nlohmann::json::object();
  out["fusion"] = nlohmann::json::object();
  out["timing_s"] = nlohmann::json::object();
  for (const auto& r : result.single) {
    out["single"][r.name] = eval::report_json(r.report);
    out["timing_s"]["single/" + r.name] = r.seconds;
  }
  for (const auto& r : result.fusion) {
    out["fusion"][r.name] = eval::report_json(r.report);
    out["timing_s"]["fusion/" + r.name] = r.seconds;
  }
  for (const auto& r : result.learned) {
    out[r.named.name] = eval::report_json(r.named.report);
    out["timing_s"][r.named.name] = r.named.seconds;
  }
  return out;
}

std::vector<eval::TableColumn> table_columns(const TablesResult& result) {
  std::vector<eval::TableColumn> columns;
  for (const auto& r : result.single) columns.push_back({r.name, &r.report});
  for (const auto& r : result.fusion) columns.push_back({r.name, &r.report});
  for (const auto& r : result.learned) columns.push_back({r.column, &r.named.report});
  return columns;
}

std::string tables_to_csv(const TablesResult& result) {
  const auto columns = table_columns(result);
  std::ostringstream out;
  out << "metric";
  for (const auto& c : columns) out << ',' << c.name;
  out << '\n';
  if (columns.empty()) return out.str();
  for (const auto& [metric, unused] : columns.front().report->entries()) {
    out << metric;
    for (const auto& c : columns) out << ',' << csv_number(c.report->find(metric).value_or(NAN));
    out << '\n';
  }
  return out.str();
}

}  // namespace qme::pipeline

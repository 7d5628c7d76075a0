#include "qme/eval/evaluation_report.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "qme/core/error.hpp"
#include "qme/eval/open_set.hpp"
#include "qme/eval/retrieval.hpp"
#include "qme/eval/score_histogram.hpp"
#include "qme/eval/verification.hpp"

namespace qme::eval {

namespace {

void check_shapes(const ScoreMatrix& scores, const ScoreMatrix& merged, const TestLabels& labels,
                  const std::string& context) {
  const auto q = static_cast<int64_t>(labels.query.size());
  const auto g = static_cast<int64_t>(labels.gallery.size());
  const auto u = static_cast<int64_t>(labels.unique_gallery_pids.size());
  auto fail = [&](const char* which, const ScoreMatrix& m, int64_t cols, const char* cols_from) {
    throw InputError(context, which,
                     "is " + std::to_string(m.rows) + "x" + std::to_string(m.cols) + " but q_pids has " +
                         std::to_string(q) + " entries and " + cols_from + " has " + std::to_string(cols));
  };
  if (scores.rows != q || scores.cols != g) fail("score_mat", scores, g, "g_pids");
  if (merged.rows != q || merged.cols != u) fail("merge_score_mat", merged, u, "unique_g_pids");
}

void add_ranking(EvaluationReport& report, const char* prefix, const RankingMetrics& m) {
  const std::string p(prefix);
  report.set(p + "_top1", m.top1);
  report.set(p + "_top5", m.top5);
  report.set(p + "_top10", m.top10);
  report.set(p + "_top20", m.top20);
  report.set(p + "_mAP", m.mAP);
}

void warn_ranking(const std::string& context, const char* prefix, const RankingMetrics& m) {
  if (m.num_valid_queries == 0) {
    spdlog::warn("{}: no query has a {} ground truth; {}_* {}", context, prefix, prefix,
                 std::string(prefix) == "GR" ? "are undefined (NaN)" : "are 0 as upstream reports");
  }
}

void warn_open_set(const OpenSetSummary& open_set, const std::string& context) {
  for (const auto& draw : open_set.draws) {
    if (draw.num_non_mated == 0 || draw.num_mated == 0) {
      spdlog::warn(
          "{}: an open-set draw has {} mated and {} non-mated probes; its FNIR@FPIR is undefined (NaN)",
          context, draw.num_mated, draw.num_non_mated);
      break;
    }
  }
}

void add_verification(EvaluationReport& report, const std::vector<VerificationPoint>& verification) {
  for (const auto& p : verification) report.set("TAR@" + percent_label(p.far) + "FAR", p.tar);
  for (const auto& p : verification) report.set("Threshold@" + percent_label(p.far) + "FAR", p.threshold);
}

void add_open_set(EvaluationReport& report, const ReportParts& parts, const EvalOptions& options) {
  const auto& open_set = parts.open_set;
  const size_t targets = options.fpirs.size();
  std::vector<std::string> labels_pct;
  for (double f : options.fpirs) labels_pct.push_back(percent_label(f));
  for (size_t t = 0; t < targets; ++t) report.set("TPIR@" + labels_pct[t] + "FPIR", open_set.tpir[t].mean);
  for (size_t t = 0; t < targets; ++t) report.set("FNIR@" + labels_pct[t] + "FPIR", open_set.fnir[t].mean);
  for (size_t t = 0; t < targets; ++t) {
    report.set("FNIR@" + labels_pct[t] + "FPIR_threshold", open_set.threshold[t].mean);
  }
  report.set("num_probe_templates", static_cast<double>(parts.probe_templates));
  report.set("num_probe_subjects", static_cast<double>(parts.probe_subjects));
  report.set("num_gallery_subjects", static_cast<double>(parts.gallery_subjects));
  report.set("num_galley1_templates", static_cast<double>(open_set.enrol_count));
  report.set("num_gallary1_subjects", static_cast<double>(open_set.enrol_count));
  for (size_t t = 0; t < targets; ++t) report.set("TPIR@" + labels_pct[t] + "FPIR_std", open_set.tpir[t].std);
  for (size_t t = 0; t < targets; ++t) report.set("FNIR@" + labels_pct[t] + "FPIR_std", open_set.fnir[t].std);
}

}  // namespace

void EvaluationReport::set(const std::string& name, double value) {
  for (auto& entry : entries_) {
    if (entry.first == name) {
      entry.second = value;
      return;
    }
  }
  entries_.emplace_back(name, value);
}

std::optional<double> EvaluationReport::find(const std::string& name) const {
  for (const auto& entry : entries_) {
    if (entry.first == name) return entry.second;
  }
  return std::nullopt;
}

double EvaluationReport::at(const std::string& name) const {
  if (auto v = find(name)) return *v;
  throw Error("evaluation report has no metric '" + name + "'");
}

std::string percent_label(double rate) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.2f%%", rate * 100.0);
  return buffer;
}

EvaluationReport assemble_report(const ReportParts& parts, const EvalOptions& options) {
  EvaluationReport report;
  add_ranking(report, "GR", parts.retrieval.general);
  add_ranking(report, "SC", parts.retrieval.same_clothes);
  add_ranking(report, "CC", parts.retrieval.clothes_changing);
  add_verification(report, parts.verification);
  add_open_set(report, parts, options);
  return report;
}

EvaluationReport evaluate(const ScoreMatrix& scores, const ScoreMatrix& merged, const TestLabels& labels,
                          const EvalOptions& options) {
  const std::string context = options.context.empty() ? "evaluation" : options.context;
  check_shapes(scores, merged, labels, context);
  ReportParts parts;
  // Filled by the retrieval scan, used by TAR@FAR: the scores above a sampled estimate of the
  // highest FAR target's threshold.
  ScoreTail tail;
  double highest_far = 0;
  for (double far : options.fars) highest_far = std::max(highest_far, far);
  tail.key = ScoreKeyHistogram::estimate_tail_key(scores, highest_far, &tail.share);
  parts.retrieval = evaluate_retrieval(scores, labels, options.num_threads, &tail);
  warn_ranking(context, "GR", parts.retrieval.general);
  warn_ranking(context, "SC", parts.retrieval.same_clothes);
  warn_ranking(context, "CC", parts.retrieval.clothes_changing);
  if (scores.cols < 20) {
    spdlog::warn("{}: the gallery has only {} entries; CMC ranks beyond it are undefined (NaN)", context,
                 scores.cols);
  }
  parts.verification =
      tar_at_far(scores, labels.query.pids, labels.gallery.pids, options.fars, options.num_threads, &tail);
  for (const auto& p : parts.verification) {
    if (std::isnan(p.tar)) {
      spdlog::warn("{}: score_mat has no matching or no non-matching pair; TAR@FAR is undefined (NaN)",
                   context);
      break;
    }
  }
  parts.open_set =
      fnir_at_fpir(merged, labels.query.pids, labels.unique_gallery_pids, options.fpirs, options.open_set);
  warn_open_set(parts.open_set, context);
  parts.probe_templates = static_cast<int64_t>(labels.query.size());
  parts.probe_subjects = static_cast<int64_t>(unique_sorted(labels.query.pids).size());
  parts.gallery_subjects = static_cast<int64_t>(labels.unique_gallery_pids.size());
  return assemble_report(parts, options);
}

nlohmann::json report_json(const EvaluationReport& report) {
  auto object = nlohmann::json::object();
  for (const auto& [name, value] : report.entries()) {
    object[name] = std::isnan(value) ? nlohmann::json(nullptr) : nlohmann::json(value);
  }
  return object;
}

}  // namespace qme::eval

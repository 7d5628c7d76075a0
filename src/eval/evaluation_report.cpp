#include "qme/eval/evaluation_report.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "qme/core/error.hpp"
#include "qme/core/numpy_random.hpp"
#include "qme/eval/open_set.hpp"
#include "qme/eval/retrieval.hpp"
#include "qme/eval/verification.hpp"

namespace qme::eval {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

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

/// pandas' mean/std over the draws: NaN draws skipped, std with ddof 1.
std::pair<double, double> mean_and_std(const std::vector<double>& values) {
  double sum = 0;
  int64_t n = 0;
  for (double v : values) {
    if (!std::isnan(v)) {
      sum += v;
      ++n;
    }
  }
  if (n == 0) return {kNaN, kNaN};
  const double mean = sum / static_cast<double>(n);
  if (n < 2) return {mean, kNaN};
  double squares = 0;
  for (double v : values) {
    if (!std::isnan(v)) squares += (v - mean) * (v - mean);
  }
  return {mean, std::sqrt(squares / static_cast<double>(n - 1))};
}

void add_open_set(EvaluationReport& report, const ScoreMatrix& merged, const TestLabels& labels,
                  const EvalOptions& options) {
  const auto& subjects = labels.unique_gallery_pids;
  const auto enrol_count =
      static_cast<int64_t>(static_cast<double>(subjects.size()) * options.enrol_fraction);
  NumpyLegacyRandom rng(options.seed);
  const size_t targets = options.fpirs.size();
  std::vector<std::vector<double>> tpir(targets), fnir(targets), threshold(targets);
  bool warned = false;
  for (int d = 0; d < options.num_draws; ++d) {
    auto enrolled = rng.choice_without_replacement(subjects, enrol_count);
    std::sort(enrolled.begin(), enrolled.end());
    const auto draw = open_set_draw(merged, labels.query.pids, subjects, enrolled, options.fpirs);
    if (!warned && (draw.num_non_mated == 0 || draw.num_mated == 0)) {
      spdlog::warn(
          "{}: an open-set draw has {} mated and {} non-mated probes; its FNIR@FPIR is undefined (NaN)",
          options.context, draw.num_mated, draw.num_non_mated);
      warned = true;
    }
    for (size_t t = 0; t < targets; ++t) {
      tpir[t].push_back(draw.tpir[t]);
      fnir[t].push_back(draw.fnir[t]);
      threshold[t].push_back(draw.threshold[t]);
    }
  }
  std::vector<std::string> labels_pct;
  for (double f : options.fpirs) labels_pct.push_back(percent_label(f));
  for (size_t t = 0; t < targets; ++t)
    report.set("TPIR@" + labels_pct[t] + "FPIR", mean_and_std(tpir[t]).first);
  for (size_t t = 0; t < targets; ++t)
    report.set("FNIR@" + labels_pct[t] + "FPIR", mean_and_std(fnir[t]).first);
  for (size_t t = 0; t < targets; ++t) {
    report.set("FNIR@" + labels_pct[t] + "FPIR_threshold", mean_and_std(threshold[t]).first);
  }
  report.set("num_probe_templates", static_cast<double>(labels.query.size()));
  report.set("num_probe_subjects", static_cast<double>(unique_sorted(labels.query.pids).size()));
  report.set("num_gallery_subjects", static_cast<double>(subjects.size()));
  report.set("num_galley1_templates", static_cast<double>(enrol_count));
  report.set("num_gallary1_subjects", static_cast<double>(enrol_count));
  for (size_t t = 0; t < targets; ++t)
    report.set("TPIR@" + labels_pct[t] + "FPIR_std", mean_and_std(tpir[t]).second);
  for (size_t t = 0; t < targets; ++t)
    report.set("FNIR@" + labels_pct[t] + "FPIR_std", mean_and_std(fnir[t]).second);
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

EvaluationReport evaluate(const ScoreMatrix& scores, const ScoreMatrix& merged, const TestLabels& labels,
                          const EvalOptions& options) {
  const std::string context = options.context.empty() ? "evaluation" : options.context;
  check_shapes(scores, merged, labels, context);
  EvaluationReport report;
  // Filled by the retrieval scan, used by TAR@FAR: the key histogram and the
  // scores above a sampled estimate of the highest FAR target's threshold.
  ScoreKeyHistogram histogram;
  double highest_far = 0;
  for (double far : options.fars) highest_far = std::max(highest_far, far);
  histogram.tail_key = ScoreKeyHistogram::estimate_tail_key(scores, highest_far);
  const auto retrieval = evaluate_retrieval(scores, labels, options.num_threads, &histogram);
  add_ranking(report, "GR", retrieval.general);
  add_ranking(report, "SC", retrieval.same_clothes);
  add_ranking(report, "CC", retrieval.clothes_changing);
  warn_ranking(context, "GR", retrieval.general);
  warn_ranking(context, "SC", retrieval.same_clothes);
  warn_ranking(context, "CC", retrieval.clothes_changing);
  if (scores.cols < 20) {
    spdlog::warn("{}: the gallery has only {} entries; CMC ranks beyond it are undefined (NaN)", context,
                 scores.cols);
  }

  const auto verification = tar_at_far(scores, labels.query.pids, labels.gallery.pids, options.fars,
                                       options.num_threads, &histogram);
  bool tar_undefined = false;
  for (const auto& p : verification) {
    report.set("TAR@" + percent_label(p.far) + "FAR", p.tar);
    tar_undefined = tar_undefined || std::isnan(p.tar);
  }
  for (const auto& p : verification) report.set("Threshold@" + percent_label(p.far) + "FAR", p.threshold);
  if (tar_undefined) {
    spdlog::warn("{}: score_mat has no matching or no non-matching pair; TAR@FAR is undefined (NaN)",
                 context);
  }
  add_open_set(report, merged, labels, options);
  return report;
}

}  // namespace qme::eval

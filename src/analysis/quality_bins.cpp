#include "qme/analysis/quality_bins.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <utility>

#include "qme/core/error.hpp"
#include "qme/eval/paper_table.hpp"

namespace qme::analysis {

namespace {

/// numpy's _lerp: from the nearer end, so that t = 1 gives exactly b. numpy rounds the product and
/// the sum apart: a build that lets the compiler fuse them (-march with FMA) needs this file
/// under -ffp-contract=off.
double numpy_lerp(double a, double b, double t) {
  const double diff = b - a;
  return t >= 0.5 ? b - diff * (1.0 - t) : a + diff * t;
}

/// numpy.quantile(sorted, q), method "linear": virtual index (n - 1) q between its neighbours.
double linear_quantile(const std::vector<double>& sorted, double q) {
  const auto n = static_cast<double>(sorted.size());
  const double index = (n - 1.0) * q;
  if (index >= n - 1.0) return sorted.back();
  const double below = std::floor(index);
  const auto k = static_cast<size_t>(below);
  return numpy_lerp(sorted[k], sorted[k + 1], index - below);
}

void check_weights(const std::vector<float>& weights) {
  if (weights.empty()) throw InputError("quality bins: there are no quality weights to bin");
  for (size_t i = 0; i < weights.size(); ++i) {
    if (!std::isfinite(weights[i])) {
      throw InputError("quality bins: the quality weight of probe " + std::to_string(i) + " is " +
                       std::to_string(weights[i]) + "; every weight must be a finite number");
    }
  }
}

/// The weights must be the probes' (one each, in order): naming the weights file when known.
void check_probe_count(const QualityBinsOptions& options, int64_t probes) {
  const auto weights = static_cast<int64_t>(options.weights.size());
  if (weights == probes) return;
  const std::string matrices = " but the score matrices have " + std::to_string(probes) + " probes";
  if (!options.weights_file.empty()) {
    throw InputError(options.weights_file, "face_weights",
                     "has " + std::to_string(weights) + " rows" + matrices);
  }
  throw InputError("quality bins: there are " + std::to_string(weights) + " quality weights" + matrices);
}

}  // namespace

std::vector<double> quality_bin_edges(const std::vector<float>& weights, int bins) {
  if (bins < 1) {
    throw UsageError("--quality_bins must be at least 1 (got " + std::to_string(bins) + ")");
  }
  check_weights(weights);
  std::vector<double> sorted(weights.begin(), weights.end());
  std::sort(sorted.begin(), sorted.end());
  // numpy.linspace(0, 1, B + 1): k * (1 / B), the last one exactly 1.
  const double step = 1.0 / bins;
  std::vector<double> edges;
  for (int k = 0; k < bins; ++k) edges.push_back(linear_quantile(sorted, k * step));
  edges.push_back(linear_quantile(sorted, 1.0));
  return edges;
}

std::vector<int> quality_bin_of(const std::vector<float>& weights, const std::vector<double>& edges) {
  if (edges.size() < 2) throw Error("quality bins: need at least two bin edges");
  const auto inner_begin = edges.begin() + 1, inner_end = edges.end() - 1;
  std::vector<int> bins;
  bins.reserve(weights.size());
  for (float w : weights) {
    // The number of inner edges <= w: weights on an edge open the bin above it.
    bins.push_back(
        static_cast<int>(std::upper_bound(inner_begin, inner_end, static_cast<double>(w)) - inner_begin));
  }
  return bins;
}

ModelScores select_probes(const ModelScores& scores, const std::vector<int64_t>& probes) {
  auto rows_of = [&](const ScoreMatrix& m) {
    ScoreMatrix out(static_cast<int64_t>(probes.size()), m.cols);
    for (size_t k = 0; k < probes.size(); ++k) {
      std::copy_n(m.row(probes[k]), m.cols, out.row(static_cast<int64_t>(k)));
    }
    return out;
  };
  return {rows_of(scores.score_mat), rows_of(scores.merge_score_mat)};
}

TestLabels select_probes(const TestLabels& labels, const std::vector<int64_t>& probes) {
  TestLabels out;
  const auto& q = labels.query;
  for (int64_t i : probes) {
    const auto k = static_cast<size_t>(i);
    out.query.pids.push_back(q.pids.at(k));
    out.query.camids.push_back(q.camids.at(k));
    out.query.clothes_ids.push_back(q.clothes_ids.at(k));
  }
  out.gallery = labels.gallery;
  out.unique_gallery_pids = labels.unique_gallery_pids;
  return out;
}

QualityBins::QualityBins(QualityBinsOptions options) : options_(std::move(options)) {
  edges_ = quality_bin_edges(options_.weights, options_.bins);
  probes_.resize(static_cast<size_t>(options_.bins));
  const auto bin_of = quality_bin_of(options_.weights, edges_);
  for (size_t i = 0; i < bin_of.size(); ++i) {
    probes_[static_cast<size_t>(bin_of[i])].push_back(static_cast<int64_t>(i));
  }
  for (size_t b = 0; b < probes_.size(); ++b) {
    // Tied weights give equal edges (and more bins than probes leave some empty): the bin stays
    // so that every run has B bins, its metrics NaN.
    if (probes_[b].empty()) {
      spdlog::warn(
          "quality bin {}/{} holds no probe (tied weights, or fewer probes than bins); its metrics are NaN",
          b + 1, probes_.size());
    }
  }
}

eval::ScoresObserver QualityBins::observer() {
  return [this](const eval::TableColumnId& column, const ModelScores& scores, const TestLabels& labels) {
    add(column, scores, labels);
  };
}

void QualityBins::add(const eval::TableColumnId& column, const ModelScores& scores,
                      const TestLabels& labels) {
  check_probe_count(options_, static_cast<int64_t>(labels.query.size()));
  QualityBinColumn out{column.key, column.label, column.kind, {}};
  for (size_t b = 0; b < probes_.size(); ++b) {
    auto options = options_.eval;
    options.context =
        column.key + ", quality bin " + std::to_string(b + 1) + "/" + std::to_string(probes_.size());
    const auto bin_scores = select_probes(scores, probes_[b]);
    out.reports.push_back(eval::evaluate(bin_scores.score_mat, bin_scores.merge_score_mat,
                                         select_probes(labels, probes_[b]), options));
  }
  columns_.push_back(std::move(out));
}

std::vector<int64_t> QualityBins::counts() const {
  std::vector<int64_t> out;
  for (const auto& p : probes_) out.push_back(static_cast<int64_t>(p.size()));
  return out;
}

nlohmann::json quality_bins_json(const QualityBins& bins) {
  nlohmann::json out;
  out["edges"] = bins.edges();
  out["counts"] = bins.counts();
  out["columns"] = nlohmann::json::object();
  for (const auto& column : bins.columns()) {
    auto reports = nlohmann::json::array();
    for (const auto& report : column.reports) reports.push_back(eval::report_json(report));
    out["columns"][column.key] = std::move(reports);
  }
  return out;
}

std::string format_quality_bins_table(const QualityBins& bins, const std::string& metric, bool markdown) {
  std::vector<std::vector<std::string>> cells(1, std::vector<std::string>{metric + " per quality bin"});
  for (const auto& column : bins.columns()) cells.front().push_back(column.label);
  const auto counts = bins.counts();
  char text[96];
  for (int b = 0; b < bins.num_bins(); ++b) {
    const auto& edges = bins.edges();
    std::snprintf(text, sizeof text, "%d: [%.3g, %.3g%s n=%lld", b + 1, edges[static_cast<size_t>(b)],
                  edges[static_cast<size_t>(b) + 1], b + 1 == bins.num_bins() ? "]" : ")",
                  static_cast<long long>(counts[static_cast<size_t>(b)]));
    std::vector<std::string> row = {text};
    for (const auto& column : bins.columns()) {
      const double v = column.reports[static_cast<size_t>(b)].find(metric).value_or(NAN);
      std::snprintf(text, sizeof text, "%.1f", eval::table_percent(v));
      row.push_back(std::isnan(v) ? "n/a" : text);
    }
    cells.push_back(row);
  }
  return eval::format_text_table(cells, markdown);
}

}  // namespace qme::analysis

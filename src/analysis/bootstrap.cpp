#include "qme/analysis/bootstrap.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "qme/core/error.hpp"
#include "qme/core/nan.hpp"
#include "qme/core/numpy_random.hpp"
#include "qme/core/parallel.hpp"
#include "qme/eval/paper_table.hpp"
#include "qme/eval/ranking.hpp"
#include "qme/eval/score_histogram.hpp"

namespace qme::analysis {

namespace {

// ---- TAR@FAR under resampling ----------------------------------------------------------------

/// The highest-scoring pairs of a score matrix, sorted, with what each row adds to the ROC
/// curve's totals: a resample's TAR@FAR points are found by walking these pairs with the
/// resample's row multiplicities instead of re-sorting the stacked matrix.
struct PairTail {
  /// (score key << 32) | (row << 1) | is_match, descending: a pair's place in the ROC order.
  std::vector<uint64_t> pairs;
  bool complete = false;                              // every non-NaN pair is listed
  std::vector<int64_t> positives, negatives;          // per row, NaN pairs included
  std::vector<int64_t> nan_positives, nan_negatives;  // per row
  std::vector<uint32_t> lowest_key;                   // per row, of its numbers; 0: none
};

uint32_t pair_key(uint64_t pair) {
  return static_cast<uint32_t>(pair >> 32);
}
uint32_t pair_row(uint64_t pair) {
  return static_cast<uint32_t>(pair) >> 1;
}
bool pair_is_match(uint64_t pair) {
  return (pair & 1u) != 0;
}

/// Per-row totals: matches and non-matches, the NaN ones apart, and each row's lowest number.
void count_rows(const ScoreMatrix& scores, const TestLabels& labels, PairTail& tail) {
  const auto rows = static_cast<size_t>(scores.rows);
  tail.positives.assign(rows, 0);
  tail.negatives.assign(rows, 0);
  tail.nan_positives.assign(rows, 0);
  tail.nan_negatives.assign(rows, 0);
  tail.lowest_key.assign(rows, 0);
  parallel_for(scores.rows, [&](int64_t begin, int64_t end, int) {
    for (int64_t i = begin; i < end; ++i) {
      const float* row = scores.row(i);
      const auto r = static_cast<size_t>(i);
      uint32_t lowest = 0xffffffffu;
      for (int64_t j = 0; j < scores.cols; ++j) {
        const bool match = labels.query.pids[r] == labels.gallery.pids[static_cast<size_t>(j)];
        const uint32_t key = eval::score_key(row[j]);
        (match ? tail.positives : tail.negatives)[r] += 1;
        if (key == 0) (match ? tail.nan_positives : tail.nan_negatives)[r] += 1;
        if (key != 0) lowest = std::min(lowest, key);
      }
      tail.lowest_key[r] = lowest == 0xffffffffu ? 0 : lowest;
    }
  });
}

/// The lowest histogram bin whose pairs, with every bin above, number at least `depth`.
uint32_t cutoff_bin(const eval::ScoreKeyHistogram& histogram, int64_t depth) {
  int64_t above = 0;
  for (uint32_t bin = eval::ScoreKeyHistogram::kBins - 1; bin > 0; --bin) {
    above += histogram.counts()[bin];
    if (above >= depth) return bin;
  }
  return 1;  // bin 0 holds only NaN, which the tail never lists
}

/// Lists, sorted, the pairs of the bins from the one where `depth` pairs are reached upward.
void collect_pairs(const ScoreMatrix& scores, const TestLabels& labels,
                   const eval::ScoreKeyHistogram& histogram, int64_t depth, PairTail& tail) {
  const uint32_t low_key = cutoff_bin(histogram, depth) << eval::ScoreKeyHistogram::kBinBits;
  const int workers = default_num_threads();
  std::vector<std::vector<uint64_t>> partial(static_cast<size_t>(workers));
  parallel_for(
      scores.rows,
      [&](int64_t begin, int64_t end, int worker) {
        auto& out = partial[static_cast<size_t>(worker)];
        for (int64_t i = begin; i < end; ++i) {
          const float* row = scores.row(i);
          for (int64_t j = 0; j < scores.cols; ++j) {
            const uint32_t key = eval::score_key(row[j]);
            if (key == 0 || key < low_key) continue;
            const bool match =
                labels.query.pids[static_cast<size_t>(i)] == labels.gallery.pids[static_cast<size_t>(j)];
            out.push_back((uint64_t{key} << 32) | (static_cast<uint64_t>(i) << 1) | (match ? 1u : 0u));
          }
        }
      },
      workers);
  tail.pairs.clear();
  for (auto& p : partial) tail.pairs.insert(tail.pairs.end(), p.begin(), p.end());
  std::sort(tail.pairs.begin(), tail.pairs.end(), std::greater<>());
  const int64_t numbers = histogram.total() - histogram.counts()[0];
  tail.complete = static_cast<int64_t>(tail.pairs.size()) == numbers;
}

/// One distinct score of a resample's ROC curve with its cumulative weighted counts.
struct RocPoint {
  uint32_t key;
  int64_t fps, tps;
};

/// Walks a tail's pairs as the ROC curve of one resample: groups of equal scores whose weight
/// is zero (rows the resample left out) are no point of that curve. NaN pairs count as the
/// resample's lowest number, so they join its last point.
class ResampledRoc {
 public:
  ResampledRoc(const PairTail& tail, const std::vector<int32_t>& weights) : tail_(tail), weights_(weights) {
    uint32_t lowest = 0xffffffffu;
    for (size_t r = 0; r < weights.size(); ++r) {
      if (weights[r] == 0) continue;
      nan_fps_ += weights[r] * tail.nan_negatives[r];
      nan_tps_ += weights[r] * tail.nan_positives[r];
      if (tail.lowest_key[r] != 0) lowest = std::min(lowest, tail.lowest_key[r]);
    }
    nan_key_ = lowest == 0xffffffffu ? eval::score_key(0.0f) : lowest;
  }

  /// Point k, walking one point further (the NaN pairs may still join the last one); nullptr
  /// past the last point. Throws TailTooShort when the listed pairs end before the curve is
  /// known that far.
  struct TailTooShort {};
  const RocPoint* at(size_t k) {
    while (points_.size() <= k + 1 && !finished_) advance();
    return k < points_.size() ? &points_[k] : nullptr;
  }
  bool is_last(size_t k) {
    at(k + 1);
    return finished_ && k + 1 == points_.size();
  }

 private:
  void advance() {
    const auto& pairs = tail_.pairs;
    while (next_ < pairs.size()) {
      const uint32_t key = pair_key(pairs[next_]);
      int64_t fp = 0, tp = 0;
      for (; next_ < pairs.size() && pair_key(pairs[next_]) == key; ++next_) {
        const int64_t w = weights_[pair_row(pairs[next_])];
        (pair_is_match(pairs[next_]) ? tp : fp) += w;
      }
      if (fp + tp == 0) continue;
      fps_ += fp;
      tps_ += tp;
      points_.push_back({key, fps_, tps_});
      return;
    }
    if (!tail_.complete) throw TailTooShort{};
    finish();
  }
  /// The NaN pairs join the lowest number's point (or are the only point when none is left).
  void finish() {
    finished_ = true;
    if (nan_fps_ + nan_tps_ == 0) return;
    if (points_.empty() || points_.back().key != nan_key_) points_.push_back({nan_key_, fps_, tps_});
    points_.back().fps += nan_fps_;
    points_.back().tps += nan_tps_;
  }

  const PairTail& tail_;
  const std::vector<int32_t>& weights_;
  size_t next_ = 0;
  int64_t fps_ = 0, tps_ = 0, nan_fps_ = 0, nan_tps_ = 0;
  uint32_t nan_key_ = 0;
  bool finished_ = false;
  std::vector<RocPoint> points_;
};

/// roc_curve's first kept point with at least `needed` false accepts (tar_at_far's rule).
const RocPoint* first_kept_point(ResampledRoc& roc, int64_t needed) {
  size_t j = 0;
  while (roc.at(j) && roc.at(j)->fps < needed) ++j;
  for (; roc.at(j); ++j) {
    if (j == 0 || roc.is_last(j)) return roc.at(j);
    const RocPoint a = *roc.at(j - 1), b = *roc.at(j), c = *roc.at(j + 1);
    if (eval::roc_point_kept(a.fps, b.fps, c.fps, a.tps, b.tps, c.tps)) return roc.at(j);
  }
  return nullptr;
}

/// TAR@FAR of one resample; nullopt when the tail is too short to tell.
std::optional<std::vector<eval::VerificationPoint>> resampled_verification(
    const PairTail& tail, const std::vector<int32_t>& weights, const std::vector<double>& fars) {
  int64_t negatives = 0, positives = 0;
  for (size_t r = 0; r < weights.size(); ++r) {
    negatives += weights[r] * tail.negatives[r];
    positives += weights[r] * tail.positives[r];
  }
  std::vector<eval::VerificationPoint> out;
  if (negatives == 0) {
    for (double far : fars) out.push_back({far, kNaN, kNaN});
    return out;
  }
  ResampledRoc roc(tail, weights);
  try {
    for (double far : fars) {
      const RocPoint* p = first_kept_point(roc, eval::needed_false_accepts(far, negatives));
      out.push_back({far, static_cast<double>(p->tps) / static_cast<double>(positives),
                     static_cast<double>(eval::key_score(p->key))});
    }
  } catch (const ResampledRoc::TailTooShort&) {
    return std::nullopt;
  }
  return out;
}

// ---- one column --------------------------------------------------------------------------------

/// What a column's resamples are computed from.
struct ColumnPartials {
  std::vector<eval::QueryOutcomes> outcomes;
  std::vector<eval::OpenSetDrawProbes> draws;
  int64_t enrol_count = 0;
  int64_t gallery_size = 0;
  int64_t gallery_subjects = 0;
  PairTail tail;
};

/// Pairs listed at first: a few times the most false accepts any FAR target needs, plus every
/// match, so that only resamples that weigh the top non-matches very unevenly need more.
int64_t initial_depth(const PairTail& tail, const std::vector<double>& fars) {
  int64_t negatives = 0, positives = 0;
  for (size_t r = 0; r < tail.negatives.size(); ++r) {
    negatives += tail.negatives[r];
    positives += tail.positives[r];
  }
  double highest = 0;
  for (double far : fars) highest = std::max(highest, far);
  return 4 * static_cast<int64_t>(std::ceil(highest * static_cast<double>(negatives))) + positives + 4096;
}

ColumnPartials column_partials(const ModelScores& scores, const TestLabels& labels,
                               const eval::EvalOptions& options) {
  ColumnPartials partials;
  partials.outcomes = eval::query_outcomes(scores.score_mat, labels, options.num_threads);
  const auto& protocol = options.open_set;
  for (const auto& enrolled : eval::open_set_enrolments(labels.unique_gallery_pids, protocol))
    partials.draws.push_back(eval::open_set_draw_probes(scores.merge_score_mat, labels.query.pids,
                                                        labels.unique_gallery_pids, enrolled));
  partials.enrol_count = eval::open_set_enrol_count(labels.unique_gallery_pids.size(), protocol);
  partials.gallery_size = scores.score_mat.cols;
  partials.gallery_subjects = static_cast<int64_t>(labels.unique_gallery_pids.size());
  count_rows(scores.score_mat, labels, partials.tail);
  return partials;
}

/// Every metric of resample b, given its TAR@FAR points.
eval::EvaluationReport resample_report(const ColumnPartials& partials, const SubjectResamples& resamples,
                                       int b, const std::vector<int32_t>& weights,
                                       std::vector<eval::VerificationPoint> verification,
                                       const eval::EvalOptions& options) {
  eval::ReportParts parts;
  const auto rows = resamples.rows(b);
  parts.retrieval = eval::summarise_retrieval(partials.outcomes, partials.gallery_size, &rows);
  parts.verification = std::move(verification);
  std::vector<eval::OpenSetDraw> draws;
  for (const auto& draw : partials.draws)
    draws.push_back(eval::summarise_open_set_draw(draw, options.fpirs, weights.data()));
  parts.open_set = eval::summarise_open_set(draws, options.fpirs.size(), partials.enrol_count);
  parts.probe_templates = static_cast<int64_t>(rows.size());
  parts.probe_subjects = resamples.distinct_subjects(b);
  parts.gallery_subjects = partials.gallery_subjects;
  return eval::assemble_report(parts, options);
}

void store(ResampledMetrics& out, int b, const eval::EvaluationReport& report) {
  auto& values = out.values[static_cast<size_t>(b)];
  values.clear();
  for (const auto& entry : report.entries()) values.push_back(entry.second);
}

void name_metrics(ResampledMetrics& out, const eval::EvaluationReport& report) {
  out.metrics.clear();
  for (const auto& entry : report.entries()) out.metrics.push_back(entry.first);
}

/// Resamples whose TAR@FAR the current tail cannot decide are retried on a deeper one.
std::vector<int> bootstrap_pass(const ColumnPartials& partials, const SubjectResamples& resamples,
                                const std::vector<int>& todo, const eval::EvalOptions& options,
                                ResampledMetrics& out) {
  std::vector<uint8_t> failed(todo.size(), 0);
  parallel_for(
      static_cast<int64_t>(todo.size()),
      [&](int64_t begin, int64_t end, int) {
        for (int64_t k = begin; k < end; ++k) {
          const int b = todo[static_cast<size_t>(k)];
          const auto weights = resamples.weights(b);
          auto verification = resampled_verification(partials.tail, weights, options.fars);
          if (!verification) {
            failed[static_cast<size_t>(k)] = 1;
            continue;
          }
          store(out, b, resample_report(partials, resamples, b, weights, std::move(*verification), options));
        }
      },
      options.num_threads);
  std::vector<int> retry;
  for (size_t k = 0; k < todo.size(); ++k) {
    if (failed[k]) retry.push_back(todo[k]);
  }
  return retry;
}

}  // namespace

void check_bootstrap_options(const BootstrapOptions& options) {
  if (options.resamples < 1)
    throw UsageError("--bootstrap: the number of resamples must be at least 1, not " +
                     std::to_string(options.resamples));
  if (!(options.ci_level > 0 && options.ci_level < 100))
    throw UsageError("--ci: the confidence level is a percentage in (0, 100), not " +
                     std::to_string(options.ci_level));
}

// ---- subject resamples -------------------------------------------------------------------------

SubjectResamples::SubjectResamples(const std::vector<int64_t>& probe_pids, int resamples, uint32_t seed)
    : num_probes_(probe_pids.size()) {
  if (probe_pids.empty()) throw UsageError("--bootstrap: the score matrices have no probe to resample");
  const auto subjects = unique_sorted(probe_pids);
  probes_of_subject_.resize(subjects.size());
  for (size_t i = 0; i < probe_pids.size(); ++i) {
    const auto s = std::lower_bound(subjects.begin(), subjects.end(), probe_pids[i]) - subjects.begin();
    probes_of_subject_[static_cast<size_t>(s)].push_back(static_cast<int64_t>(i));
  }
  NumpyLegacyRandom rng(seed);
  const auto max = static_cast<uint64_t>(subjects.size() - 1);
  draws_.resize(static_cast<size_t>(resamples));
  for (auto& draw : draws_) {
    draw.resize(subjects.size());
    for (auto& s : draw) s = static_cast<int32_t>(rng.interval(max));
  }
}

std::vector<int64_t> SubjectResamples::rows(int b) const {
  std::vector<int64_t> out;
  out.reserve(num_probes_);
  for (auto s : draws_[static_cast<size_t>(b)]) {
    const auto& probes = probes_of_subject_[static_cast<size_t>(s)];
    out.insert(out.end(), probes.begin(), probes.end());
  }
  return out;
}

std::vector<int32_t> SubjectResamples::weights(int b) const {
  std::vector<int32_t> out(num_probes_, 0);
  for (auto s : draws_[static_cast<size_t>(b)]) {
    for (auto probe : probes_of_subject_[static_cast<size_t>(s)]) ++out[static_cast<size_t>(probe)];
  }
  return out;
}

int64_t SubjectResamples::distinct_subjects(int b) const {
  std::vector<int32_t> drawn = draws_[static_cast<size_t>(b)];
  std::sort(drawn.begin(), drawn.end());
  return std::unique(drawn.begin(), drawn.end()) - drawn.begin();
}

// ---- one column's resamples --------------------------------------------------------------------

ResampledMetrics bootstrap_column(const ModelScores& scores, const TestLabels& labels,
                                  const SubjectResamples& resamples, const eval::EvalOptions& options,
                                  int64_t first_pairs) {
  auto partials = column_partials(scores, labels, options);
  const auto histogram = eval::ScoreKeyHistogram::of(scores.score_mat, options.num_threads);
  ResampledMetrics out;
  out.values.resize(static_cast<size_t>(resamples.size()));
  std::vector<int> todo(static_cast<size_t>(resamples.size()));
  for (int b = 0; b < resamples.size(); ++b) todo[static_cast<size_t>(b)] = b;
  int64_t depth = first_pairs > 0 ? first_pairs : initial_depth(partials.tail, options.fars);
  while (!todo.empty()) {
    collect_pairs(scores.score_mat, labels, histogram, depth, partials.tail);
    todo = bootstrap_pass(partials, resamples, todo, options, out);
    out.retried += static_cast<int64_t>(todo.size());
    depth *= 8;
  }
  // The metric names, from a report of the same shape.
  std::vector<eval::VerificationPoint> placeholder;
  for (double far : options.fars) placeholder.push_back({far, kNaN, kNaN});
  const auto names = resample_report(partials, resamples, 0, resamples.weights(0), placeholder, options);
  name_metrics(out, names);
  return out;
}

ResampledMetrics bootstrap_column_naive(const ModelScores& scores, const TestLabels& labels,
                                        const SubjectResamples& resamples, const eval::EvalOptions& options) {
  ResampledMetrics out;
  out.values.resize(static_cast<size_t>(resamples.size()));
  for (int b = 0; b < resamples.size(); ++b) {
    const auto rows = resamples.rows(b);
    ModelScores stacked;
    stacked.score_mat = ScoreMatrix(static_cast<int64_t>(rows.size()), scores.score_mat.cols);
    stacked.merge_score_mat = ScoreMatrix(static_cast<int64_t>(rows.size()), scores.merge_score_mat.cols);
    TestLabels resampled = labels;
    resampled.query = {};
    for (size_t k = 0; k < rows.size(); ++k) {
      const auto r = rows[k];
      std::copy_n(scores.score_mat.row(r), scores.score_mat.cols,
                  stacked.score_mat.row(static_cast<int64_t>(k)));
      std::copy_n(scores.merge_score_mat.row(r), scores.merge_score_mat.cols,
                  stacked.merge_score_mat.row(static_cast<int64_t>(k)));
      resampled.query.pids.push_back(labels.query.pids[static_cast<size_t>(r)]);
      resampled.query.camids.push_back(labels.query.camids[static_cast<size_t>(r)]);
      resampled.query.clothes_ids.push_back(labels.query.clothes_ids[static_cast<size_t>(r)]);
    }
    const auto report = eval::evaluate(stacked.score_mat, stacked.merge_score_mat, resampled, options);
    if (b == 0) name_metrics(out, report);
    store(out, b, report);
  }
  return out;
}

// ---- summaries ---------------------------------------------------------------------------------

Interval percentile_interval(std::vector<double> values, double ci_level) {
  values.erase(std::remove_if(values.begin(), values.end(), [](double v) { return std::isnan(v); }),
               values.end());
  if (values.empty()) return {kNaN, kNaN};
  std::sort(values.begin(), values.end());
  // numpy.percentile(method="linear"): the lerp of the neighbours of (n - 1) * q, computed from
  // the upper neighbour when the fraction is at least one half, as numpy does.
  auto percentile = [&](double q) {
    const double position = (static_cast<double>(values.size()) - 1) * q / 100.0;
    const auto below = static_cast<size_t>(std::floor(position));
    const size_t above = std::min(below + 1, values.size() - 1);
    const double t = position - static_cast<double>(below);
    const double a = values[below], b = values[above], d = b - a;
    return t >= 0.5 ? b - d * (1 - t) : a + d * t;
  };
  const double tail = (100.0 - ci_level) / 2.0;
  return {percentile(tail), percentile(100.0 - tail)};
}

MetricDirection metric_direction(const std::string& metric) {
  auto starts = [&](const char* prefix) { return metric.rfind(prefix, 0) == 0; };
  auto ends = [&](const char* suffix) {
    const std::string s(suffix);
    return metric.size() >= s.size() && metric.compare(metric.size() - s.size(), s.size(), s) == 0;
  };
  if (ends("_std") || ends("_threshold")) return MetricDirection::kNone;
  if (starts("GR_") || starts("SC_") || starts("CC_") || starts("TAR@") || starts("TPIR@"))
    return MetricDirection::kHigherIsBetter;
  if (starts("FNIR@")) return MetricDirection::kLowerIsBetter;
  return MetricDirection::kNone;
}

// ---- the table's bootstrap ----------------------------------------------------------------------

TablesBootstrap::TablesBootstrap(BootstrapOptions options) : options_(std::move(options)) {
  check_bootstrap_options(options_);
}

eval::ScoresObserver TablesBootstrap::observer() {
  return [this](const eval::TableColumnId& column, const ModelScores& scores, const TestLabels& labels) {
    const auto start = std::chrono::steady_clock::now();
    // The same subject draws for every column: the comparisons are paired.
    if (!resamples_)
      resamples_ = std::make_unique<SubjectResamples>(labels.query.pids, options_.resamples, options_.seed);
    auto eval_options = options_.eval;
    eval_options.context = column.key;
    columns_.push_back({column, bootstrap_column(scores, labels, *resamples_, eval_options)});
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    seconds_ += seconds;
    spdlog::info("{}: {} bootstrap resamples in {:.1f} ms", column.key, options_.resamples, seconds * 1e3);
  };
}

const ColumnBootstrap& TablesBootstrap::reference() const {
  if (columns_.empty()) throw Error("bootstrap: no column has been evaluated");
  for (const auto& c : columns_) {
    if (c.id.key == "qme") return c;
  }
  return columns_.front();
}

namespace {

std::vector<double> metric_values(const ColumnBootstrap& column, const std::string& metric) {
  const auto& names = column.resampled.metrics;
  const auto at = std::find(names.begin(), names.end(), metric);
  if (at == names.end()) throw Error("bootstrap: no metric '" + metric + "' in column " + column.id.key);
  const auto m = static_cast<size_t>(at - names.begin());
  std::vector<double> out;
  for (const auto& values : column.resampled.values) out.push_back(values[m]);
  return out;
}

nlohmann::json number(double v) {
  return std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v);
}

nlohmann::json interval_json(const Interval& i) {
  return nlohmann::json::array({number(i.lo), number(i.hi)});
}

}  // namespace

Interval TablesBootstrap::interval(const ColumnBootstrap& column, const std::string& metric) const {
  return percentile_interval(metric_values(column, metric), options_.ci_level);
}

PairedDifference TablesBootstrap::compare(const ColumnBootstrap& other, const std::string& metric) const {
  const auto mine = metric_values(reference(), metric), theirs = metric_values(other, metric);
  const auto direction = metric_direction(metric);
  std::vector<double> diff;
  int64_t better = 0;
  for (size_t b = 0; b < mine.size(); ++b) {
    if (std::isnan(mine[b]) || std::isnan(theirs[b])) continue;
    diff.push_back(mine[b] - theirs[b]);
    better += direction == MetricDirection::kHigherIsBetter ? mine[b] > theirs[b] : mine[b] < theirs[b];
  }
  PairedDifference out{percentile_interval(diff, options_.ci_level), kNaN};
  if (direction != MetricDirection::kNone && !diff.empty())
    out.p_better = static_cast<double>(better) / static_cast<double>(diff.size());
  return out;
}

eval::EvaluationReport TablesBootstrap::half_widths(const ColumnBootstrap& column) const {
  eval::EvaluationReport out;
  for (const auto& metric : column.resampled.metrics) {
    const auto i = interval(column, metric);
    out.set(metric, (i.hi - i.lo) / 2.0);
  }
  return out;
}

nlohmann::json TablesBootstrap::json() const {
  nlohmann::json out = {{"n", options_.resamples},       {"ci_level", options_.ci_level},
                        {"seed", options_.seed},         {"unit", "subject"},
                        {"subjects", num_subjects()},    {"ci", nlohmann::json::object()},
                        {"vs", nlohmann::json::object()}};
  for (const auto& c : columns_) {
    auto& ci = out["ci"][c.id.key] = nlohmann::json::object();
    for (const auto& metric : c.resampled.metrics) ci[metric] = interval_json(interval(c, metric));
  }
  if (columns_.empty()) return out;
  const auto& reference_column = reference();
  for (const auto& c : columns_) {
    if (&c == &reference_column) continue;
    auto& vs = out["vs"][c.id.key] = nlohmann::json{{"reference", reference_column.id.key}};
    for (const auto& metric : c.resampled.metrics) {
      const auto d = compare(c, metric);
      vs[metric] = {{"diff_ci", interval_json(d.diff)}, {"p_better", number(d.p_better)}};
    }
  }
  return out;
}

namespace {

/// "[-0.4, +5.1] 93%": the interval of a difference of rates in points, and p_better.
std::string difference_cell(const TablesBootstrap& bootstrap, const ColumnBootstrap& column,
                            const std::string& metric) {
  const auto d = bootstrap.compare(column, metric);
  if (std::isnan(d.diff.lo)) return "n/a";
  char buffer[96];
  std::snprintf(buffer, sizeof buffer, "[%+.1f, %+.1f]", d.diff.lo * 100.0, d.diff.hi * 100.0);
  std::string cell = buffer;
  if (!std::isnan(d.p_better)) {
    std::snprintf(buffer, sizeof buffer, " %.0f%%", d.p_better * 100.0);
    cell += buffer;
  }
  return cell;
}

}  // namespace

std::string format_bootstrap_table(const TablesBootstrap& bootstrap, bool markdown) {
  std::vector<std::vector<std::string>> cells;
  std::vector<std::string> header = {"metric"};
  const auto& reference = bootstrap.reference();
  for (const auto& c : bootstrap.columns()) {
    if (&c != &reference) header.push_back(reference.id.label + " - " + c.id.label);
  }
  cells.push_back(header);
  for (const auto& metric : eval::paper_table_rows()) {
    std::vector<std::string> row = {metric};
    for (const auto& c : bootstrap.columns()) {
      if (&c != &reference) row.push_back(difference_cell(bootstrap, c, metric));
    }
    cells.push_back(row);
  }
  return eval::format_text_table(cells, markdown);
}

}  // namespace qme::analysis

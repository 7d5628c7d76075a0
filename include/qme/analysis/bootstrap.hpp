#pragma once
/// Paired bootstrap confidence intervals for every metric of every column of the paper table.
///
/// A resample draws the probe *subjects* with replacement (as many draws as there are probe
/// subjects) and takes every probe of each drawn subject; the gallery stays fixed. Subjects, not
/// single probes, because one subject's probes are correlated: resampling probes would make the
/// intervals too narrow. Every column is evaluated on the same resamples, so the difference
/// between two columns has its own (paired) interval.
///
/// The fast path computes each column's per-probe results once (ranking outcomes, the sorted
/// high-score pairs that decide TAR@FAR, each open-set draw's per-probe outcome) and combines
/// them per resample with the resample's multiplicities; it gives the numbers evaluate() gives
/// on the matrix whose rows repeat as the resample says (bootstrap_column_naive).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "qme/core/identity_labels.hpp"
#include "qme/core/score_matrix.hpp"
#include "qme/eval/evaluation_report.hpp"
#include "qme/eval/score_fusion.hpp"

namespace qme::analysis {

struct BootstrapOptions {
  int resamples = 1000;  ///< --bootstrap N
  double ci_level = 95;  ///< --ci, percent in (0, 100)
  /// The resamples' subject draws: resample b takes the b-th call of numpy's
  /// RandomState(seed).randint(0, S, size=S) over the S probe subjects in ascending pid order.
  uint32_t seed = 45;
  eval::EvalOptions eval;  ///< the reports' options (FARs, FPIRs, open-set seed, threads)
};

/// Throws UsageError naming the flag (--bootstrap, --ci) for values that make no sense.
void check_bootstrap_options(const BootstrapOptions& options);

/// The subject draws of every resample.
class SubjectResamples {
 public:
  /// Throws UsageError when there is no probe.
  SubjectResamples(const std::vector<int64_t>& probe_pids, int resamples, uint32_t seed);

  int size() const { return static_cast<int>(draws_.size()); }
  int64_t num_subjects() const { return static_cast<int64_t>(probes_of_subject_.size()); }
  /// The probe rows of resample b: the drawn subjects in draw order, each subject's probes in
  /// query order (a subject drawn twice appears twice).
  std::vector<int64_t> rows(int b) const;
  /// How often each probe appears in rows(b).
  std::vector<int32_t> weights(int b) const;
  int64_t distinct_subjects(int b) const;

 private:
  size_t num_probes_ = 0;
  std::vector<std::vector<int64_t>> probes_of_subject_;  // by ascending subject pid
  std::vector<std::vector<int32_t>> draws_;              // subject indices per resample
};

/// One column's value of every metric in every resample.
struct ResampledMetrics {
  std::vector<std::string> metrics;         // the report's metric order
  std::vector<std::vector<double>> values;  // [resample][metric]; NaN where undefined
  /// Resamples whose TAR@FAR lay below the first list of high-scoring pairs and were redone on
  /// a deeper one (fast path only; a diagnostic).
  int64_t retried = 0;
};

/// The fast path (per-probe partial results combined per resample). `first_pairs` is how many
/// of the highest-scoring pairs are listed at first for TAR@FAR (0: a few times what the highest
/// FAR target needs, plus every match); resamples that need more are redone on an 8 times longer
/// list, so it changes only the time taken, never the numbers.
ResampledMetrics bootstrap_column(const ModelScores& scores, const TestLabels& labels,
                                  const SubjectResamples& resamples, const eval::EvalOptions& options,
                                  int64_t first_pairs = 0);

/// The reference: evaluate() on each resample's stacked rows. Slow; for tests.
ResampledMetrics bootstrap_column_naive(const ModelScores& scores, const TestLabels& labels,
                                        const SubjectResamples& resamples, const eval::EvalOptions& options);

struct Interval {
  double lo = 0, hi = 0;
};

/// numpy.percentile's linear interval [(100 - ci) / 2, 100 - (100 - ci) / 2] over the defined
/// values (NaN skipped); NaN bounds when none is defined.
Interval percentile_interval(std::vector<double> values, double ci_level);

/// Which way a metric improves: rates of correct decisions up, FNIR down, thresholds, standard
/// deviations and counts neither.
enum class MetricDirection { kHigherIsBetter, kLowerIsBetter, kNone };
MetricDirection metric_direction(const std::string& metric);

struct ColumnBootstrap {
  eval::TableColumnId id;
  ResampledMetrics resampled;
};

/// A paired comparison of the reference column with another, for one metric.
struct PairedDifference {
  Interval diff;    // of reference - other, over the resamples where both are defined
  double p_better;  // share of those resamples where the reference is better; NaN: no direction
};

/// The bootstrap of a whole table: add observer() to TablesOptions::observers.
class TablesBootstrap {
 public:
  /// Throws UsageError for bad options (check_bootstrap_options).
  explicit TablesBootstrap(BootstrapOptions options);
  TablesBootstrap(const TablesBootstrap&) = delete;  // observer() holds `this`
  TablesBootstrap& operator=(const TablesBootstrap&) = delete;

  eval::ScoresObserver observer();
  const BootstrapOptions& options() const { return options_; }
  const std::vector<ColumnBootstrap>& columns() const { return columns_; }
  /// The column the others are compared with: "qme" when present, else the first.
  const ColumnBootstrap& reference() const;
  Interval interval(const ColumnBootstrap& column, const std::string& metric) const;
  PairedDifference compare(const ColumnBootstrap& other, const std::string& metric) const;
  /// Half the interval's width per metric of a column (the ± of the table's cells).
  eval::EvaluationReport half_widths(const ColumnBootstrap& column) const;
  /// {"n", "ci_level", "seed", "unit": "subject", "subjects", "ci": {column: {metric: [lo, hi]}},
  ///  "vs": {column: {"reference": key, metric: {"diff_ci": [lo, hi], "p_better": x}}}}
  nlohmann::json json() const;
  double seconds() const { return seconds_; }
  /// The probe subjects each resample draws from (0 before the first column).
  int64_t num_subjects() const { return resamples_ ? resamples_->num_subjects() : 0; }

 private:
  BootstrapOptions options_;
  std::unique_ptr<SubjectResamples> resamples_;
  std::vector<ColumnBootstrap> columns_;
  double seconds_ = 0;
};

/// The comparisons as a text table: one row per paper-table metric, one column per compared
/// column, cells "[-0.4, +5.1] 93%" (the interval of reference - column in points, and the
/// share of resamples where the reference is better).
std::string format_bootstrap_table(const TablesBootstrap& bootstrap, bool markdown);

}  // namespace qme::analysis

#pragma once
/// The full evaluation report (upstream `test_score`): re-id CMC/mAP for three
/// protocols, TAR@FAR, and open-set FNIR@FPIR over seeded enrolment draws.
/// Metric names and their order are upstream's, spelling included.
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "qme/core/identity_labels.hpp"
#include "qme/core/score_matrix.hpp"
#include "qme/eval/open_set.hpp"
#include "qme/eval/retrieval.hpp"
#include "qme/eval/verification.hpp"

namespace qme::eval {

/// Ordered metric name -> value. NaN marks a value upstream cannot define.
class EvaluationReport {
 public:
  void set(const std::string& name, double value);
  std::optional<double> find(const std::string& name) const;
  /// Throws qme::Error naming the metric when absent.
  double at(const std::string& name) const;
  const std::vector<std::pair<std::string, double>>& entries() const { return entries_; }
  size_t size() const { return entries_.size(); }

 private:
  std::vector<std::pair<std::string, double>> entries_;
};

struct EvalOptions {
  OpenSetProtocol open_set;  // FNIR@FPIR's seeded enrolment draws (seed 45, 10 draws, 80 %)
  std::vector<double> fars = {1e-4, 1e-3, 1e-2};
  std::vector<double> fpirs = {1e-4, 1e-3, 1e-2};
  int num_threads = 0;  // 0: QME_NUM_THREADS or all cores
  std::string context;  // names the matrix in warnings ("adaface", "fusion/zscore")
};

/// Validates shapes against the labels (qme::InputError), warns about every
/// value it has to leave undefined, never throws on degenerate data. TAR@FAR is
/// tar_at_far (verification.hpp), FNIR@FPIR is fnir_at_fpir (open_set.hpp) with
/// options.open_set (seed, num_draws, enrol_fraction).
EvaluationReport evaluate(const ScoreMatrix& scores, const ScoreMatrix& merged, const TestLabels& labels,
                          const EvalOptions& options = {});

/// What a report is made of: evaluate() computes the parts from the matrices, the bootstrap
/// from per-probe results of each resample; assemble_report names and orders them.
struct ReportParts {
  RetrievalMetrics retrieval;
  std::vector<VerificationPoint> verification;  // per options.fars
  OpenSetSummary open_set;                      // per options.fpirs
  int64_t probe_templates = 0, probe_subjects = 0, gallery_subjects = 0;
};

/// The report of `parts` in upstream's metric order and spelling.
EvaluationReport assemble_report(const ReportParts& parts, const EvalOptions& options);

/// A report with its name (a model, a baseline, "qme") and the in-process time evaluate() took.
struct NamedReport {
  std::string name;
  EvaluationReport report;
  double seconds = 0;
};

/// One report as JSON: metric name -> number, null where the value is undefined (NaN).
nlohmann::json report_json(const EvaluationReport& report);

/// "0.01%" for 1e-4: Python's f"{x:.2%}".
std::string percent_label(double rate);

}  // namespace qme::eval

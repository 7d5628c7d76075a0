#pragma once
/// The full evaluation report (upstream `test_score`): re-id CMC/mAP for three
/// protocols, TAR@FAR, and open-set FNIR@FPIR over seeded enrolment draws.
/// Metric names and their order are upstream's, spelling included.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "qme/core/identity_labels.hpp"
#include "qme/core/score_matrix.hpp"

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
  uint32_t seed = 45;  // numpy's legacy generator is seeded at the start of each report
  int num_draws = 10;
  double enrol_fraction = 0.8;
  std::vector<double> fars = {1e-4, 1e-3, 1e-2};
  std::vector<double> fpirs = {1e-4, 1e-3, 1e-2};
  int num_threads = 0;  // 0: QME_NUM_THREADS or all cores
  std::string context;  // names the matrix in warnings ("adaface", "fusion/zscore")
};

/// Validates shapes against the labels (qme::InputError), warns about every
/// value it has to leave undefined, never throws on degenerate data. TAR@FAR is
/// tar_at_far (verification.hpp), FNIR@FPIR is fnir_at_fpir (open_set.hpp) with
/// the options' seed, num_draws and enrol_fraction.
EvaluationReport evaluate(const ScoreMatrix& scores, const ScoreMatrix& merged, const TestLabels& labels,
                          const EvalOptions& options = {});

/// "0.01%" for 1e-4: Python's f"{x:.2%}".
std::string percent_label(double rate);

}  // namespace qme::eval

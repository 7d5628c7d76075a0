#pragma once
/// One interface for every fused column of the paper table: the six classic baselines and
/// learned fusions such as QME are instances, so run_tables checks, fuses, evaluates and shows
/// each the same way, and a new fusion method is one new class (docs/architecture.md §11).
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "qme/core/identity_labels.hpp"
#include "qme/core/score_matrix.hpp"
#include "qme/eval/classic_fusion.hpp"

namespace qme::eval {

/// Which part of the table a column belongs to.
enum class ColumnKind { kModel, kBaseline, kLearned };

/// Names one column of the table: `key` as in the JSON and in file names (the model name, the
/// baseline method, or the learned fusion's report key such as "qme"), `label` as printed in
/// the table and the plots' legends (e.g. "QME").
struct TableColumnId {
  std::string key;
  std::string label;
  ColumnKind kind = ColumnKind::kModel;
};

/// Sees each evaluated column's matrices while they are still in memory (the plots' curves,
/// the rank lists, the bootstrap and the quality bins are computed from them).
using ScoresObserver =
    std::function<void(const TableColumnId& column, const ModelScores& scores, const TestLabels& labels)>;

/// A fused column: the models' matrices (names and matrices in table order) in, one pair of
/// fused matrices out.
class ScoreFusion {
 public:
  virtual ~ScoreFusion() = default;
  virtual TableColumnId column() const = 0;
  /// Refuses, by throwing InputError / UsageError, inputs this fusion cannot use (e.g. a
  /// face-weights file with another number of probes); run_tables asks before any work.
  virtual void check(const std::vector<std::string>& models, const TestLabels& labels) const;
  /// Both fused matrices into `out`, reusing its buffers when they have the size.
  virtual void fuse(const std::vector<std::string>& models, const std::vector<const ModelScores*>& scores,
                    const TestLabels& labels, ModelScores& out) = 0;
};

/// The classic baselines as fused columns, in the order given. They share one ClassicFusion:
/// each model's statistics are computed once for all of them, on the first fuse().
std::vector<std::unique_ptr<ScoreFusion>> classic_score_fusions(const std::vector<FusionMethod>& methods,
                                                                int num_threads = 0);

/// The QME column's flags: throws UsageError when use_qe is set without a face-weights file
/// (every QME column needs one weight per probe, or fixed 0.5 mixing).
void check_qme_column_flags(const std::string& face_weights_path, bool use_qe);

}  // namespace qme::eval

#pragma once
// Table-job helpers for tests: a score-matrix file to run on, and a learned column without
// LibTorch (a classic method's fusion shown as the "qme" report / "QME" column).
#include <memory>
#include <string>
#include <vector>

#include "qme/eval/classic_fusion.hpp"
#include "qme/eval/score_fusion.hpp"
#include "qme/formats/score_matrix_file.hpp"
#include "qme/pipeline/tables_job.hpp"
#include "qme/synthetic/synthetic_scores.hpp"
#include "support/test_support.hpp"

namespace qme::test {

class StandInLearnedFusion : public eval::ScoreFusion {
 public:
  explicit StandInLearnedFusion(eval::FusionMethod method) : method_(method) {}
  eval::TableColumnId column() const override { return {"qme", "QME", eval::ColumnKind::kLearned}; }
  void fuse(const std::vector<std::string>&, const std::vector<const ModelScores*>& scores,
            const TestLabels& labels, ModelScores& out) override {
    out = eval::fuse_scores(method_, scores, labels);
  }

 private:
  eval::FusionMethod method_;
};

inline std::shared_ptr<eval::ScoreFusion> stand_in_learned_fusion(eval::FusionMethod method) {
  return std::make_shared<StandInLearnedFusion>(method);
}

/// Writes `synthetic` to dir/s.h5 and returns table options that read it.
inline pipeline::TablesOptions tables_on_file(const TempDir& dir,
                                              const synthetic::SyntheticScores& synthetic) {
  pipeline::TablesOptions options;
  options.scoremats = dir.path("s.h5");
  formats::write_score_matrix_file(options.scoremats, synthetic.labels, synthetic.models);
  return options;
}

}  // namespace qme::test

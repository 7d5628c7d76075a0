#pragma once
// A learned column for tests that need one without LibTorch: a classic method's fusion shown
// as the "qme" report / "QME" column.
#include <memory>
#include <string>
#include <vector>

#include "qme/eval/classic_fusion.hpp"
#include "qme/eval/score_fusion.hpp"

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

}  // namespace qme::test

#include "qme/eval/score_fusion.hpp"

#include <optional>

#include "qme/core/error.hpp"

namespace qme::eval {

void check_qme_column_flags(const std::string& face_weights_path, bool use_qe) {
  if (use_qe && face_weights_path.empty()) {
    throw UsageError("--qme_ckpt needs --face_weights (one quality weight per probe), or --use_qe false");
  }
}

void ScoreFusion::check(const std::vector<std::string>&, const TestLabels&) const {}

namespace {

/// The ClassicFusion of the models the columns are fused from, made on first use.
class SharedClassicFusion {
 public:
  explicit SharedClassicFusion(int num_threads) : num_threads_(num_threads) {}
  ClassicFusion& of(const std::vector<const ModelScores*>& scores, const TestLabels& labels) {
    if (!fusion_ || scores != inputs_) {
      fusion_.emplace(scores, labels, num_threads_);
      inputs_ = scores;
    }
    return *fusion_;
  }

 private:
  int num_threads_;
  std::vector<const ModelScores*> inputs_;
  std::optional<ClassicFusion> fusion_;
};

class ClassicColumn : public ScoreFusion {
 public:
  ClassicColumn(FusionMethod method, std::shared_ptr<SharedClassicFusion> shared)
      : method_(method), shared_(std::move(shared)) {}
  TableColumnId column() const override {
    return {to_string(method_), to_string(method_), ColumnKind::kBaseline};
  }
  void fuse(const std::vector<std::string>&, const std::vector<const ModelScores*>& scores,
            const TestLabels& labels, ModelScores& out) override {
    shared_->of(scores, labels).fuse(method_, out);
  }

 private:
  FusionMethod method_;
  std::shared_ptr<SharedClassicFusion> shared_;
};

}  // namespace

std::vector<std::unique_ptr<ScoreFusion>> classic_score_fusions(const std::vector<FusionMethod>& methods,
                                                                int num_threads) {
  auto shared = std::make_shared<SharedClassicFusion>(num_threads);
  std::vector<std::unique_ptr<ScoreFusion>> out;
  for (auto method : methods) out.push_back(std::make_unique<ClassicColumn>(method, shared));
  return out;
}

}  // namespace qme::eval

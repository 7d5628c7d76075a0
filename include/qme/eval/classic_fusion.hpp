#pragma once
/// The classic score-fusion baselines of the paper's table (upstream
/// demo.ipynb): score normalisation per model then the mean over models
/// (zscore, minmax, rhe), or element-wise min / mean / max of raw scores.
/// float32 arithmetic follows numpy step by step so results match bit for bit.
#include <memory>
#include <string>
#include <vector>

#include "qme/core/identity_labels.hpp"
#include "qme/core/score_matrix.hpp"

namespace qme::eval {

enum class FusionMethod { kZScore, kMinMax, kRhe, kMin, kMean, kMax };

/// All methods in the order of the paper's table.
const std::vector<FusionMethod>& all_fusion_methods();
std::string to_string(FusionMethod method);
/// Throws UsageError listing the known names.
FusionMethod parse_fusion_method(const std::string& name);

/// Fuses one set of models by any of the methods. Each model's normalisation statistics
/// (numpy's mean and std, min and max, RHE's match statistics) are computed once, on first
/// use, in two threaded passes per matrix; each method is then a single threaded pass over the
/// models' matrices. The models must outlive this object.
class ClassicFusion {
 public:
  /// Throws UsageError without models, Error when their matrices differ in shape.
  ClassicFusion(std::vector<const ModelScores*> models, const TestLabels& labels, int num_threads = 0);
  ~ClassicFusion();
  ClassicFusion(ClassicFusion&&) noexcept;
  ClassicFusion& operator=(ClassicFusion&&) noexcept;

  /// Writes both fused matrices into `out`, reusing its buffers when they have the size.
  void fuse(FusionMethod method, ModelScores& out);
  ModelScores fuse(FusionMethod method);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Fuses both matrices of every model. RHE takes min, match mean and match
/// std (population) from each model's score_mat, matches meaning same pid.
ModelScores fuse_scores(FusionMethod method, const std::vector<const ModelScores*>& models,
                        const TestLabels& labels, int num_threads = 0);

}  // namespace qme::eval

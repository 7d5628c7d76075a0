#pragma once
/// The classic score-fusion baselines of the paper's table (upstream
/// demo.ipynb): score normalisation per model then the mean over models
/// (zscore, minmax, rhe), or element-wise min / mean / max of raw scores.
/// float32 arithmetic follows numpy step by step so results match bit for bit.
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

/// Fuses both matrices of every model. RHE takes min, match mean and match
/// std (population) from each model's score_mat, matches meaning same pid.
ModelScores fuse_scores(FusionMethod method, const std::vector<const ModelScores*>& models,
                        const TestLabels& labels);

}  // namespace qme::eval

#pragma once
/// Which similarity a recognition model's features are compared with (upstream
/// model.py, sim_fn). Torch-free: names and rules only; the matrices are built
/// in score_matrices.hpp.
#include <cstdint>
#include <string>

#include "qme/models/model_spec.hpp"

namespace qme::scores {

/// How features are compared; the registry (models/model_spec.hpp) holds each model's.
using Similarity = models::Similarity;

/// BigGait's horizontal body parts: its features are (channels, kBigGaitParts).
constexpr int64_t kBigGaitParts = 16;

/// The similarity of score matrices named `model` (models::similarity_for_name: a registered
/// model's own, else upstream's rule on substrings). Throws InputError naming the model and
/// listing the families for any other name.
Similarity similarity_for_model(const std::string& model);

/// "cosine" or "biggait" (the registry's spelling).
using models::to_string;

/// Throws InputError(source, field, ...) unless features of width `dim` can be
/// compared with `similarity` (BigGait needs a multiple of kBigGaitParts).
void check_feature_dim(Similarity similarity, int64_t dim, const std::string& source,
                       const std::string& field);

}  // namespace qme::scores

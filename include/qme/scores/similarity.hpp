#pragma once
/// Which similarity a recognition model's features are compared with (upstream
/// model.py, sim_fn). Torch-free: names and rules only; the matrices are built
/// in score_matrices.hpp.
#include <cstdint>
#include <string>

namespace qme::scores {

enum class Similarity {
  /// cos(a, b), each norm clamped at 1e-8 (torch.nn.functional.cosine_similarity).
  kCosine,
  /// BigGait: a d-dimensional feature is (d/16 channels, 16 parts), index c*16 + p;
  /// the L2 distance over the channels of each part, averaged over the 16 parts,
  /// gives score = 1 / (1 + mean distance).
  kBigGaitParts,
};

/// BigGait's horizontal body parts: its features are (channels, kBigGaitParts).
constexpr int64_t kBigGaitParts = 16;

/// The similarity of a model, by upstream's rule on the name: a name containing
/// adaface, arcface, kprpe, cal, agrl or aim is compared by cosine, otherwise one
/// containing biggait by BigGait's part distance. Throws InputError naming the
/// model and listing these families for any other name.
Similarity similarity_for_model(const std::string& model);

/// "cosine" or "biggait".
std::string to_string(Similarity similarity);

/// Throws InputError(source, field, ...) unless features of width `dim` can be
/// compared with `similarity` (BigGait needs a multiple of kBigGaitParts).
void check_feature_dim(Similarity similarity, int64_t dim, const std::string& source,
                       const std::string& field);

}  // namespace qme::scores

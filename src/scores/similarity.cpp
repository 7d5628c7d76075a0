#include "qme/scores/similarity.hpp"

#include "qme/core/error.hpp"

namespace qme::scores {

Similarity similarity_for_model(const std::string& model) {
  return models::similarity_for_name(model);
}

void check_feature_dim(Similarity similarity, int64_t dim, const std::string& source,
                       const std::string& field) {
  if (dim <= 0) throw InputError(source, field, "has no feature columns");
  if (similarity == Similarity::kBigGaitParts && dim % kBigGaitParts != 0) {
    throw InputError(source, field,
                     "has " + std::to_string(dim) +
                         " feature columns: biggait features are (channels, 16 parts), so their "
                         "width must be a multiple of 16 (BigGait's is 4096 = 256 x 16)");
  }
}

}  // namespace qme::scores

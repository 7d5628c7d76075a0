#include "qme/scores/similarity.hpp"

#include <array>

#include "qme/core/error.hpp"

namespace qme::scores {

namespace {

// upstream sim_fn tests substrings in this order: cosine families first.
constexpr std::array<const char*, 6> kCosineFamilies = {"adaface", "arcface", "kprpe", "cal", "agrl", "aim"};

bool contains(const std::string& text, const char* part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

Similarity similarity_for_model(const std::string& model) {
  for (const char* family : kCosineFamilies) {
    if (contains(model, family)) return Similarity::kCosine;
  }
  if (contains(model, "biggait")) return Similarity::kBigGaitParts;
  throw InputError("model '" + model +
                   "' has no known similarity: cosine is used for adaface, arcface, kprpe, cal* "
                   "(cal-ccvid, cal-ltcc, cal-mevid), aim and agrl, BigGait's part distance for "
                   "biggait");
}

std::string to_string(Similarity similarity) {
  return similarity == Similarity::kCosine ? "cosine" : "biggait";
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

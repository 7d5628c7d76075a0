#include "qme/scores/similarity.hpp"

#include <catch2/catch.hpp>
#include <string>

#include "qme/core/error.hpp"

using Catch::Matchers::Contains;
using qme::scores::Similarity;
using qme::scores::similarity_for_model;

TEST_CASE("face and body models are compared by cosine, biggait by its part distance", "[scores]") {
  for (const std::string model :
       {"adaface", "arcface", "kprpe", "cal", "cal-ccvid", "cal-ltcc", "cal-mevid", "aim", "agrl"}) {
    INFO(model);
    CHECK(similarity_for_model(model) == Similarity::kCosine);
  }
  CHECK(similarity_for_model("biggait") == Similarity::kBigGaitParts);
  CHECK(qme::scores::to_string(Similarity::kCosine) == "cosine");
  CHECK(qme::scores::to_string(Similarity::kBigGaitParts) == "biggait");
}

TEST_CASE("an unknown model name is an error that lists the known families", "[scores]") {
  CHECK_THROWS_AS(similarity_for_model("resnet50"), qme::InputError);
  CHECK_THROWS_WITH(similarity_for_model("resnet50"), Contains("model 'resnet50'") && Contains("adaface") &&
                                                          Contains("cal*") && Contains("agrl") &&
                                                          Contains("biggait"));
}

TEST_CASE("biggait features must split into 16 parts", "[scores]") {
  CHECK_NOTHROW(qme::scores::check_feature_dim(Similarity::kBigGaitParts, 4096, "f.h5", "qf"));
  CHECK_NOTHROW(qme::scores::check_feature_dim(Similarity::kCosine, 100, "f.h5", "qf"));
  CHECK_THROWS_WITH(qme::scores::check_feature_dim(Similarity::kBigGaitParts, 100, "f.h5", "qf"),
                    Contains("f.h5: 'qf' has 100 feature columns") && Contains("multiple of 16"));
  CHECK_THROWS_AS(qme::scores::check_feature_dim(Similarity::kCosine, 0, "f.h5", "qf"), qme::InputError);
}

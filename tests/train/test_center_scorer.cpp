// Per-step training scores equal qme's score matrices (scores::similarity_matrix).
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include <limits>

#include "qme/core/error.hpp"
#include "qme/scores/score_matrices.hpp"
#include "qme/train/center_scorer.hpp"

using qme::scores::Similarity;
using qme::train::CenterScorer;

namespace {

torch::Tensor reference(const torch::Tensor& probes, const torch::Tensor& centers, Similarity similarity) {
  const auto p = probes.contiguous(), c = centers.contiguous();
  const auto m = qme::scores::similarity_matrix({p.data_ptr<float>(), p.size(0), p.size(1)},
                                                {c.data_ptr<float>(), c.size(0), c.size(1)}, similarity);
  return torch::from_blob(const_cast<float*>(m.values.data()), {m.rows, m.cols}, torch::kFloat32).clone();
}

}  // namespace

TEST_CASE("training scores equal the score-matrix builder's, cosine and BigGait", "[train]") {
  torch::manual_seed(3);
  for (const auto& [similarity, dim] :
       {std::pair{Similarity::kCosine, int64_t{512}}, std::pair{Similarity::kBigGaitParts, int64_t{4096}}}) {
    auto centers = torch::randn({40, dim}) + 3.0;  // an offset, so BigGait's centring matters
    centers[5].zero_();                            // a center missing for this model
    auto probes = torch::randn({9, dim}) + 3.0;
    probes[2] = centers[7];  // a near-duplicate: no cancellation allowed
    probes[4][11] = std::numeric_limits<float>::quiet_NaN();
    const CenterScorer scorer(centers, similarity);
    const auto s = scorer.score(probes);
    const auto expected = reference(probes, centers, similarity);
    REQUIRE(s.sizes() == expected.sizes());
    const double worst = (s - expected).abs().max().item<double>();
    INFO(qme::scores::to_string(similarity) << ": largest |difference| " << worst);
    CHECK(worst <= 2e-6);
    CHECK(torch::all(s[4] == 0).item<bool>());  // the NaN probe scores 0
  }
  CHECK_THROWS_AS(CenterScorer(torch::zeros({3, 100}), Similarity::kBigGaitParts), qme::InputError);
}

TEST_CASE("sample features are the mean over their frames", "[train]") {
  const auto frames = torch::arange(12, torch::kFloat32).reshape({2, 3, 2});
  CHECK(torch::equal(qme::train::sample_features(frames),
                     torch::tensor({2.0f, 3.0f, 8.0f, 9.0f}).reshape({2, 2})));
}

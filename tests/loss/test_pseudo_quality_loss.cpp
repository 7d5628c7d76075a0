// The pseudo-quality loss: ranks of the best own-identity center, targets, MSE.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include <limits>
#include <vector>

#include "qme/core/error.hpp"
#include "qme/loss/pseudo_quality_loss.hpp"

using qme::loss::best_center_rank;
using qme::loss::pseudo_quality_loss;
using qme::loss::pseudo_quality_target;

namespace {

std::vector<int64_t> to_vector(const torch::Tensor& t) {
  const auto c = t.contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

}  // namespace

TEST_CASE("the rank is that of the best-ranked center of the probe's identity", "[loss]") {
  // Centers labelled 0, 1, 1, 2.
  const auto centers = torch::tensor({0, 1, 1, 2}, torch::kInt64);
  const auto scores = torch::tensor({
                                        0.9f, 0.1f, 0.8f, 0.2f,  // label 1: best own center 0.8 ranks 2nd
                                        0.1f, 0.2f, 0.3f, 0.4f,  // label 0: 0.1 ranks 4th
                                        0.5f, 0.6f, 0.7f, 0.8f,  // label 7: no center -> 4
                                    })
                          .reshape({3, 4});
  const auto labels = torch::tensor({1, 0, 7}, torch::kInt64);
  CHECK(to_vector(best_center_rank(scores, labels, centers)) == std::vector<int64_t>{2, 4, 4});
}

TEST_CASE("ties rank the lower center index first and NaN ranks above every number", "[loss]") {
  const auto centers = torch::tensor({0, 1, 2}, torch::kInt64);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const auto scores = torch::tensor({0.5f, 0.5f, 0.5f,  //
                                     0.5f, 0.5f, 0.5f,  //
                                     0.1f, nan, 0.9f})
                          .reshape({3, 3});
  const auto labels = torch::tensor({2, 0, 2}, torch::kInt64);
  CHECK(to_vector(best_center_rank(scores, labels, centers)) == std::vector<int64_t>{3, 1, 2});
}

TEST_CASE("targets fall linearly from 1 at rank 1 to 0 at the rank threshold", "[loss]") {
  const auto ranks = torch::tensor({1, 2, 3, 7}, torch::kInt64);
  const auto t3 = pseudo_quality_target(ranks, 3);
  REQUIRE(t3.sizes() == torch::IntArrayRef({4, 1}));
  CHECK(t3.scalar_type() == torch::kFloat32);
  CHECK(torch::equal(t3.reshape({-1}), torch::tensor({1.0f, 0.5f, 0.0f, 0.0f})));
  CHECK(torch::allclose(pseudo_quality_target(ranks, 5).reshape({-1}),
                        torch::tensor({1.0f, 0.75f, 0.5f, 0.0f})));
  CHECK_THROWS_AS(pseudo_quality_target(ranks, 1), qme::UsageError);
}

TEST_CASE("the pseudo-quality loss is the MSE to the targets and reaches the weights", "[loss]") {
  const auto centers = torch::tensor({0, 1}, torch::kInt64);
  const auto scores = torch::tensor({0.9f, 0.1f, 0.9f, 0.1f}).reshape({2, 2});
  const auto labels = torch::tensor({0, 1}, torch::kInt64);  // ranks 1 and 2 -> targets 1, 0.5
  auto predicted = torch::tensor({0.5f, 0.5f}, torch::requires_grad()).reshape({2, 1});
  predicted.retain_grad();
  const auto loss = pseudo_quality_loss(predicted, scores, labels, centers, 3);
  CHECK(loss.item<double>() == Approx((0.25 + 0.0) / 2));
  loss.backward();
  CHECK(predicted.grad()[0][0].item<float>() == Approx(-0.5));  // 2 (0.5 - 1) / 2
  CHECK(predicted.grad()[1][0].item<float>() == Approx(0.0));
  CHECK_THROWS_AS(pseudo_quality_loss(torch::zeros({3, 1}), scores, labels, centers), qme::UsageError);
}

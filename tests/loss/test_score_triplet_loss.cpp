// The score triplet loss on hand-computed cases.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include "qme/core/error.hpp"
#include "qme/loss/score_triplet_loss.hpp"

using qme::loss::score_triplet_loss;

TEST_CASE("the score triplet loss averages non-match and match hinges separately", "[loss]") {
  // Centers labelled {1, 2, 2}; probes labelled 2 and 5.
  const auto fused = torch::tensor({0.5f, 0.25f, 2.0f, -1.0f, 0.75f, 3.0f}).reshape({2, 3});
  const auto labels = torch::tensor({2, 5}, torch::kInt64);
  const auto centers = torch::tensor({1, 2, 2}, torch::kInt64);
  // non-match: 0.5, -1, 0.75, 3 -> relu mean (0.5 + 0 + 0.75 + 3) / 4; match: 0.25, 2.0 ->
  // relu(1 - s) mean (0.75 + 0) / 2.
  const double expected = (0.5 + 0.75 + 3.0) / 4 + 0.75 / 2;
  CHECK(score_triplet_loss(fused, labels, centers).item<double>() == Approx(expected).epsilon(1e-7));
  // Margin 2: match hinge (1.75 + 0) / 2.
  CHECK(score_triplet_loss(fused, labels, centers, 2.0).item<double>() ==
        Approx((0.5 + 0.75 + 3.0) / 4 + 1.75 / 2).epsilon(1e-7));
}

TEST_CASE("the score triplet loss back-propagates into the fused scores", "[loss]") {
  auto fused = torch::tensor({0.5f, 0.25f, -2.0f, 0.1f}, torch::requires_grad()).reshape({2, 2});
  fused.retain_grad();
  const auto labels = torch::tensor({0, 1}, torch::kInt64);
  const auto centers = torch::tensor({0, 1}, torch::kInt64);
  score_triplet_loss(fused, labels, centers).backward();
  // match (diagonal 0.5, 0.1): d/ds relu(1 - s) / 2 = -0.5; non-match 0.25 -> 0.5, -2 -> 0.
  const auto grad = fused.grad();
  CHECK(grad[0][0].item<float>() == Approx(-0.5));
  CHECK(grad[1][1].item<float>() == Approx(-0.5));
  CHECK(grad[0][1].item<float>() == Approx(0.5));
  CHECK(grad[1][0].item<float>() == Approx(0.0));
}

TEST_CASE("an empty match or non-match set contributes 0 instead of NaN", "[loss]") {
  const auto fused = torch::tensor({0.5f, -0.5f}).reshape({1, 2});
  const auto centers = torch::tensor({3, 4}, torch::kInt64);
  // No center has label 9: only the non-match term, (0.5 + 0) / 2.
  CHECK(score_triplet_loss(fused, torch::tensor({9}, torch::kInt64), centers).item<double>() == Approx(0.25));
  // Every center matches: only the match term, (0.5 + 1.5) / 2.
  const auto same = torch::tensor({3, 3}, torch::kInt64);
  CHECK(score_triplet_loss(fused, torch::tensor({3}, torch::kInt64), same).item<double>() == Approx(1.0));
}

TEST_CASE("the score triplet loss rejects mismatched shapes", "[loss]") {
  const auto fused = torch::zeros({2, 3});
  CHECK_THROWS_AS(
      score_triplet_loss(fused, torch::zeros({3}, torch::kInt64), torch::zeros({3}, torch::kInt64)),
      qme::UsageError);
  CHECK_THROWS_AS(
      score_triplet_loss(fused, torch::zeros({2}, torch::kInt64), torch::zeros({4}, torch::kInt64)),
      qme::UsageError);
}

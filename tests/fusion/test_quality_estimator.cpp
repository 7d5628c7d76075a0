// The face and body quality estimators: statistics layout, shapes, averaging over frames.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include "qme/core/error.hpp"
#include "qme/fusion/quality_estimator.hpp"
#include "qme/io/checkpoint.hpp"

using qme::fusion::BodyQualityEstimator;
using qme::fusion::BodyQualityEstimatorOptions;
using qme::fusion::FaceQualityEstimator;
using qme::fusion::FaceQualityEstimatorOptions;

TEST_CASE("the face QE has upstream's keys and a 2048-wide input for ViT-B features", "[fusion]") {
  FaceQualityEstimator qe;
  const auto sd = qme::io::state_dict(*qe);
  CHECK(sd.keys() == std::vector<std::string>{"f_style_mlp.fc1.weight", "f_style_mlp.fc1.bias",
                                              "f_style_mlp.fc2.weight", "f_style_mlp.fc2.bias",
                                              "weight_assigner.0.weight", "weight_assigner.0.bias"});
  CHECK(sd["f_style_mlp.fc1.weight"].sizes() == torch::IntArrayRef({1024, 2048}));
  CHECK(sd["weight_assigner.0.weight"].sizes() == torch::IntArrayRef({1, 512}));
}

TEST_CASE("face statistics are laid out [block][stat][channel]", "[fusion]") {
  // One frame, 2 blocks, 3 tokens, 2 channels: block b, token p, channel c holds 100b + 10c + p.
  auto frames = torch::empty({1, 2, 3, 2});
  for (int b = 0; b < 2; ++b)
    for (int p = 0; p < 3; ++p)
      for (int c = 0; c < 2; ++c) frames[0][b][p][c] = 100 * b + 10 * c + p;
  const auto stats = qme::fusion::FaceQualityEstimatorImpl::style_statistics(frames);
  // mean over tokens = base + 1, unbiased std of {0, 1, 2} = 1.
  const auto expected = torch::tensor({{1.f, 11.f, 1.f, 1.f, 101.f, 111.f, 1.f, 1.f}});
  CHECK(torch::allclose(stats, expected));
}

TEST_CASE("the face QE averages frame weights per probe; 4-D input gives per-frame weights", "[fusion]") {
  torch::manual_seed(2);
  FaceQualityEstimator qe(FaceQualityEstimatorOptions().patch_dim(8));
  qe->eval();
  const auto x = torch::randn({3, 4, 2, 5, 8});  // (B, T, K, P, C)
  const auto w = qe(x);
  REQUIRE(w.sizes() == torch::IntArrayRef({3, 1}));
  const auto per_frame = qe(x[1]);  // (T, K, P, C) -> (T,)
  REQUIRE(per_frame.sizes() == torch::IntArrayRef({4}));
  CHECK(w[1][0].item<float>() == Approx(per_frame.mean().item<float>()).epsilon(1e-6));
  CHECK(per_frame.gt(0).all().item<bool>());
  CHECK(per_frame.lt(1).all().item<bool>());
  const auto stats = qme::fusion::FaceQualityEstimatorImpl::style_statistics(x[1]);
  CHECK(torch::allclose(qe->frame_weights(stats).squeeze(1), per_frame));
  CHECK_THROWS_AS(qe(torch::randn({2, 5, 8})), qme::UsageError);
}

TEST_CASE("the body QE interleaves (channel, stat) over its maps and averages over frames", "[fusion]") {
  BodyQualityEstimator qe(BodyQualityEstimatorOptions().channels({2, 1}).hidden_out(4));
  const auto sd = qme::io::state_dict(*qe);
  CHECK(sd.keys() == std::vector<std::string>{"style_mlp.fc1.weight", "style_mlp.fc1.bias",
                                              "style_mlp.fc2.weight", "style_mlp.fc2.bias",
                                              "weight_assigner.0.weight", "weight_assigner.0.bias"});
  CHECK(sd["style_mlp.fc1.weight"].sizes() == torch::IntArrayRef({3, 6}));
  // map a: channel 0 = {0, 2}, channel 1 = {4, 4}; map b: channel 0 = {1, 1, 1, 5}.
  auto a = torch::tensor({0.f, 2.f, 4.f, 4.f}).reshape({1, 1, 2, 1, 2});
  auto b = torch::tensor({1.f, 1.f, 1.f, 5.f}).reshape({1, 1, 1, 2, 2});
  const auto stats = qme::fusion::BodyQualityEstimatorImpl::style_statistics({a, b});
  const auto expected = torch::tensor({1.f, std::sqrt(2.f), 4.f, 0.f, 2.f, 2.f}).reshape({1, 1, 6});
  CHECK(torch::allclose(stats, expected));
  qe->eval();
  const auto maps = std::vector<torch::Tensor>{torch::randn({2, 3, 2, 4, 4}), torch::randn({2, 3, 1, 2, 2})};
  const auto w = qe(maps);
  REQUIRE(w.sizes() == torch::IntArrayRef({2, 1}));
  CHECK(torch::allclose(
      w, qe->frame_weights(qme::fusion::BodyQualityEstimatorImpl::style_statistics(maps)).mean(1)));
}

TEST_CASE("the face QE on cached statistics equals the QE on tokens, bit for bit", "[fusion]") {
  torch::manual_seed(7);
  FaceQualityEstimator qe;
  qe->eval();
  const auto tokens = torch::randn({3, 4, 2, 6, 512});
  torch::NoGradGuard no_grad;
  const auto stats = qme::fusion::FaceQualityEstimatorImpl::statistics(tokens);
  REQUIRE(stats.sizes() == torch::IntArrayRef({3, 4, 2048}));
  // Frame (1, 2) of the cache is that frame's style_statistics row.
  const auto frame = qme::fusion::FaceQualityEstimatorImpl::style_statistics(tokens[1][2].unsqueeze(0));
  CHECK(torch::equal(stats[1][2], frame[0]));
  const auto from_stats = qe->forward_statistics(stats);
  REQUIRE(from_stats.sizes() == torch::IntArrayRef({3, 1}));
  CHECK(torch::equal(from_stats, qe(tokens)));
  CHECK_THROWS_AS(qe->forward_statistics(torch::zeros({3, 4, 2047})), qme::UsageError);
  CHECK_THROWS_AS(qme::fusion::FaceQualityEstimatorImpl::statistics(torch::zeros({4, 2, 6, 512})),
                  qme::UsageError);
}

TEST_CASE("the body QE on cached statistics equals the QE on feature maps, bit for bit", "[fusion]") {
  torch::manual_seed(8);
  BodyQualityEstimator qe;
  qe->eval();
  const std::vector<torch::Tensor> maps{torch::randn({2, 3, 512, 4, 2}), torch::randn({2, 3, 1024, 2, 2})};
  torch::NoGradGuard no_grad;
  const auto stats = qme::fusion::BodyQualityEstimatorImpl::style_statistics(maps);
  REQUIRE(stats.sizes() == torch::IntArrayRef({2, 3, 3072}));
  CHECK(torch::equal(qe->forward_statistics(stats), qe(maps)));
  CHECK_THROWS_AS(qe->forward_statistics(torch::zeros({2, 3, 2048})), qme::UsageError);
}

// The LSN expert: BatchNorm over models, then the score Mlp per gallery column.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include "qme/core/error.hpp"
#include "qme/fusion/lsn_expert.hpp"
#include "qme/io/checkpoint.hpp"

using qme::fusion::LsnExpert;
using qme::fusion::LsnExpertOptions;

TEST_CASE("LsnExpert has upstream's state-dict keys and shapes", "[fusion]") {
  LsnExpert expert(LsnExpertOptions(3));
  const auto sd = qme::io::state_dict(*expert);
  CHECK(sd.keys() == std::vector<std::string>{"bn.weight", "bn.bias", "bn.running_mean", "bn.running_var",
                                              "bn.num_batches_tracked", "score_mlp.fc1.weight",
                                              "score_mlp.fc1.bias", "score_mlp.fc2.weight",
                                              "score_mlp.fc2.bias"});
  CHECK(sd["score_mlp.fc1.weight"].sizes() == torch::IntArrayRef({9, 3}));
  CHECK(sd["score_mlp.fc2.weight"].sizes() == torch::IntArrayRef({1, 9}));
  LsnExpert wide(LsnExpertOptions(2).mlp_ratio(4).out_dim(3));
  CHECK(qme::io::state_dict(*wide)["score_mlp.fc2.weight"].sizes() == torch::IntArrayRef({3, 8}));
}

TEST_CASE("LsnExpert normalises each model with running stats, fuses per column, averages outputs",
          "[fusion]") {
  torch::manual_seed(1);
  LsnExpert expert(LsnExpertOptions(3).out_dim(2));
  auto sd = qme::io::state_dict(*expert);
  {
    torch::NoGradGuard no_grad;
    sd["bn.running_mean"].copy_(torch::tensor({0.1f, 0.2f, 0.3f}));
    sd["bn.running_var"].copy_(torch::tensor({0.5f, 2.0f, 1.0f}));
    sd["bn.weight"].copy_(torch::tensor({1.5f, -1.0f, 0.5f}));
    sd["bn.bias"].copy_(torch::tensor({0.0f, 0.25f, -0.5f}));
  }
  expert->eval();
  const auto scores = torch::rand({4, 3, 7});  // (B, M, G)
  const auto fused = expert(scores);
  REQUIRE(fused.sizes() == torch::IntArrayRef({4, 7}));
  // One entry by hand: probe 2, gallery 5.
  const auto s = scores.index({2, torch::indexing::Slice(), 5});
  const auto norm = (s - sd["bn.running_mean"]) / torch::sqrt(sd["bn.running_var"] + 1e-5) * sd["bn.weight"] +
                    sd["bn.bias"];
  const auto h = torch::selu(torch::matmul(sd["score_mlp.fc1.weight"], norm) + sd["score_mlp.fc1.bias"]);
  const auto out = torch::matmul(sd["score_mlp.fc2.weight"], h) + sd["score_mlp.fc2.bias"];
  CHECK(fused[2][5].item<float>() == Approx(out.mean().item<float>()).epsilon(1e-5));
}

TEST_CASE("LsnExpert in training mode updates the BatchNorm running statistics", "[fusion]") {
  LsnExpert expert(LsnExpertOptions(2));
  expert->train();
  expert(torch::full({3, 2, 5}, 4.0f));
  const auto sd = qme::io::state_dict(*expert);
  CHECK(sd["bn.running_mean"][0].item<float>() == Approx(0.4f));
  CHECK(sd["bn.num_batches_tracked"].item<int64_t>() == 1);
}

TEST_CASE("LsnExpert rejects a zero-width configuration", "[fusion]") {
  CHECK_THROWS_AS(LsnExpert(LsnExpertOptions(0)), qme::UsageError);
}

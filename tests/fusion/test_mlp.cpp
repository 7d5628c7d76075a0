// Mlp and the training-from-scratch initialisation.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include "qme/fusion/init.hpp"
#include "qme/fusion/mlp.hpp"
#include "qme/io/checkpoint.hpp"

using qme::fusion::Activation;
using qme::fusion::Mlp;
using qme::fusion::MlpOptions;

TEST_CASE("Mlp registers upstream's names and maps (..., in) to (..., out)", "[fusion]") {
  Mlp mlp(MlpOptions(3, 9, 2).activation(Activation::kSelu));
  CHECK(qme::io::state_dict(*mlp).keys() ==
        std::vector<std::string>{"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"});
  const auto x = torch::randn({4, 5, 3});
  CHECK(mlp(x).sizes() == torch::IntArrayRef({4, 5, 2}));
}

TEST_CASE("Mlp is fc1, activation, fc2 (dropout is off in eval mode)", "[fusion]") {
  const auto x = torch::randn({6, 4});
  for (auto act : {Activation::kGelu, Activation::kRelu, Activation::kSelu}) {
    Mlp mlp(MlpOptions(4, 8, 3).activation(act).dropout(0.5));
    mlp->eval();
    const auto& sd = qme::io::state_dict(*mlp);
    auto h = torch::nn::functional::linear(x, sd["fc1.weight"], sd["fc1.bias"]);
    h = act == Activation::kGelu   ? torch::gelu(h)
        : act == Activation::kRelu ? torch::relu(h)
                                   : torch::selu(h);
    const auto expected = torch::nn::functional::linear(h, sd["fc2.weight"], sd["fc2.bias"]);
    CHECK(torch::equal(mlp(x), expected));
  }
}

TEST_CASE("Mlp training (oneDNN forward and backward) gives torch::linear's outputs and gradients",
          "[fusion]") {
  torch::manual_seed(5);
  Mlp mlp(MlpOptions(64, 32, 8).activation(Activation::kRelu));  // dropout 0: deterministic
  mlp->train();
  const auto x = torch::randn({3, 7, 64}, torch::requires_grad());
  const auto target = torch::randn({3, 7, 8});
  const auto loss = (mlp(x) - target).pow(2).sum();
  loss.backward();

  // The same function with LibTorch's own Linear ops and autograd.
  const auto& sd = qme::io::state_dict(*mlp);
  std::vector<torch::Tensor> params;
  for (const char* name : {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"})
    params.push_back(sd[name].detach().clone().requires_grad_(true));
  const auto x_ref = x.detach().clone().requires_grad_(true);
  const auto h = torch::relu(torch::nn::functional::linear(x_ref, params[0], params[1]));
  const auto loss_ref = (torch::nn::functional::linear(h, params[2], params[3]) - target).pow(2).sum();
  loss_ref.backward();

  CHECK(loss.item<double>() == Approx(loss_ref.item<double>()).epsilon(1e-5));
  CHECK(torch::allclose(x.grad(), x_ref.grad(), 1e-4, 1e-5));
  const auto grads = mlp->parameters();
  REQUIRE(grads.size() == params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    INFO("parameter " << i);
    CHECK(torch::allclose(grads[i].grad(), params[i].grad(), 1e-4, 1e-5));
  }
}

TEST_CASE("trunc_normal_ stays inside its bounds with the asked spread", "[fusion]") {
  torch::manual_seed(3);
  auto t = torch::empty({200000});
  qme::fusion::trunc_normal_(t, 0.0, 0.02);
  CHECK(t.abs().max().item<double>() <= 2.0);
  CHECK(t.std().item<double>() == Approx(0.02).epsilon(0.01));
  CHECK(std::abs(t.mean().item<double>()) < 1e-3);
  // Tight bounds do cut: std 1 truncated to [-1, 1].
  qme::fusion::trunc_normal_(t, 0.0, 1.0, -1.0, 1.0);
  CHECK(t.abs().max().item<double>() <= 1.0);
  CHECK(t.std().item<double>() == Approx(0.5395).epsilon(0.01));
}

TEST_CASE("init_linear_weights draws Linear weights with std 0.02 and zeroes the biases", "[fusion]") {
  torch::manual_seed(4);
  Mlp mlp(MlpOptions(64, 256, 64));
  qme::fusion::init_linear_weights(*mlp);
  const auto sd = qme::io::state_dict(*mlp);
  CHECK(sd["fc1.weight"].std().item<double>() == Approx(0.02).epsilon(0.05));
  CHECK(sd["fc1.bias"].eq(0).all().item<bool>());
  CHECK(sd["fc2.bias"].eq(0).all().item<bool>());
}

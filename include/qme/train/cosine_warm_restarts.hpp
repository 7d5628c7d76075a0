#pragma once
/// PyTorch's CosineAnnealingWarmRestarts learning-rate schedule (torch.optim.lr_scheduler,
/// 1.13), which LibTorch lacks, to its formula:
///   lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2,
/// T_cur the epochs since the last restart, T_i the current period (T_0, then T_0 * T_mult^n).
/// Upstream steps it every iteration with the fractional epoch `epoch + step / len(loader)`
/// after the optimiser step (see fractional_epoch). Torch-free: it only computes numbers; the
/// trainer hands them to the optimiser.
#include <cstdint>

namespace qme::train {

struct CosineWarmRestartsOptions {
  int64_t t_0 = 300;     ///< the first period, in epochs (>= 1)
  int64_t t_mult = 2;    ///< each period is t_mult times the one before (>= 1)
  double eta_min = 0.0;  ///< the lowest learning rate
};

/// Everything the schedule needs to continue exactly where it stopped.
struct CosineWarmRestartsState {
  double base_lr = 0.0;
  double t_cur = 0.0;      ///< epochs since the last restart (fractional)
  int64_t t_i = 0;         ///< the current period
  int64_t last_epoch = 0;  ///< floor of the last epoch stepped to
  double lr = 0.0;         ///< the learning rate after the last step
};

class CosineWarmRestarts {
 public:
  /// As PyTorch's constructor, which steps once to epoch 0: lr() == base_lr. Throws
  /// UsageError when t_0 < 1, t_mult < 1 or base_lr is not finite.
  explicit CosineWarmRestarts(double base_lr, const CosineWarmRestartsOptions& options = {});

  /// scheduler.step(epoch) with an explicit (fractional) epoch >= 0; returns the new lr.
  /// Throws UsageError for a negative or non-finite epoch.
  double step(double epoch);
  /// scheduler.step() without an epoch: one whole epoch on; returns the new lr.
  double step();

  double lr() const { return state_.lr; }
  const CosineWarmRestartsOptions& options() const { return options_; }
  const CosineWarmRestartsState& state() const { return state_; }
  /// Continues from a saved state (same options assumed; the state carries base_lr).
  void restore(const CosineWarmRestartsState& state) { state_ = state; }

 private:
  double compute_lr() const;

  CosineWarmRestartsOptions options_;
  CosineWarmRestartsState state_;
};

/// Upstream's `epoch + step / len(trainloader)`, in Python's arithmetic (a true division,
/// then the sum). `step` is 0-based within the epoch. Throws UsageError unless
/// steps_per_epoch >= 1.
double fractional_epoch(int64_t epoch, int64_t step, int64_t steps_per_epoch);

}  // namespace qme::train

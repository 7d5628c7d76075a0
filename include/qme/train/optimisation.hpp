#pragma once
/// The optimisation both trainers share, as upstream's main.py runs it: PyTorch's Adam (L2
/// weight decay added to the gradient, not AdamW) and a CosineAnnealingWarmRestarts schedule
/// stepped after every optimiser step with the fractional epoch `epoch + step / len(loader)`.
///
/// LibTorch's torch::optim::Adam performs PyTorch's update (grad += weight_decay * p;
/// m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; p -= lr / (1 - b1^t) * m /
/// (sqrt(v) / sqrt(1 - b2^t) + eps)), checked by tests/train/test_optimisation.cpp, so qme
/// uses it.
#include <torch/optim/adam.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "qme/train/cosine_warm_restarts.hpp"

namespace qme::train {

struct OptimisationOptions {
  double lr = 1e-4;                    ///< Adam's (base) learning rate, > 0
  double weight_decay = 0.01;          ///< L2 penalty added to the gradient, >= 0
  int64_t steps_per_epoch = 1;         ///< len(trainloader): the scheduler's epoch = steps / this
  CosineWarmRestartsOptions schedule;  ///< upstream: T_0 300, T_mult 2, eta_min 0
};

/// What one training step reports.
struct StepResult {
  double loss = 0.0;  ///< the step's loss (before the update)
  double lr = 0.0;    ///< the learning rate after the scheduler step (upstream logs this one)
  int64_t step = 0;   ///< steps done, this one included (upstream's total_step)
  /// Modality dropout: 1 for each model (model_list order) whose scores were zeroed; empty for
  /// quality-estimator training.
  std::vector<uint8_t> dropped;
};

/// Adam + schedule + step counter. Not copyable (the optimiser holds the parameters).
///
/// When all parameters share a device and dtype they are gathered into one flat tensor (and
/// their gradients into one flat gradient) that they become views of, so Adam's update is ~10
/// operations on one tensor instead of ~10 per parameter (a QME head has 12 small ones). The
/// update of every element is the same formula; move the model to its device before.
class Optimisation {
 public:
  /// Throws UsageError for lr <= 0, weight_decay < 0, steps_per_epoch < 1 or no parameters.
  Optimisation(std::vector<torch::Tensor> parameters, const OptimisationOptions& options);

  /// optimizer.zero_grad()
  void zero_grad();
  /// optimizer.step(), then scheduler.step(epoch + step / steps_per_epoch) with this step's
  /// 0-based (epoch, step), as upstream; the new lr goes to the optimiser for the next step.
  /// Returns that new lr.
  double finish_step();

  /// The learning rate the next step will use.
  double learning_rate() const { return schedule_.lr(); }
  /// Optimiser steps taken so far (upstream's total_step).
  int64_t steps_done() const { return steps_done_; }
  /// 0-based epoch and step within it of the next step.
  int64_t epoch() const { return steps_done_ / options_.steps_per_epoch; }
  int64_t step_in_epoch() const { return steps_done_ % options_.steps_per_epoch; }
  const OptimisationOptions& options() const { return options_; }
  torch::optim::Adam& optimizer() { return *adam_; }

  /// Adam's moments and step counts, the schedule and the step counter.
  void save(torch::serialize::OutputArchive& archive) const;
  /// Restores what save() wrote. Throws InputError (naming `source`) when the archive lacks a
  /// field or was saved with other schedule options or steps_per_epoch.
  void load(torch::serialize::InputArchive& archive, const std::string& source);

 private:
  void apply_learning_rate();
  /// Makes `parameters` views of one flat tensor (and their grads views of one flat gradient);
  /// returns the flat tensor, or the parameters themselves when they cannot share one.
  std::vector<torch::Tensor> flatten(std::vector<torch::Tensor> parameters);

  OptimisationOptions options_;
  torch::Tensor flat_grad_;  ///< defined when the parameters were flattened
  std::unique_ptr<torch::optim::Adam> adam_;
  CosineWarmRestarts schedule_;
  int64_t steps_done_ = 0;
};

}  // namespace qme::train

#include "qme/train/optimisation.hpp"

#include <torch/torch.h>

#include <string>

#include "qme/core/error.hpp"

namespace qme::train {

namespace {

const OptimisationOptions& checked(const OptimisationOptions& options) {
  if (!(options.lr > 0.0))
    throw UsageError("Adam: the learning rate must be > 0, got " + std::to_string(options.lr));
  if (!(options.weight_decay >= 0.0))
    throw UsageError("Adam: weight_decay must be >= 0, got " + std::to_string(options.weight_decay));
  if (options.steps_per_epoch < 1)
    throw UsageError("training: steps_per_epoch must be >= 1, got " +
                     std::to_string(options.steps_per_epoch));
  return options;
}

int64_t read_int(torch::serialize::InputArchive& archive, const std::string& key, const std::string& source) {
  c10::IValue value;
  if (!archive.try_read(key, value) || !value.isInt())
    throw InputError(source, key, "is missing or not an integer");
  return value.toInt();
}

double read_double(torch::serialize::InputArchive& archive, const std::string& key,
                   const std::string& source) {
  c10::IValue value;
  if (!archive.try_read(key, value) || !value.isDouble())
    throw InputError(source, key, "is missing or not a number");
  return value.toDouble();
}

std::string state_key(const torch::Tensor& parameter) {
  return c10::guts::to_string(parameter.unsafeGetTensorImpl());  // LibTorch's own key
}

// LibTorch's Optimizer::save keys each parameter's state by its TensorImpl address, so two saves
// of one run differ byte for byte; qme writes the state by parameter position instead.
void write_adam_state(const torch::optim::Adam& adam, torch::serialize::OutputArchive& archive) {
  int64_t index = 0;
  for (const auto& group : adam.param_groups()) {
    for (const auto& parameter : group.params()) {
      const auto found = adam.state().find(state_key(parameter));
      if (found != adam.state().end()) {
        const auto& state = static_cast<const torch::optim::AdamParamState&>(*found->second);
        torch::serialize::OutputArchive one(archive.compilation_unit());
        one.write("step", c10::IValue(state.step()));
        one.write("exp_avg", state.exp_avg());
        one.write("exp_avg_sq", state.exp_avg_sq());
        if (state.max_exp_avg_sq().defined()) one.write("max_exp_avg_sq", state.max_exp_avg_sq());
        archive.write("parameter_" + std::to_string(index), one);
      }
      ++index;
    }
  }
  archive.write("parameters", c10::IValue(index));
}

torch::Tensor read_moment(torch::serialize::InputArchive& archive, const std::string& key,
                          const torch::Tensor& parameter, const std::string& field,
                          const std::string& source) {
  torch::Tensor moment;
  if (!archive.try_read(key, moment)) throw InputError(source, field + "." + key, "is missing");
  if (moment.sizes() != parameter.sizes() || moment.scalar_type() != parameter.scalar_type())
    throw InputError(source, field + "." + key, "does not have its parameter's shape and dtype");
  return moment.to(parameter.device());
}

void read_adam_state(torch::serialize::InputArchive& archive, torch::optim::Adam& adam,
                     const std::string& source) {
  int64_t count = 0;
  for (const auto& group : adam.param_groups()) count += static_cast<int64_t>(group.params().size());
  if (read_int(archive, "parameters", source) != count)
    throw InputError(source, "adam_state.parameters", "differs from this model's parameter count");
  adam.state().clear();
  int64_t index = 0;
  for (const auto& group : adam.param_groups()) {
    for (const auto& parameter : group.params()) {
      const std::string name = "parameter_" + std::to_string(index++);
      const std::string field = "adam_state." + name;
      torch::serialize::InputArchive one;
      if (!archive.try_read(name, one)) continue;  // not stepped yet
      auto state = std::make_unique<torch::optim::AdamParamState>();
      c10::IValue step;
      if (!one.try_read("step", step) || !step.isInt())
        throw InputError(source, field + ".step", "is missing or not an integer");
      state->step(step.toInt());
      state->exp_avg(read_moment(one, "exp_avg", parameter, field, source));
      state->exp_avg_sq(read_moment(one, "exp_avg_sq", parameter, field, source));
      torch::Tensor max_sq;
      if (one.try_read("max_exp_avg_sq", max_sq))
        state->max_exp_avg_sq(read_moment(one, "max_exp_avg_sq", parameter, field, source));
      adam.state()[state_key(parameter)] = std::move(state);
    }
  }
}

}  // namespace

Optimisation::Optimisation(std::vector<torch::Tensor> parameters, const OptimisationOptions& options)
    : options_(checked(options)), schedule_(options.lr, options.schedule) {
  if (parameters.empty()) throw UsageError("training: the model has no trainable parameters");
  adam_ = std::make_unique<torch::optim::Adam>(
      flatten(std::move(parameters)),
      torch::optim::AdamOptions(options_.lr).weight_decay(options_.weight_decay));
}

std::vector<torch::Tensor> Optimisation::flatten(std::vector<torch::Tensor> parameters) {
  const auto& first = parameters.front();
  int64_t total = 0;
  for (const auto& p : parameters) {
    if (p.device() != first.device() || p.scalar_type() != first.scalar_type() || !p.is_contiguous())
      return parameters;
    total += p.numel();
  }
  torch::NoGradGuard no_grad;
  auto flat = torch::empty({total}, first.options());
  flat_grad_ = torch::zeros({total}, first.options());
  int64_t offset = 0;
  for (auto& p : parameters) {
    const int64_t n = p.numel();
    flat.narrow(0, offset, n).copy_(p.detach().reshape({-1}));
    p.set_data(flat.narrow(0, offset, n).view(p.sizes()));
    p.mutable_grad() = flat_grad_.narrow(0, offset, n).view(p.sizes());
    offset += n;
  }
  flat.set_requires_grad(true);
  flat.mutable_grad() = flat_grad_;
  return {flat};
}

void Optimisation::zero_grad() {
  if (flat_grad_.defined()) {
    flat_grad_.zero_();  // the parameters' gradients are views of it
  } else {
    adam_->zero_grad();
  }
}

void Optimisation::apply_learning_rate() {
  for (auto& group : adam_->param_groups()) {
    static_cast<torch::optim::AdamOptions&>(group.options()).lr(schedule_.lr());
  }
}

double Optimisation::finish_step() {
  adam_->step();
  schedule_.step(fractional_epoch(epoch(), step_in_epoch(), options_.steps_per_epoch));
  ++steps_done_;
  apply_learning_rate();
  return schedule_.lr();
}

void Optimisation::save(torch::serialize::OutputArchive& archive) const {
  torch::serialize::OutputArchive adam(archive.compilation_unit());
  write_adam_state(*adam_, adam);
  archive.write("adam_state", adam);
  const auto& s = schedule_.state();
  archive.write("steps_done", c10::IValue(steps_done_));
  archive.write("steps_per_epoch", c10::IValue(options_.steps_per_epoch));
  archive.write("schedule_t_0", c10::IValue(options_.schedule.t_0));
  archive.write("schedule_t_mult", c10::IValue(options_.schedule.t_mult));
  archive.write("schedule_eta_min", c10::IValue(options_.schedule.eta_min));
  archive.write("schedule_base_lr", c10::IValue(s.base_lr));
  archive.write("schedule_t_cur", c10::IValue(s.t_cur));
  archive.write("schedule_t_i", c10::IValue(s.t_i));
  archive.write("schedule_last_epoch", c10::IValue(s.last_epoch));
  archive.write("schedule_lr", c10::IValue(s.lr));
}

void Optimisation::load(torch::serialize::InputArchive& archive, const std::string& source) {
  const auto differs = [&](const std::string& key, const std::string& saved, const std::string& now) {
    return InputError(source, key,
                      "is " + saved + " in the saved run but " + now + " now; resume with the same settings");
  };
  const int64_t spe = read_int(archive, "steps_per_epoch", source);
  if (spe != options_.steps_per_epoch)
    throw differs("steps_per_epoch", std::to_string(spe), std::to_string(options_.steps_per_epoch));
  const int64_t t_0 = read_int(archive, "schedule_t_0", source);
  const int64_t t_mult = read_int(archive, "schedule_t_mult", source);
  const double eta_min = read_double(archive, "schedule_eta_min", source);
  if (t_0 != options_.schedule.t_0 || t_mult != options_.schedule.t_mult ||
      eta_min != options_.schedule.eta_min) {
    throw InputError(source, "schedule",
                     "has other T_0 / T_mult / eta_min than this run; resume with the same settings");
  }
  CosineWarmRestartsState s;
  s.base_lr = read_double(archive, "schedule_base_lr", source);
  s.t_cur = read_double(archive, "schedule_t_cur", source);
  s.t_i = read_int(archive, "schedule_t_i", source);
  s.last_epoch = read_int(archive, "schedule_last_epoch", source);
  s.lr = read_double(archive, "schedule_lr", source);
  const int64_t steps = read_int(archive, "steps_done", source);
  torch::serialize::InputArchive adam;
  if (archive.try_read("adam_state", adam)) {
    read_adam_state(adam, *adam_, source);
  } else if (archive.try_read("adam", adam)) {
    adam_->load(adam);  // an earlier qme's resume file: LibTorch's address-keyed layout
  } else {
    throw InputError(source, "adam_state", "is missing");
  }
  schedule_.restore(s);
  steps_done_ = steps;
  apply_learning_rate();
}

}  // namespace qme::train

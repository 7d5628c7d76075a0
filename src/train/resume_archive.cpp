#include "resume_archive.hpp"

#include <torch/torch.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "qme/core/error.hpp"
#include "qme/io/checkpoint.hpp"
#include "qme/io/tensor_shape.hpp"

namespace qme::train::resume {

namespace {

void write_generator(torch::serialize::OutputArchive& archive, const std::string& key,
                     const at::Generator& gen) {
  at::Generator g = gen;
  torch::Tensor state;
  {
    std::lock_guard<std::mutex> lock(g.mutex());
    state = g.get_state();
  }
  archive.write(key, state, /*is_buffer=*/true);
}

void read_generator(torch::serialize::InputArchive& archive, const std::string& key, const at::Generator& gen,
                    const std::string& source) {
  torch::Tensor state;
  if (!archive.try_read(key, state, /*is_buffer=*/true)) throw InputError(source, key, "is missing");
  at::Generator g = gen;
  std::lock_guard<std::mutex> lock(g.mutex());
  g.set_state(state);
}

}  // namespace

std::string read_string(torch::serialize::InputArchive& archive, const std::string& key,
                        const std::string& source) {
  c10::IValue value;
  if (!archive.try_read(key, value) || !value.isString())
    throw InputError(source, key, "is missing or not a string");
  return value.toStringRef();
}

int64_t read_int(torch::serialize::InputArchive& archive, const std::string& key, const std::string& source) {
  c10::IValue value;
  if (!archive.try_read(key, value) || !value.isInt())
    throw InputError(source, key, "is missing or not an integer");
  return value.toInt();
}

void write_header(torch::serialize::OutputArchive& archive, const std::string& kind) {
  archive.write("qme_resume_format", c10::IValue(kFormat));
  archive.write("trainer", c10::IValue(kind));
}

void check_header(torch::serialize::InputArchive& archive, const std::string& kind,
                  const std::string& source) {
  const int64_t format = read_int(archive, "qme_resume_format", source);
  if (format != kFormat) {
    throw InputError(source, "qme_resume_format",
                     "is " + std::to_string(format) + "; this qme reads version " + std::to_string(kFormat));
  }
  const auto saved = read_string(archive, "trainer", source);
  if (saved != kind) {
    throw InputError(source, "trainer", "is a '" + saved + "' run, not a '" + kind + "' run");
  }
}

void write_module(torch::serialize::OutputArchive& archive, const std::string& key,
                  const torch::nn::Module& module) {
  torch::serialize::OutputArchive nested(archive.compilation_unit());
  c10::List<std::string> names;
  int64_t index = 0;
  for (const auto& item : io::state_dict(module)) {
    names.push_back(item.key());
    nested.write("t" + std::to_string(index++), item.value().detach(), /*is_buffer=*/true);
  }
  nested.write("names", c10::IValue(names));
  archive.write(key, nested);
}

void read_module(torch::serialize::InputArchive& archive, const std::string& key, torch::nn::Module& module,
                 const std::string& source) {
  torch::serialize::InputArchive nested;
  if (!archive.try_read(key, nested)) throw InputError(source, key, "is missing");
  c10::IValue names;
  if (!nested.try_read("names", names) || !names.isList())
    throw InputError(source, key + "/names", "is missing");
  const auto saved = names.toList();
  const auto own = io::state_dict(module);
  if (saved.size() != own.size()) {
    throw InputError(source, key,
                     "holds " + std::to_string(saved.size()) + " tensors; this model has " +
                         std::to_string(own.size()) + " (another model configuration?)");
  }
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < saved.size(); ++i) {
    const auto name = saved.get(i).toStringRef();
    const auto& target = own[i];
    if (name != target.key())
      throw InputError(source, key, "holds '" + name + "' where the model has '" + target.key() + "'");
    torch::Tensor value;
    if (!nested.try_read("t" + std::to_string(i), value, /*is_buffer=*/true))
      throw InputError(source, key + "/" + name, "is missing");
    if (value.sizes() != target.value().sizes()) {
      throw InputError(
          source, key + "/" + name,
          "is " + io::shape_text(value) + " but the model expects " + io::shape_text(target.value()));
    }
    target.value().copy_(value);
  }
}

void write_torch_rng(torch::serialize::OutputArchive& archive, const torch::Device& device) {
  write_generator(archive, "torch_rng_cpu", at::globalContext().defaultGenerator(torch::kCPU));
  if (device.is_cuda())
    write_generator(archive, "torch_rng_cuda", at::globalContext().defaultGenerator(device));
}

void read_torch_rng(torch::serialize::InputArchive& archive, const torch::Device& device,
                    const std::string& source) {
  read_generator(archive, "torch_rng_cpu", at::globalContext().defaultGenerator(torch::kCPU), source);
  if (device.is_cuda())
    read_generator(archive, "torch_rng_cuda", at::globalContext().defaultGenerator(device), source);
}

void save_atomically(torch::serialize::OutputArchive& archive, const std::string& path) {
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  try {
    archive.save_to(tmp);
  } catch (const std::exception& e) {
    std::remove(tmp.c_str());
    throw Error(path + ": cannot write the resume state: " + e.what());
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error(path + ": cannot write the resume state (rename failed)");
  }
}

void load(torch::serialize::InputArchive& archive, const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) {
    throw InputError(path, "", "does not exist (the trainer state that the run's state.json names)");
  }
  try {
    archive.load_from(path);
  } catch (const c10::Error& e) {
    const std::string why = e.what_without_backtrace();
    throw InputError(path, "",
                     "is not a qme resume file (truncated, damaged or another kind of file: " +
                         why.substr(0, why.find('\n')) + ")");
  }
}

}  // namespace qme::train::resume

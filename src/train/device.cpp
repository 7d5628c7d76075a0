#include "qme/train/device.hpp"

#include <torch/torch.h>

#include <cctype>

#include "qme/core/error.hpp"

namespace qme::train {

namespace {

bool all_digits(const std::string& text) {
  // No machine has 10,000 GPUs; the cap also keeps std::stoi from overflowing.
  if (text.empty() || text.size() > 4) return false;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

DeviceSpec parse_device(const std::string& name) {
  if (name == "cpu" || name == "auto") return DeviceSpec{};
  if (name == "cuda") return DeviceSpec{true, -1};
  const std::string prefix = "cuda:";
  if (name.compare(0, prefix.size(), prefix) == 0 && all_digits(name.substr(prefix.size()))) {
    return DeviceSpec{true, std::stoi(name.substr(prefix.size()))};
  }
  throw UsageError("--device must be auto, cpu, cuda or cuda:N, got '" + name + "'");
}

std::string DeviceSpec::str() const {
  if (!cuda) return "cpu";
  return index < 0 ? "cuda" : "cuda:" + std::to_string(index);
}

DeviceSpec resolve_device(const std::string& name) {
  if (name == "auto") return torch::cuda::is_available() ? DeviceSpec{true, -1} : DeviceSpec{};
  const DeviceSpec device = parse_device(name);
  if (!device.cuda) return device;
  if (!torch::cuda::is_available()) {
    throw UsageError("--device " + name +
                     " requested but this LibTorch has no CUDA device (use --device cpu)");
  }
  const auto count = static_cast<int>(torch::cuda::device_count());
  if (device.index >= count) {
    throw UsageError("--device " + name + " requested but only " + std::to_string(count) +
                     " CUDA device(s) are visible (cuda:0 to cuda:" + std::to_string(count - 1) +
                     ")");
  }
  return device;
}

}  // namespace qme::train

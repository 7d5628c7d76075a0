#pragma once
/// Where qme runs LibTorch work, chosen with --device. Torch-free header: executables validate
/// the flag before any torch type is needed.
#include <string>

namespace qme::train {

struct DeviceSpec {
  bool cuda = false;  ///< false: the CPU
  int index = -1;     ///< CUDA ordinal from "cuda:N"; -1 for plain "cuda" (the current device)

  /// "cpu", "cuda" or "cuda:N": the spelling torch::Device accepts.
  std::string str() const;
};

/// Parses "auto", "cpu", "cuda" or "cuda:N" without asking LibTorch ("auto" reads as the CPU
/// here); throws UsageError on any other spelling. For flags that only matter in some modes.
DeviceSpec parse_device(const std::string& name);

/// "auto" (the executables' default) is CUDA when this LibTorch has a CUDA device, else the
/// CPU. Parses "cpu", "cuda" or "cuda:N" and checks that this LibTorch can use it. Throws UsageError
/// on any other spelling, when CUDA is requested but LibTorch has no CUDA device, or when N is
/// not below the number of CUDA devices.
DeviceSpec resolve_device(const std::string& name);

}  // namespace qme::train

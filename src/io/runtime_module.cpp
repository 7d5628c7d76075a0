#include "qme/io/runtime_module.hpp"

#include <dlfcn.h>

#include <filesystem>

#include "qme/core/error.hpp"

namespace qme::io {

namespace fs = std::filesystem;

namespace {

fs::path executable_directory() {
  std::error_code error;
  const auto exe = fs::read_symlink("/proc/self/exe", error);
  return error ? fs::current_path() : exe.parent_path();
}

}  // namespace

std::string module_path(const std::string& file_name) {
  const auto dir = executable_directory();
  const auto beside = dir / file_name;
  if (fs::exists(beside)) return beside.string();
  return (dir.parent_path() / "lib" / "qme" / file_name).string();
}

void* open_module_entry(const std::string& file_name, const std::string& symbol, const std::string& why) {
  const auto path = module_path(file_name);
  if (!fs::exists(path)) {
    throw UsageError(why + ": this build has no LibTorch module (" + path +
                     " is missing; qme builds it when configured with LibTorch, QME_WITH_TORCH=ON)");
  }
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) throw Error(path + ": cannot be loaded (" + std::string(::dlerror()) + ")");
  void* entry = ::dlsym(handle, symbol.c_str());
  if (!entry) throw Error(path + ": has no '" + symbol + "' entry point");
  return entry;
}

}  // namespace qme::io

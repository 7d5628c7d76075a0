#include "qme/eval/qme_column.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <filesystem>
#include <future>
#include <memory>

#include "qme/core/error.hpp"
#include "qme/io/face_weights.hpp"

namespace qme::eval {

namespace {

namespace fs = std::filesystem;

constexpr const char* kModuleName = "libqme_tables_qme.so";
// What the module exports (src/fusion/qme_tables_module.cpp).
constexpr const char* kFactorySymbol = "qme_make_qme_table_fusion";
using Factory = void (*)(const std::string& checkpoint, const std::string& face_weights, bool use_qe,
                         LearnedFusion* out);

fs::path executable_directory() {
  std::error_code error;
  const auto exe = fs::read_symlink("/proc/self/exe", error);
  return error ? fs::current_path() : exe.parent_path();
}

/// Opens the module (and with it LibTorch) and builds the fusion; runs on a background thread.
LearnedFusion open_module(const std::string& checkpoint, const std::string& face_weights, bool use_qe) {
  const auto path = qme_module_path();
  if (!fs::exists(path)) {
    throw UsageError("--qme_ckpt: this build has no QME module (" + path +
                     " is missing; qme builds it when configured with LibTorch, QME_WITH_TORCH=ON)");
  }
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);  // kept open: the fusion's code lives there
  if (!handle) throw Error(path + ": cannot be loaded (" + std::string(::dlerror()) + ")");
  auto factory = reinterpret_cast<Factory>(::dlsym(handle, kFactorySymbol));
  if (!factory) throw Error(path + ": has no '" + kFactorySymbol + "' entry point");
  LearnedFusion fusion;
  factory(checkpoint, face_weights, use_qe, &fusion);
  return fusion;
}

}  // namespace

void check_qme_column_flags(const std::string& face_weights_path, bool use_qe) {
  if (use_qe && face_weights_path.empty()) {
    throw UsageError("--qme_ckpt needs --face_weights (one quality weight per probe), or --use_qe false");
  }
}

std::string qme_module_path() {
  const auto dir = executable_directory();
  const auto beside = dir / kModuleName;
  if (fs::exists(beside)) return beside.string();
  return (dir.parent_path() / "lib" / "qme" / kModuleName).string();
}

LearnedFusion load_qme_column(const std::string& checkpoint_path, const std::string& face_weights_path,
                              bool use_qe) {
  check_qme_column_flags(face_weights_path, use_qe);
  if (!fs::exists(checkpoint_path)) throw InputError(checkpoint_path, "", "does not exist");
  auto loading = std::make_shared<std::shared_future<LearnedFusion>>(
      std::async(std::launch::async, open_module, checkpoint_path, face_weights_path, use_qe).share());
  auto fuse = [loading](const std::vector<std::string>& models, const std::vector<const ModelScores*>& scores,
                        const TestLabels& labels) { return loading->get().fuse(models, scores, labels); };
  // Before any work (run_tables calls this): the weights file against the probes, then the
  // checkpoint, whose loading has overlapped with the reading of the score-matrix file, against
  // the models.
  auto check = [loading, face_weights_path, use_qe](const std::vector<std::string>& models,
                                                    const TestLabels& labels) {
    if (use_qe) io::read_face_weights(face_weights_path, static_cast<int64_t>(labels.query.size()));
    const auto& fusion = loading->get();  // rethrows a checkpoint the module refused
    if (fusion.check) fusion.check(models, labels);
  };
  return LearnedFusion{"qme", "QME", fuse, check};
}

}  // namespace qme::eval

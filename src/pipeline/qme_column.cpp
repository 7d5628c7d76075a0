#include "qme/pipeline/qme_column.hpp"

#include <filesystem>
#include <future>
#include <memory>

#include <spdlog/spdlog.h>

#include "qme/core/error.hpp"
#include "qme/formats/face_weights.hpp"
#include "qme/fusion/qme_table_column.hpp"
#include "qme/io/runtime_module.hpp"

namespace qme::pipeline {

using eval::ColumnKind;
using eval::ScoreFusion;
using eval::TableColumnId;

namespace {

namespace fs = std::filesystem;

constexpr const char* kModuleName = "libqme_tables_qme.so";
// What the module exports (src/fusion/qme_tables_module.cpp).
constexpr const char* kFactorySymbol = "qme_make_qme_table_fusion";
using Factory = void (*)(const std::string& checkpoint, const std::string& face_weights, bool use_qe,
                         std::unique_ptr<ScoreFusion>* out);

/// Opens the module (and with it LibTorch) and builds the fusion; runs on a background thread.
std::shared_ptr<ScoreFusion> open_module(const std::string& checkpoint, const std::string& face_weights,
                                         bool use_qe) {
  const auto factory =
      reinterpret_cast<Factory>(io::open_module_entry(kModuleName, kFactorySymbol, "--qme_ckpt"));
  std::unique_ptr<ScoreFusion> fusion;
  factory(checkpoint, face_weights, use_qe, &fusion);
  return fusion;
}

/// The QME column while its module loads: known by name at once, its check() and fuse() wait
/// for the module and rethrow what it refused (an unreadable or unsafe checkpoint).
class ModuleFusion : public ScoreFusion {
 public:
  ModuleFusion(const std::string& checkpoint, const std::string& face_weights, bool use_qe)
      : loading_(std::async(std::launch::async, open_module, checkpoint, face_weights, use_qe).share()),
        face_weights_(face_weights),
        use_qe_(use_qe) {}
  TableColumnId column() const override { return {"qme", "QME", ColumnKind::kLearned}; }
  /// The weights file against the probes first, then the checkpoint, whose loading has
  /// overlapped with the reading of the score-matrix file, against the models.
  void check(const std::vector<std::string>& models, const TestLabels& labels) const override {
    if (use_qe_) formats::read_face_weights(face_weights_, static_cast<int64_t>(labels.query.size()));
    loading_.get()->check(models, labels);
  }
  void fuse(const std::vector<std::string>& models, const std::vector<const ModelScores*>& scores,
            const TestLabels& labels, ModelScores& out) override {
    loading_.get()->fuse(models, scores, labels, out);
  }

 private:
  std::shared_future<std::shared_ptr<ScoreFusion>> loading_;
  std::string face_weights_;
  bool use_qe_;
};

}  // namespace

std::string qme_module_path() {
  return io::module_path(kModuleName);
}

std::unique_ptr<ScoreFusion> load_qme_column(const std::string& checkpoint_path,
                                             const std::string& face_weights_path, bool use_qe) {
  eval::check_qme_column_flags(face_weights_path, use_qe);
  if (!fs::exists(checkpoint_path)) throw InputError(checkpoint_path, "", "does not exist");
  std::string why_not;
  if (auto kernel = fusion::make_kernel_qme_column(checkpoint_path, face_weights_path, use_qe, &why_not)) {
    return kernel;
  }
  spdlog::debug("{}: QME through LibTorch ({})", checkpoint_path, why_not);
  return std::make_unique<ModuleFusion>(checkpoint_path, face_weights_path, use_qe);
}

}  // namespace qme::pipeline

#pragma once
/// The "qme" report / "QME" column of qme_tables, torch-free. One base (QmeTableColumn) holds
/// what every QME column does: read the face weights, check the model list against the
/// experts' width and the weights against the probes, fuse both score matrices. Two heads fill
/// it in: the CPU kernel's, whose weights are read without LibTorch (make_kernel_qme_column,
/// here), and LibTorch's module (fusion/qme_inference.hpp), for what the kernel cannot run.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "qme/core/score_matrix.hpp"
#include "qme/eval/score_fusion.hpp"

namespace qme::fusion {

class QmeTableColumn : public eval::ScoreFusion {
 public:
  /// Throws UsageError when use_qe is set without a weights file.
  QmeTableColumn(std::string checkpoint_path, std::string face_weights_path, bool use_qe);

  eval::TableColumnId column() const override { return {"qme", "QME", eval::ColumnKind::kLearned}; }
  /// The models against the experts' width; with use_qe, reads the face weights (their rows
  /// checked against the probes before anything is read).
  void check(const std::vector<std::string>& models, const TestLabels& labels) const override;
  void fuse(const std::vector<std::string>& models, const std::vector<const ModelScores*>& scores,
            const TestLabels& labels, ModelScores& out) override;

 protected:
  virtual int64_t num_models() const = 0;
  /// The head over (Q, N) matrices of num_models() models; quality: one weight per probe, or
  /// empty without use_qe.
  virtual ScoreMatrix fuse_matrices(const std::vector<const ScoreMatrix*>& matrices,
                                    const std::vector<float>& quality) const = 0;
  const std::string& checkpoint_path() const { return checkpoint_path_; }

 private:
  std::string checkpoint_path_;
  std::string face_weights_path_;
  bool use_qe_;
  mutable std::vector<float> weights_;  // read by the first check(), when the probes are known
  mutable bool weights_read_ = false;
};

/// Throws InputError explaining the mismatch unless `models` has `expected` entries (the
/// experts' width, from `checkpoint_path`'s experts.0.bn.weight). The order cannot be checked
/// from the weights: it must be the training model_list's.
void check_model_count(const std::string& checkpoint_path, int64_t expected,
                       const std::vector<std::string>& models);

/// The QME column on the CPU kernel, its weights read without LibTorch, or nullptr (with the
/// reason in `why_not`) when this head or CPU needs LibTorch's path: a file the torch-free
/// reader refuses (it leaves the authoritative error to read_checkpoint), weights other than
/// float32, another shape than upstream's two-expert head with one output, more models than the
/// kernel fuses, or a CPU without AVX2 and FMA. Its fused scores are bit for bit the LibTorch
/// path's.
std::unique_ptr<eval::ScoreFusion> make_kernel_qme_column(const std::string& checkpoint_path,
                                                          const std::string& face_weights_path, bool use_qe,
                                                          std::string* why_not);

}  // namespace qme::fusion

#pragma once
/// QME inference on score-matrix files, as upstream's main.py `test` does in score mode: a
/// trained fusion head applied, in eval mode and without gradients, to every probe's scores of
/// the fused models, mixed by one precomputed quality weight per probe (the `face_weights`
/// file that QE evaluation writes). Works through the rows in blocks, so memory stays bounded
/// for any gallery size. The header is torch-free (the model sits behind a pimpl), so the
/// table tool does not compile LibTorch's headers.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "qme/core/score_matrix.hpp"
#include "qme/eval/score_fusion.hpp"
#include "qme/formats/face_weights.hpp"

namespace qme::fusion {

struct QmeInferenceOptions {
  bool use_qe = true;  ///< false: q = 0.5 for every probe; no quality weights are read
  /// Probes per forward pass; 0: the whole matrix when its activations fit in 1 GiB (upstream's
  /// single pass, bit for bit), else blocks that do. Other block sizes may move a fused score
  /// by one float32 ulp (the matrix kernels tile rows by the batch size).
  int64_t block_rows = 0;
  /// true: on a CPU with AVX2 and FMA, qme's pair-by-pair kernel (LibTorch's float32 operations,
  /// no large intermediates); false: LibTorch's ops, in blocks of block_rows.
  bool cpu_kernel = true;
};

/// A trained QME head (upstream MoNormQE_dev state dict) ready to fuse score matrices.
class QmeInference {
 public:
  /// Reads the checkpoint and takes the head's shape from it (number of models, MLP ratio,
  /// output width). Its "qe.*" entries are not needed here (the weights come precomputed) and
  /// are skipped, as upstream's load_state_dict(strict=False) would. Throws InputError naming
  /// the file when it is unreadable, unsafe, or not a QME checkpoint.
  explicit QmeInference(const std::string& checkpoint_path, const QmeInferenceOptions& options = {});
  ~QmeInference();
  QmeInference(QmeInference&&) noexcept;
  QmeInference& operator=(QmeInference&&) noexcept;

  const std::string& checkpoint_path() const;
  /// How many models the experts fuse (the width of experts.0.bn.weight).
  int64_t num_models() const;
  /// Throws InputError explaining the mismatch unless `models` has num_models() entries. The
  /// order cannot be checked from the weights: it must be the training model_list's.
  void check_models(const std::vector<std::string>& models) const;

  /// Fuses (Q, N) matrices of the num_models() models, in training order; `quality` holds one
  /// weight per probe (ignored with use_qe false). Throws Error on mismatched shapes.
  ScoreMatrix fuse(const std::vector<const ScoreMatrix*>& matrices, const std::vector<float>& quality) const;
  /// Both score_mat and merge_score_mat, as upstream's two inference calls.
  ModelScores fuse(const std::vector<const ModelScores*>& models, const std::vector<float>& quality) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The quality-weights reader lives in qme_base (torch-free), where qme_tables' plots use it too.
using formats::read_face_weights;

/// The "qme" report / "QME" column of qme_tables on LibTorch's head (qme_table_column.hpp):
/// loads the checkpoint now, so a bad file fails before any evaluation; its check() (which
/// run_tables asks before any work) compares the model list with the experts' width and reads
/// the weights, checked against the number of probes. Throws UsageError when use_qe is set
/// without a weights file.
std::unique_ptr<eval::ScoreFusion> make_qme_table_fusion(const std::string& checkpoint_path,
                                                         const std::string& face_weights_path, bool use_qe);

}  // namespace qme::fusion

#pragma once
/// Score matrices from features, as upstream's test.py (get_scoremat_from_feats)
/// builds them, vectorised: one matrix product per tile of probes x gallery
/// entries (per part for BigGait) on the CPU (oneDNN) or a CUDA device.
/// Torch-free: the CPU's kernels call oneDNN directly, so a program that scores on
/// the CPU never loads LibTorch (qme_test --eval_mode score|gather). CUDA devices
/// and the generic kernels are LibTorch's: scores::enable_device_scores()
/// (qme/scores/device_scores.hpp) installs them.
///
/// Semantics (upstream's):
/// - score_mat(i, j) = similarity(probe i, gallery j);
/// - merge_score_mat(i, u) = similarity(probe i, template u), the template of
///   subject u (unique gallery pids, ascending) being the mean of its gallery
///   rows, value by value, ignoring NaN (np.nanmean);
/// - a score that upstream computes as NaN becomes 0 (np.nan_to_num): every pair
///   with a non-finite value in either feature scores 0, so does a subject whose
///   gallery rows are all NaN.
#include <cstdint>
#include <string>
#include <vector>

#include "qme/core/identity_labels.hpp"
#include "qme/core/score_matrix.hpp"
#include "qme/formats/features_file.hpp"
#include "qme/scores/similarity.hpp"

namespace qme::scores {

/// A borrowed (rows, dim) row-major float32 feature matrix.
struct FeatureRows {
  const float* data = nullptr;
  int64_t rows = 0;
  int64_t dim = 0;
};

struct ScoreOptions {
  /// "cpu", "cuda", "cuda:N" or "auto" (CUDA when LibTorch has it, else the
  /// CPU): where the matrix products run. CUDA requested when LibTorch has none
  /// is a UsageError (the executables check this first); so is any device but
  /// "cpu" and "auto" (the CPU then) where enable_device_scores() was not called.
  std::string device = "cpu";
  /// CPU threads for the products (0: QME_NUM_THREADS or all cores); LibTorch's
  /// own setting is restored afterwards.
  int num_threads = 0;
  /// Bound on the probe x gallery scores computed at once: the matrices are
  /// built tile by tile (at most 512 probe rows by this / rows gallery
  /// columns), so memory beyond the output stays bounded for large galleries.
  /// The CPU kernels never use tiles above 2^20 scores.
  int64_t block_elements = int64_t{1} << 26;
  /// Use the tensor-operation path that CUDA runs on the CPU as well (tests);
  /// the CPU's own kernels fuse the element-wise steps.
  bool generic_kernels = false;
};

/// probes x gallery scores (float32). Throws InputError when the widths differ
/// or do not suit `similarity`, UsageError for a device this program cannot use.
ScoreMatrix similarity_matrix(const FeatureRows& probes, const FeatureRows& gallery, Similarity similarity,
                              const ScoreOptions& options = {});

/// similarity_matrix for the options the CPU kernels do not run (a CUDA device, "auto" where
/// LibTorch may have one, the generic kernels).
using DeviceScoring = ScoreMatrix (*)(const FeatureRows& probes, const FeatureRows& gallery,
                                      Similarity similarity, const ScoreOptions& options);

/// Installs `scoring` for those options (enable_device_scores() installs LibTorch's).
void set_device_scoring(DeviceScoring scoring);

/// One template per subject: the NaN-ignoring mean of the gallery rows whose pid
/// is `subjects[u]`, value by value (NaN where a value is NaN in all of them).
/// Returns (subjects.size(), dim) row-major. Throws InputError when
/// `gallery_pids` does not have one pid per gallery row.
std::vector<float> subject_templates(const FeatureRows& gallery, const std::vector<int64_t>& gallery_pids,
                                     const std::vector<int64_t>& subjects);

/// The ids of a features file with `unique_gallery_pids` = sorted distinct g_pids.
TestLabels test_labels(const formats::TestFeatures& features);

/// score_mat (Q x G) and merge_score_mat (Q x U, U = test_labels(features)
/// .unique_gallery_pids) of one model's test features.
ModelScores build_model_scores(const formats::TestFeatures& features, Similarity similarity,
                               const ScoreOptions& options = {});

}  // namespace qme::scores

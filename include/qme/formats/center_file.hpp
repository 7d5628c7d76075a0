#pragma once
/// Training-set center features in upstream's layout (precompute_center.py):
///
/// - frames file `{dir}/{model}_center_n{N}_{ds}_CC.h5`: one group per training
///   pid (decimal string), in it one dataset per camera and outfit,
///   `"{pid}/{camid}_{clothes_id}"` = all frame features (n, d) float32 of that
///   identity seen by that camera in that outfit;
/// - aggregated file `{dir}/{model}_center_{ds}_CC.h5`: the same keys, each the
///   (1, d) float32 mean of its frames.
///
/// `dir` is upstream's --save_path (default ./mod_center_feat). N is the
/// sampling step (frames per clip) the frames were extracted with.
///
/// Order (upstream's main.py load_center_feat_cc): pids ascending numerically
/// (2 before 10); within a pid, the "{camid}_{clothes_id}" names in *lexical*
/// order, as Python's sorted() on the key strings ("10_3" before "2_1"). This row
/// order is the center order of training. Upstream only loads the pids
/// 0 .. num_train_pids-1 (it relabels training pids densely); qme reads every
/// pid group in the file.
#include <cstdint>
#include <string>
#include <vector>

#include "qme/formats/feature_matrix.hpp"

namespace qme::formats {

/// One clothing-level center: a training identity in one camera and outfit.
struct CenterKey {
  int64_t pid = 0;
  int64_t camid = 0;
  int64_t clothes_id = 0;

  bool operator==(const CenterKey& o) const {
    return pid == o.pid && camid == o.camid && clothes_id == o.clothes_id;
  }
  bool operator!=(const CenterKey& o) const { return !(*this == o); }
};

/// "{pid}/{camid}_{clothes_id}": the key's dataset in a center file.
std::string center_dataset_name(const CenterKey& key);
/// "{pid}_{camid}_{clothes_id}": upstream's center_keys entry (main.py).
std::string center_key_text(const CenterKey& key);

/// All frame features (n, d) of one key.
struct CenterFrames {
  CenterKey key;
  FeatureMatrix frames;
};

/// "{dir}/{model}_center_n{num_sample}_{dataset}_CC.h5".
std::string center_frames_path(const std::string& dir, const std::string& model, const std::string& dataset,
                               int64_t num_sample);
/// "{dir}/{model}_center_{dataset}_CC.h5".
std::string centers_path(const std::string& dir, const std::string& model, const std::string& dataset);

/// The (d) mean of a key's frames exactly as numpy's
/// frames.mean(axis=0, keepdims=True) computes it in float32 (upstream's
/// aggregate_mod_center_cc): rows accumulated in order in float32, then divided
/// by n (for d == 1 numpy's pairwise sum instead). Requires frames.rows >= 1.
std::vector<float> center_mean(const FeatureMatrix& frames);

/// Writes the frames file atomically. Throws InputError naming `path` when the
/// list is empty, a key repeats, a matrix has no rows or is inconsistent, or the
/// widths differ.
void write_center_frames(const std::string& path, const std::vector<CenterFrames>& centers);
/// Writes the aggregated file: the (1, d) center_mean of each key. Same checks.
void write_centers(const std::string& path, const std::vector<CenterFrames>& centers);

/// Reads either kind of file with every dataset whole, in the order above.
std::vector<CenterFrames> read_center_frames(const std::string& path);

/// The centers of one model: row k of `features` is keys[k].
struct Centers {
  std::vector<CenterKey> keys;
  FeatureMatrix features;  // (K, d)
  std::string source;      // the file it was read from (messages)

  int64_t size() const { return static_cast<int64_t>(keys.size()); }
  int64_t dim() const { return features.cols; }
};

/// Reads either kind of file: a dataset of n > 1 rows (a frames file) becomes its
/// center_mean, a (1, d) or (d) dataset is taken as it is. Throws InputError
/// naming the file and the group or dataset when the file is missing, holds no
/// center, a root member is not a group named by a decimal pid, a member of a
/// pid group is not a dataset named "{camid}_{clothes_id}", a dataset is not
/// (d) or (n, d) with n, d >= 1, the widths differ, or two names parse to the
/// same key ("2" and "02").
Centers read_centers(const std::string& path);

/// Upstream's alignment across models (main.py): the reference is the first
/// model with the most centers; every model is returned with the reference's
/// keys, in its order, holding its own row for a key it has and a zero row for a
/// key it lacks (e.g. an identity without face images for a face model). A
/// model's centers whose key the reference lacks are dropped, with a warning.
/// Unlike upstream, a model whose count equals the reference's is aligned by key
/// too (upstream leaves it as is, which is only right when the key sets agree).
/// Empty input gives an empty result.
std::vector<Centers> align_centers(const std::vector<Centers>& per_model);

/// The pid of each center row (upstream's center_pids: the labels that the
/// score triplet loss and the pseudo-quality loss compare probes with).
std::vector<int64_t> center_labels(const Centers& centers);

}  // namespace qme::formats

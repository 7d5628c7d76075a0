#pragma once
/// The training-frames cache `{dir}/{model}_train_{ds}.h5` (a qme extension,
/// docs/architecture.md §2.3; root attribute qme_format = 1), written by qme_precompute_center
/// next to the center files so that training never re-runs a backbone:
///
/// | dataset       | shape       | type    | holds                                        |
/// |---------------|-------------|---------|----------------------------------------------|
/// | feats         | (F, d)      | float32 | one row per training frame (per augmented view) |
/// | pids          | (F)         | int64   | training label (dense, 0..num_train_pids-1)  |
/// | camids        | (F)         | int64   |                                              |
/// | clothes_ids   | (F)         | int64   |                                              |
/// | sample_index  | (F)         | int64   | the dense training sample (clip) of the frame |
/// | frame_keys    | (F)         | string  | the frame's dataset key, e.g. "session1/001_01/00001" |
/// | qe_stats      | (F, S)      | float32 | optional: models with a QE (face S = 2048, body S = 3072) |
/// | has_face      | (F)         | uint8   | optional: face models; 0/1, qe_stats rows without a face are
/// zero |
///
/// Readers accept ids in any numeric dtype and frame_keys as variable- or
/// fixed-length strings. The width of qe_stats is checked by its consumer (the
/// quality estimator), not here.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "qme/formats/feature_matrix.hpp"

namespace qme::formats {

inline constexpr int64_t kFaceQeStatsWidth = 2048;  // [block 2][stat 2][channel 512]
inline constexpr int64_t kBodyQeStatsWidth = 3072;  // layer2 + layer3 channels x (mean, std)

struct TrainingFrames {
  FeatureMatrix feats;                                           // (F, d)
  std::vector<int64_t> pids, camids, clothes_ids, sample_index;  // (F)
  std::vector<std::string> frame_keys;                           // (F)
  std::optional<FeatureMatrix> qe_stats;                         // (F, S)
  std::optional<std::vector<uint8_t>> has_face;                  // (F)
  std::string source;  // the file it was read from (messages); not written

  int64_t size() const { return feats.rows; }
};

/// "{dir}/{model}_train_{dataset}.h5" (dir: the center folder, ./mod_center_feat).
std::string training_frames_path(const std::string& dir, const std::string& model,
                                 const std::string& dataset);

/// Throws InputError(source, field, ...) unless `frames` holds at least one
/// frame of width >= 1, every per-frame array has F entries, qe_stats (when
/// present) is (F, S >= 1), has_face (when present) holds only 0 and 1, and
/// sample_index is >= 0.
void validate_training_frames(const TrainingFrames& frames, const std::string& source);

/// Validates, then writes atomically with qme_format = 1.
void write_training_frames(const std::string& path, const TrainingFrames& frames);

/// Reads and validates (qme_format must be 1; every check of
/// validate_training_frames; feats and qe_stats must be 2-D). InputError names
/// the file and the dataset.
TrainingFrames read_training_frames(const std::string& path);

/// Aligns several models' caches frame by frame. Rule: a frame is used when its
/// key is present in every model; the common order is the first model's row
/// order; a key that occurs k_m times in model m (augmented views) contributes
/// min_m k_m rows, its i-th occurrences matched with each other. Returns, per
/// model, the row of each common frame (all vectors of equal length). Throws
/// InputError naming the files when matched frames disagree in pid, camid,
/// clothes_id or sample_index, or when no frame is common to all models.
/// Frames dropped because some model lacks them are logged (info). Empty input
/// gives an empty result.
std::vector<std::vector<int64_t>> align_by_frame_key(const std::vector<const TrainingFrames*>& models);

}  // namespace qme::formats

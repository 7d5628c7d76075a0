#pragma once
/// The probes' face QE statistics (the "test QE statistics") `{dir}/{model}_{ds}_test_qe.h5` (a qme
/// extension, docs/architecture.md §2.3; root attribute qme_format = 1), written by
/// `qme_test --eval_mode feat` for a model with a QE, so that QE training can
/// score the probes without a backbone:
///
/// | dataset     | shape   | type    | holds                                       |
/// |-------------|---------|---------|---------------------------------------------|
/// | qe_stats    | (n, S)  | float32 | one row per probe frame that has a face (S = 2048) |
/// | frame_clip  | (n)     | int64   | the clip (0..C-1) each row belongs to        |
/// | clip_query  | (C)     | int64   | the probe (row of the score matrices) of each clip |
///
/// A clip without a face has no row; n may be 0.
#include <cstdint>
#include <string>
#include <vector>

#include "qme/formats/feature_matrix.hpp"

namespace qme::formats {

struct ProbeQualityStats {
  FeatureMatrix qe_stats;           // (n, S)
  std::vector<int64_t> frame_clip;  // (n), values in [0, C)
  std::vector<int64_t> clip_query;  // (C), values >= 0
  std::string source;               // the file it was read from (messages); not written

  int64_t num_frames() const { return qe_stats.rows; }
  int64_t num_clips() const { return static_cast<int64_t>(clip_query.size()); }
};

/// "{dir}/{model}_{dataset}_test_qe.h5" (dir: ./test_feats).
std::string probe_quality_stats_path(const std::string& dir, const std::string& model,
                                     const std::string& dataset);

/// Throws InputError(source, field, ...) unless qe_stats is consistent with
/// S >= 1 columns, frame_clip has one entry per row, every frame_clip is in
/// [0, C) and every clip_query is >= 0.
void validate_probe_quality_stats(const ProbeQualityStats& stats, const std::string& source);

/// Validates, then writes atomically with qme_format = 1.
void write_probe_quality_stats(const std::string& path, const ProbeQualityStats& stats);

/// Reads and validates (qme_format must be 1; qe_stats 2-D). InputError names
/// the file and the dataset.
ProbeQualityStats read_probe_quality_stats(const std::string& path);

/// Throws InputError naming stats.source and clip_query unless every clip names a probe in
/// [0, num_queries): what query_quality_weights needs, checkable before any training.
void check_clip_queries(const ProbeQualityStats& stats, int64_t num_queries);

/// Upstream's rule (main.py test, mod_qe): a clip's weight is the mean of the
/// QE output over its frames (`frame_weight`, one per qe_stats row); a query's
/// weight is the mean over its clips that have a face of their weights, and 0
/// when none of its clips has a face. Means are taken in double and returned
/// as float. Throws InputError naming stats.source when frame_weight has not
/// one entry per row or a clip_query is >= num_queries.
std::vector<float> query_quality_weights(const ProbeQualityStats& stats,
                                         const std::vector<float>& frame_weight, int64_t num_queries);

}  // namespace qme::formats

#pragma once
/// Feature extraction with a TorchScript backbone, as upstream's test.py (--eval_mode feat) and
/// precompute_center.py do it, plus the sharding that lets a Slurm array split the work.
/// Torch-free header: the executables include it without LibTorch's headers.
///
/// Test features (extract_test_features): every query and gallery video is cut into test clips
/// (8 frames, stride 4; LTCC: one image per sample); a clip's feature is the model's clip
/// feature (mean over frames, biggait's max + fc_bin, or the clip model's output), a face clip
/// holding one seeded random crop of each frame that has faces; a video's feature is the mean of
/// its clips' features, clips without a face skipped, a NaN row when none has one. Written as
/// `{feats_dir}/{model}_{ds}_test.h5`, plus `{model}_{ds}_test_qe.h5` (the query frames' QE
/// statistics) for models with a quality estimator (adaface, kprpe: face; cal-*: body).
///
/// Centers (extract_centers): the training tracklets are cut into dense samples of num_sample
/// frames (LTCC: one image each). Frame models (face, cal-ccvid/ltcc, aim) give one feature per
/// frame (face models: per frame with a face), clip models (biggait, cal-mevid, agrl) one per
/// sample, as upstream. Written: the frames file `{model}_center_n{N}_{ds}_CC.h5`, the
/// aggregated `{model}_center_{ds}_CC.h5` (the float32 mean of each key's rows) and the
/// training-frames cache `{model}_train_{ds}.h5` (one row per training frame, each frame on its
/// own: clip models see it as a one-frame clip; with QE statistics for QE models; with views
/// K > 1, K rows per frame, each through the model's training augmentations, seeded by the
/// frame and the view, while the centers still come from the unaugmented frames).
///
/// Differences from upstream, on purpose: samples come in dataset order (upstream: a seeded
/// random permutation), so rows within a center key are in frame order; a sample shorter than
/// num_sample uses each of its frames once (upstream draws num_sample frames with replacement,
/// which leaves clip-mean and max features unchanged up to weighting); LTCC centers use the test
/// transform (upstream passes its random training transform); face crops are drawn from a
/// seeded generator (upstream's draw is unseeded).
///
/// Sharding: `num_shards` > 1 splits the videos (test) or training tracklets (centers) into
/// contiguous runs; each shard writes `*.shard{i}of{N}.h5` parts, and merge_* assembles them
/// into exactly the files a single run writes, bit for bit (batches are planned independently of
/// the shard count, see batch_plan.hpp).
#include <cstdint>
#include <string>

#include "qme/config/backbone_config.hpp"

namespace qme::pipeline {

struct ShardSpec {
  int64_t num_shards = 1;
  int64_t shard_index = 0;
  bool sharded() const { return num_shards > 1; }
};

/// What both extractions share.
struct ExtractionOptions {
  std::string model;                ///< a config::known_models() name
  std::string dataset;              ///< ccvid, mevid or ltcc
  std::string root;                 ///< folder holding CCVID/, mevid/, LTCC_ReID/
  config::BackboneConfig backbone;  ///< gives {model}_torchscript_path; written next to the outputs
  std::string device = "cpu";       ///< "cpu", "cuda", "cuda:N"
  int64_t batch_frames = 32;        ///< frames per forward (test: clips of 8 frames per batch = this / 8)
  int num_workers = 1;              ///< threads reading and transforming frames
  uint64_t seed = 1;                ///< face-crop choice
  bool optimize = true;             ///< Backbone's optimize_for_inference
  ShardSpec shard;
};

struct TestExtractionOptions : ExtractionOptions {
  std::string feats_dir = "./test_feats";
};

struct TestExtractionResult {
  std::string features_path;  ///< the features file (or this shard's part)
  std::string qe_path;        ///< the QE statistics file, "" when the model has none (or a shard)
  int64_t num_query = 0, num_gallery = 0, dim = 0;
  int64_t nan_query = 0, nan_gallery = 0;  ///< rows without a feature (no face)
  int64_t num_clips = 0;                   ///< clips this run computed
  double seconds = 0;
};

/// "{feats_dir}/{model}_{dataset}_test.shard{i}of{N}.h5".
std::string test_shard_path(const std::string& feats_dir, const std::string& model,
                            const std::string& dataset, const ShardSpec& shard);

/// Extracts the test features (or one shard of them). InputError naming the file and key for
/// a missing TorchScript path or file, a backbone of the wrong family, or bad dataset files.
TestExtractionResult extract_test_features(const TestExtractionOptions& options);

/// Assembles the `num_shards` parts in `feats_dir` into the files a single run writes. Refuses
/// (InputError naming the part) a missing part, or parts from different runs or models.
TestExtractionResult merge_test_shards(const std::string& feats_dir, const std::string& model,
                                       const std::string& dataset, int64_t num_shards);

struct CenterExtractionOptions : ExtractionOptions {
  std::string save_path = "./mod_center_feat";
  int64_t num_sample = 100;  ///< frames per dense training sample (upstream's --num_sample)
  int64_t views = 1;         ///< rows per frame in the training-frames cache (> 1: augmented views)
};

struct CenterExtractionResult {
  std::string frames_path;           ///< {model}_center_n{N}_{ds}_CC.h5 (or this shard's part)
  std::string centers_path;          ///< {model}_center_{ds}_CC.h5, "" for a shard
  std::string training_frames_path;  ///< {model}_train_{ds}.h5 (or this shard's part)
  int64_t num_samples = 0, num_frames = 0, num_center_rows = 0, num_centers = 0, dim = 0;
  double seconds = 0;
};

/// "{save_path}/{model}_center_n{N}_{dataset}_CC.shard{i}of{N}.h5" and
/// "{save_path}/{model}_train_{dataset}.shard{i}of{N}.h5".
std::string center_shard_path(const std::string& save_path, const std::string& model,
                              const std::string& dataset, int64_t num_sample, const ShardSpec& shard);
std::string training_frames_shard_path(const std::string& save_path, const std::string& model,
                                       const std::string& dataset, const ShardSpec& shard);

CenterExtractionResult extract_centers(const CenterExtractionOptions& options);

CenterExtractionResult merge_center_shards(const std::string& save_path, const std::string& model,
                                           const std::string& dataset, int64_t num_sample,
                                           int64_t num_shards);

/// The model's TorchScript file from the backbone config; InputError naming the config and the
/// key `{model}_torchscript_path` when it is not set.
std::string torchscript_path(const config::BackboneConfig& config, const std::string& model);

}  // namespace qme::pipeline

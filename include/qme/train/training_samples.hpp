#pragma once
/// The dense training samples of a run, built once from qme's caches (docs/architecture.md §2.3) so that a
/// training step only gathers rows: upstream's trainloader runs the backbones on every sample of
/// every batch; the backbones are frozen, so qme does that work once.
///
/// What upstream's main.py feeds a step, and what qme takes from the caches instead:
/// - a sample is one dense training chunk (`sample_index` of the training-frames cache, written
///   with sampling step num_sample); upstream crops num_sample frames of it (TemporalRandomCrop);
///   qme takes T = num_sample frame slots deterministically: the middle frame of each of T equal
///   parts when the chunk has L >= T frames (a dense chunk has T frames, the last one of a video
///   up to 2T - 1), frame i % L otherwise;
/// - a model's feature of the sample is the mean of its T slot rows (upstream: the mean over T of
///   the backbone's frame features; biggait's max-then-FC and the clip models agree with it for
///   upstream's num_sample 1), scored against the model's aligned training centers with the
///   model's similarity (scores::similarity_for_model), once per sample;
/// - face models: a slot whose frame has no face is padded as upstream's training face sampler
///   pads it: with a random face of the same sample, else of the same tracklet (the frame key's
///   folder; not for ltcc, whose folder is the whole split), else of the same identity (not for
///   mevid, where upstream leaves the clip empty). The draws are made once from the run's seed
///   (upstream redraws them every epoch). A sample with no face to pad from keeps zero rows: a
///   zero feature (it scores 0 against every center) and zero QE statistics;
/// - the quality estimator reads the QE model's cached per-frame statistics of the same slots.
///
/// Frames are used when every model's cache holds them (formats::align_by_frame_key); samples are
/// ordered by their cache sample_index. Torch-free: the step's tensors are assembled in
/// training_batches.hpp.
#include <cstdint>
#include <string>
#include <vector>

#include "qme/data/sampling.hpp"
#include "qme/formats/center_file.hpp"
#include "qme/formats/feature_matrix.hpp"
#include "qme/formats/training_frames.hpp"

namespace qme::train {

struct TrainingSampleOptions {
  int64_t frames_per_sample = 1;  ///< T: the training config's num_sample (>= 1)
  std::string dataset;            ///< selects upstream's face padding rules (ccvid, ltcc, mevid, other)
  uint64_t seed = 42;             ///< draws of the padding faces
};

/// One model's inputs: its training-frames cache and its centers, already aligned across every
/// model of the run (formats::align_centers).
struct ModelTrainingCache {
  std::string model;
  formats::TrainingFrames frames;
  formats::Centers centers;
};

/// Everything the training steps read, per dense training sample.
struct TrainingSamples {
  std::vector<std::string> models;                 ///< the scored models, in model_list order
  std::vector<int64_t> sample_index;               ///< (S) the cache's sample_index
  std::vector<int64_t> pids, camids, clothes_ids;  ///< (S) training labels
  std::vector<int64_t> center_labels;              ///< (C) pid of every aligned center
  std::vector<float> scores;                       ///< (S, M, C) row-major: model m's score vs center c
  int64_t frames_per_sample = 1;                   ///< T

  std::string quality_model;             ///< the model whose QE statistics are kept; "" for none
  formats::FeatureMatrix quality_stats;  ///< (R, W) that model's cached statistics (rows of its cache)
  std::vector<int64_t> quality_rows;     ///< (S * T) row of quality_stats per slot; -1: a zero row

  int64_t samples_without_face = 0;   ///< samples whose own frames have no face (padded or zero)
  int64_t samples_left_faceless = 0;  ///< of those, samples with nothing to pad from (zero rows)

  int64_t size() const { return static_cast<int64_t>(pids.size()); }
  int64_t num_models() const { return static_cast<int64_t>(models.size()); }
  int64_t num_centers() const { return static_cast<int64_t>(center_labels.size()); }
  int64_t quality_width() const { return quality_stats.cols; }
  /// Index of `model` in `models`; -1 when absent.
  int64_t model_index(const std::string& model) const;
};

/// Builds the samples from every model's cache (in model_list order; each model's centers
/// aligned with the others'). `quality_model` names the model whose qe_stats are kept ("" for
/// none); its cache must hold qe_stats. The caches' feature rows are released as they are used.
/// Throws InputError naming the cache file and field when a cache's feature width differs from
/// its centers' or does not suit the model's similarity, the quality model's cache has no
/// qe_stats, or no frame is common to all caches; UsageError on bad options.
TrainingSamples build_training_samples(std::vector<ModelTrainingCache> caches,
                                       const std::string& quality_model,
                                       const TrainingSampleOptions& options);

/// Where a run reads its caches and what it needs from them.
struct TrainingCacheRequest {
  std::string center_dir = "mod_center_feat";  ///< upstream's mod_center_feat/
  std::string dataset;
  std::vector<std::string> center_models;  ///< every model of model_list: their centers are aligned together
  std::vector<std::string> frame_models;   ///< the models whose training frames are scored (model_list order)
  std::string quality_model;               ///< one of frame_models, or ""
};

/// Reads `{center_dir}/{model}_center_{ds}_CC.h5` of every center model (the per-frame file
/// `{model}_center_n{N}_{ds}_CC.h5` when the aggregated one is absent), aligns them, reads
/// `{center_dir}/{model}_train_{ds}.h5` of every frame model and builds the samples. A missing
/// file is an InputError naming it, the model and how to produce it.
TrainingSamples load_training_samples(const TrainingCacheRequest& request,
                                      const TrainingSampleOptions& options);

/// The order in which a run visits the samples: upstream's trainloader, an identity sampler
/// (num_instances 1: a permutation of the samples, reseeded with seed + epoch) cut into batches
/// of train_batch samples, the last incomplete batch dropped (drop_last). A step's batch is a
/// function of the step number alone, so a resumed run continues mid-epoch where it stopped.
class BatchSchedule {
 public:
  /// `sample_pids`: the pid of every sample. UsageError when there are fewer samples than
  /// batch_size (an epoch would have no step) or batch_size < 1.
  BatchSchedule(std::vector<int64_t> sample_pids, int64_t batch_size, uint64_t seed);

  /// len(trainloader).
  int64_t steps_per_epoch() const { return steps_per_epoch_; }
  int64_t batch_size() const { return batch_size_; }
  /// The samples of the 0-based `step` of the run: epoch step / steps_per_epoch, batch
  /// step % steps_per_epoch of that epoch's order.
  std::vector<int64_t> batch(int64_t step);

 private:
  data::IdentitySampler sampler_;
  int64_t batch_size_;
  int64_t steps_per_epoch_;
  int64_t epoch_ = -1;
  std::vector<int64_t> order_;
};

/// The T frame slots of a chunk of `length` frames (see the file comment): indices in
/// [0, length). UsageError unless length >= 1 and frames_per_sample >= 1.
std::vector<int64_t> sample_slots(int64_t length, int64_t frames_per_sample);

}  // namespace qme::train

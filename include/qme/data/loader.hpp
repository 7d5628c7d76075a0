#pragma once
/// The threaded batch loader (docs/architecture.md §7.3): reads frames and face crops from a
/// dataset's .h5 files, applies each model's test or training transform, and
/// hands out batches in a fixed order.
///
/// Two modes:
///  - kTest: the samples in list order (e.g. test_clips(...).clips, or LTCC's
///    images), every frame of a sample, each model's test transform; faces: one
///    seeded random crop per frame that has faces. The last batch may be short.
///  - kTrain: IdentitySampler(samples, num_instances, seed).epoch_indices(epoch)
///    cut into batches (an incomplete last batch dropped, as upstream's
///    drop_last); per model, video samples draw TemporalRandomCrop(clip_len,
///    stride) and faces are padded from the tracklet/identity as upstream;
///    each model's training augmentations (augment.hpp).
///
/// Determinism: every random draw of batch row r for model m comes from a
/// SampleRng seeded from (seed, epoch, the row's position in the pass, m), so
/// the batches are the same for any number of workers.
///
/// Threads: `num_workers` threads each build whole batches (batch i is claimed
/// in order and built by one worker); at most `prefetch` batches are built
/// ahead of the consumer. Every HDF5 call goes through one process-wide mutex
/// (the HDF5 C++ API is not thread-safe, even where the C library is built
/// thread-safe); decoding into images, resizing and normalising run in
/// parallel outside it.
#include <torch/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "qme/data/datasets.hpp"

namespace qme::data {

enum class LoaderMode { kTest, kTrain };

/// The dataset the loader reads: files, kind, and what face padding needs.
struct LoaderSource {
  std::string dataset;  ///< "ccvid", "mevid" or "ltcc" (training face padding rules)
  DatasetKind kind = DatasetKind::kVideo;
  std::string body_file;
  std::string face_file;  ///< required when a face model (adaface) is loaded
  std::map<std::string, std::vector<std::string>> id2face;  ///< LTCC training face padding

  /// The files and rules of `splits` (read_dataset's result).
  static LoaderSource of(const DatasetSplits& splits);
};

struct LoaderOptions {
  std::vector<std::string> models;  ///< models to load, each a name test_transform() knows
  LoaderMode mode = LoaderMode::kTest;
  int64_t batch_size = 1;
  int num_workers = 1;
  int64_t prefetch = 4;  ///< batches built ahead of the consumer, at least 1
  uint64_t seed = 0;
  int64_t epoch = 0;          ///< kTrain: the sampler's epoch (order from seed + epoch)
  int64_t clip_len = 8;       ///< kTrain, video sets: TemporalRandomCrop size (upstream: SAMPLING_STEP)
  int64_t stride = 4;         ///< kTrain, video sets: TemporalRandomCrop stride
  int64_t num_instances = 1;  ///< kTrain: IdentitySampler's K
  /// Called on the consumer's thread by next() after each batch: (samples
  /// delivered so far, samples in the pass).
  std::function<void(int64_t done, int64_t total)> progress;
};

/// One batch. B = rows, T = frames (or face crops) per row.
struct Batch {
  int64_t index = 0;             ///< batch number in the pass
  std::vector<int64_t> samples;  ///< rows: indices into the loader's sample list
  /// model -> float32 (B, 3, T, H, W). Body models: T = the sample's frames
  /// (test) or clip_len (training; 1 for LTCC). Face models: the crops packed
  /// at the front in frame order, zero-filled after them; T = the most crops of
  /// any row (test; 0 when no row has a face) or the clip length (training,
  /// where upstream pads with faces of the tracklet/identity or zeros).
  std::map<std::string, torch::Tensor> clips;
  /// model -> bool (B, T): true where clips[model] holds a frame or crop.
  /// With batch_size 1 a face clip is exactly upstream's (all true).
  std::map<std::string, torch::Tensor> masks;
  /// model -> per row, the .h5 dataset keys read (frames, or "<frame>/face_K").
  std::map<std::string, std::vector<std::vector<std::string>>> keys;
  torch::Tensor pids, camids, clothes_ids;  ///< int64 (B)
};

/// Loads `samples` in batches (see the file comment). Not copyable; destroying
/// it (also mid-pass) stops and joins the workers.
class ClipLoader {
 public:
  /// Opens the .h5 files and starts the workers. InputError for a missing file,
  /// an unknown model, a face model without a face file, or a sample without
  /// frames; UsageError for non-positive batch_size / num_workers / prefetch.
  ClipLoader(LoaderSource source, std::vector<Tracklet> samples, LoaderOptions options);
  ~ClipLoader();
  ClipLoader(const ClipLoader&) = delete;
  ClipLoader& operator=(const ClipLoader&) = delete;

  /// The next batch in order, blocking until it is built; nullopt after the
  /// last one. When a worker failed on this batch, rethrows its error (an
  /// InputError naming the file and key), now and on every later call.
  std::optional<Batch> next();

  int64_t num_batches() const { return num_batches_; }
  /// Samples the pass delivers (training drops the incomplete last batch).
  int64_t num_samples() const;

 private:
  class Pipeline;  // the files and per-model transforms; builds one batch
  struct Slot {
    std::optional<Batch> batch;
    std::exception_ptr error;
  };

  void worker();
  void stop_workers();

  LoaderSource source_;
  std::vector<Tracklet> samples_;
  LoaderOptions options_;
  std::vector<int64_t> order_;  // sample index per position in the pass
  int64_t num_batches_ = 0;
  std::unique_ptr<const Pipeline> pipeline_;

  std::mutex mutex_;
  std::condition_variable work_cv_;   // workers: a batch may be claimed, or stop
  std::condition_variable ready_cv_;  // consumer: a batch is ready
  int64_t next_claim_ = 0;
  int64_t next_deliver_ = 0;
  bool stop_ = false;
  bool failed_ = false;
  std::atomic<bool> cancel_{false};  // destruction: builds in progress give up
  std::map<int64_t, Slot> ready_;
  std::exception_ptr error_;  // rethrown once the consumer has reached it
  std::vector<std::thread> workers_;
};

}  // namespace qme::data

#pragma once
/// Internal to the backbone area: reads and transforms the frames (or face crops) of planned
/// batches of clips on worker threads, handing them out in order. Every HDF5 call holds one
/// mutex (the HDF5 C++ API is not thread-safe); resizing and normalising run outside it.
#include <torch/types.h>

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "qme/backbone/backbone_spec.hpp"
#include "qme/data/datasets.hpp"

namespace qme::pipeline::detail {

/// One clip: its body frames (for a face model, the frames whose faces are drawn) and the seed
/// of its face choice.
struct ClipRequest {
  std::vector<std::string> frames;
  uint64_t seed = 0;
};

/// A batch ready for backbone::Backbone::clips.
struct PreparedBatch {
  int64_t index = 0;
  torch::Tensor frames;                 ///< (N, 3, H, W) float32
  std::vector<int64_t> lengths;         ///< frames per clip (face models: crops found)
  std::vector<std::string> frame_keys;  ///< per input frame, the body frame it shows
};

class BatchSource {
 public:
  /// `batches[b]` are the clips of batch b. Face models read the face file of `splits` (one
  /// seeded random crop per frame that has faces, upstream's test-time face_sampler); body
  /// models read every frame. Starts `num_workers` threads.
  /// `views` > 0: every frame (or crop) is given `views` times, each through the model's
  /// training transform (data::train_transform) with draws seeded by the clip's seed, the
  /// frame's place in the clip and the view; clip lengths and frame_keys count every view.
  BatchSource(const data::DatasetSplits& splits, const backbone::BackboneSpec& spec,
              std::vector<std::vector<ClipRequest>> batches, int num_workers = 1, int64_t prefetch = 2,
              int64_t views = 0);
  ~BatchSource();
  BatchSource(const BatchSource&) = delete;
  BatchSource& operator=(const BatchSource&) = delete;

  /// The next batch in order; nullopt after the last. A worker's error is rethrown here.
  std::optional<PreparedBatch> next();

 private:
  struct Files;
  PreparedBatch build(int64_t index) const;
  void worker();

  const data::DatasetSplits& splits_;
  const backbone::BackboneSpec& spec_;
  std::vector<std::vector<ClipRequest>> batches_;
  int64_t prefetch_;
  int64_t views_;
  std::unique_ptr<Files> files_;

  std::mutex mutex_;
  std::condition_variable work_cv_, ready_cv_;
  int64_t next_claim_ = 0, next_deliver_ = 0;
  bool stop_ = false;
  std::map<int64_t, PreparedBatch> ready_;
  std::map<int64_t, std::exception_ptr> errors_;
  std::vector<std::thread> workers_;
};

}  // namespace qme::pipeline::detail

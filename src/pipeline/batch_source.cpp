#include "batch_source.hpp"

#include <algorithm>
#include <unordered_map>
#include <utility>

#include "qme/backbone/batch_plan.hpp"
#include "qme/core/error.hpp"
#include "qme/data/augment.hpp"
#include "qme/data/sampling.hpp"
#include "qme/data/transforms.hpp"
#include "qme/io/hdf5_file.hpp"

namespace qme::pipeline::detail {

using backbone::BackboneSpec;
using backbone::item_seed;

namespace {

/// Every HDF5 call of the extraction workers holds this lock.
std::mutex& hdf5_mutex() {
  static std::mutex mutex;
  return mutex;
}

class LockedFaceIndex : public data::FaceIndex {
 public:
  explicit LockedFaceIndex(const io::H5Reader& faces) : index_(faces) {}
  std::vector<std::string> members(const std::string& group) const override {
    std::lock_guard<std::mutex> lock(hdf5_mutex());
    return index_.members(group);
  }

 private:
  data::H5FaceIndex index_;
};

data::RgbImage read_image(const io::H5Reader& reader, const std::string& key) {
  io::Shape shape;
  std::vector<uint8_t> pixels;
  {
    std::lock_guard<std::mutex> lock(hdf5_mutex());
    pixels = reader.read_uint8(key, &shape);
  }
  if (shape.size() != 3 || shape[2] != 3 || shape[0] == 0 || shape[1] == 0) {
    throw InputError(reader.path(), key, "is not an (H, W, 3) RGB image");
  }
  return data::RgbImage(static_cast<int64_t>(shape[0]), static_cast<int64_t>(shape[1]), std::move(pixels));
}

/// "<frame>/face_K" -> "<frame>".
std::string frame_of_face(const std::string& face) {
  return face.substr(0, face.rfind('/'));
}

}  // namespace

struct BatchSource::Files {
  std::unique_ptr<io::H5Reader> body;
  std::unique_ptr<io::H5Reader> faces;
  std::unique_ptr<LockedFaceIndex> face_index;
  data::TestTransform transform;
  data::TrainTransform train;  // augmented views
};

BatchSource::BatchSource(const data::DatasetSplits& splits, const BackboneSpec& spec,
                         std::vector<std::vector<ClipRequest>> batches, int num_workers, int64_t prefetch,
                         int64_t views)
    : splits_(splits),
      spec_(spec),
      batches_(std::move(batches)),
      prefetch_(std::max<int64_t>(prefetch, 1)),
      views_(views) {
  files_ = std::make_unique<Files>();
  files_->transform = data::test_transform(spec.name);
  if (views_ > 0) files_->train = data::train_transform(spec.name);
  if (spec.face_input() && splits.face_file.empty()) {
    throw InputError(splits.body_file, "",
                     "the dataset has no face file, which the face model " + spec.name + " needs");
  }
  {
    std::lock_guard<std::mutex> lock(hdf5_mutex());
    if (spec.face_input()) {
      files_->faces = std::make_unique<io::H5Reader>(splits.face_file);
      files_->face_index = std::make_unique<LockedFaceIndex>(*files_->faces);
    } else {
      files_->body = std::make_unique<io::H5Reader>(splits.body_file);
    }
  }
  const auto threads = std::min<int64_t>(std::max(num_workers, 1), std::max<int64_t>(1, batches_.size()));
  for (int64_t t = 0; t < threads; ++t) workers_.emplace_back([this] { worker(); });
}

BatchSource::~BatchSource() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (auto& thread : workers_) thread.join();
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  files_.reset();
}

void BatchSource::worker() {
  const auto total = static_cast<int64_t>(batches_.size());
  for (;;) {
    int64_t index = 0;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      work_cv_.wait(lock,
                    [&] { return stop_ || next_claim_ >= total || next_claim_ < next_deliver_ + prefetch_; });
      if (stop_ || next_claim_ >= total) return;
      index = next_claim_++;
    }
    std::exception_ptr error;
    PreparedBatch batch;
    try {
      batch = build(index);
    } catch (...) {
      error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (error) {
        errors_[index] = error;
        stop_ = true;  // no more claims; batches below this one are finished by their workers
      } else {
        ready_[index] = std::move(batch);
      }
    }
    ready_cv_.notify_all();
    work_cv_.notify_all();
  }
}

std::optional<PreparedBatch> BatchSource::next() {
  PreparedBatch batch;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    if (next_deliver_ >= static_cast<int64_t>(batches_.size())) return std::nullopt;
    ready_cv_.wait(lock, [&] { return ready_.count(next_deliver_) > 0 || errors_.count(next_deliver_) > 0; });
    const auto failed = errors_.find(next_deliver_);
    if (failed != errors_.end()) std::rethrow_exception(failed->second);
    auto it = ready_.find(next_deliver_);
    batch = std::move(it->second);
    ready_.erase(it);
    ++next_deliver_;
  }
  work_cv_.notify_all();
  return batch;
}

PreparedBatch BatchSource::build(int64_t index) const {
  const auto& clips = batches_[static_cast<size_t>(index)];
  PreparedBatch batch;
  batch.index = index;
  // The keys to read: body frames, or one seeded random face of each frame that has faces.
  std::vector<std::string> keys;
  std::vector<uint64_t> seeds;  // per key: its clip's seed and its place in the clip
  for (const auto& clip : clips) {
    std::vector<std::string> clip_keys;
    if (spec_.face_input()) {
      data::SampleRng rng(clip.seed);
      clip_keys = splits_.kind == data::DatasetKind::kVideo
                      ? data::sample_clip_faces(*files_->face_index, clip.frames, splits_.name, false, rng)
                      : data::sample_image_face(*files_->face_index, clip.frames.front(), false,
                                                splits_.id2face, rng);
    } else {
      clip_keys = clip.frames;
    }
    for (size_t k = 0; k < clip_keys.size(); ++k) {
      const std::string frame = spec_.face_input() ? frame_of_face(clip_keys[k]) : clip_keys[k];
      for (int64_t v = 0; v < std::max<int64_t>(views_, 1); ++v) batch.frame_keys.push_back(frame);
      seeds.push_back(item_seed(clip.seed, 1000, static_cast<int64_t>(k)));
    }
    keys.insert(keys.end(), clip_keys.begin(), clip_keys.end());
    batch.lengths.push_back(static_cast<int64_t>(clip_keys.size()) * std::max<int64_t>(views_, 1));
  }
  const auto& t = files_->transform;
  const int64_t copies = std::max<int64_t>(views_, 1);
  batch.frames =
      torch::empty({static_cast<int64_t>(keys.size()) * copies, 3, t.height, t.width}, torch::kFloat32);
  float* out = batch.frames.data_ptr<float>();
  const io::H5Reader& reader = spec_.face_input() ? *files_->faces : *files_->body;
  std::unordered_map<std::string, int64_t> done;  // padded clips repeat frames: transform once
  for (size_t i = 0; i < keys.size(); ++i) {
    float* slot = out + static_cast<int64_t>(i) * copies * t.output_size();
    const auto seen = done.find(keys[i]);
    if (views_ == 0 && seen != done.end()) {
      std::copy_n(out + seen->second * t.output_size(), t.output_size(), slot);
      continue;
    }
    const auto image = read_image(reader, keys[i]);
    try {
      if (views_ == 0) {
        t.apply(image, slot);
      } else {
        for (int64_t v = 0; v < views_; ++v) {
          data::SampleRng rng(item_seed(seeds[i], 2000, v));
          const auto draw = files_->train.draw_clip(rng);  // each frame is its own one-frame clip
          files_->train.apply(image, draw, rng, slot + v * t.output_size(), t.height * t.width);
        }
      }
    } catch (const std::exception& e) {
      throw InputError(reader.path(), keys[i],
                       std::string("cannot be transformed for ") + spec_.name + " (" + e.what() + ")");
    }
    done.emplace(keys[i], static_cast<int64_t>(i));
  }
  return batch;
}

}  // namespace qme::pipeline::detail

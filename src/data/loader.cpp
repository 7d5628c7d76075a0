#include "qme/data/loader.hpp"

#include <hdf5.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <unordered_map>
#include <utility>

#include "qme/core/error.hpp"
#include "qme/core/random_mixing.hpp"
#include "qme/data/augment.hpp"
#include "qme/data/sampling.hpp"
#include "qme/data/transforms.hpp"
#include "qme/io/hdf5_file.hpp"
#include "qme/models/model_spec.hpp"

namespace qme::data {

namespace {

/// Every HDF5 call the loaders make, in any thread, holds this lock.
std::mutex& hdf5_mutex() {
  static std::mutex mutex;
  return mutex;
}

/// Thrown inside a worker when the loader is being destroyed.
struct Cancelled {};

using core::splitmix64;

uint64_t fnv1a(const std::string& text) {
  uint64_t h = 0xCBF29CE484222325ULL;
  for (unsigned char c : text) h = (h ^ c) * 0x100000001B3ULL;
  return h;
}

/// The seed of one row's draws for one model: independent of the thread that builds it.
uint64_t row_seed(uint64_t seed, int64_t epoch, int64_t position, const std::string& model) {
  uint64_t h = splitmix64(seed);
  h = splitmix64(h ^ static_cast<uint64_t>(epoch));
  h = splitmix64(h ^ static_cast<uint64_t>(position));
  return splitmix64(h ^ fnv1a(model));
}

/// The hot path of the workers: one dataset open + read per image and one
/// listing per face group, through HDF5's C API on a handle the loader opens
/// itself (io::H5Reader checks every component of a path first, ~4x the
/// calls). Whatever the fast path cannot do falls back to the H5Reader, whose
/// errors name the file and the key. Callers hold hdf5_mutex().
class RawH5 {
 public:
  explicit RawH5(const io::H5Reader& reader)
      : reader_(reader), id_(H5Fopen(reader.path().c_str(), H5F_ACC_RDONLY, H5P_DEFAULT)) {}
  ~RawH5() {
    if (id_ >= 0) H5Fclose(id_);
  }
  RawH5(const RawH5&) = delete;
  RawH5& operator=(const RawH5&) = delete;

  const io::H5Reader& reader() const { return reader_; }

  /// The (H, W, 3) dataset `key` into `image`; false when it is not one (or absent).
  bool read_image(const std::string& key, RgbImage& image) const {
    if (id_ < 0) return false;
    const hid_t dataset = H5Dopen2(id_, key.c_str(), H5P_DEFAULT);
    if (dataset < 0) return false;
    bool ok = false;
    const hid_t space = H5Dget_space(dataset);
    const hid_t type = H5Dget_type(dataset);
    hsize_t dims[3] = {0, 0, 0};
    const H5T_class_t type_class = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
    if (space >= 0 && (type_class == H5T_INTEGER || type_class == H5T_FLOAT) &&
        H5Sget_simple_extent_ndims(space) == 3 && H5Sget_simple_extent_dims(space, dims, nullptr) == 3 &&
        dims[0] > 0 && dims[1] > 0 && dims[2] == 3) {
      image.height = static_cast<int64_t>(dims[0]);
      image.width = static_cast<int64_t>(dims[1]);
      image.pixels.resize(static_cast<size_t>(dims[0] * dims[1] * 3));
      ok = H5Dread(dataset, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, image.pixels.data()) >= 0;
    }
    if (type >= 0) H5Tclose(type);
    if (space >= 0) H5Sclose(space);
    H5Dclose(dataset);
    return ok;
  }

  /// Member names of `group` in name order; empty when it (or a group above it) is absent.
  std::vector<std::string> members(const std::string& group) const {
    std::vector<std::string> names;
    if (group.empty() || id_ < 0) return names;
    const hid_t handle = H5Gopen2(id_, group.c_str(), H5P_DEFAULT);
    if (handle < 0) return names;
    H5G_info_t info;
    if (H5Gget_info(handle, &info) >= 0) {
      for (hsize_t i = 0; i < info.nlinks; ++i) {
        const ssize_t size =
            H5Lget_name_by_idx(handle, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
        if (size < 0) continue;
        std::string name(static_cast<size_t>(size) + 1, '\0');
        H5Lget_name_by_idx(handle, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(), H5P_DEFAULT);
        name.resize(static_cast<size_t>(size));
        names.push_back(std::move(name));
      }
    }
    H5Gclose(handle);
    std::sort(names.begin(), names.end());  // as H5FaceIndex
    return names;
  }

 private:
  const io::H5Reader& reader_;
  hid_t id_;
};

/// The face file through the HDF5 lock.
class LockedFaceIndex : public FaceIndex {
 public:
  explicit LockedFaceIndex(const RawH5& faces) : faces_(faces) {}
  std::vector<std::string> members(const std::string& group) const override {
    std::lock_guard<std::mutex> lock(hdf5_mutex());
    return faces_.members(group);
  }

 private:
  const RawH5& faces_;
};

/// Image `key` of `file`: the fast path, else io::H5Reader's read and its error.
RgbImage read_image(const RawH5& file, const std::string& key) {
  RgbImage image;
  io::Shape shape;
  {
    std::lock_guard<std::mutex> lock(hdf5_mutex());
    if (file.read_image(key, image)) return image;
    image.pixels = file.reader().read_uint8(key, &shape);
  }
  if (shape.size() != 3 || shape[2] != 3 || shape[0] == 0 || shape[1] == 0) {
    std::string dims;
    for (size_t i = 0; i < shape.size(); ++i) dims += (i ? "x" : "") + std::to_string(shape[i]);
    throw InputError(
        file.reader().path(), key,
        "is " + (dims.empty() ? std::string("a scalar") : dims) + ", expected an (H, W, 3) RGB image");
  }
  image.height = static_cast<int64_t>(shape[0]);
  image.width = static_cast<int64_t>(shape[1]);
  return image;
}

/// Per model: how its rows are read and transformed.
struct ModelPlan {
  std::string name;
  bool face = false;
  TrainTransform transform;  // .base is the test transform
};

/// What one row reads for one model, and the generator its later draws continue from.
struct RowPlan {
  std::vector<std::string> keys;
  SampleRng rng;
};

/// One model's part of a batch under construction.
struct ModelSlab {
  std::vector<RowPlan> rows;
  int64_t length = 0;  // T
  float* data = nullptr;
  bool* mask = nullptr;
};

}  // namespace

LoaderSource LoaderSource::of(const DatasetSplits& splits) {
  LoaderSource source;
  source.dataset = splits.name;
  source.kind = splits.kind;
  source.body_file = splits.body_file;
  source.face_file = splits.face_file;
  source.id2face = splits.id2face;
  return source;
}

// ---------------------------------------------------------------------------
// Pipeline: files, models, and the building of one batch (any thread).

class ClipLoader::Pipeline {
 public:
  Pipeline(const LoaderSource& source, const LoaderOptions& options);
  ~Pipeline();

  /// The batch of `rows` (sample indices) at `first` in the pass.
  Batch build(const std::vector<Tracklet>& samples, const std::vector<int64_t>& rows, int64_t first,
              int64_t index, const std::atomic<bool>& cancel) const;

 private:
  RowPlan plan_row(const ModelPlan& model, const Tracklet& sample, int64_t position) const;
  void fill_row(const ModelPlan& model, ModelSlab& slab, int64_t row,
                std::unordered_map<std::string, RgbImage>& body_cache, const std::atomic<bool>& cancel) const;

  const LoaderSource& source_;
  const LoaderOptions& options_;
  bool training_;
  std::optional<TemporalRandomCrop> temporal_;  // training on a video set
  std::vector<ModelPlan> models_;
  std::unique_ptr<io::H5Reader> body_reader_;
  std::unique_ptr<io::H5Reader> face_reader_;
  std::unique_ptr<RawH5> body_;
  std::unique_ptr<RawH5> faces_;
  std::unique_ptr<LockedFaceIndex> face_index_;
};

ClipLoader::Pipeline::Pipeline(const LoaderSource& source, const LoaderOptions& options)
    : source_(source), options_(options), training_(options.mode == LoaderMode::kTrain) {
  if (training_ && source.kind == DatasetKind::kVideo) temporal_.emplace(options.clip_len, options.stride);
  bool need_faces = false;
  for (const auto& name : options.models) {
    ModelPlan model;
    model.name = name;
    model.face = models::is_face_model(name);
    model.transform = train_transform(name);  // InputError for an unknown model
    need_faces = need_faces || model.face;
    models_.push_back(std::move(model));
  }
  if (need_faces && source.face_file.empty()) {
    throw InputError(source.body_file, "", "the dataset has no face file, which the face model needs");
  }
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  body_reader_ = std::make_unique<io::H5Reader>(source.body_file);  // InputError when missing
  body_ = std::make_unique<RawH5>(*body_reader_);
  if (need_faces) {
    face_reader_ = std::make_unique<io::H5Reader>(source.face_file);
    faces_ = std::make_unique<RawH5>(*face_reader_);
    face_index_ = std::make_unique<LockedFaceIndex>(*faces_);
  }
}

ClipLoader::Pipeline::~Pipeline() {
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  face_index_.reset();
  faces_.reset();
  body_.reset();
  face_reader_.reset();
  body_reader_.reset();
}

RowPlan ClipLoader::Pipeline::plan_row(const ModelPlan& model, const Tracklet& sample,
                                       int64_t position) const {
  RowPlan row{{}, SampleRng(row_seed(options_.seed, training_ ? options_.epoch : 0, position, model.name))};
  std::vector<std::string> frames = temporal_ ? (*temporal_)(sample.frames, row.rng) : sample.frames;
  if (!model.face) {
    row.keys = std::move(frames);
  } else if (source_.kind == DatasetKind::kVideo) {
    row.keys = sample_clip_faces(*face_index_, frames, source_.dataset, training_, row.rng);
  } else {
    row.keys = sample_image_face(*face_index_, frames.front(), training_, source_.id2face, row.rng);
  }
  if (training_ && model.face) row.keys.resize(std::min(row.keys.size(), frames.size()));
  return row;
}

void ClipLoader::Pipeline::fill_row(const ModelPlan& model, ModelSlab& slab, int64_t r,
                                    std::unordered_map<std::string, RgbImage>& body_cache,
                                    const std::atomic<bool>& cancel) const {
  const TestTransform& base = model.transform.base;
  RowPlan& row = slab.rows[static_cast<size_t>(r)];
  const int64_t frame_size = base.height * base.width;
  const int64_t channel_stride = slab.length * frame_size;
  float* row_data = slab.data + r * 3 * channel_stride;
  const ClipDraw clip = training_ ? model.transform.draw_clip(row.rng) : ClipDraw{};
  const RawH5& file = model.face ? *faces_ : *body_;
  for (int64_t t = 0; t < slab.length; ++t) {
    float* out = row_data + t * frame_size;
    if (t >= static_cast<int64_t>(row.keys.size())) {  // padding: zeros, mask false
      for (int c = 0; c < 3; ++c) std::memset(out + c * channel_stride, 0, sizeof(float) * frame_size);
      continue;
    }
    if (cancel) throw Cancelled{};
    const std::string& key = row.keys[static_cast<size_t>(t)];
    RgbImage face_image;
    const RgbImage* image = &face_image;
    if (model.face) {
      face_image = read_image(file, key);
    } else {
      auto it = body_cache.find(key);  // models of one row share their frames
      if (it == body_cache.end()) it = body_cache.emplace(key, read_image(file, key)).first;
      image = &it->second;
    }
    try {
      if (training_) {
        model.transform.apply(*image, clip, row.rng, out, channel_stride);
      } else {
        base.apply(*image, out, channel_stride);
      }
    } catch (const std::exception& e) {
      throw InputError(file.reader().path(), key,
                       "cannot be transformed for " + model.name + " (" + e.what() + ")");
    }
    slab.mask[r * slab.length + t] = true;
  }
}

Batch ClipLoader::Pipeline::build(const std::vector<Tracklet>& samples, const std::vector<int64_t>& rows,
                                  int64_t first, int64_t index, const std::atomic<bool>& cancel) const {
  const auto n = static_cast<int64_t>(rows.size());
  Batch batch;
  batch.index = index;
  batch.samples = rows;
  batch.pids = torch::empty({n}, torch::kInt64);
  batch.camids = torch::empty({n}, torch::kInt64);
  batch.clothes_ids = torch::empty({n}, torch::kInt64);
  for (int64_t r = 0; r < n; ++r) {
    const Tracklet& t = samples[static_cast<size_t>(rows[static_cast<size_t>(r)])];
    batch.pids.data_ptr<int64_t>()[r] = t.pid;
    batch.camids.data_ptr<int64_t>()[r] = t.camid;
    batch.clothes_ids.data_ptr<int64_t>()[r] = t.clothes_id;
  }
  // Keys first (temporal crop, face choice): they fix each model's T.
  std::vector<ModelSlab> slabs(models_.size());
  for (size_t m = 0; m < models_.size(); ++m) {
    const ModelPlan& model = models_[m];
    ModelSlab& slab = slabs[m];
    for (int64_t r = 0; r < n; ++r) {
      const Tracklet& sample = samples[static_cast<size_t>(rows[static_cast<size_t>(r)])];
      slab.rows.push_back(plan_row(model, sample, first + r));
      // Training clips keep their length (faces padded); test face clips are as long as their crops.
      const size_t length = model.face && !training_ ? slab.rows.back().keys.size()
                            : temporal_              ? static_cast<size_t>(options_.clip_len)
                                                     : sample.frames.size();
      slab.length = std::max(slab.length, static_cast<int64_t>(length));
    }
    const TestTransform& base = model.transform.base;
    auto clip = torch::empty({n, 3, slab.length, base.height, base.width}, torch::kFloat32);
    auto mask = torch::zeros({n, slab.length}, torch::kBool);
    slab.data = clip.data_ptr<float>();
    slab.mask = mask.data_ptr<bool>();
    batch.clips.emplace(model.name, clip);
    batch.masks.emplace(model.name, mask);
    auto& keys = batch.keys[model.name];
    for (const auto& row : slab.rows) keys.push_back(row.keys);
  }
  // Then row by row, each frame read once and transformed for every model.
  for (int64_t r = 0; r < n; ++r) {
    std::unordered_map<std::string, RgbImage> body_cache;
    for (size_t m = 0; m < models_.size(); ++m) fill_row(models_[m], slabs[m], r, body_cache, cancel);
  }
  return batch;
}

// ---------------------------------------------------------------------------
// ClipLoader: order, workers, delivery in order.

ClipLoader::ClipLoader(LoaderSource source, std::vector<Tracklet> samples, LoaderOptions options)
    : source_(std::move(source)), samples_(std::move(samples)), options_(std::move(options)) {
  if (options_.batch_size < 1 || options_.num_workers < 1 || options_.prefetch < 1) {
    throw UsageError("loader: batch_size, num_workers and prefetch must be positive (got " +
                     std::to_string(options_.batch_size) + ", " + std::to_string(options_.num_workers) +
                     ", " + std::to_string(options_.prefetch) + ")");
  }
  if (options_.models.empty()) throw UsageError("loader: no model to load");
  for (size_t i = 0; i < samples_.size(); ++i) {
    if (samples_[i].frames.empty()) {
      throw InputError(source_.body_file, "", "loader sample " + std::to_string(i) + " has no frames");
    }
  }
  const auto n = static_cast<int64_t>(samples_.size());
  if (options_.mode == LoaderMode::kTrain) {
    order_ = IdentitySampler(samples_, options_.num_instances, options_.seed).epoch_indices(options_.epoch);
    num_batches_ = static_cast<int64_t>(order_.size()) / options_.batch_size;  // drop_last
  } else {
    order_.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) order_[static_cast<size_t>(i)] = i;
    num_batches_ = (n + options_.batch_size - 1) / options_.batch_size;
  }
  pipeline_ = std::make_unique<const Pipeline>(source_, options_);
  const int threads =
      static_cast<int>(std::min<int64_t>(options_.num_workers, std::max<int64_t>(num_batches_, 1)));
  try {
    for (int t = 0; t < threads; ++t) workers_.emplace_back([this] { worker(); });
  } catch (...) {
    stop_workers();
    throw;
  }
}

ClipLoader::~ClipLoader() {
  stop_workers();
}

void ClipLoader::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cancel_ = true;
  work_cv_.notify_all();
  for (auto& thread : workers_) thread.join();
  workers_.clear();
}

int64_t ClipLoader::num_samples() const {
  if (options_.mode == LoaderMode::kTrain) return num_batches_ * options_.batch_size;
  return static_cast<int64_t>(order_.size());
}

void ClipLoader::worker() {
  {
    // HDF5's automatic error printing is per thread (thread-safe builds): qme
    // reports errors itself, as the io layer does for the main thread.
    std::lock_guard<std::mutex> lock(hdf5_mutex());
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  for (;;) {
    int64_t index = 0;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      work_cv_.wait(lock, [this] {
        return stop_ || failed_ || next_claim_ >= num_batches_ ||
               next_claim_ < next_deliver_ + options_.prefetch;
      });
      if (stop_ || failed_ || next_claim_ >= num_batches_) return;
      index = next_claim_++;
    }
    const int64_t first = index * options_.batch_size;
    const int64_t last = std::min<int64_t>(first + options_.batch_size, static_cast<int64_t>(order_.size()));
    const std::vector<int64_t> rows(order_.begin() + first, order_.begin() + last);
    Slot slot;
    try {
      slot.batch = pipeline_->build(samples_, rows, first, index, cancel_);
    } catch (const Cancelled&) {
      return;
    } catch (...) {
      slot.error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (slot.error) failed_ = true;
      ready_[index] = std::move(slot);
    }
    ready_cv_.notify_all();
    work_cv_.notify_all();  // after a failure the other workers stop claiming
  }
}

std::optional<Batch> ClipLoader::next() {
  Slot slot;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    if (error_) std::rethrow_exception(error_);
    if (next_deliver_ >= num_batches_) return std::nullopt;
    // Every batch below a failed one was claimed before it and is completed.
    ready_cv_.wait(lock, [this] { return ready_.count(next_deliver_) > 0; });
    auto it = ready_.find(next_deliver_);
    slot = std::move(it->second);
    ready_.erase(it);
    ++next_deliver_;
    if (slot.error) error_ = slot.error;
  }
  work_cv_.notify_all();
  if (slot.error) std::rethrow_exception(slot.error);
  if (options_.progress) {
    options_.progress(std::min(next_deliver_ * options_.batch_size, num_samples()), num_samples());
  }
  return std::move(slot.batch);
}

}  // namespace qme::data

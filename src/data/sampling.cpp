#include "qme/data/sampling.hpp"

#include <algorithm>
#include <limits>
#include <utility>

#include "qme/core/error.hpp"
#include "qme/io/hdf5_file.hpp"

namespace qme::data {

namespace {

std::string dirname(const std::string& key) {
  const auto slash = key.rfind('/');
  return slash == std::string::npos ? std::string() : key.substr(0, slash);
}

std::string basename(const std::string& key) {
  const auto slash = key.rfind('/');
  return slash == std::string::npos ? key : key.substr(slash + 1);
}

std::string join(const std::string& group, const std::string& name) {
  return group.empty() ? name : group + "/" + name;
}

template <typename T>
const T& choice(const std::vector<T>& values, SampleRng& rng) {
  return values[static_cast<size_t>(uniform_index(rng, static_cast<int64_t>(values.size())))];
}

/// A random face of a random member frame of `folder`; empty when it has none.
std::string random_face_in_folder(const FaceIndex& faces, const std::string& folder, SampleRng& rng) {
  const auto frames = faces.members(folder);
  if (frames.empty()) return {};
  const std::string frame = join(folder, choice(frames, rng));
  const auto crops = faces.members(frame);
  if (crops.empty()) return {};
  return join(frame, choice(crops, rng));
}

/// CCVID: a tracklet of `folder`'s session and pid that has faces, or "".
std::string ccvid_pad_folder(const FaceIndex& faces, const std::string& folder, SampleRng& rng) {
  if (!faces.members(folder).empty()) return folder;
  const auto slash = folder.find('/');
  if (slash == std::string::npos) return {};
  const std::string session = folder.substr(0, slash);
  const std::string vid = folder.substr(slash + 1);
  const std::string pid = vid.substr(0, vid.find('_'));
  std::vector<std::string> pool;
  for (const auto& other : faces.members(session)) {
    if (other.substr(0, other.find('_')) == pid) pool.push_back(other);
  }
  if (pool.empty()) return {};
  return join(session, choice(pool, rng));
}

}  // namespace

int64_t uniform_index(SampleRng& rng, int64_t n) {
  if (n <= 0) throw UsageError("uniform_index: empty range");
  const uint64_t range = static_cast<uint64_t>(n);
  // Largest multiple of `range` representable; draws at or above it are rejected.
  const uint64_t limit = std::numeric_limits<uint64_t>::max() - std::numeric_limits<uint64_t>::max() % range;
  uint64_t draw = rng();
  while (draw >= limit) draw = rng();
  return static_cast<int64_t>(draw % range);
}

// ---------------------------------------------------------------------------
// TemporalRandomCrop

TemporalRandomCrop::TemporalRandomCrop(int64_t size, int64_t stride) : size_(size), stride_(stride) {
  if (size < 1 || stride < 1) {
    throw UsageError("TemporalRandomCrop: size and stride must be positive (got size " +
                     std::to_string(size) + ", stride " + std::to_string(stride) + ")");
  }
}

std::vector<int64_t> TemporalRandomCrop::indices(int64_t num_frames, SampleRng& rng) const {
  if (num_frames < 1) throw UsageError("TemporalRandomCrop: a tracklet without frames");
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(size_));
  if (num_frames >= size_ * stride_) {
    const int64_t last_start = num_frames - (size_ - 1) * stride_ - 1;  // inclusive, as random.randint
    const int64_t begin = uniform_index(rng, last_start + 1);
    for (int64_t i = 0; i < size_; ++i) out.push_back(begin + i * stride_);
  } else if (num_frames >= size_) {
    const int64_t chunk = num_frames / size_;
    for (int64_t i = 0; i < size_; ++i) out.push_back(chunk * i + uniform_index(rng, chunk));
  } else {
    for (int64_t i = 0; i < size_; ++i) out.push_back(uniform_index(rng, num_frames));
    std::sort(out.begin(), out.end());
  }
  return out;
}

std::vector<std::string> TemporalRandomCrop::operator()(const std::vector<std::string>& frames,
                                                        SampleRng& rng) const {
  std::vector<std::string> out;
  for (int64_t i : indices(static_cast<int64_t>(frames.size()), rng))
    out.push_back(frames[static_cast<size_t>(i)]);
  return out;
}

// ---------------------------------------------------------------------------
// Faces

std::vector<std::string> H5FaceIndex::members(const std::string& group) const {
  if (group.empty() || !faces_.has_group(group)) return {};
  auto names = faces_.list_group(group);
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> sample_clip_faces(const FaceIndex& faces, const std::vector<std::string>& frames,
                                           const std::string& dataset, bool training, SampleRng& rng) {
  std::vector<std::string> out;
  for (const auto& frame : frames) {
    const auto crops = faces.members(frame);
    if (!crops.empty()) out.push_back(join(frame, choice(crops, rng)));
  }
  if (!training || out.size() >= frames.size()) return out;
  const bool ccvid = dataset == "ccvid";
  if (!ccvid && dataset != "mevid") {
    throw UsageError("sample_clip_faces: no training-time face padding for dataset '" + dataset + "'");
  }
  const std::string folder = dirname(frames.front());
  while (out.size() < frames.size()) {
    // Upstream re-draws CCVID's substitute tracklet for every padded face.
    const std::string source = ccvid ? ccvid_pad_folder(faces, folder, rng) : folder;
    if (source.empty()) break;
    const std::string face = random_face_in_folder(faces, source, rng);
    if (face.empty()) break;
    out.push_back(face);
  }
  return out;
}

std::vector<std::string> sample_image_face(const FaceIndex& faces, const std::string& image_key,
                                           bool training,
                                           const std::map<std::string, std::vector<std::string>>& id2face,
                                           SampleRng& rng) {
  const auto crops = faces.members(image_key);
  if (!crops.empty()) return {join(image_key, choice(crops, rng))};
  if (!training) return {};
  const std::string name = basename(image_key);
  const auto pool = id2face.find(name.substr(0, name.find('_')));
  if (pool == id2face.end() || pool->second.empty()) return {};
  const std::string other = join(dirname(image_key), choice(pool->second, rng));
  const auto other_crops = faces.members(other);
  if (other_crops.empty()) return {};
  return {join(other, choice(other_crops, rng))};
}

// ---------------------------------------------------------------------------
// IdentitySampler

IdentitySampler::IdentitySampler(std::vector<int64_t> pids, int64_t num_instances, uint64_t seed)
    : num_instances_(num_instances), seed_(seed) {
  if (num_instances < 1) {
    throw UsageError("IdentitySampler: num_instances must be positive (got " + std::to_string(num_instances) +
                     ")");
  }
  std::map<int64_t, size_t> group_of;
  for (size_t i = 0; i < pids.size(); ++i) {
    const auto [it, inserted] = group_of.emplace(pids[i], groups_.size());
    if (inserted) groups_.emplace_back();
    groups_[it->second].push_back(static_cast<int64_t>(i));
  }
  for (const auto& group : groups_) {
    const int64_t n = std::max<int64_t>(static_cast<int64_t>(group.size()), num_instances_);
    length_ += n - n % num_instances_;
  }
}

IdentitySampler::IdentitySampler(const std::vector<Tracklet>& samples, int64_t num_instances, uint64_t seed)
    : IdentitySampler(
          [&samples] {
            std::vector<int64_t> pids;
            pids.reserve(samples.size());
            for (const auto& sample : samples) pids.push_back(sample.pid);
            return pids;
          }(),
          num_instances, seed) {}

std::vector<int64_t> IdentitySampler::epoch_indices(int64_t epoch) const {
  SampleRng rng(seed_ + static_cast<uint64_t>(epoch));
  const auto k = static_cast<size_t>(num_instances_);
  std::vector<std::vector<int64_t>> batches;
  for (const auto& group : groups_) {
    std::vector<int64_t> idxs;
    if (group.size() < k) {
      for (size_t i = 0; i < k; ++i) idxs.push_back(choice(group, rng));
    } else {
      idxs = group;
    }
    shuffle_in_place(idxs, rng);
    for (size_t start = 0; start + k <= idxs.size(); start += k) {
      batches.emplace_back(idxs.begin() + static_cast<std::ptrdiff_t>(start),
                           idxs.begin() + static_cast<std::ptrdiff_t>(start + k));
    }
  }
  shuffle_in_place(batches, rng);
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(length_));
  for (const auto& batch : batches) out.insert(out.end(), batch.begin(), batch.end());
  return out;
}

}  // namespace qme::data

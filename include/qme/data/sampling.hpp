#pragma once
/// Training-time sampling (docs/architecture.md §7.3): the temporal crop of a tracklet, the
/// face crop drawn per frame (with upstream's training-time padding), and the
/// identity sampler that orders one epoch. Torch-free.
///
/// Every draw takes an explicit SampleRng. Upstream draws from Python's and
/// numpy's global generators; qme's streams differ from those, but each draw
/// has upstream's distribution, and a seed gives the same result on every
/// platform (no std::uniform_int_distribution / std::shuffle, whose outputs
/// are implementation-defined).
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "qme/data/datasets.hpp"

namespace qme::data {

using SampleRng = std::mt19937_64;

/// Uniform integer in [0, n), n > 0, by rejection (no modulo bias).
int64_t uniform_index(SampleRng& rng, int64_t n);

/// Fisher-Yates shuffle (i = n-1 .. 1) with uniform_index.
template <typename T>
void shuffle_in_place(std::vector<T>& values, SampleRng& rng) {
  for (int64_t i = static_cast<int64_t>(values.size()) - 1; i > 0; --i) {
    std::swap(values[static_cast<size_t>(i)], values[static_cast<size_t>(uniform_index(rng, i + 1))]);
  }
}

/// Upstream's TemporalRandomCrop (CAL's data/temporal_transforms.py): `size`
/// frames of an L-frame tracklet.
///  - L >= size*stride: a random start in [0, L - (size-1)*stride - 1], then
///    every stride-th frame;
///  - size <= L < size*stride: the first size*(L/size) frames cut into `size`
///    chunks of L/size frames (the L % size last frames are never drawn), one
///    random frame from each chunk;
///  - L < size: `size` random frames with replacement, sorted.
class TemporalRandomCrop {
 public:
  /// UsageError unless size > 0 and stride > 0.
  explicit TemporalRandomCrop(int64_t size, int64_t stride = 4);

  int64_t size() const { return size_; }
  int64_t stride() const { return stride_; }

  /// Indices into a tracklet of `num_frames` frames, in temporal order
  /// (non-decreasing). UsageError when num_frames < 1.
  std::vector<int64_t> indices(int64_t num_frames, SampleRng& rng) const;
  /// The frames at indices(frames.size()).
  std::vector<std::string> operator()(const std::vector<std::string>& frames, SampleRng& rng) const;

 private:
  int64_t size_;
  int64_t stride_;
};

/// The face file as the face sampler sees it: a tree of groups. Production
/// code uses H5FaceIndex; tests can stand up a map.
class FaceIndex {
 public:
  virtual ~FaceIndex() = default;
  /// Member names of `group` ("a/b/c"), in name order; empty when the group
  /// (or any group above it) is absent.
  virtual std::vector<std::string> members(const std::string& group) const = 0;
};

/// FaceIndex over an open face .h5 (not thread-safe: one per loader worker).
class H5FaceIndex : public FaceIndex {
 public:
  explicit H5FaceIndex(const io::H5Reader& faces) : faces_(faces) {}
  std::vector<std::string> members(const std::string& group) const override;

 private:
  const io::H5Reader& faces_;
};

/// Faces of a video clip (upstream's VideoDataset.face_sampler), as dataset
/// paths "<frame>/<face>": one random face of each frame that has faces, in
/// frame order. When `training`, the list is then padded to frames.size()
/// with random faces (random frame of the folder, random face of that frame):
///  - "ccvid": from the tracklet's folder (dirname of frames[0]); a folder
///    without faces draws, per padded face, another tracklet of the same
///    session whose name starts with the same "<pid>_" and has faces;
///  - "mevid": from the tracklet's folder; none there: no padding.
/// Where nothing can be drawn the list stays short (often empty: the clip
/// then has no face). Any other dataset name with `training` is a UsageError.
std::vector<std::string> sample_clip_faces(const FaceIndex& faces, const std::vector<std::string>& frames,
                                           const std::string& dataset, bool training, SampleRng& rng);

/// Face of an image sample (upstream's ImageDataset.face_sampler, LTCC): one
/// random face of `image_key` ("<folder>/<id>_<clothes>_<cam>_<n>.png"). When
/// it has none and `training`, a random face of a random image of the same id
/// from `id2face` (raw id -> image names in the folder with a face,
/// DatasetSplits::id2face). Empty when there is no face.
std::vector<std::string> sample_image_face(const FaceIndex& faces, const std::string& image_key,
                                           bool training,
                                           const std::map<std::string, std::vector<std::string>>& id2face,
                                           SampleRng& rng);

/// Upstream's DistributedRandomIdentitySampler on one process: sample indices
/// grouped by pid (pids in order of first appearance); per pid, its indices
/// (or, when it has fewer than K, K drawn with replacement) shuffled and cut
/// into groups of K, an incomplete last group dropped; the groups shuffled and
/// concatenated. An epoch has, per pid with n samples, max(n, K) rounded down
/// to a multiple of K entries; K = 1 gives a permutation of all indices.
class IdentitySampler {
 public:
  /// `pids[i]` is the pid of sample i. UsageError when num_instances < 1.
  IdentitySampler(std::vector<int64_t> pids, int64_t num_instances, uint64_t seed = 0);
  explicit IdentitySampler(const std::vector<Tracklet>& samples, int64_t num_instances, uint64_t seed = 0);

  int64_t num_instances() const { return num_instances_; }
  /// Entries per epoch (upstream's __len__).
  int64_t size() const { return length_; }

  /// The sample order of `epoch`, drawn from SampleRng(seed + epoch): the same
  /// epoch always gives the same order.
  std::vector<int64_t> epoch_indices(int64_t epoch) const;

 private:
  int64_t num_instances_;
  uint64_t seed_;
  std::vector<std::vector<int64_t>> groups_;  // sample indices per pid, first-appearance order
  int64_t length_ = 0;
};

}  // namespace qme::data

#pragma once
/// Readers for upstream's preprocessed CCVID, MEVID and LTCC layouts
/// (docs/architecture.md §7.1): body .h5 + face .h5 + split files, parsed into the
/// train/query/gallery lists upstream's dataset classes build, plus the
/// training dense split and the test clip split. Torch-free.
///
/// The readers only open the .h5 files to list keys; they keep paths, not
/// handles, because HDF5's C++ API is not thread-safe: whoever decodes frames
/// (one loader worker each) opens its own io::H5Reader.
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace qme::io {
class H5Reader;
}

namespace qme::data {

/// One sample: a video tracklet (frame keys in temporal order) or, for the
/// image set LTCC, a single image (one key).
struct Tracklet {
  std::vector<std::string> frames;  // keys in the body .h5
  int64_t pid = 0;                  // relabelled 0..n-1 in train, raw in query/gallery
  int64_t camid = 0;
  int64_t clothes_id = 0;
};

/// What upstream logs per subset: distinct pids, samples, distinct clothes keys.
struct SubsetCounts {
  int64_t num_pids = 0;
  int64_t num_tracklets = 0;  // images for LTCC
  int64_t num_clothes = 0;
};

enum class DatasetKind { kVideo, kImage };

struct DatasetSplits {
  std::string name;  // "ccvid", "mevid", "ltcc"
  DatasetKind kind = DatasetKind::kVideo;
  std::string body_file;
  std::string face_file;  // empty when the dataset has no face file
  std::vector<Tracklet> train, query, gallery;
  int64_t num_train_pids = 0;
  int64_t num_train_clothes = 0;
  /// num_train_pids x (number of train clothes labels), 1 where the pid wears them.
  std::vector<std::vector<uint8_t>> pid2clothes;
  /// "{pid}_{clothes}" -> label, labels in string-sorted key order; the test
  /// map is shared by query and gallery.
  std::map<std::string, int64_t> train_clothes2label;
  std::map<std::string, int64_t> test_clothes2label;
  /// LTCC only: raw id string ("001") -> training image names with a face,
  /// in the face file's key order (training-time face padding draws from it).
  std::map<std::string, std::vector<std::string>> id2face;
  SubsetCounts train_counts, query_counts, gallery_counts;
  /// Test clothes labels (upstream's num_total_clothes adds this to num_train_clothes).
  int64_t num_test_clothes = 0;
};

/// ROOT/CCVID: ccvid.h5 (+ ccvid_face.h5), {train,query,gallery}.txt.
DatasetSplits read_ccvid(const std::string& root);
/// ROOT/mevid: mevid.h5 (+ mevid_face_cleaned.h5), {train,test}_name.txt,
/// track_{train,test}_info.txt, query_IDX.txt.
DatasetSplits read_mevid(const std::string& root);
/// ROOT/LTCC_ReID: ltcc.h5 (+ ltcc_face.h5) with groups train/, query/, test/.
DatasetSplits read_ltcc(const std::string& root);
/// Dispatch on "ccvid" / "mevid" / "ltcc"; UsageError for any other name.
DatasetSplits read_dataset(const std::string& name, const std::string& root);

/// The dataset statistics table upstream logs after loading, line by line
/// (CCVID adds a train_dense row of `num_train_dense` samples; MEVID does not).
std::vector<std::string> statistics_lines(const DatasetSplits& splits, int64_t num_train_dense = 0);
/// Logs statistics_lines() at info level.
void log_statistics(const DatasetSplits& splits, int64_t num_train_dense = 0);

/// Training dense split: chunks of `sampling_step` frames, the last chunk
/// taking the remainder; a tracklet shorter than one step (or step 0) stays whole.
std::vector<Tracklet> dense_samples(const std::vector<Tracklet>& tracklets, int64_t sampling_step);

struct ClipSplit {
  std::vector<Tracklet> clips;  // each exactly seq_len frames
  /// [first, end) clip rows of each input tracklet.
  std::vector<std::array<int64_t, 2>> vid2clip_index;
};

/// Test clip split (ceil(L/seq_len) clips per tracklet): per full block of
/// seq_len*stride frames, `stride` clips with that stride; for the remainder r,
/// r/seq_len clips with stride r/seq_len; if L % seq_len != 0 a last clip of
/// frames[seq_len*(L/seq_len):] padded cyclically.
ClipSplit test_clips(const std::vector<Tracklet>& tracklets, int64_t seq_len = 8, int64_t stride = 4);

/// Face crops of one frame: the datasets of the group `frame_key` in the face
/// file ("<frame_key>/face_0", ...), in name order. A frame without a face
/// (its group, or any group above it, absent) gives an empty list.
std::vector<std::string> face_crops(const io::H5Reader& faces, const std::string& frame_key);

}  // namespace qme::data

#include "qme/demo/synth_dataset.hpp"

#include <hdf5.h>
#include <spdlog/spdlog.h>

#include <unistd.h>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <set>
#include <sstream>

#include "qme/core/error.hpp"
#include "qme/core/parallel.hpp"
#include "qme/io/output_directory.hpp"
#include "qme/io/text_file.hpp"

namespace qme::demo {

namespace {

namespace fs = std::filesystem;

/// An HDF5 file of uint8 datasets in nested groups, without object timestamps (HDF5 stores
/// creation times by default, which would make two runs differ), written to a temporary name
/// and renamed by commit().
class ReproducibleH5 {
 public:
  explicit ReproducibleH5(std::string path)
      : path_(std::move(path)), tmp_(path_ + ".tmp-" + std::to_string(::getpid())) {
    file_ = H5Fcreate(tmp_.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file_ < 0) throw Error(path_ + ": cannot be created");
    dcpl_ = H5Pcreate(H5P_DATASET_CREATE);
    gcpl_ = H5Pcreate(H5P_GROUP_CREATE);
    H5Pset_obj_track_times(dcpl_, false);
    H5Pset_obj_track_times(gcpl_, false);
  }
  ~ReproducibleH5() {
    close();
    if (!committed_) std::remove(tmp_.c_str());
  }
  ReproducibleH5(const ReproducibleH5&) = delete;
  ReproducibleH5& operator=(const ReproducibleH5&) = delete;

  void write_uint8(const std::string& name, const std::vector<uint8_t>& data, hsize_t h, hsize_t w) {
    ensure_groups(name);
    const hsize_t dims[3] = {h, w, 3};
    const hid_t space = H5Screate_simple(3, dims, nullptr);
    const hid_t set = H5Dcreate2(file_, name.c_str(), H5T_STD_U8LE, space, H5P_DEFAULT, dcpl_, H5P_DEFAULT);
    const herr_t status =
        set < 0 ? -1 : H5Dwrite(set, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data());
    if (set >= 0) H5Dclose(set);
    H5Sclose(space);
    if (status < 0) throw Error(path_ + ": cannot write '" + name + "'");
  }

  void commit() {
    close();
    std::error_code ec;
    fs::rename(tmp_, path_, ec);
    if (ec) throw Error(path_ + ": cannot be moved into place: " + ec.message());
    committed_ = true;
  }

 private:
  void ensure_groups(const std::string& name) {
    for (size_t slash = name.find('/'); slash != std::string::npos; slash = name.find('/', slash + 1)) {
      const std::string group = name.substr(0, slash);
      if (!groups_.insert(group).second) continue;
      const hid_t g = H5Gcreate2(file_, group.c_str(), H5P_DEFAULT, gcpl_, H5P_DEFAULT);
      if (g < 0) throw Error(path_ + ": cannot create group '" + group + "'");
      H5Gclose(g);
    }
  }
  void close() {
    if (file_ < 0) return;
    H5Pclose(dcpl_);
    H5Pclose(gcpl_);
    H5Fclose(file_);
    file_ = -1;
  }

  std::string path_, tmp_;
  hid_t file_ = -1, dcpl_ = -1, gcpl_ = -1;
  std::set<std::string> groups_;
  bool committed_ = false;
};

std::string frame_name(int64_t frame) {
  char name[32];
  std::snprintf(name, sizeof name, "%05lld", static_cast<long long>(frame + 1));
  return name;
}

const char* split_name(SplitKind split) {
  switch (split) {
    case SplitKind::kTrain:
      return "train";
    case SplitKind::kQuery:
      return "query";
    default:
      return "gallery";
  }
}

/// train.txt, query.txt, gallery.txt and synth_truth.csv.
void write_split_files(const World& w, const std::string& dir) {
  std::ostringstream splits[3], truth;
  truth << "split,tracklet,pid,clothes_label,frames,has_faces,face_quality,bystander_pids\n";
  for (const auto& p : w.tracklets) {
    const auto& s = w.subjects[static_cast<size_t>(p.subject)];
    const std::string pid = p.key.substr(p.key.find('/') + 1, 3);
    const auto& label = s.outfits[static_cast<size_t>(p.outfit)].label;
    splits[static_cast<int>(p.split)] << p.key << '\t' << pid << '\t' << label << '\n';
    std::string bystanders;
    for (const int64_t b : p.bystanders) {
      bystanders += (bystanders.empty() ? "" : " ") + std::to_string(w.subjects[static_cast<size_t>(b)].pid);
    }
    char quality[32];
    std::snprintf(quality, sizeof quality, "%.4f", p.has_faces ? p.face_quality : 0.0);
    truth << split_name(p.split) << ',' << p.key << ',' << s.pid << ',' << label << ',' << p.num_frames << ','
          << (p.has_faces ? 1 : 0) << ',' << quality << ',' << bystanders << '\n';
  }
  for (const SplitKind k : {SplitKind::kTrain, SplitKind::kQuery, SplitKind::kGallery}) {
    io::write_text_file(dir + "/" + split_name(k) + ".txt", splits[static_cast<int>(k)].str());
  }
  io::write_text_file(dir + "/synth_truth.csv", truth.str());
}

}  // namespace

SynthDatasetFiles write_synth_dataset(const World& world, const std::string& root, int threads) {
  SynthDatasetFiles files;
  files.dir = root + "/CCVID";
  io::ensure_output_directory(files.dir);
  files.body_file = files.dir + "/ccvid.h5";
  files.face_file = files.dir + "/ccvid_face.h5";
  ReproducibleH5 body(files.body_file), faces(files.face_file);
  const auto h = static_cast<hsize_t>(world.spec.body_height),
             w = static_cast<hsize_t>(world.spec.body_width);
  const auto n = static_cast<int64_t>(world.tracklets.size());
  // Render a block of tracklets in parallel, write it in order.
  const int64_t block = std::max(1, threads) * 8;
  for (int64_t first = 0; first < n; first += block) {
    const int64_t count = std::min(block, n - first);
    std::vector<RenderedTracklet> rendered(static_cast<size_t>(count));
    parallel_for(
        count,
        [&](int64_t b, int64_t e, int) {
          for (int64_t i = b; i < e; ++i) {
            rendered[static_cast<size_t>(i)] =
                render_tracklet(world, world.tracklets[static_cast<size_t>(first + i)]);
          }
        },
        std::max(1, threads));
    for (int64_t i = 0; i < count; ++i) {
      const auto& plan = world.tracklets[static_cast<size_t>(first + i)];
      const auto& r = rendered[static_cast<size_t>(i)];
      for (size_t f = 0; f < r.body.size(); ++f) {
        const std::string key = plan.key + "/" + frame_name(static_cast<int64_t>(f));
        body.write_uint8(key, r.body[f], h, w);
        ++files.frames;
        if (r.face[f].empty()) continue;
        faces.write_uint8(key + "/face_0", r.face[f], kFaceSize, kFaceSize);
        ++files.faces;
      }
    }
  }
  body.commit();
  faces.commit();
  write_split_files(world, files.dir);
  files.tracklets = n;
  spdlog::info("synthetic CCVID: {} tracklets, {} frames, {} face crops in {}", n, files.frames, files.faces,
               files.dir);
  return files;
}

}  // namespace qme::demo

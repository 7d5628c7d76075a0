#include "qme/formats/training_frames.hpp"

#include <spdlog/spdlog.h>

#include <unordered_map>
#include <utility>

#include "qme/core/error.hpp"
#include "qme/formats/cache_format.hpp"
#include "qme/io/hdf5_file.hpp"

namespace qme::formats {

namespace {

void check_length(size_t size, int64_t frames, const std::string& source, const char* field) {
  if (static_cast<int64_t>(size) != frames) {
    throw InputError(
        source, field,
        "has " + std::to_string(size) + " entries but 'feats' has " + std::to_string(frames) + " rows");
  }
}

/// A 2-D float32 dataset as a matrix.
FeatureMatrix read_matrix(const io::H5Reader& reader, const std::string& name) {
  io::Shape shape;
  FeatureMatrix m;
  m.values = reader.read_float32(name, &shape);
  if (shape.size() != 2) {
    throw InputError(
        reader.path(), name,
        "must be a 2-D (frames, width) matrix, got " + std::to_string(shape.size()) + " dimensions");
  }
  m.rows = static_cast<int64_t>(shape[0]);
  m.cols = static_cast<int64_t>(shape[1]);
  return m;
}

std::vector<uint8_t> read_flags(const io::H5Reader& reader, const std::string& name) {
  const auto values = reader.read_ids(name);
  std::vector<uint8_t> flags(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i] != 0 && values[i] != 1) {
      throw InputError(reader.path(), name,
                       "entry " + std::to_string(i) + " is " + std::to_string(values[i]) + ", not 0 or 1");
    }
    flags[i] = static_cast<uint8_t>(values[i]);
  }
  return flags;
}

uint64_t u64(int64_t v) {
  return static_cast<uint64_t>(v);
}

}  // namespace

std::string training_frames_path(const std::string& dir, const std::string& model,
                                 const std::string& dataset) {
  return dir + "/" + model + "_train_" + dataset + ".h5";
}

void validate_training_frames(const TrainingFrames& f, const std::string& source) {
  if (!f.feats.consistent()) throw InputError(source, "feats", "does not hold rows x cols values");
  if (f.feats.rows < 1) throw InputError(source, "feats", "holds no training frame");
  if (f.feats.cols < 1) throw InputError(source, "feats", "has no feature columns");
  const int64_t n = f.feats.rows;
  check_length(f.pids.size(), n, source, "pids");
  check_length(f.camids.size(), n, source, "camids");
  check_length(f.clothes_ids.size(), n, source, "clothes_ids");
  check_length(f.sample_index.size(), n, source, "sample_index");
  check_length(f.frame_keys.size(), n, source, "frame_keys");
  for (size_t i = 0; i < f.sample_index.size(); ++i) {
    if (f.sample_index[i] < 0)
      throw InputError(source, "sample_index", "entry " + std::to_string(i) + " is negative");
  }
  if (f.qe_stats) {
    if (!f.qe_stats->consistent()) throw InputError(source, "qe_stats", "does not hold rows x cols values");
    if (f.qe_stats->cols < 1) throw InputError(source, "qe_stats", "has no columns");
    check_length(static_cast<size_t>(f.qe_stats->rows), n, source, "qe_stats");
  }
  if (f.has_face) {
    check_length(f.has_face->size(), n, source, "has_face");
    for (size_t i = 0; i < f.has_face->size(); ++i) {
      if ((*f.has_face)[i] > 1)
        throw InputError(source, "has_face", "entry " + std::to_string(i) + " is not 0 or 1");
    }
  }
}

void write_training_frames(const std::string& path, const TrainingFrames& f) {
  validate_training_frames(f, path);
  const uint64_t n = u64(f.feats.rows);
  io::AtomicH5Writer writer(path);
  stamp_qme_format(writer);
  writer.write_float32("feats", f.feats.values.data(), {n, u64(f.feats.cols)});
  writer.write_int64("pids", f.pids.data(), {n});
  writer.write_int64("camids", f.camids.data(), {n});
  writer.write_int64("clothes_ids", f.clothes_ids.data(), {n});
  writer.write_int64("sample_index", f.sample_index.data(), {n});
  writer.write_strings("frame_keys", f.frame_keys);
  if (f.qe_stats) writer.write_float32("qe_stats", f.qe_stats->values.data(), {n, u64(f.qe_stats->cols)});
  if (f.has_face) writer.write_uint8("has_face", f.has_face->data(), {n});
  writer.commit();
}

TrainingFrames read_training_frames(const std::string& path) {
  const io::H5Reader reader(path);
  check_qme_format(reader, "training-frames cache");
  TrainingFrames f;
  f.source = path;
  f.feats = read_matrix(reader, "feats");
  f.pids = reader.read_ids("pids");
  f.camids = reader.read_ids("camids");
  f.clothes_ids = reader.read_ids("clothes_ids");
  f.sample_index = reader.read_ids("sample_index");
  f.frame_keys = reader.read_strings("frame_keys");
  if (reader.has_dataset("qe_stats")) f.qe_stats = read_matrix(reader, "qe_stats");
  if (reader.has_dataset("has_face")) f.has_face = read_flags(reader, "has_face");
  validate_training_frames(f, path);
  return f;
}

std::vector<std::vector<int64_t>> align_by_frame_key(const std::vector<const TrainingFrames*>& models) {
  if (models.empty()) return {};
  using Rows = std::unordered_map<std::string, std::vector<int64_t>>;
  std::vector<Rows> rows_of(models.size());
  for (size_t m = 1; m < models.size(); ++m) {
    for (size_t i = 0; i < models[m]->frame_keys.size(); ++i) {
      rows_of[m][models[m]->frame_keys[i]].push_back(static_cast<int64_t>(i));
    }
  }
  std::vector<std::vector<int64_t>> aligned(models.size());
  std::unordered_map<std::string, size_t> seen;  // occurrences of a key so far in model 0
  const auto& first = *models.front();
  for (size_t i = 0; i < first.frame_keys.size(); ++i) {
    const auto& key = first.frame_keys[i];
    const size_t occurrence = seen[key]++;
    std::vector<int64_t> match{static_cast<int64_t>(i)};
    for (size_t m = 1; m < models.size(); ++m) {
      const auto it = rows_of[m].find(key);
      if (it == rows_of[m].end() || it->second.size() <= occurrence) break;
      match.push_back(it->second[occurrence]);
    }
    if (match.size() != models.size()) continue;
    for (size_t m = 1; m < models.size(); ++m) {
      const auto& other = *models[m];
      const auto j = static_cast<size_t>(match[m]);
      if (other.pids[j] != first.pids[i] || other.camids[j] != first.camids[i] ||
          other.clothes_ids[j] != first.clothes_ids[i] || other.sample_index[j] != first.sample_index[i]) {
        throw InputError(other.source, "frame_keys",
                         "frame '" + key +
                             "' has other labels (pid, camid, clothes_id, sample_index) than in " +
                             first.source + ": the caches come from different training splits");
      }
    }
    for (size_t m = 0; m < models.size(); ++m) aligned[m].push_back(match[m]);
  }
  if (aligned.front().empty()) {
    std::string sources;
    for (const auto* m : models) sources += (sources.empty() ? "" : ", ") + m->source;
    throw InputError(sources, "frame_keys", "no training frame is present in every model's cache");
  }
  for (const auto* m : models) {
    const auto dropped = m->size() - static_cast<int64_t>(aligned.front().size());
    if (dropped > 0)
      spdlog::info("{}: {} frame(s) not in every model's cache are not used", m->source, dropped);
  }
  return aligned;
}

}  // namespace qme::formats

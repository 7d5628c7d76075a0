#include "qme/formats/center_file.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <utility>

#include "qme/core/error.hpp"
#include "qme/core/numpy_float32.hpp"
#include "qme/io/hdf5_file.hpp"

namespace qme::formats {

namespace {

/// A decimal integer written by Python's str(int): optional '-', digits only.
std::optional<int64_t> parse_decimal(const std::string& text) {
  if (text.empty() || text[0] == '+') return std::nullopt;
  int64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

/// "{camid}_{clothes_id}" -> (camid, clothes_id).
std::optional<std::pair<int64_t, int64_t>> parse_camid_clothes(const std::string& name) {
  const auto sep = name.find('_');
  if (sep == std::string::npos) return std::nullopt;
  const auto camid = parse_decimal(name.substr(0, sep));
  const auto clothes = parse_decimal(name.substr(sep + 1));
  if (!camid || !clothes) return std::nullopt;
  return std::make_pair(*camid, *clothes);
}

/// Center-file order: pid numerically, then the "{camid}_{clothes_id}" names
/// lexically (upstream's sorted() on strings).
bool center_order(const CenterKey& a, const CenterKey& b) {
  if (a.pid != b.pid) return a.pid < b.pid;
  const auto name = [](const CenterKey& k) {
    return std::to_string(k.camid) + "_" + std::to_string(k.clothes_id);
  };
  return name(a) < name(b);
}

void validate_for_writing(const std::string& path, const std::vector<CenterFrames>& centers) {
  if (centers.empty()) throw InputError(path, "", "no centers to write");
  const int64_t dim = centers.front().frames.cols;
  std::vector<CenterKey> keys;
  for (const auto& c : centers) {
    const auto name = center_dataset_name(c.key);
    if (!c.frames.consistent()) throw InputError(path, name, "matrix does not hold rows x cols values");
    if (c.frames.rows < 1) throw InputError(path, name, "has no frames");
    if (c.frames.cols < 1 || c.frames.cols != dim) {
      throw InputError(path, name,
                       "has " + std::to_string(c.frames.cols) + " columns but the first center has " +
                           std::to_string(dim));
    }
    keys.push_back(c.key);
  }
  std::sort(keys.begin(), keys.end(), center_order);
  const auto dup = std::adjacent_find(keys.begin(), keys.end());
  if (dup != keys.end()) throw InputError(path, center_dataset_name(*dup), "appears twice");
}

/// `centers` in file order (pointers into the argument).
std::vector<const CenterFrames*> in_file_order(const std::vector<CenterFrames>& centers) {
  std::vector<const CenterFrames*> ordered;
  for (const auto& c : centers) ordered.push_back(&c);
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const CenterFrames* a, const CenterFrames* b) { return center_order(a->key, b->key); });
  return ordered;
}

/// One dataset of a center file as an (n, d) matrix; (d) is read as (1, d).
FeatureMatrix read_center_dataset(const io::H5Reader& reader, const std::string& name) {
  io::Shape shape;
  FeatureMatrix m;
  m.values = reader.read_float32(name, &shape);
  if (shape.size() == 1) shape.insert(shape.begin(), 1);
  if (shape.size() != 2 || shape[0] < 1 || shape[1] < 1) {
    throw InputError(reader.path(), name,
                     "must be a (frames, d) or (d) float matrix with at least one value");
  }
  m.rows = static_cast<int64_t>(shape[0]);
  m.cols = static_cast<int64_t>(shape[1]);
  return m;
}

}  // namespace

std::string center_dataset_name(const CenterKey& key) {
  return std::to_string(key.pid) + "/" + std::to_string(key.camid) + "_" + std::to_string(key.clothes_id);
}

std::string center_key_text(const CenterKey& key) {
  return std::to_string(key.pid) + "_" + std::to_string(key.camid) + "_" + std::to_string(key.clothes_id);
}

std::string center_frames_path(const std::string& dir, const std::string& model, const std::string& dataset,
                               int64_t num_sample) {
  return dir + "/" + model + "_center_n" + std::to_string(num_sample) + "_" + dataset + "_CC.h5";
}

std::string centers_path(const std::string& dir, const std::string& model, const std::string& dataset) {
  return dir + "/" + model + "_center_" + dataset + "_CC.h5";
}

std::vector<float> center_mean(const FeatureMatrix& frames) {
  const auto n = frames.rows, d = frames.cols;
  std::vector<float> mean(static_cast<size_t>(d), 0.0f);
  if (n < 1) return mean;
  if (d == 1) {
    // A (n, 1) array reduces along its contiguous axis: numpy sums pairwise.
    mean[0] = numpy::sum(frames.values.data(), static_cast<size_t>(n)) / static_cast<float>(n);
    return mean;
  }
  // Along axis 0 of a C-contiguous array numpy adds whole rows in order, in float32.
  for (int64_t i = 0; i < n; ++i) {
    const float* row = frames.row(i);
    for (int64_t j = 0; j < d; ++j) mean[static_cast<size_t>(j)] += row[j];
  }
  const auto count = static_cast<float>(n);
  for (auto& v : mean) v /= count;
  return mean;
}

void write_center_frames(const std::string& path, const std::vector<CenterFrames>& centers) {
  validate_for_writing(path, centers);
  io::AtomicH5Writer writer(path);
  for (const auto* c : in_file_order(centers)) {
    writer.write_float32(center_dataset_name(c->key), c->frames.values.data(),
                         {static_cast<uint64_t>(c->frames.rows), static_cast<uint64_t>(c->frames.cols)});
  }
  writer.commit();
}

void write_centers(const std::string& path, const std::vector<CenterFrames>& centers) {
  validate_for_writing(path, centers);
  io::AtomicH5Writer writer(path);
  for (const auto* c : in_file_order(centers)) {
    const auto mean = center_mean(c->frames);
    writer.write_float32(center_dataset_name(c->key), mean.data(), {1, static_cast<uint64_t>(mean.size())});
  }
  writer.commit();
}

std::vector<CenterFrames> read_center_frames(const std::string& path) {
  const io::H5Reader reader(path);
  std::map<int64_t, std::string> groups;  // numeric pid order
  for (const auto& name : reader.list_group("/")) {
    const auto pid = parse_decimal(name);
    if (!pid || !reader.has_group(name)) {
      throw InputError(path, name, "must be a group named by a decimal training pid");
    }
    if (!groups.emplace(*pid, name).second) {
      throw InputError(path, name, "names the same pid as '" + groups[*pid] + "'");
    }
  }
  std::vector<CenterFrames> centers;
  for (const auto& [pid, group] : groups) {
    auto members = reader.list_group(group);
    std::sort(members.begin(), members.end());  // upstream: sorted(f[pid].keys())
    const size_t first = centers.size();
    for (const auto& member : members) {
      const std::string name = group + "/" + member;
      const auto ids = parse_camid_clothes(member);
      if (!ids || !reader.has_dataset(name)) {
        throw InputError(path, name, "must be a dataset named \"{camid}_{clothes_id}\"");
      }
      CenterFrames c{{pid, ids->first, ids->second}, read_center_dataset(reader, name)};
      for (size_t k = first; k < centers.size(); ++k) {
        if (centers[k].key == c.key) throw InputError(path, name, "names the same center as another dataset");
      }
      if (!centers.empty() && c.frames.cols != centers.front().frames.cols) {
        throw InputError(path, name,
                         "has " + std::to_string(c.frames.cols) + " columns but '" +
                             center_dataset_name(centers.front().key) + "' has " +
                             std::to_string(centers.front().frames.cols));
      }
      centers.push_back(std::move(c));
    }
  }
  if (centers.empty()) throw InputError(path, "", "holds no center");
  return centers;
}

Centers read_centers(const std::string& path) {
  const auto frames = read_center_frames(path);
  Centers out;
  out.source = path;
  out.features = FeatureMatrix(static_cast<int64_t>(frames.size()), frames.front().frames.cols);
  for (size_t k = 0; k < frames.size(); ++k) {
    out.keys.push_back(frames[k].key);
    const auto& f = frames[k].frames;
    // A (1, d) center is copied bit for bit; a frames dataset is reduced to its mean.
    const auto mean = f.rows == 1 ? f.values : center_mean(f);
    std::copy(mean.begin(), mean.end(), out.features.row(static_cast<int64_t>(k)));
  }
  return out;
}

std::vector<Centers> align_centers(const std::vector<Centers>& per_model) {
  if (per_model.empty()) return {};
  size_t ref = 0;
  for (size_t m = 1; m < per_model.size(); ++m) {
    if (per_model[m].size() > per_model[ref].size()) ref = m;  // first of the largest, as argmax
  }
  const auto& ref_keys = per_model[ref].keys;
  std::map<std::string, int64_t> ref_row;
  for (size_t k = 0; k < ref_keys.size(); ++k)
    ref_row[center_key_text(ref_keys[k])] = static_cast<int64_t>(k);
  std::vector<Centers> aligned;
  for (const auto& model : per_model) {
    Centers out;
    out.keys = ref_keys;
    out.source = model.source;
    out.features = FeatureMatrix(static_cast<int64_t>(ref_keys.size()), model.dim());
    int64_t dropped = 0;
    for (int64_t k = 0; k < model.size(); ++k) {
      const auto it = ref_row.find(center_key_text(model.keys[static_cast<size_t>(k)]));
      if (it == ref_row.end()) {
        ++dropped;
        continue;
      }
      std::copy(model.features.row(k), model.features.row(k) + model.dim(), out.features.row(it->second));
    }
    if (dropped > 0) {
      spdlog::warn("{}: {} center(s) absent from the reference model's centers ({}) are not used",
                   model.source, dropped, per_model[ref].source);
    }
    aligned.push_back(std::move(out));
  }
  return aligned;
}

std::vector<int64_t> center_labels(const Centers& centers) {
  std::vector<int64_t> pids;
  pids.reserve(centers.keys.size());
  for (const auto& k : centers.keys) pids.push_back(k.pid);
  return pids;
}

}  // namespace qme::formats

#include "qme/formats/features_file.hpp"

#include <filesystem>
#include <utility>

#include "qme/core/error.hpp"
#include "qme/io/hdf5_file.hpp"

namespace qme::formats {

namespace {

/// (rows, cols) of a 2-D feature dataset, from its shape alone.
std::pair<int64_t, int64_t> feature_shape(const io::H5Reader& reader, const std::string& name) {
  const io::Shape shape = reader.numeric_shape(name);
  if (shape.size() != 2) {
    throw InputError(reader.path(), name,
                     "must be a 2-D (rows, feature dimension) matrix, got " + std::to_string(shape.size()) +
                         " dimensions");
  }
  return {static_cast<int64_t>(shape[0]), static_cast<int64_t>(shape[1])};
}

void check_side(const IdentityLabels& labels, int64_t rows, const char* prefix, const char* features,
                const std::string& source) {
  const auto check = [&](const std::vector<int64_t>& ids, const char* suffix) {
    if (static_cast<int64_t>(ids.size()) != rows) {
      throw InputError(source, std::string(prefix) + suffix,
                       "has " + std::to_string(ids.size()) + " entries but " + features + " has " +
                           std::to_string(rows) + " rows");
    }
  };
  check(labels.pids, "_pids");
  check(labels.camids, "_camids");
  check(labels.clothes_ids, "_clothes_ids");
}

}  // namespace

void validate_test_features(const TestFeatures& f, const std::string& source) {
  if (f.dim <= 0) throw InputError(source, "qf", "has no feature columns");
  const auto q = static_cast<int64_t>(f.query.size()) / f.dim;
  const auto g = static_cast<int64_t>(f.gallery.size()) / f.dim;
  if (static_cast<int64_t>(f.query.size()) != q * f.dim) {
    throw InputError(source, "qf", "does not hold whole rows of " + std::to_string(f.dim) + " values");
  }
  if (static_cast<int64_t>(f.gallery.size()) != g * f.dim) {
    throw InputError(source, "gf", "does not hold whole rows of " + std::to_string(f.dim) + " values");
  }
  if (q == 0) throw InputError(source, "qf", "is empty: the file holds no query features");
  if (g == 0) throw InputError(source, "gf", "is empty: the file holds no gallery features");
  check_side(f.query_labels, q, "q", "qf", source);
  check_side(f.gallery_labels, g, "g", "gf", source);
}

namespace {

TestFeaturesHeader read_header(const io::H5Reader& reader) {
  const auto& path = reader.path();
  const auto [q_rows, q_cols] = feature_shape(reader, "qf");
  const auto [g_rows, g_cols] = feature_shape(reader, "gf");
  if (q_cols != g_cols) {
    throw InputError(path, "gf",
                     "has " + std::to_string(g_cols) + " feature columns but 'qf' has " +
                         std::to_string(q_cols) + ": query and gallery come from different models");
  }
  if (q_cols == 0) throw InputError(path, "qf", "has no feature columns");
  if (q_rows == 0) throw InputError(path, "qf", "is empty: the file holds no query features");
  if (g_rows == 0) throw InputError(path, "gf", "is empty: the file holds no gallery features");
  TestFeaturesHeader h;
  h.dim = q_cols;
  h.num_query = q_rows;
  h.num_gallery = g_rows;
  const auto read_side = [&](const char* prefix, int64_t rows, const char* features) {
    const std::string rows_text = std::string(features) + " has " + std::to_string(rows) + " rows";
    const auto n = static_cast<uint64_t>(rows);
    IdentityLabels labels;
    labels.pids = reader.read_ids(std::string(prefix) + "_pids", n, rows_text);
    labels.camids = reader.read_ids(std::string(prefix) + "_camids", n, rows_text);
    labels.clothes_ids = reader.read_ids(std::string(prefix) + "_clothes_ids", n, rows_text);
    return labels;
  };
  h.query_labels = read_side("q", q_rows, "qf");
  h.gallery_labels = read_side("g", g_rows, "gf");
  return h;
}

}  // namespace

TestFeaturesHeader read_test_features_header(const std::string& path) {
  return read_header(io::H5Reader(path));
}

TestFeatures read_test_features(const std::string& path) {
  const io::H5Reader reader(path);
  auto header = read_header(reader);
  TestFeatures f;
  f.dim = header.dim;
  f.query_labels = std::move(header.query_labels);
  f.gallery_labels = std::move(header.gallery_labels);
  f.query = reader.read_float32("qf");
  f.gallery = reader.read_float32("gf");
  validate_test_features(f, path);
  return f;
}

void write_test_features(const std::string& path, const TestFeatures& f) {
  validate_test_features(f, path);
  io::AtomicH5Writer writer(path);
  const auto rows = [&](const std::vector<float>& v) { return static_cast<uint64_t>(v.size()) / f.dim; };
  const auto dim = static_cast<uint64_t>(f.dim);
  // Upstream's order: qf, q ids, gf, g ids; ids as float32 (torch.tensor([]) is float32).
  writer.write_float32("qf", f.query.data(), {rows(f.query), dim});
  auto write_ids = [&](const std::string& name, const std::vector<int64_t>& ids) {
    const std::vector<float> values(ids.begin(), ids.end());
    writer.write_float32(name, values.data(), {values.size()});
  };
  write_ids("q_pids", f.query_labels.pids);
  write_ids("q_camids", f.query_labels.camids);
  write_ids("q_clothes_ids", f.query_labels.clothes_ids);
  writer.write_float32("gf", f.gallery.data(), {rows(f.gallery), dim});
  write_ids("g_pids", f.gallery_labels.pids);
  write_ids("g_camids", f.gallery_labels.camids);
  write_ids("g_clothes_ids", f.gallery_labels.clothes_ids);
  writer.commit();
}

std::string test_features_path(const std::string& dir, const std::string& model, const std::string& dataset) {
  return (std::filesystem::path(dir) / (model + "_" + dataset + "_test.h5")).string();
}

std::string score_matrix_path(const std::string& dir, const std::string& dataset) {
  return (std::filesystem::path(dir) / ("scoremats_" + dataset + ".h5")).string();
}

}  // namespace qme::formats

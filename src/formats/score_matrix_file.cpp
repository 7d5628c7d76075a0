#include "qme/formats/score_matrix_file.hpp"

#include "qme/core/error.hpp"

namespace qme::formats {

namespace {

/// How many entries an id array must have, and the dataset that says so.
struct IdCount {
  uint64_t n;
  std::string from;  // "adaface/score_mat has 120 rows"
};

IdentityLabels read_side(const io::H5Reader& reader, const std::string& prefix, const IdCount& count) {
  IdentityLabels side;
  side.pids = reader.read_ids(prefix + "_pids", count.n, count.from);
  side.camids = reader.read_ids(prefix + "_camids", count.n, count.from);
  side.clothes_ids = reader.read_ids(prefix + "_clothes_ids", count.n, count.from);
  return side;
}

/// The matrices fix the id arrays' lengths (those of the first model: read_model checks the
/// others); a file without models falls back on q_pids and g_pids.
struct IdCounts {
  IdCount query, gallery, subjects;
};

IdCount count_of(const io::H5Reader& reader, const std::string& ids) {
  const uint64_t n = reader.id_count(ids);
  return {n, ids + " has " + std::to_string(n)};
}

IdCounts expected_id_counts(const io::H5Reader& reader, const std::vector<std::string>& models) {
  IdCounts c{count_of(reader, "q_pids"), count_of(reader, "g_pids"), count_of(reader, "unique_g_pids")};
  if (models.empty()) return c;
  const std::string scores = models.front() + "/score_mat";
  const io::Shape s = reader.shape(scores);
  if (s.size() == 2) {
    c.query = {s[0], scores + " has " + std::to_string(s[0]) + " rows"};
    c.gallery = {s[1], scores + " has " + std::to_string(s[1]) + " columns"};
  }
  const std::string merged = models.front() + "/merge_score_mat";
  if (reader.has_dataset(merged)) {
    const io::Shape m = reader.shape(merged);
    if (m.size() == 2) c.subjects = {m[1], merged + " has " + std::to_string(m[1]) + " columns"};
  }
  return c;
}

std::vector<float> ids_as_float32(const std::vector<int64_t>& ids) {
  return std::vector<float>(ids.begin(), ids.end());
}

}  // namespace

ScoreMatrixFile::ScoreMatrixFile(const std::string& path) : reader_(path) {
  const IdCounts counts = expected_id_counts(reader_, models());
  labels_.query = read_side(reader_, "q", counts.query);
  labels_.gallery = read_side(reader_, "g", counts.gallery);
  labels_.unique_gallery_pids = reader_.read_ids("unique_g_pids", counts.subjects.n, counts.subjects.from);
  validate_labels(labels_, path);
}

std::vector<std::string> ScoreMatrixFile::models() const {
  std::vector<std::string> names;
  for (const auto& name : reader_.list_group("/")) {
    if (reader_.has_dataset(name + "/score_mat")) names.push_back(name);
  }
  return names;
}

void ScoreMatrixFile::check_matrix(const std::string& name, int64_t rows, int64_t cols, const char* rows_from,
                                   const char* cols_from) const {
  const io::Shape shape = reader_.numeric_shape(name);  // the dtype too, before any work
  if (shape.size() != 2) {
    throw InputError(path(), name,
                     "must be a 2-D matrix, got " + std::to_string(shape.size()) + " dimensions");
  }
  const auto r = static_cast<int64_t>(shape[0]);
  const auto c = static_cast<int64_t>(shape[1]);
  if (r != rows || c != cols) {
    throw InputError(path(), name,
                     "is " + std::to_string(r) + "x" + std::to_string(c) + " but " + rows_from + " has " +
                         std::to_string(rows) + " entries and " + cols_from + " has " + std::to_string(cols));
  }
}

void ScoreMatrixFile::check_model(const std::string& model) const {
  if (!reader_.has_dataset(model + "/score_mat")) {
    std::string known;
    for (const auto& m : models()) known += (known.empty() ? "" : ", ") + m;
    throw InputError(path(), model + "/score_mat",
                     "is missing: model '" + model +
                         "' is not in this file (it has: " + (known.empty() ? "no models" : known) + ")");
  }
  const auto q = static_cast<int64_t>(labels_.query.size());
  const auto g = static_cast<int64_t>(labels_.gallery.size());
  const auto u = static_cast<int64_t>(labels_.unique_gallery_pids.size());
  check_matrix(model + "/score_mat", q, g, "q_pids", "g_pids");
  check_matrix(model + "/merge_score_mat", q, u, "q_pids", "unique_g_pids");
}

ModelScores ScoreMatrixFile::read_model(const std::string& model) const {
  check_model(model);  // shapes before any allocation
  const auto read = [&](const std::string& name) {
    ScoreMatrix m;
    io::Shape shape;  // 2-D, as check_model made sure
    m.values = reader_.read_float32(name, &shape);
    m.rows = static_cast<int64_t>(shape[0]);
    m.cols = static_cast<int64_t>(shape[1]);
    return m;
  };
  ModelScores scores;
  scores.score_mat = read(model + "/score_mat");
  scores.merge_score_mat = read(model + "/merge_score_mat");
  return scores;
}

void write_score_matrix_file(const std::string& path, const TestLabels& labels,
                             const std::vector<std::pair<std::string, ModelScores>>& models) {
  validate_labels(labels, path);
  io::AtomicH5Writer writer(path);
  auto write_ids = [&](const std::string& name, const std::vector<int64_t>& ids) {
    const auto values = ids_as_float32(ids);
    writer.write_float32(name, values.data(), {values.size()});
  };
  write_ids("q_pids", labels.query.pids);
  write_ids("q_camids", labels.query.camids);
  write_ids("q_clothes_ids", labels.query.clothes_ids);
  write_ids("g_pids", labels.gallery.pids);
  write_ids("g_camids", labels.gallery.camids);
  write_ids("g_clothes_ids", labels.gallery.clothes_ids);
  write_ids("unique_g_pids", labels.unique_gallery_pids);
  for (const auto& [name, scores] : models) {
    const auto& s = scores.score_mat;
    const auto& m = scores.merge_score_mat;
    writer.write_float32(name + "/score_mat", s.values.data(),
                         {static_cast<uint64_t>(s.rows), static_cast<uint64_t>(s.cols)});
    writer.write_float32(name + "/merge_score_mat", m.values.data(),
                         {static_cast<uint64_t>(m.rows), static_cast<uint64_t>(m.cols)});
  }
  writer.commit();
}

}  // namespace qme::formats

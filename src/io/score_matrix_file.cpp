#include "qme/io/score_matrix_file.hpp"

#include "qme/core/error.hpp"

namespace qme::io {

namespace {

IdentityLabels read_side(const H5Reader& reader, const std::string& prefix) {
  IdentityLabels side;
  side.pids = reader.read_ids(prefix + "_pids");
  side.camids = reader.read_ids(prefix + "_camids");
  side.clothes_ids = reader.read_ids(prefix + "_clothes_ids");
  return side;
}

std::vector<float> ids_as_float32(const std::vector<int64_t>& ids) {
  return std::vector<float>(ids.begin(), ids.end());
}

}  // namespace

ScoreMatrixFile::ScoreMatrixFile(const std::string& path) : reader_(path) {
  labels_.query = read_side(reader_, "q");
  labels_.gallery = read_side(reader_, "g");
  labels_.unique_gallery_pids = reader_.read_ids("unique_g_pids");
  validate_labels(labels_, path);
}

std::vector<std::string> ScoreMatrixFile::models() const {
  std::vector<std::string> names;
  for (const auto& name : reader_.list_group("/")) {
    if (reader_.has_dataset(name + "/score_mat")) names.push_back(name);
  }
  return names;
}

ScoreMatrix ScoreMatrixFile::read_matrix(const std::string& name, int64_t rows, int64_t cols,
                                         const char* rows_from, const char* cols_from) const {
  Shape shape;
  ScoreMatrix m;
  m.values = reader_.read_float32(name, &shape);
  if (shape.size() != 2) {
    throw InputError(path(), name,
                     "must be a 2-D matrix, got " + std::to_string(shape.size()) + " dimensions");
  }
  m.rows = static_cast<int64_t>(shape[0]);
  m.cols = static_cast<int64_t>(shape[1]);
  if (m.rows != rows || m.cols != cols) {
    throw InputError(path(), name,
                     "is " + std::to_string(m.rows) + "x" + std::to_string(m.cols) + " but " + rows_from +
                         " has " + std::to_string(rows) + " entries and " + cols_from + " has " +
                         std::to_string(cols));
  }
  return m;
}

ModelScores ScoreMatrixFile::read_model(const std::string& model) const {
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
  ModelScores scores;
  scores.score_mat = read_matrix(model + "/score_mat", q, g, "q_pids", "g_pids");
  scores.merge_score_mat = read_matrix(model + "/merge_score_mat", q, u, "q_pids", "unique_g_pids");
  return scores;
}

void write_score_matrix_file(const std::string& path, const TestLabels& labels,
                             const std::vector<std::pair<std::string, ModelScores>>& models) {
  validate_labels(labels, path);
  AtomicH5Writer writer(path);
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

}  // namespace qme::io

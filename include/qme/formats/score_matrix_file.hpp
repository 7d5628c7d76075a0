#pragma once
/// The score-matrix file `scoremats_{ds}.h5` in upstream's layout:
/// per model "{model}/score_mat" (Q,G) and "{model}/merge_score_mat" (Q,U),
/// and once at the root the id arrays q_/g_{pids,camids,clothes_ids} and
/// unique_g_pids. Ids may be stored in any numeric dtype (upstream: float32).
#include <string>
#include <utility>
#include <vector>

#include "qme/core/identity_labels.hpp"
#include "qme/core/score_matrix.hpp"
#include "qme/io/hdf5_file.hpp"

namespace qme::formats {

class ScoreMatrixFile {
 public:
  /// Opens the file and reads and validates its id arrays.
  explicit ScoreMatrixFile(const std::string& path);

  const std::string& path() const { return reader_.path(); }
  const TestLabels& labels() const { return labels_; }

  /// Names of the root groups that hold a score_mat dataset.
  std::vector<std::string> models() const;

  /// Both matrices of one model, checked against the id arrays. Throws
  /// InputError naming the file and dataset when missing or mis-shaped.
  ModelScores read_model(const std::string& model) const;
  /// read_model's checks, from the datasets' shapes alone (nothing is read).
  void check_model(const std::string& model) const;

 private:
  void check_matrix(const std::string& name, int64_t rows, int64_t cols, const char* rows_from,
                    const char* cols_from) const;

  io::H5Reader reader_;
  TestLabels labels_;
};

/// Writes a score-matrix file (ids as float32, like upstream), atomically.
void write_score_matrix_file(const std::string& path, const TestLabels& labels,
                             const std::vector<std::pair<std::string, ModelScores>>& models);

}  // namespace qme::formats

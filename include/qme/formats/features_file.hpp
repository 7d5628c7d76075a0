#pragma once
/// The test-features file `{model}_{ds}_test.h5` in upstream's layout (test.py,
/// extract_test_feats): `qf` (Q,d) and `gf` (G,d) float32, one row per probe /
/// gallery entry, and the six id arrays q_/g_{pids,camids,clothes_ids} of length
/// Q / G. Upstream writes the ids as float32; any numeric dtype is read. A row
/// of NaN means "no feature" (a face model that found no face).
#include <cstdint>
#include <string>
#include <vector>

#include "qme/core/identity_labels.hpp"

namespace qme::formats {

struct TestFeatures {
  int64_t dim = 0;                // d: columns of qf and gf
  std::vector<float> query;       // qf, (Q, d) row-major
  std::vector<float> gallery;     // gf, (G, d) row-major
  IdentityLabels query_labels;    // q_pids, q_camids, q_clothes_ids
  IdentityLabels gallery_labels;  // g_pids, g_camids, g_clothes_ids

  int64_t num_query() const { return static_cast<int64_t>(query_labels.size()); }
  int64_t num_gallery() const { return static_cast<int64_t>(gallery_labels.size()); }
};

/// What a test-features file holds besides the features themselves.
struct TestFeaturesHeader {
  int64_t dim = 0;
  int64_t num_query = 0;
  int64_t num_gallery = 0;
  IdentityLabels query_labels;
  IdentityLabels gallery_labels;
};

/// The shapes and ids of a test-features file, without reading the features:
/// the same checks and errors as read_test_features. Cheap, so that several
/// files can be checked against each other before any work is done.
TestFeaturesHeader read_test_features_header(const std::string& path);

/// Reads and validates a test-features file. Throws InputError naming the file
/// and the dataset when the file or a dataset is missing, qf/gf are not 2-D or
/// differ in width, an id array's length differs from its feature rows, or the
/// query set or the gallery is empty.
TestFeatures read_test_features(const std::string& path);

/// Writes a test-features file in upstream's layout (ids as float32), atomically.
/// Throws InputError when `features` is inconsistent (sizes, empty sets).
void write_test_features(const std::string& path, const TestFeatures& features);

/// Throws InputError(source, ...) unless the features and ids of `features`
/// agree in size and neither set is empty.
void validate_test_features(const TestFeatures& features, const std::string& source);

/// "{dir}/{model}_{dataset}_test.h5": where upstream's test.py puts a model's test features.
std::string test_features_path(const std::string& dir, const std::string& model, const std::string& dataset);

/// "{dir}/scoremats_{dataset}.h5": the gathered score-matrix file.
std::string score_matrix_path(const std::string& dir, const std::string& dataset);

}  // namespace qme::formats

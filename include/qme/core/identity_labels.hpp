#pragma once
/// Identity labels of probes and gallery entries, as upstream stores them
/// next to every feature and score-matrix file.
#include <cstdint>
#include <string>
#include <vector>

namespace qme {

struct IdentityLabels {
  std::vector<int64_t> pids;
  std::vector<int64_t> camids;
  std::vector<int64_t> clothes_ids;

  size_t size() const { return pids.size(); }
};

struct TestLabels {
  IdentityLabels query;
  IdentityLabels gallery;
  std::vector<int64_t> unique_gallery_pids;  // ascending; columns of merge_score_mat
};

/// Sorted distinct values (numpy's np.unique).
std::vector<int64_t> unique_sorted(const std::vector<int64_t>& values);

/// Throws InputError(source, ...) when the three arrays of `labels` differ in
/// length, or when unique_gallery_pids is not strictly ascending.
void validate_labels(const TestLabels& labels, const std::string& source);

}  // namespace qme

#pragma once
/// A probe x gallery score matrix: rows = probes, cols = gallery entries
/// (or gallery subjects for the merged matrix), float32, row-major.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace qme {

struct ScoreMatrix {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<float> values;  // rows * cols, row-major

  ScoreMatrix() = default;
  ScoreMatrix(int64_t r, int64_t c, float fill = 0.0f)
      : rows(r), cols(c), values(static_cast<size_t>(r * c), fill) {}

  const float* row(int64_t i) const { return values.data() + i * cols; }
  float* row(int64_t i) { return values.data() + i * cols; }
  float at(int64_t i, int64_t j) const { return values[static_cast<size_t>(i * cols + j)]; }
  size_t size() const { return values.size(); }
};

/// The two matrices every model contributes: entry-level and subject-level.
struct ModelScores {
  ScoreMatrix score_mat;        // (Q, G)
  ScoreMatrix merge_score_mat;  // (Q, U), columns ordered like unique_g_pids
};

/// Fuses several models' matrices: `fuse` (matrices -> matrix) runs once on
/// their score_mats and once on their merge_score_mats.
template <typename Fuse>
ModelScores fuse_each_kind(const std::vector<const ModelScores*>& models, Fuse&& fuse) {
  std::vector<const ScoreMatrix*> entries, subjects;
  for (const auto* m : models) {
    entries.push_back(&m->score_mat);
    subjects.push_back(&m->merge_score_mat);
  }
  ModelScores out;
  out.score_mat = fuse(entries);
  out.merge_score_mat = fuse(subjects);
  return out;
}

}  // namespace qme

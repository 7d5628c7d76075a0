#pragma once
/// A probe x gallery score matrix: rows = probes, cols = gallery entries
/// (or gallery subjects for the merged matrix), float32, row-major.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "qme/core/float_matrix.hpp"

namespace qme {

/// Probes x gallery entries (or gallery subjects for the merged matrix).
using ScoreMatrix = FloatMatrix;

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

#pragma once
/// A plain (rows, cols) float32 matrix, row-major: qme's one matrix type. Score matrices
/// (probes x gallery entries or subjects) and cached features (one vector per row) are both
/// this type, under the names ScoreMatrix (core/score_matrix.hpp) and formats::FeatureMatrix.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace qme {

struct FloatMatrix {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<float> values;  // rows * cols, row-major

  FloatMatrix() = default;
  FloatMatrix(int64_t r, int64_t c, float fill = 0.0f)
      : rows(r), cols(c), values(static_cast<size_t>(r * c), fill) {}

  const float* row(int64_t i) const { return values.data() + i * cols; }
  float* row(int64_t i) { return values.data() + i * cols; }
  float at(int64_t i, int64_t j) const { return values[static_cast<size_t>(i * cols + j)]; }
  size_t size() const { return values.size(); }
  /// True when values holds exactly rows * cols numbers.
  bool consistent() const {
    return rows >= 0 && cols >= 0 && values.size() == static_cast<size_t>(rows * cols);
  }
};

}  // namespace qme

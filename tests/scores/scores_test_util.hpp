#pragma once
// Helpers shared by the [scores] tests: small hand-made feature sets (the
// temporary folder is support/test_support.hpp's).
#include <cstdint>
#include <vector>

#include "qme/formats/features_file.hpp"
#include "support/test_support.hpp"

namespace qme_test {

using qme::test::kNaN;

/// Q = 4 probes, G = 6 gallery entries of 3 subjects (pids 5, 2, 9), features
/// value-by-value from a simple formula so that every model's file differs.
inline qme::formats::TestFeatures small_features(int64_t dim, float seed = 1.0f) {
  qme::formats::TestFeatures f;
  f.dim = dim;
  f.query_labels = {{2, 5, 9, 7}, {0, 1, 0, 1}, {20, 50, 90, 70}};
  f.gallery_labels = {{5, 2, 9, 2, 5, 9}, {1, 0, 1, 1, 0, 0}, {51, 21, 91, 22, 50, 90}};
  const auto fill = [&](std::vector<float>& v, int64_t rows, float offset) {
    v.resize(static_cast<size_t>(rows * dim));
    for (int64_t i = 0; i < rows; ++i) {
      for (int64_t k = 0; k < dim; ++k) {
        const auto x = static_cast<float>((i + 1) * (k + 3) % 11) - 5.0f;
        v[static_cast<size_t>(i * dim + k)] = seed * x + offset + 0.25f * static_cast<float>(k % 3);
      }
    }
  };
  fill(f.query, 4, 0.5f);
  fill(f.gallery, 6, -0.25f);
  return f;
}

}  // namespace qme_test

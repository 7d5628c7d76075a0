#pragma once
/// Helpers shared by qme's unit tests: a temporary folder, small score
/// matrices and labels, and the message of an expected exception.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "qme/core/identity_labels.hpp"
#include "qme/core/score_matrix.hpp"

namespace qme::test {

// One definition of each helper that several test files use: the test programs are unity builds
// (tests/CMakeLists.txt), so two files' helpers of one name would meet in one translation unit.

/// float NaN, as missing scores and undefined metrics hold it.
inline constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

/// x as a double, as the reports hold their metrics.
inline double d(float x) {
  return static_cast<double>(x);
}

/// Equal values, NaN equal to NaN (how an undefined metric compares with its expectation).
inline bool same_value(double a, double b) {
  return a == b || (std::isnan(a) && std::isnan(b));
}

/// Largest |a - b| over two matrices of one shape, in double.
inline double max_abs_diff(const ScoreMatrix& a, const ScoreMatrix& b) {
  REQUIRE(a.rows == b.rows);
  REQUIRE(a.cols == b.cols);
  double worst = 0;
  for (size_t k = 0; k < a.size(); ++k) {
    worst = std::max(worst, std::abs(static_cast<double>(a.values[k]) - static_cast<double>(b.values[k])));
  }
  return worst;
}

/// Bytes at..at+3 of `bytes` as a big-endian unsigned integer (PNG's header fields).
inline uint32_t big_endian(const std::string& bytes, size_t at) {
  uint32_t v = 0;
  for (size_t k = 0; k < 4; ++k) v = (v << 8) | static_cast<uint8_t>(bytes[at + k]);
  return v;
}

#ifdef QME_FIXTURES_DIR
/// The upstream parity fixtures (../shared/fixtures unless configured otherwise).
inline const std::string kFixtures = QME_FIXTURES_DIR;
/// The model fixtures: upstream modules' weights, inputs and outputs.
inline const std::string kModelFixtures = kFixtures + "/model/model_expected.h5";
#endif
#ifdef QME_SOURCE_DIR
/// This repository's root (shipped configs, test data).
inline const std::string kSourceDir = QME_SOURCE_DIR;
#endif

/// A fresh, empty folder under std::filesystem::temp_directory_path(), removed
/// with everything in it when the object goes. Its name is random and created
/// atomically, so test cases that ctest runs as parallel processes never share one.
class TempDir {
 public:
  TempDir() {
    std::random_device seed;
    std::mt19937_64 gen((static_cast<uint64_t>(seed()) << 32) ^ seed());
    do {
      root_ = std::filesystem::temp_directory_path() / ("qme_test_" + std::to_string(gen()));
    } while (!std::filesystem::create_directory(root_));
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(root_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  /// The path of `name` (subfolders allowed) inside the folder; creates nothing.
  std::string path(const std::string& name) const { return (root_ / name).string(); }

  /// Writes `text` to the file `name` in the folder and returns its path.
  std::string write(const std::string& name, const std::string& text) const {
    const std::string file = path(name);
    std::ofstream(file) << text;
    return file;
  }

  /// How many files and folders the folder holds directly.
  size_t entries() const {
    return static_cast<size_t>(
        std::distance(std::filesystem::directory_iterator(root_), std::filesystem::directory_iterator()));
  }

 private:
  std::filesystem::path root_;
};

/// The whole content of the file at `path` ("" when it cannot be read).
inline std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// A rows x cols matrix holding `values` row by row (REQUIREs rows * cols of them).
inline qme::ScoreMatrix make_matrix(int64_t rows, int64_t cols, std::vector<float> values) {
  qme::ScoreMatrix m;
  m.rows = rows;
  m.cols = cols;
  m.values = std::move(values);
  REQUIRE(m.values.size() == static_cast<size_t>(rows * cols));
  return m;
}

/// Labels of `query` probes against `gallery` entries; unique_gallery_pids are
/// the gallery's distinct pids, ascending.
inline qme::TestLabels make_labels(qme::IdentityLabels query, qme::IdentityLabels gallery) {
  qme::TestLabels labels;
  labels.query = std::move(query);
  labels.gallery = std::move(gallery);
  labels.unique_gallery_pids = qme::unique_sorted(labels.gallery.pids);
  return labels;
}

/// what() of the E that `f()` throws, or "" when it throws nothing. Exceptions
/// of other types pass through (and fail the test case).
template <class E, class F>
std::string message_of(F&& f) {
  try {
    std::forward<F>(f)();
  } catch (const E& e) {
    return e.what();
  }
  return "";
}

}  // namespace qme::test

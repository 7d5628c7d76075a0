#pragma once
/// Helpers shared by qme's unit tests: a temporary folder, small score
/// matrices and labels, and the message of an expected exception.
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "qme/core/identity_labels.hpp"
#include "qme/core/score_matrix.hpp"

namespace qme::test {

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

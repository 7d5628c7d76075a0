#pragma once
/// RAII HDF5 access with qme's error contract: every failure names the file
/// and the dataset. Reads convert any numeric dtype to the type asked for
/// (upstream stores ids as float32), and refuse a dataset that declares more
/// values than it stores before allocating for it; writes go to a temporary
/// file that is renamed into place only when complete.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace H5 {
class H5File;
}

namespace qme::io {

using Shape = std::vector<uint64_t>;

/// A read-only HDF5 file.
class H5Reader {
 public:
  /// Throws InputError when the file is missing or not HDF5.
  explicit H5Reader(const std::string& path);
  ~H5Reader();
  H5Reader(H5Reader&&) noexcept;
  H5Reader& operator=(H5Reader&&) noexcept;

  const std::string& path() const { return path_; }

  /// True when `name` (may contain '/') is a dataset; missing groups on the
  /// way are not an error.
  bool has_dataset(const std::string& name) const;
  bool has_group(const std::string& name) const;
  /// Member names of a group ("/" for the root), in HDF5's name order.
  std::vector<std::string> list_group(const std::string& name) const;

  Shape shape(const std::string& name) const;
  /// The shape of a dataset of numbers (any integer or float type), checked from its metadata
  /// alone: InputError when it is missing, holds no numbers (strings, compounds) or declares more
  /// values than it stores. For checking files before any work.
  Shape numeric_shape(const std::string& name) const;

  /// Whole dataset converted to float32 / float64 / int64 (row-major).
  std::vector<float> read_float32(const std::string& name, Shape* shape = nullptr) const;
  std::vector<double> read_float64(const std::string& name, Shape* shape = nullptr) const;
  /// Integer ids; a float value that is not a whole number is an InputError.
  std::vector<int64_t> read_int64(const std::string& name, Shape* shape = nullptr) const;
  /// Raw 8-bit pixels (dataset images: (H,W,3) RGB); other dtypes are converted.
  std::vector<uint8_t> read_uint8(const std::string& name, Shape* shape = nullptr) const;
  /// An id array (pids, camids, ...): whole numbers within int64, one-dimensional; upstream's
  /// (n,1) and (1,n) shapes are accepted as the same thing. Integer ids are read in their own
  /// type; float ids (upstream's float32) must be whole.
  std::vector<int64_t> read_ids(const std::string& name) const;
  /// The number of entries of id array `name`, from its shape alone (nothing is read), so
  /// that files can be checked for consistency before any allocation.
  uint64_t id_count(const std::string& name) const;
  /// read_ids after checking, from the shape alone, that there are `expected` entries;
  /// otherwise "'<name>' has N entries but <expected_from>" (e.g. "score_mat has 120 rows").
  std::vector<int64_t> read_ids(const std::string& name, uint64_t expected,
                                const std::string& expected_from) const;
  /// A one-dimensional string dataset (variable- or fixed-length, as h5py
  /// writes a list of str); fixed-length values lose their trailing NULs.
  std::vector<std::string> read_strings(const std::string& name) const;

  /// An integer attribute of the root group; nullopt when there is none.
  /// Throws InputError when it exists but is not a single integer.
  std::optional<int64_t> read_int_attribute(const std::string& name) const;

 private:
  std::string path_;
  std::unique_ptr<H5::H5File> file_;
};

/// Writes a new HDF5 file atomically: data goes to `<path>.tmp-<pid>` and is
/// renamed to `path` by commit(). Destroyed without commit(), it removes the
/// temporary file, so an interrupted run never leaves a truncated output.
class AtomicH5Writer {
 public:
  explicit AtomicH5Writer(const std::string& path);
  ~AtomicH5Writer();
  AtomicH5Writer(const AtomicH5Writer&) = delete;
  AtomicH5Writer& operator=(const AtomicH5Writer&) = delete;

  /// Creates missing parent groups of `name`.
  void write_float32(const std::string& name, const float* data, const Shape& shape);
  void write_int64(const std::string& name, const int64_t* data, const Shape& shape);
  void write_uint8(const std::string& name, const uint8_t* data, const Shape& shape);
  /// A one-dimensional variable-length UTF-8 string dataset (h5py reads it as
  /// an object array; `.asstr()` gives str).
  void write_strings(const std::string& name, const std::vector<std::string>& values);
  void write_string_attribute(const std::string& name, const std::string& value);
  void write_int_attribute(const std::string& name, int64_t value);

  void commit();

 private:
  std::string path_;
  std::string tmp_path_;
  std::unique_ptr<H5::H5File> file_;
  bool committed_ = false;
};

}  // namespace qme::io

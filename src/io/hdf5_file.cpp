#include "qme/io/hdf5_file.hpp"

#include <H5Cpp.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

#include "qme/core/error.hpp"
#include "qme/core/prefault.hpp"

namespace qme::io {

namespace fs = std::filesystem;

namespace {

// HDF5 prints its own error stack by default; qme reports one line instead.
struct SilenceHdf5 {
  SilenceHdf5() { H5::Exception::dontPrint(); }
};
const SilenceHdf5 silence_hdf5;

std::string shape_text(const Shape& shape) {
  std::ostringstream out;
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? "x" : "") << shape[i];
  return shape.empty() ? "scalar" : out.str();
}

// Walks `name` component by component so that a missing intermediate group
// is "absent", not an HDF5 error.
H5O_type_t object_type(const H5::H5File& file, const std::string& name) {
  std::string prefix;
  std::stringstream parts(name);
  std::string part;
  while (std::getline(parts, part, '/')) {
    if (part.empty()) continue;
    prefix += "/" + part;
    if (H5Lexists(file.getId(), prefix.c_str(), H5P_DEFAULT) <= 0) return H5O_TYPE_UNKNOWN;
  }
  if (prefix.empty()) return H5O_TYPE_GROUP;
  H5O_info_t info;
#if H5_VERSION_GE(1, 12, 0)
  if (H5Oget_info_by_name(file.getId(), prefix.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0)
#else
  if (H5Oget_info_by_name(file.getId(), prefix.c_str(), &info, H5P_DEFAULT) < 0)
#endif
    return H5O_TYPE_UNKNOWN;
  return info.type;
}

/// The dataset's extent, its element count, and the bytes it declares.
struct Extent {
  Shape shape;
  uint64_t count = 1;
};

Extent extent_of(const H5::DataSet& dataset, const std::string& path, const std::string& name) {
  const H5::DataSpace space = dataset.getSpace();
  const int rank = space.getSimpleExtentNdims();
  std::vector<hsize_t> dims(static_cast<size_t>(std::max(rank, 0)));
  if (rank > 0) space.getSimpleExtentDims(dims.data());
  Extent e;
  e.shape.assign(dims.begin(), dims.end());
  for (const auto d : dims) {
    // Room is kept for 8-byte elements; check_stored checks wider ones.
    if (d != 0 && e.count > std::numeric_limits<uint64_t>::max() / 8 / d) {
      throw InputError(path, name, "declares an impossible size (" + shape_text(e.shape) + ")");
    }
    e.count *= d;
  }
  return e;
}

// An HDF5 dataset can declare any extent and store nothing: unwritten chunks read as the fill
// value. No file qme or upstream writes is like that, and believing the extent would let a
// few-KB file allocate gigabytes, so what a dataset declares must be what it stores (times
// what a compression filter can plausibly achieve) before a byte is allocated.
void check_stored(const H5::DataSet& dataset, const std::string& path, const std::string& name,
                  const Extent& extent, size_t element_size) {
  constexpr uint64_t kMaxCompression = 1100;  // deflate's ceiling is ~1032:1
  if (element_size != 0 && extent.count > std::numeric_limits<uint64_t>::max() / element_size) {
    throw InputError(path, name, "declares an impossible size (" + shape_text(extent.shape) + ")");
  }
  const uint64_t declared = extent.count * element_size;
  const uint64_t stored = H5Dget_storage_size(dataset.getId());
  const H5::DSetCreatPropList plist = dataset.getCreatePlist();
  const bool filtered = plist.getNfilters() > 0;
  const uint64_t holds = filtered ? stored * kMaxCompression : stored;
  // Compact data lives in the object header; libhdf5 copies the declared size out of it without
  // checking what the header holds (a heap over-read in H5D__compact_readvv), so it must hold
  // every byte, however small the dataset.
  if (plist.getLayout() == H5D_COMPACT && !filtered && stored < declared) {
    throw InputError(path, name,
                     "declares " + shape_text(extent.shape) + " values (" + std::to_string(declared) +
                         " bytes) but its compact storage holds only " + std::to_string(stored) +
                         " bytes: the file is damaged or was not written by h5py or qme");
  }
  if (declared > holds && declared > 4096) {
    throw InputError(path, name,
                     "declares " + shape_text(extent.shape) + " values (" + std::to_string(declared) +
                         " bytes) but stores only " + std::to_string(stored) +
                         " bytes: the file is truncated or was not written by h5py or qme");
  }
}

/// libhdf5 allocates each variable-length string at the length its global-heap record declares,
/// which a damaged file can set to gigabytes. Strings are read through this allocator instead:
/// no string longer than the file, and no more in all than a few times the file, since every
/// byte of them must be stored in it.
class VlenStringBudget {
 public:
  explicit VlenStringBudget(uint64_t file_size)
      : per_string_(std::max<uint64_t>(file_size, 4096)),
        total_(std::max<uint64_t>(4 * file_size, 1 << 20)) {}

  /// A transfer property list whose variable-length allocations go through this budget.
  H5::DSetMemXferPropList transfer() {
    H5::DSetMemXferPropList plist;
    H5Pset_vlen_mem_manager(plist.getId(), &VlenStringBudget::allocate, this, &VlenStringBudget::release,
                            nullptr);
    return plist;
  }
  bool exceeded() const { return exceeded_; }

 private:
  static void* allocate(size_t size, void* self) {
    auto* budget = static_cast<VlenStringBudget*>(self);
    if (size > budget->per_string_ || size > budget->total_ - budget->used_) {
      budget->exceeded_ = true;
      return nullptr;  // libhdf5 then fails the read
    }
    budget->used_ += size;
    return std::malloc(size);
  }
  static void release(void* memory, void*) { std::free(memory); }

  uint64_t per_string_, total_, used_ = 0;
  bool exceeded_ = false;
};

/// The objects of one global-heap collection ("GCOL": the heap where variable-length strings
/// live) by index, with their sizes; empty when the collection is damaged. libhdf5 can loop
/// forever on a damaged collection (h5py too), so qme walks it first.
std::map<uint32_t, uint64_t> global_heap_objects(std::ifstream& in, uint64_t address, uint64_t file_size) {
  std::map<uint32_t, uint64_t> objects;
  constexpr uint64_t kHeader = 16, kObjectHeader = 16;
  if (address > file_size || file_size - address < kHeader) return objects;
  char header[kHeader];
  in.seekg(static_cast<std::streamoff>(address));
  in.read(header, kHeader);
  uint64_t size;
  std::memcpy(&size, header + 8, sizeof size);
  if (!in || std::memcmp(header, "GCOL", 4) != 0 || size < kHeader || size > file_size - address) return {};
  std::vector<char> body(static_cast<size_t>(size - kHeader));
  in.read(body.data(), static_cast<std::streamsize>(body.size()));
  if (!in) return {};
  for (uint64_t at = 0; at + kObjectHeader <= body.size();) {
    uint16_t index;
    uint64_t object_size;
    std::memcpy(&index, body.data() + at, sizeof index);
    std::memcpy(&object_size, body.data() + at + 8, sizeof object_size);
    if (index == 0) return objects;  // the free space: the last object
    const uint64_t padded = (object_size + 7) / 8 * 8;
    if (object_size > body.size() || padded > body.size() - at - kObjectHeader ||
        !objects.emplace(index, object_size).second)
      return {};
    at += kObjectHeader + padded;
  }
  return objects;
}

/// libhdf5 allocates a variable-length string at the length its on-disk descriptor declares
/// before it looks at the string (a few-KB file can ask for gigabytes), and can loop forever on a
/// damaged heap. Where the descriptors are stored contiguously, qme reads them from the file first:
/// each element is its 4-byte length, then (with 8-byte file addresses) the address of its heap
/// collection and its index there. No string may be longer than the file, and each must be an
/// object of an intact collection that holds its bytes.
void check_vlen_string_lengths(const H5::DataSet& dataset, const std::string& path, const std::string& name,
                               uint64_t count, uint64_t file_size) {
  const haddr_t offset = H5Dget_offset(dataset.getId());
  const uint64_t stored = H5Dget_storage_size(dataset.getId());
  if (offset == HADDR_UNDEF || count == 0 || stored % count != 0 || stored / count < 4) return;
  const uint64_t element = stored / count;
  std::ifstream in(path, std::ios::binary);
  std::vector<char> bytes(static_cast<size_t>(stored));
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(bytes.data(), static_cast<std::streamsize>(stored));
  if (!in) throw InputError(path, name, "ends beyond the file");
  auto damaged = [&](uint64_t i, const std::string& what) {
    throw InputError(
        path, name,
        "entry " + std::to_string(i) + " " + what + ": it is damaged or was not written by h5py or qme");
  };
  std::map<uint64_t, std::map<uint32_t, uint64_t>> collections;
  for (uint64_t i = 0; i < count; ++i) {
    const char* e = bytes.data() + i * element;
    uint32_t length;
    std::memcpy(&length, e, sizeof length);  // little-endian, as HDF5 stores it
    if (length > file_size)
      damaged(i, "declares a string of " + std::to_string(length) + " bytes in a file of " +
                     std::to_string(file_size));
    if (element != 16 || length == 0) continue;
    uint64_t address;
    uint32_t index;
    std::memcpy(&address, e + 4, sizeof address);
    std::memcpy(&index, e + 12, sizeof index);
    auto found = collections.find(address);
    if (found == collections.end())
      found = collections.emplace(address, global_heap_objects(in, address, file_size)).first;
    const auto object = found->second.find(index);
    if (object == found->second.end() || object->second < length)
      damaged(i, "points to a string its heap collection does not hold");
  }
}

/// Opens a numeric dataset and checks that it stores what it declares.
H5::DataSet open_numeric(const H5::H5File& file, const std::string& path, const std::string& name,
                         Extent* extent) {
  if (object_type(file, name) != H5O_TYPE_DATASET) {
    throw InputError(path, name, "dataset is missing");
  }
  H5::DataSet dataset = file.openDataSet(name);
  const H5T_class_t type_class = dataset.getTypeClass();
  if (type_class != H5T_INTEGER && type_class != H5T_FLOAT) {
    throw InputError(path, name, "must hold numbers");
  }
  *extent = extent_of(dataset, path, name);
  check_stored(dataset, path, name, *extent, dataset.getDataType().getSize());
  return dataset;
}

/// One id read as double or uint64 bits, as an int64; refuses what has no int64 value (a
/// static_cast would be undefined, and distinct ids could become one identity).
int64_t whole_number(int64_t bits, bool is_float, const std::string& path, const std::string& name,
                     size_t i) {
  if (is_float) {
    double v;
    std::memcpy(&v, &bits, sizeof v);
    constexpr double kLimit = 9223372036854775808.0;  // 2^63
    if (!std::isfinite(v) || v != std::floor(v) || v < -kLimit || v >= kLimit) {
      std::ostringstream text;
      text << "entry " << i << " is " << v << ", not a whole number within int64";
      throw InputError(path, name, text.str());
    }
    return static_cast<int64_t>(v);
  }
  uint64_t u;
  std::memcpy(&u, &bits, sizeof u);
  if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    throw InputError(path, name,
                     "entry " + std::to_string(i) + " is " + std::to_string(u) + ", beyond int64");
  }
  return static_cast<int64_t>(u);
}

template <typename T>
std::vector<T> read_numeric(const H5::H5File& file, const std::string& path, const std::string& name,
                            const H5::PredType& memory_type, Shape* shape_out) {
  try {
    Extent extent;
    const H5::DataSet dataset = open_numeric(file, path, name, &extent);
    std::vector<T> values;
    resize_prefaulted(values, static_cast<size_t>(extent.count));
    if (!values.empty()) dataset.read(values.data(), memory_type);
    if (shape_out) *shape_out = extent.shape;
    return values;
  } catch (const H5::Exception& e) {
    throw InputError(path, name, "cannot be read (" + e.getDetailMsg() + ")");
  }
}

/// Ids in their stored type, converted in place (one buffer): signed integers as they are,
/// unsigned ones and floats only when they are int64 values.
std::vector<int64_t> read_whole_numbers(const H5::H5File& file, const std::string& path,
                                        const std::string& name, Shape* shape_out) {
  try {
    Extent extent;
    const H5::DataSet dataset = open_numeric(file, path, name, &extent);
    std::vector<int64_t> ids(static_cast<size_t>(extent.count));
    if (shape_out) *shape_out = extent.shape;
    if (ids.empty()) return ids;
    const bool is_float = dataset.getTypeClass() == H5T_FLOAT;
    const bool is_unsigned = !is_float && dataset.getIntType().getSign() == H5T_SGN_NONE;
    if (!is_float && !is_unsigned) {
      dataset.read(ids.data(), H5::PredType::NATIVE_INT64);
      return ids;
    }
    dataset.read(ids.data(), is_float ? H5::PredType::NATIVE_DOUBLE : H5::PredType::NATIVE_UINT64);
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = whole_number(ids[i], is_float, path, name, i);
    return ids;
  } catch (const H5::Exception& e) {
    throw InputError(path, name, "cannot be read (" + e.getDetailMsg() + ")");
  }
}

}  // namespace

H5Reader::H5Reader(const std::string& path) : path_(path) {
  if (!fs::exists(path)) throw InputError(path, "", "does not exist");
  if (!fs::is_regular_file(path)) throw InputError(path, "", "is not a regular file");
  try {
    if (!H5::H5File::isHdf5(path.c_str())) throw InputError(path, "", "is not an HDF5 file");
    file_ = std::make_unique<H5::H5File>(path, H5F_ACC_RDONLY);
  } catch (const H5::Exception& e) {
    throw InputError(path, "", "is truncated or damaged: HDF5 cannot open it (" + e.getDetailMsg() + ")");
  }
}

H5Reader::~H5Reader() = default;
H5Reader::H5Reader(H5Reader&&) noexcept = default;
H5Reader& H5Reader::operator=(H5Reader&&) noexcept = default;

bool H5Reader::has_dataset(const std::string& name) const {
  return object_type(*file_, name) == H5O_TYPE_DATASET;
}

bool H5Reader::has_group(const std::string& name) const {
  return object_type(*file_, name) == H5O_TYPE_GROUP;
}

std::vector<std::string> H5Reader::list_group(const std::string& name) const {
  if (!has_group(name)) throw InputError(path_, name, "group is missing");
  std::vector<std::string> names;
  try {
    H5::Group group = file_->openGroup(name);
    const hsize_t n = group.getNumObjs();
    for (hsize_t i = 0; i < n; ++i) names.push_back(group.getObjnameByIdx(i));
  } catch (const H5::Exception& e) {
    throw InputError(path_, name, "cannot be listed (" + e.getDetailMsg() + ")");
  }
  return names;
}

Shape H5Reader::shape(const std::string& name) const {
  if (!has_dataset(name)) throw InputError(path_, name, "dataset is missing");
  try {
    return extent_of(file_->openDataSet(name), path_, name).shape;
  } catch (const H5::Exception& e) {
    throw InputError(path_, name, "cannot be read (" + e.getDetailMsg() + ")");
  }
}

Shape H5Reader::numeric_shape(const std::string& name) const {
  try {
    Extent extent;
    open_numeric(*file_, path_, name, &extent);
    return extent.shape;
  } catch (const H5::Exception& e) {
    throw InputError(path_, name, "cannot be read (" + e.getDetailMsg() + ")");
  }
}

std::vector<float> H5Reader::read_float32(const std::string& name, Shape* shape) const {
  return read_numeric<float>(*file_, path_, name, H5::PredType::NATIVE_FLOAT, shape);
}

std::vector<double> H5Reader::read_float64(const std::string& name, Shape* shape) const {
  return read_numeric<double>(*file_, path_, name, H5::PredType::NATIVE_DOUBLE, shape);
}

std::vector<uint8_t> H5Reader::read_uint8(const std::string& name, Shape* shape) const {
  return read_numeric<uint8_t>(*file_, path_, name, H5::PredType::NATIVE_UINT8, shape);
}

std::vector<int64_t> H5Reader::read_int64(const std::string& name, Shape* shape) const {
  return read_whole_numbers(*file_, path_, name, shape);
}

std::vector<int64_t> H5Reader::read_ids(const std::string& name) const {
  id_count(name);  // the shape, checked before anything is read
  return read_int64(name);
}

std::vector<int64_t> H5Reader::read_ids(const std::string& name, uint64_t expected,
                                        const std::string& expected_from) const {
  const uint64_t count = id_count(name);
  if (count != expected) {
    throw InputError(path_, name, "has " + std::to_string(count) + " entries but " + expected_from);
  }
  return read_int64(name);
}

uint64_t H5Reader::id_count(const std::string& name) const {
  const Shape s = shape(name);
  size_t non_unit = 0;
  uint64_t count = 1;
  for (auto d : s) {
    non_unit += d != 1;
    count *= d;
  }
  if (non_unit > 1) throw InputError(path_, name, "must be one-dimensional, got " + shape_text(s));
  return count;
}

std::vector<std::string> H5Reader::read_strings(const std::string& name) const {
  if (!has_dataset(name)) throw InputError(path_, name, "dataset is missing");
  try {
    H5::DataSet dataset = file_->openDataSet(name);
    if (dataset.getTypeClass() != H5T_STRING) throw InputError(path_, name, "must hold strings");
    H5::DataSpace space = dataset.getSpace();
    const int rank = space.getSimpleExtentNdims();
    if (rank != 1) {
      throw InputError(path_, name, "must be one-dimensional, got " + std::to_string(rank) + " dimensions");
    }
    const Extent extent = extent_of(dataset, path_, name);
    const hsize_t count = extent.count;
    const H5::StrType file_type = dataset.getStrType();
    // A variable-length string is stored as a 16-byte heap reference.
    check_stored(dataset, path_, name, extent, file_type.isVariableStr() ? 16 : file_type.getSize());
    std::vector<std::string> values(static_cast<size_t>(count));
    if (count == 0) return values;
    if (file_type.isVariableStr()) {
      H5::StrType memory_type(H5::PredType::C_S1, H5T_VARIABLE);
      memory_type.setCset(file_type.getCset());
      std::vector<char*> raw(static_cast<size_t>(count), nullptr);
      check_vlen_string_lengths(dataset, path_, name, count, file_->getFileSize());
      VlenStringBudget budget(file_->getFileSize());
      const auto transfer = budget.transfer();
      try {
        dataset.read(raw.data(), memory_type, H5::DataSpace::ALL, H5::DataSpace::ALL, transfer);
      } catch (const H5::Exception&) {
        H5Dvlen_reclaim(memory_type.getId(), space.getId(), transfer.getId(), raw.data());
        if (budget.exceeded()) {
          throw InputError(path_, name,
                           "holds strings longer than the file itself: it is damaged or was not written by "
                           "h5py or qme");
        }
        throw;
      }
      for (size_t i = 0; i < raw.size(); ++i) values[i] = raw[i] ? raw[i] : "";
      H5Dvlen_reclaim(memory_type.getId(), space.getId(), transfer.getId(), raw.data());
    } else {
      const size_t width = file_type.getSize();
      std::vector<char> raw(static_cast<size_t>(count) * width);
      dataset.read(raw.data(), file_type);
      for (size_t i = 0; i < values.size(); ++i) {
        const char* s = raw.data() + i * width;
        values[i].assign(s, strnlen(s, width));
      }
    }
    return values;
  } catch (const H5::Exception& e) {
    throw InputError(path_, name, "cannot be read (" + e.getDetailMsg() + ")");
  }
}

std::optional<int64_t> H5Reader::read_int_attribute(const std::string& name) const {
  try {
    if (H5Aexists(file_->getId(), name.c_str()) <= 0) return std::nullopt;
    H5::Attribute attr = file_->openAttribute(name);
    if (attr.getTypeClass() != H5T_INTEGER || attr.getSpace().getSimpleExtentNpoints() != 1) {
      throw InputError(path_, name, "attribute must be a single integer");
    }
    int64_t value = 0;
    attr.read(H5::PredType::NATIVE_INT64, &value);
    return value;
  } catch (const H5::Exception& e) {
    throw InputError(path_, name, "attribute cannot be read (" + e.getDetailMsg() + ")");
  }
}

// ---------------------------------------------------------------------------

AtomicH5Writer::AtomicH5Writer(const std::string& path)
    : path_(path), tmp_path_(path + ".tmp-" + std::to_string(::getpid())) {
  const auto parent = fs::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty()) fs::create_directories(parent, ec);
  try {
    H5::FileCreatPropList fcpl;  // the root group, untimed like every object below it
    H5Pset_obj_track_times(fcpl.getId(), false);
    file_ = std::make_unique<H5::H5File>(tmp_path_, H5F_ACC_TRUNC, fcpl);
  } catch (const H5::Exception& e) {
    throw InputError(path, "", "cannot be created (" + e.getDetailMsg() + ")");
  }
}

AtomicH5Writer::~AtomicH5Writer() {
  if (committed_) return;
  try {
    file_.reset();
  } catch (...) {
  }
  std::remove(tmp_path_.c_str());
}

namespace {

// Objects are created without modification times, so the same data gives the same bytes (a
// rerun or a resumed run reproduces its files exactly).
H5::DSetCreatPropList untimed_dataset() {
  H5::DSetCreatPropList plist;
  H5Pset_obj_track_times(plist.getId(), false);
  return plist;
}

void create_untimed_group(H5::H5File& file, const std::string& name) {
  const hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
  H5Pset_obj_track_times(gcpl, false);
  const hid_t group = H5Gcreate2(file.getId(), name.c_str(), H5P_DEFAULT, gcpl, H5P_DEFAULT);
  H5Pclose(gcpl);
  if (group < 0) throw H5::GroupIException("create_untimed_group", "cannot create group " + name);
  H5Gclose(group);
}

void ensure_parent_groups(H5::H5File& file, const std::string& name) {
  std::string prefix;
  std::stringstream parts(name);
  std::string part;
  std::vector<std::string> components;
  while (std::getline(parts, part, '/')) {
    if (!part.empty()) components.push_back(part);
  }
  for (size_t i = 0; i + 1 < components.size(); ++i) {
    prefix += "/" + components[i];
    if (H5Lexists(file.getId(), prefix.c_str(), H5P_DEFAULT) <= 0) create_untimed_group(file, prefix);
  }
}

template <typename T>
void write_dataset(H5::H5File& file, const std::string& path, const std::string& name, const T* data,
                   const Shape& shape, const H5::PredType& file_type, const H5::PredType& memory_type) {
  try {
    ensure_parent_groups(file, name);
    std::vector<hsize_t> dims(shape.begin(), shape.end());
    H5::DataSpace space(static_cast<int>(dims.size()), dims.data());
    H5::DataSet dataset = file.createDataSet(name, file_type, space, untimed_dataset());
    dataset.write(data, memory_type);
  } catch (const H5::Exception& e) {
    throw Error(path + ": cannot write '" + name + "' (" + shape_text(shape) + "): " + e.getDetailMsg());
  }
}

}  // namespace

void AtomicH5Writer::write_float32(const std::string& name, const float* data, const Shape& shape) {
  write_dataset(*file_, path_, name, data, shape, H5::PredType::IEEE_F32LE, H5::PredType::NATIVE_FLOAT);
}

void AtomicH5Writer::write_int64(const std::string& name, const int64_t* data, const Shape& shape) {
  write_dataset(*file_, path_, name, data, shape, H5::PredType::STD_I64LE, H5::PredType::NATIVE_INT64);
}

void AtomicH5Writer::write_uint8(const std::string& name, const uint8_t* data, const Shape& shape) {
  write_dataset(*file_, path_, name, data, shape, H5::PredType::STD_U8LE, H5::PredType::NATIVE_UINT8);
}

void AtomicH5Writer::write_strings(const std::string& name, const std::vector<std::string>& values) {
  try {
    ensure_parent_groups(*file_, name);
    H5::StrType type(H5::PredType::C_S1, H5T_VARIABLE);
    type.setCset(H5T_CSET_UTF8);
    const hsize_t count = values.size();
    H5::DataSpace space(1, &count);
    H5::DataSet dataset = file_->createDataSet(name, type, space, untimed_dataset());
    std::vector<const char*> raw(values.size());
    for (size_t i = 0; i < values.size(); ++i) raw[i] = values[i].c_str();
    if (!raw.empty()) dataset.write(raw.data(), type);
  } catch (const H5::Exception& e) {
    throw Error(path_ + ": cannot write '" + name + "' (" + std::to_string(values.size()) +
                " strings): " + e.getDetailMsg());
  }
}

void AtomicH5Writer::write_string_attribute(const std::string& name, const std::string& value) {
  try {
    H5::StrType type(H5::PredType::C_S1, value.size() ? value.size() : 1);
    H5::Attribute attr = file_->createAttribute(name, type, H5::DataSpace(H5S_SCALAR));
    attr.write(type, value);
  } catch (const H5::Exception& e) {
    throw Error(path_ + ": cannot write attribute '" + name + "': " + e.getDetailMsg());
  }
}

void AtomicH5Writer::write_int_attribute(const std::string& name, int64_t value) {
  try {
    H5::Attribute attr = file_->createAttribute(name, H5::PredType::STD_I64LE, H5::DataSpace(H5S_SCALAR));
    attr.write(H5::PredType::NATIVE_INT64, &value);
  } catch (const H5::Exception& e) {
    throw Error(path_ + ": cannot write attribute '" + name + "': " + e.getDetailMsg());
  }
}

void AtomicH5Writer::commit() {
  try {
    file_->close();
  } catch (const H5::Exception& e) {
    throw Error(path_ + ": cannot be closed: " + e.getDetailMsg());
  }
  std::error_code ec;
  fs::rename(tmp_path_, path_, ec);
  if (ec) throw Error(path_ + ": cannot be moved into place: " + ec.message());
  committed_ = true;
}

}  // namespace qme::io

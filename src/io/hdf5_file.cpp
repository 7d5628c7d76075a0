#include "qme/io/hdf5_file.hpp"

#include <H5Cpp.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "qme/core/error.hpp"

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

template <typename T>
std::vector<T> read_numeric(const H5::H5File& file, const std::string& path, const std::string& name,
                            const H5::PredType& memory_type, Shape* shape_out) {
  if (object_type(file, name) != H5O_TYPE_DATASET) {
    throw InputError(path, name, "dataset is missing");
  }
  try {
    H5::DataSet dataset = file.openDataSet(name);
    const H5T_class_t type_class = dataset.getTypeClass();
    if (type_class != H5T_INTEGER && type_class != H5T_FLOAT) {
      throw InputError(path, name, "must hold numbers");
    }
    H5::DataSpace space = dataset.getSpace();
    const int rank = space.getSimpleExtentNdims();
    Shape shape(static_cast<size_t>(rank));
    std::vector<hsize_t> dims(static_cast<size_t>(rank));
    if (rank > 0) space.getSimpleExtentDims(dims.data());
    size_t count = 1;
    for (int i = 0; i < rank; ++i) {
      shape[static_cast<size_t>(i)] = dims[static_cast<size_t>(i)];
      count *= dims[static_cast<size_t>(i)];
    }
    std::vector<T> values(count);
    if (count > 0) dataset.read(values.data(), memory_type);
    if (shape_out) *shape_out = shape;
    return values;
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
    throw InputError(path, "", "cannot be opened as HDF5 (" + e.getDetailMsg() + ")");
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
  H5::DataSpace space = file_->openDataSet(name).getSpace();
  std::vector<hsize_t> dims(static_cast<size_t>(space.getSimpleExtentNdims()));
  if (!dims.empty()) space.getSimpleExtentDims(dims.data());
  return Shape(dims.begin(), dims.end());
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
  const auto values = read_float64(name, shape);
  std::vector<int64_t> ids(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    const double v = values[i];
    if (!std::isfinite(v) || v != std::floor(v)) {
      throw InputError(path_, name,
                       "entry " + std::to_string(i) + " is " + std::to_string(v) + ", not a whole number");
    }
    ids[i] = static_cast<int64_t>(v);
  }
  return ids;
}

std::vector<int64_t> H5Reader::read_ids(const std::string& name) const {
  Shape shape;
  auto ids = read_int64(name, &shape);
  size_t non_unit = 0;
  for (auto d : shape) non_unit += d != 1;
  if (non_unit > 1) throw InputError(path_, name, "must be one-dimensional");
  return ids;
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
    hsize_t count = 0;
    space.getSimpleExtentDims(&count);
    std::vector<std::string> values(static_cast<size_t>(count));
    if (count == 0) return values;
    const H5::StrType file_type = dataset.getStrType();
    if (file_type.isVariableStr()) {
      H5::StrType memory_type(H5::PredType::C_S1, H5T_VARIABLE);
      memory_type.setCset(file_type.getCset());
      std::vector<char*> raw(static_cast<size_t>(count), nullptr);
      dataset.read(raw.data(), memory_type);
      for (size_t i = 0; i < raw.size(); ++i) values[i] = raw[i] ? raw[i] : "";
      H5Dvlen_reclaim(memory_type.getId(), space.getId(), H5P_DEFAULT, raw.data());
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

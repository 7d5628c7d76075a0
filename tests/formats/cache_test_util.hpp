#pragma once
/// Small helpers shared by the cache tests.
#include <H5Cpp.h>

#include <cstdint>
#include <string>
#include <vector>

#include "qme/formats/feature_matrix.hpp"

namespace qme::test {

/// A rows x cols matrix whose value (i, j) is base + i + j / 8 (exact in float32).
inline formats::FeatureMatrix ramp_matrix(int64_t rows, int64_t cols, float base = 0.0f) {
  formats::FeatureMatrix m(rows, cols);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      m.row(i)[j] = base + static_cast<float>(i) + static_cast<float>(j) / 8.0f;
  return m;
}

/// HDF5 type class and byte size of a dataset, read with the HDF5 API itself
/// (a layout check independent of qme's reader).
struct StoredType {
  H5T_class_t type_class;
  size_t size;
  bool variable_string;
};

inline StoredType stored_type(const std::string& path, const std::string& name) {
  H5::H5File file(path, H5F_ACC_RDONLY);
  H5::DataSet dataset = file.openDataSet(name);
  const H5::DataType type = dataset.getDataType();
  StoredType t{type.getClass(), type.getSize(), false};
  if (t.type_class == H5T_STRING) t.variable_string = dataset.getStrType().isVariableStr();
  return t;
}

}  // namespace qme::test

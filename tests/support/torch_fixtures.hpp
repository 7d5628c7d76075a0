#pragma once
/// Reading the upstream model fixtures (fixtures/model/model_expected.h5) as tensors.
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "qme/io/hdf5_file.hpp"

namespace qme::test {

/// The dataset `name` as a tensor: float32 of the dataset's shape, or an int64 scalar for a 0-d
/// dataset (a BatchNorm's num_batches_tracked).
inline torch::Tensor read_tensor(const qme::io::H5Reader& reader, const std::string& name) {
  if (reader.shape(name).empty())
    return torch::tensor(reader.read_int64(name).at(0), torch::kInt64).reshape({});
  qme::io::Shape shape;
  auto values = reader.read_float32(name, &shape);
  return torch::from_blob(values.data(), std::vector<int64_t>(shape.begin(), shape.end()), torch::kFloat32)
      .clone();
}

}  // namespace qme::test

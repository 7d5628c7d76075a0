#include "qme/io/face_weights.hpp"

#include <cmath>

#include "qme/core/error.hpp"
#include "qme/io/hdf5_file.hpp"

namespace qme::io {

std::vector<float> read_face_weights(const std::string& path, int64_t num_queries) {
  const H5Reader reader(path);
  const std::string name = "face_weights";
  if (!reader.has_dataset(name)) {
    throw InputError(path, name, "is missing (QME inference needs one quality weight per probe)");
  }
  Shape shape;
  auto weights = reader.read_float32(name, &shape);
  if (shape.empty() || shape.size() > 2 || (shape.size() == 2 && shape[1] != 1)) {
    throw InputError(path, name, "must be (Q, 1) or (Q,): one weight per probe");
  }
  for (size_t i = 0; i < weights.size(); ++i) {
    if (!std::isfinite(weights[i]))
      throw InputError(path, name, "holds a non-finite weight at row " + std::to_string(i));
  }
  if (num_queries >= 0 && static_cast<int64_t>(weights.size()) != num_queries) {
    throw InputError(path, name,
                     "has " + std::to_string(weights.size()) + " rows but the score matrices have " +
                         std::to_string(num_queries) + " probes");
  }
  return weights;
}

}  // namespace qme::io

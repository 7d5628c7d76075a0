#include "qme/formats/face_weights.hpp"

#include <cmath>
#include <sstream>

#include "qme/core/error.hpp"
#include "qme/io/hdf5_file.hpp"

namespace qme::formats {

std::vector<float> read_face_weights(const std::string& path, int64_t num_queries) {
  const io::H5Reader reader(path);
  const std::string name = "face_weights";
  if (!reader.has_dataset(name)) {
    throw InputError(path, name, "is missing (QME inference needs one quality weight per probe)");
  }
  const io::Shape shape = reader.shape(name);  // checked against the probes before anything is read
  if (shape.empty() || shape.size() > 2 || (shape.size() == 2 && shape[1] != 1)) {
    std::string dims = shape.empty() ? "a scalar" : "";
    for (size_t i = 0; i < shape.size(); ++i) dims += (i ? "x" : "") + std::to_string(shape[i]);
    throw InputError(path, name, "is " + dims + "; it must be (Q, 1) or (Q,): one weight per probe");
  }
  if (num_queries >= 0 && shape[0] != static_cast<uint64_t>(num_queries)) {
    throw InputError(path, name,
                     "has " + std::to_string(shape[0]) + " rows but the score matrices have " +
                         std::to_string(num_queries) + " probes");
  }
  auto weights = reader.read_float32(name);
  for (size_t i = 0; i < weights.size(); ++i) {
    // The quality estimator ends in a sigmoid; a weight outside [0, 1] would extrapolate the
    // mixture of experts instead of choosing between them.
    if (!(weights[i] >= 0.0f && weights[i] <= 1.0f)) {
      std::ostringstream problem;
      problem << "holds " << weights[i] << " at row " << i << "; quality weights lie in [0, 1]";
      throw InputError(path, name, problem.str());
    }
  }
  return weights;
}

std::string face_weights_path(const std::string& dir, const std::string& run_name, const std::string& dataset,
                              int64_t step) {
  return dir + "/mod_qe_" + run_name + "_" + dataset + "_" + std::to_string(step) + ".h5";
}

void write_face_weights(const std::string& path, const std::vector<float>& weights) {
  if (weights.empty()) throw InputError(path, "face_weights", "no weights to write (no probes)");
  for (size_t i = 0; i < weights.size(); ++i) {
    if (!std::isfinite(weights[i])) {
      throw InputError(path, "face_weights", "weight of probe " + std::to_string(i) + " is not finite");
    }
  }
  io::AtomicH5Writer writer(path);
  writer.write_float32("face_weights", weights.data(), {weights.size(), 1});
  writer.commit();
}

}  // namespace qme::formats

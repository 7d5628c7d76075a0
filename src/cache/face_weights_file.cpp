#include "qme/cache/face_weights_file.hpp"

#include <cmath>

#include "qme/core/error.hpp"
#include "qme/io/hdf5_file.hpp"

namespace qme::cache {

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

}  // namespace qme::cache

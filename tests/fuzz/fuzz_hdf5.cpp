// libFuzzer target: the validation of qme's HDF5 readers. The first byte picks the reader; the
// rest is the HDF5 file, mutated from real files (fixtures, qme-written caches). Besides
// "succeed or refuse with qme's error", every reader must close what it opened: an HDF5 object
// left open by an exception path is a leak in a long process (the Python package).
#include <H5Cpp.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "fuzz_input.hpp"
#include "qme/formats/center_file.hpp"
#include "qme/formats/face_weights.hpp"
#include "qme/formats/features_file.hpp"
#include "qme/formats/probe_quality_stats.hpp"
#include "qme/formats/score_matrix_file.hpp"
#include "qme/formats/training_frames.hpp"

namespace {

void read_score_matrices(const std::string& path) {
  const qme::formats::ScoreMatrixFile file(path);
  for (const std::string& model : file.models()) file.read_model(model);
}

struct Reader {
  const char* name;
  std::function<void(const std::string&)> read;
};

const std::vector<Reader>& readers() {
  static const std::vector<Reader> all = {
      {"score-matrix file", read_score_matrices},
      {"test features", [](const std::string& p) { qme::formats::read_test_features(p); }},
      {"centers", [](const std::string& p) { qme::formats::read_centers(p); }},
      {"center frames", [](const std::string& p) { qme::formats::read_center_frames(p); }},
      {"training frames", [](const std::string& p) { qme::formats::read_training_frames(p); }},
      {"test QE statistics", [](const std::string& p) { qme::formats::read_probe_quality_stats(p); }},
      {"face weights", [](const std::string& p) { qme::formats::read_face_weights(p); }},
  };
  return all;
}

// Files, datasets, groups and attributes (the C++ API's predefined datatypes stay open for the
// process's life and are not counted).
void expect_hdf5_objects_closed(const char* what) {
  const unsigned kinds[] = {H5F_OBJ_FILE, H5F_OBJ_DATASET, H5F_OBJ_GROUP, H5F_OBJ_ATTR};
  const char* names[] = {"files", "datasets", "groups", "attributes"};
  for (int k = 0; k < 4; ++k) {
    const ssize_t open = H5Fget_obj_count(H5F_OBJ_ALL, kinds[k]);
    if (open != 0) {
      std::fprintf(stderr, "%s: %zd HDF5 %s left open after the read\n", what, open, names[k]);
      std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const Reader& reader = readers()[data[0] % readers().size()];
  const qme::fuzz::MemoryFile file(data + 1, size - 1, ".h5");
  qme::fuzz::expect_read_or_refusal(reader.name, [&] { reader.read(file.path()); });
  expect_hdf5_objects_closed(reader.name);
  return 0;
}

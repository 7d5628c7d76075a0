#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "formats/cache_test_util.hpp"
#include "qme/core/error.hpp"
#include "qme/formats/face_weights.hpp"
#include "qme/io/hdf5_file.hpp"
#include "support/test_support.hpp"

using Catch::Matchers::Contains;
using qme::test::TempDir;

TEST_CASE("face weights are written as a (Q, 1) float32 dataset", "[formats]") {
  TempDir dir;
  const auto path = qme::formats::face_weights_path(dir.path("test_feats"), "adaface-t1r3", "ccvid", 300);
  CHECK(path == dir.path("test_feats") + "/mod_qe_adaface-t1r3_ccvid_300.h5");
  const std::vector<float> weights{0.25f, 0.0f, 1.0f};
  qme::formats::write_face_weights(path, weights);
  const qme::io::H5Reader r(path);
  qme::io::Shape shape;
  CHECK(r.read_float32("face_weights", &shape) == weights);
  CHECK(shape == qme::io::Shape{3, 1});
  const auto t = qme::test::stored_type(path, "face_weights");
  CHECK((t.type_class == H5T_FLOAT && t.size == 4));
  CHECK_FALSE(r.read_int_attribute("qme_format"));             // upstream layout, no stamp
  CHECK(qme::formats::read_face_weights(path, 3) == weights);  // what QME inference reads
}

TEST_CASE("face weights that the reader would refuse are not written", "[formats]") {
  TempDir dir;
  const auto path = dir.path("w.h5");
  CHECK_THROWS_WITH(qme::formats::write_face_weights(path, {}), Contains(path) && Contains("face_weights"));
  CHECK_THROWS_WITH(qme::formats::write_face_weights(path, {0.5f, std::numeric_limits<float>::quiet_NaN()}),
                    Contains(path) && Contains("probe 1"));
  CHECK(dir.entries() == 0);
}

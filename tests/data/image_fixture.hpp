#pragma once
/// Reading the uint8 (H, W, 3) images of fixtures/data/transforms_expected.h5.
#include <catch2/catch.hpp>
#include <string>

#include "qme/data/pillow_resize.hpp"
#include "qme/io/hdf5_file.hpp"

namespace qme::test {

inline const std::string kTransformsFixture = std::string(QME_FIXTURES_DIR) + "/data/transforms_expected.h5";

/// A (H, W, 3) uint8 dataset of a fixture file as an RgbImage.
inline qme::data::RgbImage read_image(const qme::io::H5Reader& reader, const std::string& name) {
  qme::io::Shape shape;
  auto values = reader.read_uint8(name, &shape);
  REQUIRE(shape.size() == 3);
  REQUIRE(shape[2] == 3);
  qme::data::RgbImage image(static_cast<int64_t>(shape[0]), static_cast<int64_t>(shape[1]));
  image.pixels = std::move(values);
  return image;
}

}  // namespace qme::test

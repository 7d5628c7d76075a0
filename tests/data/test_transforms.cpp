// Per-model test transforms (docs/architecture.md §7.2): the constants of each model, and parity with
// upstream's get_transforms test pipelines on ../shared/fixtures/data/transforms_expected.h5.
#include "qme/data/transforms.hpp"

#include <catch2/catch.hpp>

#include "data/image_fixture.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "qme/core/error.hpp"
#include "qme/io/hdf5_file.hpp"

namespace {

using qme::test::kTransformsFixture;
using qme::test::read_image;

using qme::data::NormalizePrecision;
using qme::data::ResizeFilter;
using qme::data::RgbImage;
using qme::data::test_transform;

struct Comparison {
  double max_abs = 0.0;
  size_t unequal = 0;  ///< values that differ in any bit
};

Comparison compare(const std::vector<float>& got, const std::vector<float>& expected) {
  REQUIRE(got.size() == expected.size());
  Comparison result;
  for (size_t i = 0; i < got.size(); ++i) {
    const double diff = std::abs(static_cast<double>(got[i]) - static_cast<double>(expected[i]));
    result.max_abs = std::max(result.max_abs, diff);
    if (got[i] != expected[i]) ++result.unequal;
  }
  return result;
}

}  // namespace

TEST_CASE("each model's test transform has upstream's size, filter and normalisation", "[data]") {
  const auto adaface = test_transform("adaface");
  CHECK(adaface.height == 112);
  CHECK(adaface.width == 112);
  CHECK(adaface.filter == ResizeFilter::kBilinear);
  CHECK(adaface.mean == std::array<double, 3>{0.5, 0.5, 0.5});
  CHECK(adaface.std_dev == std::array<double, 3>{0.5, 0.5, 0.5});

  const auto biggait = test_transform("biggait");
  CHECK(biggait.height == 256);
  CHECK(biggait.width == 128);
  CHECK(biggait.precision == NormalizePrecision::kFloat64);
  CHECK(biggait.mean == std::array<double, 3>{0.485, 0.456, 0.406});
  CHECK(biggait.std_dev == std::array<double, 3>{0.229, 0.224, 0.225});

  CHECK(test_transform("cal-ccvid").filter == ResizeFilter::kBicubic);
  CHECK(test_transform("cal-ccvid").height == 384);
  CHECK(test_transform("cal-ltcc").filter == ResizeFilter::kBilinear);
  CHECK(test_transform("aim").width == 192);
  CHECK(test_transform("cal-mevid").filter == ResizeFilter::kBicubic);
  CHECK(test_transform("cal-mevid").height == 256);
  CHECK(test_transform("agrl").filter == ResizeFilter::kBilinear);
  for (const auto& model : qme::data::test_transform_models()) {
    CHECK(test_transform(model).model == model);
    if (model != "biggait") CHECK(test_transform(model).precision == NormalizePrecision::kFloat32);
  }
}

TEST_CASE("an unknown model's transform is an error naming the known models", "[data]") {
  CHECK_THROWS_AS(test_transform("resnet"), qme::InputError);
  CHECK_THROWS_WITH(test_transform("resnet"), Catch::Contains("resnet") && Catch::Contains("cal-mevid"));
}

TEST_CASE("normalisation is ToTensor then Normalize, channel planes first", "[data]") {
  RgbImage image(1, 2, {0, 51, 255, 255, 102, 0});
  std::vector<float> out(6);
  qme::data::normalize_to_chw(image, {0.5, 0.5, 0.5}, {0.5, 0.5, 0.5}, NormalizePrecision::kFloat32,
                              out.data());
  // (v / 255 - 0.5) / 0.5 per value, laid out (C, H, W).
  CHECK(out[0] == -1.0f);
  CHECK(out[1] == 1.0f);
  CHECK(out[2] == Approx(2.0 * 51 / 255 - 1).epsilon(1e-6));
  CHECK(out[3] == Approx(2.0 * 102 / 255 - 1).epsilon(1e-6));
  CHECK(out[4] == 1.0f);
  CHECK(out[5] == -1.0f);
}

TEST_CASE("a transform of an image already at the model's size only normalises it", "[data]") {
  const auto transform = test_transform("adaface");
  RgbImage image(112, 112);
  for (size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = static_cast<uint8_t>(i * 7 % 256);
  std::vector<float> expected(static_cast<size_t>(transform.output_size()));
  qme::data::normalize_to_chw(image, transform.mean, transform.std_dev, transform.precision, expected.data());
  CHECK(transform.apply(image) == expected);
}

TEST_CASE("the test transforms reproduce upstream's tensors for every model", "[data][parity]") {
  const qme::io::H5Reader reader(kTransformsFixture);
  int cases = 0;
  for (const auto& mode : reader.list_group("outputs")) {
    const auto transform = test_transform(mode);
    const std::string filter = transform.filter == ResizeFilter::kBilinear ? "bilinear" : "bicubic";
    for (const auto& name : reader.list_group("outputs/" + mode)) {
      const std::string path = "outputs/" + mode + "/" + name;
      INFO(path);
      qme::io::Shape shape;
      const auto expected = reader.read_float32(path, &shape);
      REQUIRE(shape == qme::io::Shape{3, static_cast<uint64_t>(transform.height),
                                      static_cast<uint64_t>(transform.width)});

      // The pipeline normalises the image Pillow resized with this model's filter.
      const std::string resized_path = "resized/" + filter + "/" + std::to_string(transform.height) + "x" +
                                       std::to_string(transform.width) + "/" + name;
      REQUIRE(reader.has_dataset(resized_path));
      std::vector<float> normalised(expected.size());
      qme::data::normalize_to_chw(read_image(reader, resized_path), transform.mean, transform.std_dev,
                                  transform.precision, normalised.data());
      const Comparison from_resized = compare(normalised, expected);
      INFO("normalising Pillow's image: max |diff| " << from_resized.max_abs << ", unequal "
                                                     << from_resized.unequal);
      CHECK(from_resized.max_abs <= 1e-6);

      const Comparison full = compare(transform.apply(read_image(reader, "inputs/" + name)), expected);
      INFO("full transform: max |diff| " << full.max_abs << ", unequal " << full.unequal);
      CHECK(full.max_abs <= 1e-6);
      // The resampler is bit-exact and each step rounds as upstream's: the tensors are identical.
      CHECK(full.unequal == 0);
      ++cases;
    }
  }
  CHECK(cases == 15);
}

// Pillow's resampler: hand-checked cases, and bit-exact parity with Pillow 9.4 on every
// resized/<filter>/<H>x<W>/<name> image of ../shared/fixtures/data/transforms_expected.h5.
#include "qme/data/pillow_resize.hpp"

#include <catch2/catch.hpp>

#include "data/image_fixture.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "qme/core/error.hpp"
#include "qme/io/hdf5_file.hpp"

namespace {

using qme::test::kTransformsFixture;
using qme::test::read_image;

using qme::data::pillow_resize;
using qme::data::ResizeFilter;
using qme::data::RgbImage;

/// A grey image whose every channel holds `values` (row-major, h x w).
RgbImage grey(int64_t h, int64_t w, const std::vector<int>& values) {
  REQUIRE(values.size() == static_cast<size_t>(h * w));
  RgbImage image(h, w);
  for (size_t i = 0; i < values.size(); ++i)
    for (size_t c = 0; c < 3; ++c) image.pixels[i * 3 + c] = static_cast<uint8_t>(values[i]);
  return image;
}

/// Channel 0 of `image`, row-major.
std::vector<int> channel0(const RgbImage& image) {
  std::vector<int> out;
  for (size_t i = 0; i < image.pixels.size(); i += 3) out.push_back(image.pixels[i]);
  return out;
}

}  // namespace

TEST_CASE("resizing to the same size returns the input unchanged", "[data]") {
  RgbImage image(3, 5);
  for (size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = static_cast<uint8_t>(i * 17 % 256);
  for (auto filter : {ResizeFilter::kBilinear, ResizeFilter::kBicubic}) {
    const RgbImage out = pillow_resize(image, 3, 5, filter);
    CHECK(out.height == 3);
    CHECK(out.width == 5);
    CHECK(out.pixels == image.pixels);
  }
}

TEST_CASE("bilinear upscaling of a gradient interpolates between neighbours", "[data]") {
  // 1x2 -> 1x4: scale 0.5, support 1; output centres 0.25, 0.75, 1.25, 1.75 give
  // weights (1, 0), (0.75, 0.25), (0.25, 0.75), (0, 1) (normalised over the
  // clipped window), so 0 and 100 become 0, 25, 75, 100.
  const RgbImage out = pillow_resize(grey(1, 2, {0, 100}), 1, 4, ResizeFilter::kBilinear);
  CHECK(channel0(out) == std::vector<int>{0, 25, 75, 100});
  // The same along the vertical axis (vertical pass only).
  const RgbImage tall = pillow_resize(grey(2, 1, {0, 100}), 4, 1, ResizeFilter::kBilinear);
  CHECK(channel0(tall) == std::vector<int>{0, 25, 75, 100});
}

TEST_CASE("bilinear downscaling by two averages with an antialiasing triangle", "[data]") {
  // 1x4 -> 1x2: scale 2, support 2; output 0 (centre 1) reads x = 0, 1, 2 with
  // triangle weights 0.75, 0.75, 0.25 -> normalised 3/7, 3/7, 1/7:
  // (0*3 + 40*3 + 80) / 7 = 28.57 -> 29; output 1 (centre 3) reads x = 1, 2, 3
  // with 0.25, 0.75, 0.75: (40 + 80*3 + 120*3) / 7 = 91.43 -> 91.
  const RgbImage out = pillow_resize(grey(1, 4, {0, 40, 80, 120}), 1, 2, ResizeFilter::kBilinear);
  CHECK(channel0(out) == std::vector<int>{29, 91});
}

TEST_CASE("bicubic overshoot at a step is clamped to 0..255", "[data]") {
  const RgbImage out = pillow_resize(grey(1, 4, {0, 0, 255, 255}), 1, 16, ResizeFilter::kBicubic);
  const auto values = channel0(out);
  // Keys' kernel overshoots on both sides of the step: the dark side clamps to
  // 0 and the bright side to 255, with a monotone ramp in between.
  CHECK(values.front() == 0);
  CHECK(values.back() == 255);
  for (size_t i = 1; i < values.size(); ++i) CHECK(values[i] >= values[i - 1]);
}

TEST_CASE("a constant image stays constant under every resize", "[data]") {
  RgbImage image(7, 9);
  for (size_t i = 0; i < image.pixels.size(); ++i)
    image.pixels[i] = static_cast<uint8_t>(i % 3 == 0 ? 200 : 13);
  for (auto filter : {ResizeFilter::kBilinear, ResizeFilter::kBicubic}) {
    for (auto [h, w] : {std::pair<int64_t, int64_t>{1, 1}, {3, 20}, {15, 4}, {30, 30}}) {
      const RgbImage out = pillow_resize(image, h, w, filter);
      for (size_t i = 0; i < out.pixels.size(); ++i) REQUIRE(out.pixels[i] == (i % 3 == 0 ? 200 : 13));
    }
  }
}

TEST_CASE("resizing to or from an empty size is an error", "[data]") {
  CHECK_THROWS_AS(pillow_resize(RgbImage(2, 2), 0, 3, ResizeFilter::kBilinear), qme::InputError);
  CHECK_THROWS_AS(pillow_resize(RgbImage(0, 2), 3, 3, ResizeFilter::kBilinear), qme::InputError);
  RgbImage short_buffer(2, 2);
  short_buffer.pixels.pop_back();
  CHECK_THROWS_AS(pillow_resize(short_buffer, 3, 3, ResizeFilter::kBicubic), qme::InputError);
}

TEST_CASE("the resampler matches Pillow 9.4 bit for bit on every fixture image", "[data][parity]") {
  const qme::io::H5Reader reader(kTransformsFixture);
  int cases = 0;
  for (const std::string filter_name : {"bilinear", "bicubic"}) {
    const ResizeFilter filter = filter_name == "bilinear" ? ResizeFilter::kBilinear : ResizeFilter::kBicubic;
    const std::string filter_group = "resized/" + filter_name;
    for (const auto& size : reader.list_group(filter_group)) {
      for (const auto& name : reader.list_group(filter_group + "/" + size)) {
        const std::string path = filter_group + "/" + size + "/" + name;
        INFO(path);
        const RgbImage expected = read_image(reader, path);
        const RgbImage input = read_image(reader, "inputs/" + name);
        const RgbImage out = pillow_resize(input, expected.height, expected.width, filter);
        REQUIRE(out.height == expected.height);
        REQUIRE(out.width == expected.width);
        size_t mismatches = 0;
        int worst = 0;
        for (size_t i = 0; i < out.pixels.size(); ++i) {
          const int diff = std::abs(int{out.pixels[i]} - int{expected.pixels[i]});
          if (diff != 0) ++mismatches;
          if (diff > worst) worst = diff;
        }
        INFO("mismatching values " << mismatches << ", largest difference " << worst);
        CHECK(mismatches == 0);
        ++cases;
      }
    }
  }
  // 18 bilinear + 14 bicubic cases in the fixture file.
  CHECK(cases == 32);
}

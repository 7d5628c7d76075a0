// Training augmentations (qme::data, docs/architecture.md §7.2): each operation on small
// images you can check by hand, the draws' ranges, and each model's pipeline.
#include "qme/data/augment.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <opencv2/imgproc.hpp>
#include <set>
#include <string>
#include <vector>

#include "qme/core/error.hpp"

using qme::data::BlurDraw;
using qme::data::ClipDraw;
using qme::data::RgbImage;
using qme::data::SampleRng;

namespace {

/// A (h, w) image whose pixel (y, x, c) is (y * 31 + x * 7 + c * 101) % 256.
RgbImage pattern(int64_t h, int64_t w) {
  RgbImage image(h, w);
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      for (int64_t c = 0; c < 3; ++c)
        image.pixels[static_cast<size_t>((y * w + x) * 3 + c)] =
            static_cast<uint8_t>((y * 31 + x * 7 + c * 101) % 256);
  return image;
}

uint8_t px(const RgbImage& image, int64_t y, int64_t x, int64_t c) {
  return image.pixels[static_cast<size_t>((y * image.width + x) * 3 + c)];
}

/// A zero (n, n) image with value `v` at the centre, all channels.
RgbImage impulse(int64_t n, uint8_t v) {
  RgbImage image(n, n);
  for (int c = 0; c < 3; ++c) image.pixels[static_cast<size_t>(((n / 2) * n + n / 2) * 3 + c)] = v;
  return image;
}

RgbImage constant(int64_t h, int64_t w, uint8_t v) {
  RgbImage image(h, w);
  std::fill(image.pixels.begin(), image.pixels.end(), v);
  return image;
}

RgbImage flipped(RgbImage image) {
  qme::data::flip_horizontal(image);
  return image;
}

}  // namespace

TEST_CASE("uniform_real stays in its range and averages its midpoint", "[data]") {
  SampleRng rng(3);
  double sum = 0.0;
  for (int i = 0; i < 20000; ++i) {
    const double u = qme::data::uniform_real(rng);
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
    sum += u;
    const double v = qme::data::uniform_real(rng, 0.2, 1.0);
    REQUIRE(v >= 0.2);
    REQUIRE(v < 1.0);
  }
  CHECK(sum / 20000 == Approx(0.5).margin(0.01));
}

TEST_CASE("a horizontal flip mirrors every row and twice is the identity", "[data]") {
  const RgbImage image = pattern(3, 5);
  const RgbImage once = flipped(image);
  for (int64_t y = 0; y < 3; ++y)
    for (int64_t x = 0; x < 5; ++x)
      for (int64_t c = 0; c < 3; ++c) CHECK(px(once, y, x, c) == px(image, y, 4 - x, c));
  CHECK(flipped(once).pixels == image.pixels);
}

TEST_CASE("crop takes the window's pixels and refuses one that leaves the image", "[data]") {
  const RgbImage image = pattern(6, 7);
  const RgbImage window = qme::data::crop(image, 2, 3, 3, 4);
  REQUIRE(window.height == 3);
  REQUIRE(window.width == 4);
  for (int64_t y = 0; y < 3; ++y)
    for (int64_t x = 0; x < 4; ++x) CHECK(px(window, y, x, 1) == px(image, y + 2, x + 3, 1));
  CHECK_THROWS_AS(qme::data::crop(image, 4, 0, 3, 7), qme::InputError);
  CHECK_THROWS_AS(qme::data::crop(image, 0, -1, 2, 2), qme::InputError);
}

TEST_CASE("random crop: a window of the 1.125x bilinear enlargement, positions cover the range", "[data]") {
  const RgbImage image = pattern(32, 16);  // enlarged to 36 x 18: dy in 0..4, dx in 0..2
  const RgbImage enlarged = qme::data::pillow_resize(image, 36, 18, qme::data::ResizeFilter::kBilinear);
  std::set<int64_t> tops, lefts;
  int cropped = 0;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    SampleRng rng(seed);
    const RgbImage out = qme::data::random_crop(image, 0.5, rng);
    REQUIRE(out.height == 32);
    REQUIRE(out.width == 16);
    if (out.pixels == image.pixels) continue;
    ++cropped;
    bool found = false;
    for (int64_t top = 0; top <= 4 && !found; ++top) {
      for (int64_t left = 0; left <= 2 && !found; ++left) {
        if (qme::data::crop(enlarged, top, left, 32, 16).pixels == out.pixels) {
          found = true;
          tops.insert(top);
          lefts.insert(left);
        }
      }
    }
    CHECK(found);
  }
  CHECK(cropped > 70);
  CHECK(cropped < 130);
  CHECK(tops == std::set<int64_t>{0, 1, 2, 3, 4});
  CHECK(lefts == std::set<int64_t>{0, 1, 2});
  SampleRng never(1);
  CHECK(qme::data::random_crop(image, 0.0, never).pixels == image.pixels);
}

TEST_CASE("blur draws: four kinds with upstream's parameter ranges", "[data]") {
  SampleRng rng(11);
  std::map<BlurDraw::Kind, int> kinds;
  std::set<int> average_k, motion_k, angles, interpolations;
  double max_sigma = 0.0, min_ratio = 1.0;
  for (int i = 0; i < 8000; ++i) {
    const BlurDraw b = qme::data::draw_blur(rng);
    ++kinds[b.kind];
    switch (b.kind) {
      case BlurDraw::Kind::kAverage:
        average_k.insert(b.kernel);
        break;
      case BlurDraw::Kind::kGaussian:
        REQUIRE(b.sigma >= 0.0);
        REQUIRE(b.sigma < 4.0);
        max_sigma = std::max(max_sigma, b.sigma);
        break;
      case BlurDraw::Kind::kMotion:
        motion_k.insert(b.kernel);
        angles.insert(b.angle);
        REQUIRE(b.direction >= -1.0);
        REQUIRE(b.direction < 1.0);
        break;
      case BlurDraw::Kind::kDownUp:
        REQUIRE(b.side_ratio >= 0.2);
        REQUIRE(b.side_ratio < 1.0);
        min_ratio = std::min(min_ratio, b.side_ratio);
        interpolations.insert(b.down_interpolation);
        interpolations.insert(b.up_interpolation);
        break;
    }
  }
  for (const auto& [kind, count] : kinds) CHECK(count == Approx(2000).margin(200));
  CHECK(kinds.size() == 4);
  CHECK(average_k == std::set<int>{1, 2, 3, 4, 5, 6, 7, 8, 9});
  CHECK(*motion_k.begin() == 5);
  CHECK(*motion_k.rbegin() == 19);
  CHECK(motion_k.size() == 15);
  CHECK(*angles.begin() == -45);
  CHECK(*angles.rbegin() == 44);
  CHECK(max_sigma > 3.9);
  CHECK(min_ratio < 0.21);
  CHECK(interpolations == std::set<int>{cv::INTER_NEAREST, cv::INTER_LINEAR, cv::INTER_AREA, cv::INTER_CUBIC,
                                        cv::INTER_LANCZOS4});
}

TEST_CASE("average blur spreads an impulse over a k x k box", "[data]") {
  RgbImage image = impulse(7, 90);
  BlurDraw blur;
  blur.kind = BlurDraw::Kind::kAverage;
  blur.kernel = 3;
  qme::data::apply_blur(image, blur);
  for (int64_t y = 0; y < 7; ++y)
    for (int64_t x = 0; x < 7; ++x) {
      const bool inside = std::abs(y - 3) <= 1 && std::abs(x - 3) <= 1;
      CHECK(int(px(image, y, x, 0)) == (inside ? 10 : 0));
    }
  RgbImage same = impulse(7, 90);
  blur.kernel = 1;  // k = 1 leaves the image
  qme::data::apply_blur(same, blur);
  CHECK(same.pixels == impulse(7, 90).pixels);
}

TEST_CASE("motion blur draws a line along the angle, weighted by the direction", "[data]") {
  BlurDraw blur;
  blur.kind = BlurDraw::Kind::kMotion;
  blur.kernel = 5;
  blur.direction = 0.0;  // equal weights 127/255 each: 1/5 after normalising

  RgbImage vertical = impulse(11, 250);
  blur.angle = 0;
  qme::data::apply_blur(vertical, blur);
  for (int64_t y = 0; y < 11; ++y)
    for (int64_t x = 0; x < 11; ++x) {
      const bool on_line = x == 5 && std::abs(y - 5) <= 2;
      CHECK(int(px(vertical, y, x, 1)) == (on_line ? 50 : 0));
    }

  RgbImage horizontal = impulse(11, 250);
  blur.angle = 90;
  qme::data::apply_blur(horizontal, blur);
  CHECK(int(px(horizontal, 5, 3, 0)) >= 45);
  CHECK(int(px(horizontal, 5, 7, 0)) >= 45);
  CHECK(int(px(horizontal, 3, 5, 0)) <= 5);
  CHECK(int(px(horizontal, 7, 5, 0)) <= 5);

  RgbImage forward = impulse(11, 250);
  blur.angle = 0;
  blur.direction = 1.0;  // weights from 1 down to 0 along the column
  qme::data::apply_blur(forward, blur);
  CHECK(px(forward, 7, 5, 0) > px(forward, 3, 5, 0));

  blur.kernel = 6;  // an even kernel is made odd (7)
  RgbImage seven = impulse(11, 252);
  blur.direction = 0.0;
  qme::data::apply_blur(seven, blur);
  CHECK(int(px(seven, 2, 5, 0)) == 36);
  CHECK(int(px(seven, 1, 5, 0)) == 0);
}

TEST_CASE("Gaussian and down-up blurs keep the size, a constant, and smooth detail", "[data]") {
  BlurDraw gaussian;
  gaussian.kind = BlurDraw::Kind::kGaussian;
  gaussian.sigma = 1.5;
  BlurDraw down_up;
  down_up.kind = BlurDraw::Kind::kDownUp;
  down_up.side_ratio = 0.25;
  down_up.down_interpolation = cv::INTER_AREA;
  down_up.up_interpolation = cv::INTER_LINEAR;
  for (const BlurDraw& blur : {gaussian, down_up}) {
    RgbImage flat = constant(112, 112, 77);
    qme::data::apply_blur(flat, blur);
    CHECK(flat.height == 112);
    CHECK(flat.width == 112);
    CHECK(flat.pixels == constant(112, 112, 77).pixels);

    // A 1-pixel checkerboard loses most of its contrast.
    RgbImage board(112, 112);
    for (int64_t i = 0; i < 112 * 112; ++i)
      for (int c = 0; c < 3; ++c)
        board.pixels[static_cast<size_t>(i * 3 + c)] = ((i / 112 + i % 112) % 2) ? 200 : 50;
    qme::data::apply_blur(board, blur);
    const auto [lo, hi] =
        std::minmax_element(board.pixels.begin() + 112 * 3 * 40, board.pixels.begin() + 112 * 3 * 70);
    CHECK(int(*hi) - int(*lo) < 40);
  }
  RgbImage tiny = impulse(9, 200);
  gaussian.sigma = 0.0005;  // below imgaug's 1e-3: no blur
  qme::data::apply_blur(tiny, gaussian);
  CHECK(tiny.pixels == impulse(9, 200).pixels);
}

TEST_CASE("random erasing: the box stays inside, has the drawn size, and is filled", "[data]") {
  const auto options = qme::data::RandomErasing::upstream(1.0);
  int erased = 0;
  for (uint64_t seed = 0; seed < 300; ++seed) {
    SampleRng rng(seed);
    const auto box = qme::data::draw_erasing(options, 24, 12, rng);
    if (!box.erase) continue;
    ++erased;
    REQUIRE(box.top >= 0);
    REQUIRE(box.left >= 0);
    REQUIRE(box.top + box.height <= 24);
    REQUIRE(box.left + box.width <= 12);
    CHECK(box.height < 24);
    CHECK(box.width < 12);
    CHECK(box.height * box.width <= 0.4 * 288 * 1.5);
  }
  CHECK(erased > 250);  // 100 attempts rarely all fail

  std::vector<float> frame(3 * 24 * 12, -5.0f);
  qme::data::ErasingBox box;
  box.erase = true;
  box.top = 20;
  box.left = 9;
  box.height = 4;
  box.width = 3;
  qme::data::erase(frame.data(), 24 * 12, 12, box, options.fill);
  for (int c = 0; c < 3; ++c)
    for (int64_t y = 0; y < 24; ++y)
      for (int64_t x = 0; x < 12; ++x) {
        const bool inside = y >= 20 && x >= 9;
        CHECK(frame[static_cast<size_t>(c * 288 + y * 12 + x)] ==
              (inside ? options.fill[static_cast<size_t>(c)] : -5.0f));
      }

  SampleRng rng(1);
  CHECK_FALSE(qme::data::draw_erasing(qme::data::RandomErasing::upstream(0.0), 24, 12, rng).erase);
  int half = 0;
  for (int i = 0; i < 2000; ++i)
    half += qme::data::draw_erasing(qme::data::RandomErasing::upstream(0.5), 24, 12, rng).erase;
  CHECK(half == Approx(1000).margin(100));
  const auto tv = qme::data::RandomErasing::torchvision();
  CHECK(tv.attempts == 10);
  CHECK(tv.max_area == 0.33);
  CHECK(tv.log_uniform_aspect);
  CHECK(tv.fill == std::array<float, 3>{0.0f, 0.0f, 0.0f});
}

TEST_CASE("each model's training augmentations follow upstream's transform lists", "[data]") {
  const auto face = qme::data::train_transform("adaface");
  CHECK(face.augment.blur);
  CHECK(face.augment.flip_probability == 0.5);
  CHECK(face.augment.crop_probability == 0.0);
  CHECK(face.erasing.probability == 0.0);
  const auto gait = qme::data::train_transform("biggait");
  CHECK(gait.augment.crop_probability == 0.2);
  CHECK(gait.augment.flip_probability == 0.0);
  CHECK(gait.erasing.probability == 0.5);
  CHECK(gait.base.precision == qme::data::NormalizePrecision::kFloat64);
  for (const std::string model : {"cal-ccvid", "cal-mevid"}) {
    const auto t = qme::data::train_transform(model);
    CHECK(t.augment.flip_per_clip);
    CHECK(t.erasing.probability == 0.0);
    CHECK(t.base.filter == qme::data::ResizeFilter::kBicubic);
  }
  for (const std::string model : {"cal-ltcc", "aim"}) {
    const auto t = qme::data::train_transform(model);
    CHECK(t.augment.crop_probability == 0.5);
    CHECK(t.augment.flip_probability == 0.5);
    CHECK(t.erasing.probability == 0.5);
    CHECK(t.erasing.max_area == 0.4);
  }
  const auto agrl = qme::data::train_transform("agrl");
  CHECK(agrl.augment.flip_probability == 0.5);
  CHECK_FALSE(agrl.augment.flip_per_clip);
  CHECK_THROWS_AS(qme::data::train_transform("resnet"), qme::InputError);
}

TEST_CASE("CAL video models flip a whole clip or none of it, otherwise the test transform", "[data]") {
  const auto t = qme::data::train_transform("cal-ccvid");
  const RgbImage frame = pattern(40, 20);
  const auto plain = t.base.apply(frame);
  const auto mirrored = t.base.apply(flipped(frame));
  int flips = 0;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    SampleRng rng(seed);
    const ClipDraw clip = t.draw_clip(rng);
    flips += clip.flip;
    for (int f = 0; f < 4; ++f) CHECK(t.apply(frame, clip, rng) == (clip.flip ? mirrored : plain));
  }
  CHECK(flips > 5);
  CHECK(flips < 35);
}

TEST_CASE("per-frame flips (agrl) are drawn per frame; a seed gives the same frames", "[data]") {
  const auto t = qme::data::train_transform("agrl");
  const RgbImage frame = pattern(30, 15);
  const auto plain = t.base.apply(frame);
  const auto mirrored = t.base.apply(flipped(frame));
  SampleRng rng(5), again(5);
  int flips = 0;
  for (int f = 0; f < 64; ++f) {
    const auto out = t.apply(frame, ClipDraw{}, rng);
    CHECK((out == plain || out == mirrored));
    flips += out == mirrored;
    CHECK(t.apply(frame, ClipDraw{}, again) == out);
  }
  CHECK(flips > 16);
  CHECK(flips < 48);
}

TEST_CASE("face augmentations vary per frame, keep the size and are seeded", "[data]") {
  const auto t = qme::data::train_transform("adaface");
  const RgbImage face = pattern(112, 112);
  const auto plain = t.base.apply(face);
  SampleRng rng(9), again(9);
  std::set<std::vector<float>> distinct;
  for (int f = 0; f < 8; ++f) {
    const auto out = t.apply(face, ClipDraw{}, rng);
    REQUIRE(out.size() == plain.size());
    CHECK(t.apply(face, ClipDraw{}, again) == out);
    distinct.insert(out);
  }
  CHECK(distinct.size() >= 6);
}

TEST_CASE("biggait erasing changes only a rectangle of the frame, to the fill", "[data]") {
  auto t = qme::data::train_transform("biggait");
  t.augment.crop_probability = 0.0;  // isolate the erasing
  t.erasing.probability = 1.0;
  const RgbImage frame = pattern(256, 128);
  const auto plain = t.base.apply(frame);
  for (uint64_t seed = 0; seed < 10; ++seed) {
    SampleRng rng(seed);
    const auto out = t.apply(frame, ClipDraw{}, rng);
    int64_t top = 256, bottom = -1, left = 128, right = -1, changed = 0;
    for (int64_t y = 0; y < 256; ++y)
      for (int64_t x = 0; x < 128; ++x) {
        const size_t i = static_cast<size_t>(y * 128 + x);
        if (out[i] == plain[i] && out[i + 32768] == plain[i + 32768]) continue;
        ++changed;
        top = std::min(top, y), bottom = std::max(bottom, y), left = std::min(left, x),
        right = std::max(right, x);
        for (int c = 0; c < 3; ++c)
          CHECK(out[i + static_cast<size_t>(c) * 32768] == t.erasing.fill[static_cast<size_t>(c)]);
      }
    CHECK(changed > 0);
    // The changed pixels fill their bounding box (up to pixels that equal the fill already).
    CHECK(changed >= (bottom - top + 1) * (right - left + 1) * 95 / 100);
  }
}

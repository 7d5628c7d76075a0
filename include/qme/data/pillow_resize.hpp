#pragma once
/// Pillow's image resampler (Image.resize with BILINEAR or BICUBIC, Pillow 9.4),
/// reimplemented bit for bit for 8-bit RGB images. Upstream resizes every frame
/// with PIL before ToTensor, so the networks were trained and evaluated on
/// Pillow's pixels; OpenCV's resize follows other rules (no antialiasing when
/// shrinking, other rounding) and differs by up to tens of grey levels.
///
/// Pillow's rules, per axis (input size `in`, output size `out`):
///   scale = in / out, fs = max(scale, 1) (shrinking widens the kernel),
///   support = s * fs (s = 1 bilinear triangle, 2 bicubic Keys a = -0.5);
///   output i reads inputs [trunc(c - support + 0.5), trunc(c + support + 0.5))
///   clipped to the image, c = (i + 0.5) * scale, weighted by
///   kernel((j - c + 0.5) * (1 / fs)) normalised to sum 1, then rounded to
///   22-bit fixed point; a pixel is (sum + 2^21) >> 22 clamped to 0..255.
/// Separable: a horizontal pass (only when the width changes) writes a uint8
/// image that the vertical pass (only when the height changes) reads.
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "qme/models/model_spec.hpp"

namespace qme::data {

/// Pillow's filter (PIL.Image.BILINEAR or BICUBIC); each model's is in its registry row.
using models::ResizeFilter;

/// An 8-bit RGB image, row-major, channels interleaved: (height, width, 3).
struct RgbImage {
  int64_t height = 0;
  int64_t width = 0;
  std::vector<uint8_t> pixels;  ///< height * width * 3 values

  RgbImage() = default;
  RgbImage(int64_t h, int64_t w) : height(h), width(w), pixels(static_cast<size_t>(h * w * 3)) {}
  RgbImage(int64_t h, int64_t w, std::vector<uint8_t> values)
      : height(h), width(w), pixels(std::move(values)) {}
};

/// `Image.resize((width, height), filter)` of `image`. The same size gives a
/// copy (as Pillow). Throws InputError when a size is not positive or
/// `image.pixels` does not hold height * width * 3 values.
RgbImage pillow_resize(const RgbImage& image, int64_t height, int64_t width, ResizeFilter filter);

/// The same on raw buffers: `src` holds (src_height, src_width, 3) uint8 and
/// `dst` receives (height, width, 3).
void pillow_resize(const uint8_t* src, int64_t src_height, int64_t src_width, uint8_t* dst, int64_t height,
                   int64_t width, ResizeFilter filter);

}  // namespace qme::data

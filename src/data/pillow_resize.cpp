#include "qme/data/pillow_resize.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "qme/core/error.hpp"

// Bit-exactness depends on the double arithmetic of the kernel weights being
// evaluated as written: this file is compiled with -ffp-contract=off (no fused
// multiply-add), as Pillow's own build is on x86-64.

namespace qme::data {

namespace {

// Pillow: PRECISION_BITS = 32 - 8 - 2 (8 bits of pixel, 2 of headroom for the
// overshoot of negative bicubic lobes).
constexpr int kPrecisionBits = 32 - 8 - 2;
constexpr int kChannels = 3;

double triangle_kernel(double x) {
  if (x < 0.0) x = -x;
  if (x < 1.0) return 1.0 - x;
  return 0.0;
}

// Keys' cubic convolution with a = -0.5, in Pillow's evaluation order.
double cubic_kernel(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

/// Fixed-point weights of one axis: output i reads `count[i]` inputs from
/// `first[i]`, with weights weights[i * ksize .. + count[i]).
struct AxisWeights {
  int64_t ksize = 0;
  std::vector<int64_t> first;
  std::vector<int64_t> count;
  std::vector<int32_t> weights;
};

AxisWeights precompute_weights(int64_t in_size, int64_t out_size, ResizeFilter filter) {
  const double kernel_support = filter == ResizeFilter::kBilinear ? 1.0 : 2.0;
  double (*const kernel)(double) = filter == ResizeFilter::kBilinear ? triangle_kernel : cubic_kernel;

  // Pillow works with a box (in0, in1) = (0, in_size) given as doubles.
  const double scale = static_cast<double>(in_size) / static_cast<double>(out_size);
  const double filter_scale = scale < 1.0 ? 1.0 : scale;
  const double support = kernel_support * filter_scale;
  const double inv_filter_scale = 1.0 / filter_scale;  // Pillow multiplies by the reciprocal

  AxisWeights axis;
  axis.ksize = static_cast<int64_t>(std::ceil(support)) * 2 + 1;
  axis.first.resize(static_cast<size_t>(out_size));
  axis.count.resize(static_cast<size_t>(out_size));
  axis.weights.assign(static_cast<size_t>(out_size * axis.ksize), 0);

  std::vector<double> w(static_cast<size_t>(axis.ksize));
  for (int64_t i = 0; i < out_size; ++i) {
    const double center = (static_cast<double>(i) + 0.5) * scale;
    // C casts truncate toward zero; a negative start is then clipped anyway.
    int64_t lo = static_cast<int64_t>(center - support + 0.5);
    if (lo < 0) lo = 0;
    int64_t hi = static_cast<int64_t>(center + support + 0.5);
    if (hi > in_size) hi = in_size;
    const int64_t n = hi - lo;

    double sum = 0.0;
    for (int64_t k = 0; k < n; ++k) {
      const double value = kernel((static_cast<double>(k + lo) - center + 0.5) * inv_filter_scale);
      w[static_cast<size_t>(k)] = value;
      sum += value;
    }
    int32_t* out = axis.weights.data() + i * axis.ksize;
    for (int64_t k = 0; k < n; ++k) {
      double value = w[static_cast<size_t>(k)];
      if (sum != 0.0) value /= sum;
      // Round half away from zero, then truncate: Pillow's normalize_coeffs_8bpc.
      const double fixed = value * static_cast<double>(1 << kPrecisionBits);
      out[k] = static_cast<int32_t>(value < 0 ? fixed - 0.5 : fixed + 0.5);
    }
    axis.first[static_cast<size_t>(i)] = lo;
    axis.count[static_cast<size_t>(i)] = n;
  }
  return axis;
}

inline uint8_t clip8(int64_t accumulated) {
  // Arithmetic shift, as Pillow's signed int: negative sums clamp to 0.
  const int64_t value = accumulated >> kPrecisionBits;
  if (value < 0) return 0;
  if (value > 255) return 255;
  return static_cast<uint8_t>(value);
}

constexpr int64_t kRoundingHalf = int64_t{1} << (kPrecisionBits - 1);

/// Rows [row0, row0 + rows) of `src` (src_width wide) resampled horizontally
/// into `dst` (rows x out_width).
void resample_horizontal(const uint8_t* src, int64_t src_width, int64_t row0, int64_t rows, uint8_t* dst,
                         int64_t out_width, const AxisWeights& axis) {
  for (int64_t y = 0; y < rows; ++y) {
    const uint8_t* in_row = src + (row0 + y) * src_width * kChannels;
    uint8_t* out_row = dst + y * out_width * kChannels;
    for (int64_t x = 0; x < out_width; ++x) {
      const int32_t* k = axis.weights.data() + x * axis.ksize;
      const uint8_t* in = in_row + axis.first[static_cast<size_t>(x)] * kChannels;
      const int64_t n = axis.count[static_cast<size_t>(x)];
      int64_t s0 = kRoundingHalf, s1 = kRoundingHalf, s2 = kRoundingHalf;
      for (int64_t j = 0; j < n; ++j) {
        s0 += int64_t{in[j * kChannels + 0]} * k[j];
        s1 += int64_t{in[j * kChannels + 1]} * k[j];
        s2 += int64_t{in[j * kChannels + 2]} * k[j];
      }
      out_row[x * kChannels + 0] = clip8(s0);
      out_row[x * kChannels + 1] = clip8(s1);
      out_row[x * kChannels + 2] = clip8(s2);
    }
  }
}

/// `src` (any rows x width) resampled vertically into `dst` (out_height x
/// width); `axis.first` is shifted by -row_offset (the rows `src` starts at).
void resample_vertical(const uint8_t* src, int64_t width, int64_t row_offset, uint8_t* dst,
                       int64_t out_height, const AxisWeights& axis) {
  const int64_t stride = width * kChannels;
  std::vector<int64_t> acc(static_cast<size_t>(stride));
  for (int64_t y = 0; y < out_height; ++y) {
    const int32_t* k = axis.weights.data() + y * axis.ksize;
    const uint8_t* in = src + (axis.first[static_cast<size_t>(y)] - row_offset) * stride;
    const int64_t n = axis.count[static_cast<size_t>(y)];
    std::fill(acc.begin(), acc.end(), kRoundingHalf);
    // Row by row over the kernel: the same integer sums as Pillow's
    // column-wise loop (integer addition is associative), cache-friendly.
    for (int64_t j = 0; j < n; ++j) {
      const uint8_t* row = in + j * stride;
      const int64_t weight = k[j];
      for (int64_t c = 0; c < stride; ++c) acc[static_cast<size_t>(c)] += int64_t{row[c]} * weight;
    }
    uint8_t* out = dst + y * stride;
    for (int64_t c = 0; c < stride; ++c) out[c] = clip8(acc[static_cast<size_t>(c)]);
  }
}

}  // namespace

void pillow_resize(const uint8_t* src, int64_t src_height, int64_t src_width, uint8_t* dst, int64_t height,
                   int64_t width, ResizeFilter filter) {
  if (src_height <= 0 || src_width <= 0 || height <= 0 || width <= 0) {
    throw InputError("pillow_resize: cannot resize " + std::to_string(src_height) + "x" +
                     std::to_string(src_width) + " to " + std::to_string(height) + "x" +
                     std::to_string(width) + " (sizes must be positive)");
  }
  const bool need_horizontal = width != src_width;
  const bool need_vertical = height != src_height;
  if (!need_horizontal && !need_vertical) {
    std::memcpy(dst, src, static_cast<size_t>(src_height * src_width * kChannels));
    return;
  }
  if (!need_horizontal) {
    resample_vertical(src, width, 0, dst, height, precompute_weights(src_height, height, filter));
    return;
  }
  const AxisWeights horizontal = precompute_weights(src_width, width, filter);
  if (!need_vertical) {
    resample_horizontal(src, src_width, 0, src_height, dst, width, horizontal);
    return;
  }
  // As Pillow, the horizontal pass only computes the source rows the vertical
  // pass reads (an optimisation; the values are the same).
  const AxisWeights vertical = precompute_weights(src_height, height, filter);
  const int64_t row_first = vertical.first.front();
  const int64_t row_last = vertical.first.back() + vertical.count.back();
  std::vector<uint8_t> temp(static_cast<size_t>((row_last - row_first) * width * kChannels));
  resample_horizontal(src, src_width, row_first, row_last - row_first, temp.data(), width, horizontal);
  resample_vertical(temp.data(), width, row_first, dst, height, vertical);
}

RgbImage pillow_resize(const RgbImage& image, int64_t height, int64_t width, ResizeFilter filter) {
  if (image.height <= 0 || image.width <= 0 ||
      image.pixels.size() != static_cast<size_t>(image.height * image.width * kChannels)) {
    throw InputError("pillow_resize: the image is " + std::to_string(image.height) + "x" +
                     std::to_string(image.width) + "x3 but holds " + std::to_string(image.pixels.size()) +
                     " values");
  }
  if (height <= 0 || width <= 0) {
    throw InputError("pillow_resize: cannot resize to " + std::to_string(height) + "x" +
                     std::to_string(width) + " (sizes must be positive)");
  }
  RgbImage out(height, width);
  pillow_resize(image.pixels.data(), image.height, image.width, out.pixels.data(), height, width, filter);
  return out;
}

}  // namespace qme::data

#include "qme/data/pillow_resize.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "qme/core/error.hpp"
#include "qme/core/target_clones.hpp"

// Bit-exactness depends on the double arithmetic of the kernel weights being
// evaluated as written: this file is compiled with -ffp-contract=off (no fused
// multiply-add), as Pillow's own build is on x86-64.

// The row kernel is worth an AVX2 copy (qme/core/target_clones.hpp).
#define QME_RESAMPLE_CLONES QME_TARGET_CLONES("avx2", "default")

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

constexpr int32_t kRoundingHalf = int32_t{1} << (kPrecisionBits - 1);

inline uint8_t clip8(int32_t accumulated) {
  // Arithmetic shift, as Pillow's signed int: negative sums clamp to 0.
  const int32_t value = accumulated >> kPrecisionBits;
  return static_cast<uint8_t>(value < 0 ? 0 : (value > 255 ? 255 : value));
}

/// `dst[c]` = clip8(sum_j src_rows[j][c] * k[j] + half) for c < n: one output
/// row of a pass along rows. 32-bit sums as Pillow's (PRECISION_BITS leaves two
/// bits of headroom, so no partial sum overflows), computed in blocks of
/// kBlock values that stay in vector registers over all taps.
QME_RESAMPLE_CLONES
void resample_row(const uint8_t* src, int64_t stride, const int32_t* k, int64_t taps, uint8_t* dst,
                  int64_t n) {
  constexpr int64_t kBlock = 32;
  int64_t c0 = 0;
  for (; c0 + kBlock <= n; c0 += kBlock) {
    int32_t sum[kBlock];
    for (int64_t i = 0; i < kBlock; ++i) sum[i] = kRoundingHalf;
    for (int64_t j = 0; j < taps; ++j) {
      const uint8_t* row = src + j * stride + c0;
      const int32_t weight = k[j];
      for (int64_t i = 0; i < kBlock; ++i) sum[i] += static_cast<int32_t>(row[i]) * weight;
    }
    for (int64_t i = 0; i < kBlock; ++i) dst[c0 + i] = clip8(sum[i]);
  }
  for (int64_t c = c0; c < n; ++c) {
    int32_t sum = kRoundingHalf;
    for (int64_t j = 0; j < taps; ++j) sum += static_cast<int32_t>(src[j * stride + c]) * k[j];
    dst[c] = clip8(sum);
  }
}

/// `src` (any rows x `row_values` uint8) resampled along its rows into `dst`
/// (out_rows x row_values); `axis.first` is shifted by -row_offset (the row
/// `src` starts at).
void resample_rows(const uint8_t* src, int64_t row_values, int64_t row_offset, uint8_t* dst, int64_t out_rows,
                   const AxisWeights& axis) {
  for (int64_t y = 0; y < out_rows; ++y) {
    resample_row(src + (axis.first[static_cast<size_t>(y)] - row_offset) * row_values, row_values,
                 axis.weights.data() + y * axis.ksize, axis.count[static_cast<size_t>(y)],
                 dst + y * row_values, row_values);
  }
}

/// (rows, cols, 3) -> (cols, rows, 3), in tiles that stay in cache.
void transpose_pixels(const uint8_t* src, int64_t rows, int64_t cols, uint8_t* dst) {
  constexpr int64_t kTile = 16;
  for (int64_t r0 = 0; r0 < rows; r0 += kTile) {
    const int64_t r1 = std::min(rows, r0 + kTile);
    for (int64_t c0 = 0; c0 < cols; c0 += kTile) {
      const int64_t c1 = std::min(cols, c0 + kTile);
      for (int64_t c = c0; c < c1; ++c) {
        uint8_t* out = dst + (c * rows + r0) * kChannels;
        const uint8_t* in = src + (r0 * cols + c) * kChannels;
        for (int64_t r = r0; r < r1; ++r, out += kChannels, in += cols * kChannels) {
          std::memcpy(out, in, kChannels);
        }
      }
    }
  }
}

/// Scratch buffers of the calling thread, reused from call to call (no page
/// faults from fresh allocations of every frame).
std::vector<uint8_t>& scratch(int which, size_t size) {
  thread_local std::vector<uint8_t> buffers[3];
  auto& buffer = buffers[which];
  if (buffer.size() < size) buffer.resize(size);
  return buffer;
}

/// Rows [row0, row0 + rows) of `src` (src_width wide) resampled horizontally
/// into `dst` (rows x out_width): the image is transposed so that the
/// horizontal pass runs as a vertical one over whole rows (the same integer
/// sums per output pixel, so the same values), then transposed back.
void resample_horizontal(const uint8_t* src, int64_t src_width, int64_t row0, int64_t rows, uint8_t* dst,
                         int64_t out_width, const AxisWeights& axis) {
  auto& columns = scratch(0, static_cast<size_t>(src_width * rows * kChannels));
  transpose_pixels(src + row0 * src_width * kChannels, rows, src_width, columns.data());
  auto& resampled = scratch(1, static_cast<size_t>(out_width * rows * kChannels));
  resample_rows(columns.data(), rows * kChannels, 0, resampled.data(), out_width, axis);
  transpose_pixels(resampled.data(), out_width, rows, dst);
}

/// `src` (any rows x width) resampled vertically into `dst` (out_height x
/// width); `axis.first` is shifted by -row_offset (the rows `src` starts at).
void resample_vertical(const uint8_t* src, int64_t width, int64_t row_offset, uint8_t* dst,
                       int64_t out_height, const AxisWeights& axis) {
  resample_rows(src, width * kChannels, row_offset, dst, out_height, axis);
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
  auto& temp = scratch(2, static_cast<size_t>((row_last - row_first) * width * kChannels));
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

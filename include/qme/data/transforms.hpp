#pragma once
/// Per-model test transforms (docs/architecture.md §7.2): upstream's `get_transforms(mode, config,
/// dataset_type)` test pipelines — a Pillow resize, ToTensor (/255 in float32) and a
/// per-channel normalisation — producing float32 (3, H, W). Each model's size, filter and
/// normalisation are in its registry row (models/model_spec.hpp):
///
/// | model                 | size    | resize   | normalise                     |
/// | arcface, kprpe        | 112x112 | bilinear | adaface's (upstream's choice) |
/// |-----------------------|---------|----------|-------------------------------|
/// | adaface               | 112x112 | bilinear | mean 0.5, std 0.5             |
/// | biggait               | 256x128 | bilinear | ImageNet, in float64          |
/// | cal-ccvid             | 384x192 | bicubic  | ImageNet (spatial_transforms) |
/// | cal-ltcc, aim         | 384x192 | bilinear | ImageNet (LTCC, image set)    |
/// | cal-mevid             | 256x128 | bicubic  | ImageNet (spatial_transforms) |
/// | agrl                  | 256x128 | bilinear | ImageNet                      |
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "qme/data/pillow_resize.hpp"

namespace qme::data {

/// How (x / 255 - mean) / std is evaluated; each model's is in its registry row.
using models::NormalizePrecision;

/// One model's test transform.
struct TestTransform {
  std::string model;
  int64_t height = 0;
  int64_t width = 0;
  ResizeFilter filter = ResizeFilter::kBilinear;
  std::array<double, 3> mean{};
  std::array<double, 3> std_dev{};
  NormalizePrecision precision = NormalizePrecision::kFloat32;

  /// Number of floats apply() writes: 3 * height * width.
  int64_t output_size() const { return 3 * height * width; }

  /// image (H, W, 3) uint8 -> float32 (3, height, width), row-major.
  std::vector<float> apply(const RgbImage& image) const;
  /// The same, written to `out` (output_size() floats), e.g. one frame's
  /// slot of a batch tensor.
  void apply(const RgbImage& image, float* out) const;
  /// The same with the three channel planes `channel_stride` floats apart: one
  /// frame of a (3, T, H, W) clip has channel_stride = T * H * W.
  void apply(const RgbImage& image, float* out, int64_t channel_stride) const;
};

/// The names test_transform() knows: the registry's models::model_names().
const std::vector<std::string>& test_transform_models();

/// The test transform of `model` (a backbone name, e.g. "cal-ccvid"); throws
/// InputError naming the known models for any other name.
TestTransform test_transform(const std::string& model);

/// ToTensor + Normalize of an already resized image: `image` (H, W, 3) uint8
/// -> `out` float32 (3, H, W).
void normalize_to_chw(const RgbImage& image, const std::array<double, 3>& mean,
                      const std::array<double, 3>& std_dev, NormalizePrecision precision, float* out);
/// The same with the channel planes `channel_stride` floats apart (>= H * W).
void normalize_to_chw(const RgbImage& image, const std::array<double, 3>& mean,
                      const std::array<double, 3>& std_dev, NormalizePrecision precision, float* out,
                      int64_t channel_stride);

}  // namespace qme::data

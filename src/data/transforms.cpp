#include "qme/data/transforms.hpp"

#include <string>

#include "qme/core/error.hpp"

namespace qme::data {

namespace {

constexpr std::array<double, 3> kImageNetMean{0.485, 0.456, 0.406};
constexpr std::array<double, 3> kImageNetStd{0.229, 0.224, 0.225};
constexpr std::array<double, 3> kHalf{0.5, 0.5, 0.5};

TestTransform make(const std::string& model, int64_t height, int64_t width, ResizeFilter filter,
                   const std::array<double, 3>& mean, const std::array<double, 3>& std_dev,
                   NormalizePrecision precision = NormalizePrecision::kFloat32) {
  TestTransform t;
  t.model = model;
  t.height = height;
  t.width = width;
  t.filter = filter;
  t.mean = mean;
  t.std_dev = std_dev;
  t.precision = precision;
  return t;
}

}  // namespace

const std::vector<std::string>& test_transform_models() {
  static const std::vector<std::string> models{"adaface", "biggait",   "cal-ccvid", "cal-ltcc",
                                               "aim",     "cal-mevid", "agrl"};
  return models;
}

TestTransform test_transform(const std::string& model) {
  using F = ResizeFilter;
  if (model == "adaface") return make(model, 112, 112, F::kBilinear, kHalf, kHalf);
  if (model == "biggait")
    return make(model, 256, 128, F::kBilinear, kImageNetMean, kImageNetStd, NormalizePrecision::kFloat64);
  // The video CAL models go through upstream's spatial_transforms.Scale (bicubic);
  // the image-set models (LTCC) through torchvision's Resize (bilinear).
  if (model == "cal-ccvid") return make(model, 384, 192, F::kBicubic, kImageNetMean, kImageNetStd);
  if (model == "cal-ltcc" || model == "aim")
    return make(model, 384, 192, F::kBilinear, kImageNetMean, kImageNetStd);
  if (model == "cal-mevid") return make(model, 256, 128, F::kBicubic, kImageNetMean, kImageNetStd);
  if (model == "agrl") return make(model, 256, 128, F::kBilinear, kImageNetMean, kImageNetStd);
  std::string known;
  for (const auto& name : test_transform_models()) known += (known.empty() ? "" : ", ") + name;
  throw InputError("test transforms", model, "is not a known model (known: " + known + ")");
}

void normalize_to_chw(const RgbImage& image, const std::array<double, 3>& mean,
                      const std::array<double, 3>& std_dev, NormalizePrecision precision, float* out) {
  const int64_t plane = image.height * image.width;
  if (image.pixels.size() != static_cast<size_t>(plane * 3)) {
    throw InputError("normalize_to_chw: the image is " + std::to_string(image.height) + "x" +
                     std::to_string(image.width) + "x3 but holds " + std::to_string(image.pixels.size()) +
                     " values");
  }
  const uint8_t* px = image.pixels.data();
  for (int c = 0; c < 3; ++c) {
    float* dst = out + c * plane;
    if (precision == NormalizePrecision::kFloat32) {
      // torch: ToTensor divides by 255 in float32; Normalize subtracts and
      // divides by the mean and std cast to float32, one rounding per step.
      const float m = static_cast<float>(mean[static_cast<size_t>(c)]);
      const float s = static_cast<float>(std_dev[static_cast<size_t>(c)]);
      for (int64_t i = 0; i < plane; ++i) {
        const float x = static_cast<float>(px[i * 3 + c]) / 255.0f;
        dst[i] = (x - m) / s;
      }
    } else {
      // upstream biggait: float32 x / 255, then numpy float64 (x - mean) / std
      // against float64 constants, cast back to float32.
      const double m = mean[static_cast<size_t>(c)];
      const double s = std_dev[static_cast<size_t>(c)];
      for (int64_t i = 0; i < plane; ++i) {
        const float x = static_cast<float>(px[i * 3 + c]) / 255.0f;
        dst[i] = static_cast<float>((static_cast<double>(x) - m) / s);
      }
    }
  }
}

std::vector<float> TestTransform::apply(const RgbImage& image) const {
  std::vector<float> out(static_cast<size_t>(output_size()));
  apply(image, out.data());
  return out;
}

void TestTransform::apply(const RgbImage& image, float* out) const {
  if (image.height == height && image.width == width) {
    normalize_to_chw(image, mean, std_dev, precision, out);  // Pillow: same size is a copy
    return;
  }
  normalize_to_chw(pillow_resize(image, height, width, filter), mean, std_dev, precision, out);
}

}  // namespace qme::data

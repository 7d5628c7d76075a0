#include "qme/data/transforms.hpp"

#include <string>

#include "qme/core/error.hpp"

namespace qme::data {

const std::vector<std::string>& test_transform_models() {
  return models::model_names();
}

TestTransform test_transform(const std::string& model) {
  const models::ModelSpec* row = models::find_model_spec(model);
  if (!row) {
    throw InputError("test transforms", model,
                     "is not a known model (known: " + models::model_names_text() + ")");
  }
  TestTransform t;
  t.model = model;
  t.height = row->height;
  t.width = row->width;
  t.filter = row->filter;
  t.mean = row->normalization.mean;
  t.std_dev = row->normalization.std_dev;
  t.precision = row->normalization.precision;
  return t;
}

namespace {

/// (v / 255 - mean) / std for every uint8 value v of one channel, each entry
/// evaluated exactly as upstream evaluates it per pixel (so a lookup is bit-exact).
std::array<float, 256> normalize_table(double mean, double std_dev, NormalizePrecision precision) {
  std::array<float, 256> table{};
  for (int v = 0; v < 256; ++v) {
    // ToTensor divides by 255 in float32.
    const float x = static_cast<float>(v) / 255.0f;
    if (precision == NormalizePrecision::kFloat32) {
      // torchvision Normalize: mean and std cast to float32, one rounding per step.
      table[static_cast<size_t>(v)] = (x - static_cast<float>(mean)) / static_cast<float>(std_dev);
    } else {
      // upstream biggait: numpy float64 (x - mean) / std, cast back to float32.
      table[static_cast<size_t>(v)] = static_cast<float>((static_cast<double>(x) - mean) / std_dev);
    }
  }
  return table;
}

/// The three channel tables of (mean, std_dev, precision), kept per thread for
/// the last parameters used (a loader thread normalises many frames alike).
const std::array<std::array<float, 256>, 3>& normalize_tables(const std::array<double, 3>& mean,
                                                              const std::array<double, 3>& std_dev,
                                                              NormalizePrecision precision) {
  struct Cache {
    bool valid = false;
    std::array<double, 3> mean{}, std_dev{};
    NormalizePrecision precision = NormalizePrecision::kFloat32;
    std::array<std::array<float, 256>, 3> tables{};
  };
  thread_local Cache cache;
  if (!cache.valid || cache.mean != mean || cache.std_dev != std_dev || cache.precision != precision) {
    for (size_t c = 0; c < 3; ++c) cache.tables[c] = normalize_table(mean[c], std_dev[c], precision);
    cache.mean = mean;
    cache.std_dev = std_dev;
    cache.precision = precision;
    cache.valid = true;
  }
  return cache.tables;
}

}  // namespace

void normalize_to_chw(const RgbImage& image, const std::array<double, 3>& mean,
                      const std::array<double, 3>& std_dev, NormalizePrecision precision, float* out) {
  normalize_to_chw(image, mean, std_dev, precision, out, image.height * image.width);
}

void normalize_to_chw(const RgbImage& image, const std::array<double, 3>& mean,
                      const std::array<double, 3>& std_dev, NormalizePrecision precision, float* out,
                      int64_t channel_stride) {
  const int64_t plane = image.height * image.width;
  if (image.pixels.size() != static_cast<size_t>(plane * 3)) {
    throw InputError("normalize_to_chw: the image is " + std::to_string(image.height) + "x" +
                     std::to_string(image.width) + "x3 but holds " + std::to_string(image.pixels.size()) +
                     " values");
  }
  const uint8_t* px = image.pixels.data();
  const auto& tables = normalize_tables(mean, std_dev, precision);
  const auto& red = tables[0];
  const auto& green = tables[1];
  const auto& blue = tables[2];
  float* r = out;
  float* g = out + channel_stride;
  float* b = out + 2 * channel_stride;
  for (int64_t i = 0; i < plane; ++i) {
    r[i] = red[px[i * 3 + 0]];
    g[i] = green[px[i * 3 + 1]];
    b[i] = blue[px[i * 3 + 2]];
  }
}

std::vector<float> TestTransform::apply(const RgbImage& image) const {
  std::vector<float> out(static_cast<size_t>(output_size()));
  apply(image, out.data());
  return out;
}

void TestTransform::apply(const RgbImage& image, float* out) const {
  apply(image, out, height * width);
}

void TestTransform::apply(const RgbImage& image, float* out, int64_t channel_stride) const {
  if (image.height == height && image.width == width) {
    // Pillow: resizing to the same size is a copy.
    normalize_to_chw(image, mean, std_dev, precision, out, channel_stride);
    return;
  }
  // The resized frame lives in a buffer of the calling thread, reused from frame to frame.
  thread_local RgbImage resized;
  if (image.height <= 0 || image.width <= 0 ||
      image.pixels.size() != static_cast<size_t>(image.height * image.width * 3)) {
    throw InputError("test transform " + model + ": the image is " + std::to_string(image.height) + "x" +
                     std::to_string(image.width) + "x3 but holds " + std::to_string(image.pixels.size()) +
                     " values");
  }
  resized.height = height;
  resized.width = width;
  resized.pixels.resize(static_cast<size_t>(height * width * 3));
  pillow_resize(image.pixels.data(), image.height, image.width, resized.pixels.data(), height, width, filter);
  normalize_to_chw(resized, mean, std_dev, precision, out, channel_stride);
}

}  // namespace qme::data

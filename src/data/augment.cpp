#include "qme/data/augment.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <opencv2/imgproc.hpp>
#include <string>
#include <utility>

#include "qme/core/error.hpp"
#include "qme/models/model_spec.hpp"

namespace qme::data {

namespace {

/// Python's round() for the values here (ties to even, as the default FP rounding mode).
int64_t round_half_even(double value) {
  return static_cast<int64_t>(std::nearbyint(value));
}

cv::Mat as_mat(RgbImage& image) {
  return cv::Mat(static_cast<int>(image.height), static_cast<int>(image.width), CV_8UC3, image.pixels.data());
}

/// The image a cv::Mat (CV_8UC3, continuous or not) holds, copied.
RgbImage from_mat(const cv::Mat& mat) {
  RgbImage out(mat.rows, mat.cols);
  const size_t row_bytes = static_cast<size_t>(mat.cols) * 3;
  for (int y = 0; y < mat.rows; ++y)
    std::memcpy(out.pixels.data() + y * row_bytes, mat.ptr<uint8_t>(y), row_bytes);
  return out;
}

/// imgaug's kernel side for a Gaussian of `sigma` (blur_gaussian_, OpenCV backend).
int gaussian_kernel_size(double sigma) {
  double size = sigma < 3.0 ? 3.3 * sigma : (sigma < 5.0 ? 2.9 * sigma : 2.6 * sigma);
  int k = static_cast<int>(std::max(size, 5.0));
  return k % 2 == 0 ? k + 1 : k;
}

/// imgaug's MotionBlur kernel: a line of weights down the middle column of a
/// k x k uint8 image, rotated about its centre, normalised to sum 1.
cv::Mat motion_kernel(int kernel, int angle, double direction) {
  const int k = kernel % 2 == 0 ? kernel + 1 : kernel;
  const double d = (std::clamp(direction, -1.0, 1.0) + 1.0) / 2.0;
  cv::Mat line = cv::Mat::zeros(k, k, CV_8U);
  // numpy.linspace(d, 1 - d, k) stored as float32, times 255, truncated to uint8.
  const double step = k > 1 ? ((1.0 - d) - d) / (k - 1) : 0.0;
  for (int i = 0; i < k; ++i) {
    const double value = i == k - 1 ? 1.0 - d : d + i * step;
    line.at<uint8_t>(i, k / 2) = static_cast<uint8_t>(static_cast<float>(value) * 255.0f);
  }
  // imgaug rotates clockwise for positive angles; OpenCV counter-clockwise.
  const cv::Point2f centre((k - 1) / 2.0f, (k - 1) / 2.0f);
  cv::Mat rotated;
  cv::warpAffine(line, rotated, cv::getRotationMatrix2D(centre, -angle, 1.0), line.size(), cv::INTER_LINEAR,
                 cv::BORDER_CONSTANT, cv::Scalar(0));
  cv::Mat weights;
  rotated.convertTo(weights, CV_32F, 1.0 / 255.0);
  const double sum = cv::sum(weights)[0];
  if (sum > 0) weights /= sum;
  return weights;
}

constexpr int kInterpolations[] = {cv::INTER_NEAREST, cv::INTER_LINEAR, cv::INTER_AREA, cv::INTER_CUBIC,
                                   cv::INTER_LANCZOS4};

}  // namespace

double uniform_real(SampleRng& rng) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

double uniform_real(SampleRng& rng, double lo, double hi) {
  return lo + (hi - lo) * uniform_real(rng);
}

void flip_horizontal(RgbImage& image) {
  const int64_t w = image.width;
  for (int64_t y = 0; y < image.height; ++y) {
    uint8_t* row = image.pixels.data() + y * w * 3;
    for (int64_t a = 0, b = w - 1; a < b; ++a, --b) {
      std::swap(row[a * 3 + 0], row[b * 3 + 0]);
      std::swap(row[a * 3 + 1], row[b * 3 + 1]);
      std::swap(row[a * 3 + 2], row[b * 3 + 2]);
    }
  }
}

RgbImage crop(const RgbImage& image, int64_t top, int64_t left, int64_t height, int64_t width) {
  if (top < 0 || left < 0 || height < 0 || width < 0 || top + height > image.height ||
      left + width > image.width) {
    throw InputError("crop: the window " + std::to_string(height) + "x" + std::to_string(width) + " at (" +
                     std::to_string(top) + ", " + std::to_string(left) + ") leaves the " +
                     std::to_string(image.height) + "x" + std::to_string(image.width) + " image");
  }
  RgbImage out(height, width);
  const size_t row_bytes = static_cast<size_t>(width * 3);
  for (int64_t y = 0; y < height; ++y) {
    std::memcpy(out.pixels.data() + y * width * 3, image.pixels.data() + ((top + y) * image.width + left) * 3,
                row_bytes);
  }
  return out;
}

RgbImage random_crop(const RgbImage& image, double probability, SampleRng& rng) {
  if (uniform_real(rng) >= probability) return image;
  const int64_t wide = round_half_even(static_cast<double>(image.width) * 1.125);
  const int64_t tall = round_half_even(static_cast<double>(image.height) * 1.125);
  const RgbImage enlarged = pillow_resize(image, tall, wide, ResizeFilter::kBilinear);
  const int64_t left = round_half_even(uniform_real(rng, 0.0, static_cast<double>(wide - image.width)));
  const int64_t top = round_half_even(uniform_real(rng, 0.0, static_cast<double>(tall - image.height)));
  return crop(enlarged, top, left, image.height, image.width);
}

BlurDraw draw_blur(SampleRng& rng) {
  BlurDraw blur;
  switch (uniform_index(rng, 4)) {
    case 0:
      blur.kind = BlurDraw::Kind::kAverage;
      blur.kernel = 1 + static_cast<int>(uniform_index(rng, 9));  // np.random.randint(1, 10)
      break;
    case 1:
      blur.kind = BlurDraw::Kind::kGaussian;
      blur.sigma = uniform_real(rng) * 4.0;
      break;
    case 2:
      blur.kind = BlurDraw::Kind::kMotion;
      blur.kernel = 5 + static_cast<int>(uniform_index(rng, 15));   // randint(5, 20)
      blur.angle = -45 + static_cast<int>(uniform_index(rng, 90));  // randint(-45, 45)
      blur.direction = uniform_real(rng) * 2.0 - 1.0;
      break;
    default:
      blur.kind = BlurDraw::Kind::kDownUp;
      blur.side_ratio = uniform_real(rng, 0.2, 1.0);
      blur.down_interpolation = kInterpolations[uniform_index(rng, 5)];
      blur.up_interpolation = kInterpolations[uniform_index(rng, 5)];
      break;
  }
  return blur;
}

void apply_blur(RgbImage& image, const BlurDraw& blur) {
  if (image.height <= 0 || image.width <= 0) return;
  cv::Mat mat = as_mat(image);
  switch (blur.kind) {
    case BlurDraw::Kind::kAverage:
      if (blur.kernel > 1)
        cv::blur(mat, mat, cv::Size(blur.kernel, blur.kernel), cv::Point(-1, -1), cv::BORDER_REFLECT_101);
      break;
    case BlurDraw::Kind::kGaussian:
      if (blur.sigma > 1e-3) {
        const int k = gaussian_kernel_size(blur.sigma);
        cv::GaussianBlur(mat, mat, cv::Size(k, k), blur.sigma, blur.sigma, cv::BORDER_REFLECT_101);
      }
      break;
    case BlurDraw::Kind::kMotion: {
      cv::Mat out;
      cv::filter2D(mat, out, -1, motion_kernel(blur.kernel, blur.angle, blur.direction), cv::Point(-1, -1), 0,
                   cv::BORDER_REFLECT_101);
      out.copyTo(mat);
      break;
    }
    case BlurDraw::Kind::kDownUp: {
      // Upstream resizes to a square of side int(ratio * height) and back.
      const int side = std::max(1, static_cast<int>(blur.side_ratio * static_cast<double>(image.height)));
      cv::Mat small, back;
      cv::resize(mat, small, cv::Size(side, side), 0, 0, blur.down_interpolation);
      cv::resize(small, back, mat.size(), 0, 0, blur.up_interpolation);
      image = from_mat(back);
      break;
    }
  }
}

RandomErasing RandomErasing::upstream(double probability) {
  RandomErasing options;
  options.probability = probability;
  return options;
}

RandomErasing RandomErasing::torchvision(double probability) {
  RandomErasing options;
  options.probability = probability;
  options.min_area = 0.02;
  options.max_area = 0.33;
  options.min_aspect = 0.3;
  options.max_aspect = 3.3;
  options.log_uniform_aspect = true;
  options.attempts = 10;
  options.fill = {0.0f, 0.0f, 0.0f};
  return options;
}

ErasingBox draw_erasing(const RandomErasing& options, int64_t image_height, int64_t image_width,
                        SampleRng& rng) {
  if (options.probability <= 0.0 || uniform_real(rng) >= options.probability) return {};
  const double area = static_cast<double>(image_height * image_width);
  for (int attempt = 0; attempt < options.attempts; ++attempt) {
    const double target = uniform_real(rng, options.min_area, options.max_area) * area;
    const double aspect =
        options.log_uniform_aspect
            ? std::exp(uniform_real(rng, std::log(options.min_aspect), std::log(options.max_aspect)))
            : uniform_real(rng, options.min_aspect, options.max_aspect);
    const int64_t h = round_half_even(std::sqrt(target * aspect));
    const int64_t w = round_half_even(std::sqrt(target / aspect));
    if (h < image_height && w < image_width) {
      ErasingBox box;
      box.erase = true;
      box.height = h;
      box.width = w;
      box.top = uniform_index(rng, image_height - h + 1);
      box.left = uniform_index(rng, image_width - w + 1);
      return box;
    }
  }
  return {};
}

void erase(float* frame, int64_t channel_stride, int64_t image_width, const ErasingBox& box,
           const std::array<float, 3>& fill) {
  if (!box.erase) return;
  for (int c = 0; c < 3; ++c) {
    for (int64_t y = box.top; y < box.top + box.height; ++y) {
      float* row = frame + c * channel_stride + y * image_width + box.left;
      std::fill(row, row + box.width, fill[static_cast<size_t>(c)]);
    }
  }
}

ClipDraw TrainTransform::draw_clip(SampleRng& rng) const {
  ClipDraw clip;
  // CAL's spatial_transforms.RandomHorizontalFlip: p = random.random(); flip when p < 0.5.
  if (augment.flip_per_clip) clip.flip = uniform_real(rng) < 0.5;
  return clip;
}

void TrainTransform::apply(const RgbImage& image, const ClipDraw& clip, SampleRng& rng, float* out,
                           int64_t channel_stride) const {
  RgbImage work = image.height == base.height && image.width == base.width
                      ? image
                      : pillow_resize(image, base.height, base.width, base.filter);
  if (augment.crop_probability > 0.0) work = random_crop(work, augment.crop_probability, rng);
  if (augment.blur) apply_blur(work, draw_blur(rng));
  bool flip = clip.flip;
  if (!augment.flip_per_clip && augment.flip_probability > 0.0) {
    flip = uniform_real(rng) < augment.flip_probability;
  }
  if (flip) flip_horizontal(work);
  normalize_to_chw(work, base.mean, base.std_dev, base.precision, out, channel_stride);
  if (erasing.probability > 0.0) {
    erase(out, channel_stride, base.width, draw_erasing(erasing, base.height, base.width, rng), erasing.fill);
  }
}

std::vector<float> TrainTransform::apply(const RgbImage& image, const ClipDraw& clip, SampleRng& rng) const {
  std::vector<float> out(static_cast<size_t>(base.output_size()));
  apply(image, clip, rng, out.data(), base.height * base.width);
  return out;
}

TrainTransform train_transform(const std::string& model) {
  TrainTransform t;
  t.base = test_transform(model);  // InputError for an unknown model
  t.augment = models::model_spec(model).augmentation;
  if (t.augment.erasing_probability > 0.0) t.erasing = RandomErasing::upstream(t.augment.erasing_probability);
  return t;
}

}  // namespace qme::data

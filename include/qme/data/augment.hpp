#pragma once
/// Training-time augmentations (docs/architecture.md §7.2): upstream's `get_transforms`
/// training pipelines, per model.
///
/// | model                | per frame                                                   | per clip |
/// |----------------------|-------------------------------------------------------------|----------|
/// | adaface              | resize, one of four blurs (BlurAugmenter), flip 0.5         |          |
/// | biggait              | resize, crop 0.2, normalise (float64), erase 0.5            |          |
/// | cal-ccvid, cal-mevid | resize (bicubic), normalise                                 | flip 0.5 |
/// | cal-ltcc, aim        | resize, crop 0.5, flip 0.5, normalise, erase 0.5            |          |
/// | agrl                 | resize, flip 0.5, normalise                                 |          |
///
/// "crop" is upstream's RandomCroping (resize to 1.125x with Pillow's bilinear
/// filter, crop a random window of the original size); "erase" is upstream's
/// own RandomErasing (img_transforms.py, Zhong et al.), which shadows
/// torchvision's class of the same name in upstream's transform lists. The
/// video CAL models use CAL's spatial transforms: one flip drawn per clip, and
/// RandomErasing with AUG.RE_PROB = 0 (never erases).
///
/// Every draw comes from an explicit SampleRng. The streams differ from
/// upstream's (Python's and numpy's global generators, imgaug's); each draw has
/// upstream's distribution, and a seed gives the same images on every run.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "qme/data/pillow_resize.hpp"
#include "qme/data/sampling.hpp"
#include "qme/data/transforms.hpp"
#include "qme/models/model_spec.hpp"

namespace qme::data {

/// Uniform double in [0, 1) from the top 53 bits of one draw.
double uniform_real(SampleRng& rng);
/// Uniform double in [lo, hi).
double uniform_real(SampleRng& rng, double lo, double hi);

/// Mirrors `image` left to right in place (PIL's FLIP_LEFT_RIGHT).
void flip_horizontal(RgbImage& image);

/// The pixels of rows [top, top + height) and columns [left, left + width).
/// InputError when the window leaves the image.
RgbImage crop(const RgbImage& image, int64_t top, int64_t left, int64_t height, int64_t width);

/// Upstream's RandomCroping: with probability `probability`, resize to
/// (round(1.125 H), round(1.125 W)) with Pillow's bilinear filter and take the
/// H x W window at (round(U(0, dy)), round(U(0, dx))), dy and dx the size
/// differences; otherwise `image` unchanged.
RgbImage random_crop(const RgbImage& image, double probability, SampleRng& rng);

/// One of upstream's BlurAugmenter blurs (imgaug / OpenCV), with its parameters.
struct BlurDraw {
  enum class Kind { kAverage, kGaussian, kMotion, kDownUp };
  Kind kind = Kind::kAverage;
  int kernel = 1;              ///< average: 1..9 (1 leaves the image); motion: 5..19
  double sigma = 0.0;          ///< gaussian: [0, 4); below 1e-3 leaves the image
  int angle = 0;               ///< motion: degrees clockwise, -45..44
  double direction = 0.0;      ///< motion: [-1, 1)
  double side_ratio = 1.0;     ///< down-up: [0.2, 1)
  int down_interpolation = 0;  ///< down-up: an OpenCV INTER_* flag (nearest, linear, area, cubic, lanczos4)
  int up_interpolation = 0;
};

/// Draws upstream's BlurAugmenter.sample_param: the kind uniformly among the
/// four, then its parameters (average k in [1, 10), Gaussian sigma in [0, 4),
/// motion k in [5, 20) and angle in [-45, 45) integers and direction in
/// [-1, 1), down-up side ratio in [0.2, 1) and two of five interpolations).
BlurDraw draw_blur(SampleRng& rng);

/// Applies `blur` as imgaug / OpenCV do (border REFLECT_101):
///  - average: cv::blur with a k x k box;
///  - Gaussian: cv::GaussianBlur, kernel side from sigma as imgaug (3.3 sigma
///    below 3, at least 5, odd);
///  - motion: a k x k kernel (k made odd) holding a line along the middle
///    column with weights from (d+1)/2 to 1-(d+1)/2, rounded to uint8 levels,
///    rotated by the angle (bilinear), normalised to sum 1, then cv::filter2D;
///  - down-up: resize to s x s (s = int(ratio * height), at least 1) and back.
void apply_blur(RgbImage& image, const BlurDraw& blur);

/// Random erasing of a normalised (3, H, W) frame.
struct RandomErasing {
  double probability = 0.0;  ///< 0 never erases
  double min_area = 0.02;    ///< share of the frame's area
  double max_area = 0.4;
  double min_aspect = 0.3;  ///< height / width of the rectangle
  double max_aspect = 1.0 / 0.3;
  bool log_uniform_aspect = false;  ///< draw log(aspect) uniformly (torchvision) instead of the aspect
  int attempts = 100;
  std::array<float, 3> fill{0.4914f, 0.4822f, 0.4465f};  ///< per channel, written into the normalised values

  /// Upstream's img_transforms.RandomErasing (what its transform lists use):
  /// p 0.5, area [0.02, 0.4), aspect uniform in [0.3, 1/0.3), 100 attempts,
  /// fill (0.4914, 0.4822, 0.4465).
  static RandomErasing upstream(double probability = 0.5);
  /// torchvision.transforms.RandomErasing's defaults: p 0.5, scale
  /// [0.02, 0.33), log-uniform ratio [0.3, 3.3), 10 attempts, fill 0.
  static RandomErasing torchvision(double probability = 0.5);
};

/// A drawn erasing rectangle; `height` or `width` 0 (or `erase` false) erases nothing.
struct ErasingBox {
  bool erase = false;
  int64_t top = 0, left = 0, height = 0, width = 0;
};

/// Draws the rectangle for an image_height x image_width frame: with
/// probability p, up to `attempts` tries of an area and an aspect ratio until
/// the rounded rectangle is strictly smaller than the frame on both sides,
/// then a uniform position that keeps it inside.
ErasingBox draw_erasing(const RandomErasing& options, int64_t image_height, int64_t image_width,
                        SampleRng& rng);

/// Writes options.fill[c] into the box of each channel plane of a (3, H, W)
/// frame whose planes are `channel_stride` floats apart.
void erase(float* frame, int64_t channel_stride, int64_t image_width, const ErasingBox& box,
           const std::array<float, 3>& fill);

/// Draws made once per clip.
struct ClipDraw {
  bool flip = false;
};

/// One model's training transform: resize, crop, blur, flip, normalise, erase,
/// each only where the model's pipeline has it (see the table above).
struct TrainTransform {
  TestTransform base;
  models::AugmentationRecipe augment;  ///< the registry's recipe, as it is
  RandomErasing erasing;               ///< augment.erasing_probability with upstream's other settings

  /// The per-clip draws (one uniform draw when flip_per_clip, none otherwise).
  ClipDraw draw_clip(SampleRng& rng) const;
  /// One frame (H, W, 3) uint8 -> float32 (3, height, width) with its planes
  /// `channel_stride` floats apart; per-frame draws come from `rng`.
  void apply(const RgbImage& image, const ClipDraw& clip, SampleRng& rng, float* out,
             int64_t channel_stride) const;
  /// The same into a fresh (3, height, width) buffer.
  std::vector<float> apply(const RgbImage& image, const ClipDraw& clip, SampleRng& rng) const;
};

/// The training transform of `model` (the names test_transform() knows);
/// InputError for any other name.
TrainTransform train_transform(const std::string& model);

}  // namespace qme::data

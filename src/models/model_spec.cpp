#include "qme/models/model_spec.hpp"

#include <array>
#include <deque>

#include "qme/core/error.hpp"

namespace qme::models {

namespace {

constexpr std::array<double, 3> kImageNetMean{0.485, 0.456, 0.406};
constexpr std::array<double, 3> kImageNetStd{0.229, 0.224, 0.225};
constexpr std::array<double, 3> kHalf{0.5, 0.5, 0.5};

const Normalization kFaceNormalization{kHalf, kHalf, NormalizePrecision::kFloat32};
const Normalization kImageNet{kImageNetMean, kImageNetStd, NormalizePrecision::kFloat32};
// upstream biggait normalises in numpy float64 and casts back to float32.
const Normalization kImageNetFloat64{kImageNetMean, kImageNetStd, NormalizePrecision::kFloat64};

// Upstream's training transform lists, per kind of model.
const AugmentationRecipe kFaceAugment{0.0, 0.5, false, true, 0.0};
const AugmentationRecipe kGaitAugment{0.2, 0.0, false, false, 0.5};
// AUG.RE_PROB is 0 for the video sets: one flip per clip, no erasing.
const AugmentationRecipe kVideoAugment{0.0, 0.0, true, false, 0.0};
// build_img_transforms with AUG.RC_PROB = RF_PROB = RE_PROB = 0.5 (LTCC, image sets).
const AugmentationRecipe kImageSetAugment{0.5, 0.5, false, false, 0.5};
const AugmentationRecipe kFlipAugment{0.0, 0.5, false, false, 0.0};

ModelSpec face(const std::string& name, QeStatistics qe) {
  ModelSpec s;
  s.name = name;
  s.family = name;
  s.modality = Modality::kFace;
  s.height = s.width = 112;
  s.normalization = kFaceNormalization;  // upstream gives every face model adaface's transform
  s.augmentation = kFaceAugment;
  s.qe = qe;
  s.feeds_face_quality = qe == QeStatistics::kFace;
  return s;
}

ModelSpec body(const std::string& name, const std::string& family, InputLayout layout, int64_t height,
               int64_t width, ResizeFilter filter, const AugmentationRecipe& augmentation,
               ClipPooling pooling, QeStatistics qe) {
  ModelSpec s;
  s.name = name;
  s.family = family;
  s.layout = layout;
  s.height = height;
  s.width = width;
  s.filter = filter;
  s.normalization = kImageNet;
  s.augmentation = augmentation;
  s.pooling = pooling;
  s.qe = qe;
  return s;
}

ModelSpec biggait() {
  ModelSpec s = body("biggait", "biggait", InputLayout::kFrames, 256, 128, ResizeFilter::kBilinear,
                     kGaitAugment, ClipPooling::kMaxFcBin, QeStatistics::kNone);
  s.modality = Modality::kGait;
  s.similarity = Similarity::kBigGaitParts;
  s.normalization = kImageNetFloat64;
  s.config_key_suffix = "_cfg_path";
  return s;
}

/// The table. The video CAL models go through upstream's spatial_transforms.Scale (bicubic),
/// the image-set models (LTCC) through torchvision's Resize (bilinear).
std::deque<ModelSpec> upstream_models() {
  using L = InputLayout;
  using F = ResizeFilter;
  using P = ClipPooling;
  using Q = QeStatistics;
  std::deque<ModelSpec> rows;
  rows.push_back(face("adaface", Q::kFace));
  rows.push_back(face("arcface", Q::kNone));
  rows.push_back(face("kprpe", Q::kFace));
  rows.push_back(biggait());
  rows.push_back(
      body("cal-ccvid", "cal-image", L::kFrames, 384, 192, F::kBicubic, kVideoAugment, P::kMean, Q::kBody));
  rows.push_back(body("cal-ltcc", "cal-image", L::kFrames, 384, 192, F::kBilinear, kImageSetAugment, P::kMean,
                      Q::kBody));
  rows.push_back(body("cal-mevid", "cal-video", L::kClipCTHW, 256, 128, F::kBicubic, kVideoAugment,
                      P::kClipModel, Q::kBody));
  rows.push_back(
      body("aim", "aim", L::kFrames, 384, 192, F::kBilinear, kImageSetAugment, P::kMean, Q::kNone));
  rows.push_back(
      body("agrl", "agrl", L::kClipTCHW, 256, 128, F::kBilinear, kFlipAugment, P::kClipModel, Q::kNone));
  rows.back().frame_clip_length = 8;
  return rows;
}

// A deque, so that references handed out stay valid when register_model() appends.
struct Registry {
  std::deque<ModelSpec> rows = upstream_models();
  std::vector<std::string> names;
  Registry() {
    for (const auto& row : rows) names.push_back(row.name);
  }
};

Registry& registry() {
  static Registry instance;
  return instance;
}

}  // namespace

std::string ModelSpec::input_attribute() const {
  const std::string hw = std::to_string(height) + "," + std::to_string(width);
  switch (layout) {
    case InputLayout::kFrames:
      return "N,3," + hw;
    case InputLayout::kClipCTHW:
      return "B,3,T," + hw;
    case InputLayout::kClipTCHW:
      return "B,T,3," + hw;
  }
  return "";
}

int64_t ModelSpec::qe_width() const {
  switch (qe) {
    case QeStatistics::kFace:
      return 2 * 2 * 512;
    case QeStatistics::kBody:
      return 2 * (512 + 1024);
    case QeStatistics::kNone:
      break;
  }
  return 0;
}

const ModelSpec* find_model_spec(const std::string& name) {
  for (const auto& row : registry().rows) {
    if (row.name == name) return &row;
  }
  return nullptr;
}

const ModelSpec& model_spec(const std::string& name) {
  if (const ModelSpec* row = find_model_spec(name)) return *row;
  throw InputError("model '" + name + "' is not a known model (known models: " + model_names_text() + ")");
}

const std::vector<std::string>& model_names() {
  return registry().names;
}

std::string model_names_text() {
  std::string text;
  for (const auto& name : model_names()) text += (text.empty() ? "" : ", ") + name;
  return text;
}

void register_model(ModelSpec spec) {
  const std::string where = "model registry";
  if (spec.name.empty() || spec.family.empty())
    throw InputError(where, "name", "and family must not be empty");
  if (spec.height <= 0 || spec.width <= 0) throw InputError(where, spec.name, "needs a positive input size");
  if (spec.frame_clip_length < 1)
    throw InputError(where, spec.name, "needs a frame clip length of at least 1");
  if (find_model_spec(spec.name)) throw InputError(where, spec.name, "is registered already");
  registry().names.push_back(spec.name);
  registry().rows.push_back(std::move(spec));
}

std::string to_string(Modality modality) {
  switch (modality) {
    case Modality::kFace:
      return "face";
    case Modality::kGait:
      return "gait";
    case Modality::kBody:
      break;
  }
  return "body";
}

std::string to_string(Similarity similarity) {
  return similarity == Similarity::kCosine ? "cosine" : "biggait";
}

bool is_face_model(const std::string& name) {
  const ModelSpec* row = find_model_spec(name);
  return row && row->face_input();
}

Similarity similarity_for_name(const std::string& name) {
  if (const ModelSpec* row = find_model_spec(name)) return row->similarity;
  // upstream sim_fn tests substrings in this order: cosine families first.
  for (const char* family : {"adaface", "arcface", "kprpe", "cal", "agrl", "aim"}) {
    if (name.find(family) != std::string::npos) return Similarity::kCosine;
  }
  if (name.find("biggait") != std::string::npos) return Similarity::kBigGaitParts;
  throw InputError("model '" + name +
                   "' has no known similarity: cosine is used for adaface, arcface, kprpe, cal* "
                   "(cal-ccvid, cal-ltcc, cal-mevid), aim and agrl, BigGait's part distance for "
                   "biggait");
}

}  // namespace qme::models

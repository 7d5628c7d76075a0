#pragma once
/// The model registry: everything qme knows about each upstream recognition model, one row per
/// model in src/models/model_spec.cpp (docs/architecture.md, "How to add a backbone family").
/// Torch-free and at the bottom of the layers: config, data, scores, backbone, eval and the
/// synthetic generators all ask model_spec(name); nothing else matches model names.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace qme::models {

/// What a model recognises, and so which crops it reads.
enum class Modality {
  kFace,  ///< face crops (the dataset's face .h5)
  kBody,  ///< body frames, appearance (re-id)
  kGait,  ///< body frames, gait
};

/// How two features of a model are compared (upstream model.py, sim_fn).
enum class Similarity {
  /// cos(a, b), each norm clamped at 1e-8 (torch.nn.functional.cosine_similarity).
  kCosine,
  /// BigGait: a d-dimensional feature is (d/16 channels, 16 parts), index c*16 + p; the L2
  /// distance over the channels of each part, averaged over the 16 parts, gives 1 / (1 + mean).
  kBigGaitParts,
};

/// How the exported backbone's forward() takes its input.
enum class InputLayout {
  kFrames,    ///< (N, 3, H, W): every frame on its own, N = B*T
  kClipCTHW,  ///< (B, 3, T, H, W): whole clips (CAL's video ResNet)
  kClipTCHW,  ///< (B, T, 3, H, W): whole clips (AGRL)
};

/// How frame outputs become one feature per clip.
enum class ClipPooling {
  kMean,       ///< mean of the frame embeddings
  kMaxFcBin,   ///< biggait: max over frames of (C, P), then fc_bin per part, flattened c * P' + p
  kClipModel,  ///< the backbone already returns one feature per clip
};

/// Per-frame statistics the quality estimators read (docs/architecture.md §2.3).
enum class QeStatistics {
  kNone,
  kFace,  ///< per block, mean and unbiased std over tokens: [block][stat][channel] (2*2*512)
  kBody,  ///< per channel of layer2 and layer3, (mean, std) interleaved (2*(512+1024))
};

/// Pillow's resampling filter of the test transform.
enum class ResizeFilter {
  kBilinear,  ///< PIL.Image.BILINEAR (2)
  kBicubic,   ///< PIL.Image.BICUBIC (3)
};

/// How (x / 255 - mean) / std is evaluated after the float32 division by 255.
enum class NormalizePrecision {
  kFloat32,  ///< torchvision / spatial_transforms Normalize: float32 mean and std
  kFloat64,  ///< biggait's BasePILCuttingTransform: numpy float64, then cast to float32
};

/// Per-channel normalisation of the test transform.
struct Normalization {
  std::array<double, 3> mean{};
  std::array<double, 3> std_dev{};
  NormalizePrecision precision = NormalizePrecision::kFloat32;
};

/// What the training transform draws on top of the test transform (upstream's transform lists).
struct AugmentationRecipe {
  double crop_probability = 0.0;     ///< RandomCroping, per frame
  double flip_probability = 0.0;     ///< horizontal flip, per frame
  bool flip_per_clip = false;        ///< one flip (probability 0.5) per clip (CAL video models)
  bool blur = false;                 ///< BlurAugmenter, per frame (face models)
  double erasing_probability = 0.0;  ///< upstream's RandomErasing, per frame
};

/// One row of the registry.
struct ModelSpec {
  std::string name;    ///< upstream's spelling, e.g. "cal-ccvid"
  std::string family;  ///< the `qme_family` attribute its TorchScript export carries
  Modality modality = Modality::kBody;
  Similarity similarity = Similarity::kCosine;
  InputLayout layout = InputLayout::kFrames;
  int64_t height = 0;  ///< input size, what the test transform resizes to
  int64_t width = 0;
  ResizeFilter filter = ResizeFilter::kBilinear;
  Normalization normalization;
  AugmentationRecipe augmentation;
  ClipPooling pooling = ClipPooling::kMean;
  QeStatistics qe = QeStatistics::kNone;
  /// Clip models see a lone frame as a clip of this many copies of it: upstream's training
  /// loader (num_sample 1) crops AGRL's 8-frame clip from a 1-frame sample by drawing that frame
  /// 8 times; CAL-video's clip length follows num_sample (1).
  int64_t frame_clip_length = 1;
  /// Its intermediate features can feed QME's face quality estimator (adaface, kprpe).
  bool feeds_face_quality = false;
  /// Suffix of its config-path key in backbone configs: upstream spells BigGait's
  /// "biggait_cfg_path" and every other "{model}_config_path".
  std::string config_key_suffix = "_config_path";

  bool face_input() const { return modality == Modality::kFace; }
  bool clip_model() const { return pooling == ClipPooling::kClipModel; }
  /// The `qme_input` attribute value: "N,3,H,W", "B,3,T,H,W" or "B,T,3,H,W".
  std::string input_attribute() const;
  /// Width of a frame's QE statistics: 2048 (face), 3072 (body) or 0.
  int64_t qe_width() const;
};

/// The row of `name`; InputError naming the known models for any other name.
const ModelSpec& model_spec(const std::string& name);
/// The row of `name`, or nullptr.
const ModelSpec* find_model_spec(const std::string& name);
/// Every registered name, in registration order (upstream's models first). The reference stays
/// valid; register_model() appends to it.
const std::vector<std::string>& model_names();
/// "adaface, arcface, ...": the known names for error messages.
std::string model_names_text();

/// Adds a row at run time (a plug-in family, a test-only family). Call it before the name is
/// used, not concurrently with lookups. InputError if the name is taken or the row incomplete.
void register_model(ModelSpec spec);

/// "face", "body" or "gait".
std::string to_string(Modality modality);
/// "cosine" or "biggait" (the spelling qme.score_matrices takes).
std::string to_string(Similarity similarity);

/// True for a registered face model.
bool is_face_model(const std::string& name);

/// The similarity of score matrices named `name`: a registered model's own; for any other name
/// upstream's rule on substrings (sim_fn: a name containing adaface, arcface, kprpe, cal, agrl
/// or aim is compared by cosine, otherwise one containing biggait by BigGait's part distance).
/// InputError naming the model and the families otherwise.
Similarity similarity_for_name(const std::string& name);

}  // namespace qme::models

#pragma once
/// What each upstream model needs from its TorchScript backbone (DESIGN §8), torch-free so that
/// executables and tests can check names and files before LibTorch is involved.
///
/// The TorchScript contract (tools/export/ writes it; tests build tiny modules that obey it):
/// `forward(x) -> Dict[str, Tensor]` in eval mode, with
///   - "embedding": frame families (N, d); biggait (N, C, P) per frame; clip families (B, d);
///   - "intermediates" (face: (N, 2, P, C) LayerNorm'd ViT tokens; biggait: (N, 2, P, C)) or
///     "layer2" / "layer3" (CAL's ResNet maps: image (N, C, H, W), video (B, C, T, H, W));
/// and string attributes
///   - `qme_family`: the architecture family (table below), refused when it is not the
///     configured model's;
///   - `qme_input`: the input it was exported for, e.g. "N,3,384,192" (frames) or
///     "B,3,T,256,128" (clips), refused when it differs;
/// optionally `qme_source` (the upstream weights it came from, logged). BigGait carries its
/// part-wise projection as the tensor attribute `fc_bin` (P, C, C') (already normalised when
/// upstream normalises it), applied by qme after the max over time.
///
/// | model              | family    | input           | source | qme then                      |
/// |--------------------|-----------|-----------------|--------|-------------------------------|
/// | adaface, kprpe     | same name | N,3,112,112     | face   | mean over T; face QE stats    |
/// | arcface            | arcface   | N,3,112,112     | face   | mean over T                   |
/// | biggait            | biggait   | N,3,256,128     | body   | max over T, fc_bin per part   |
/// | cal-ccvid/cal-ltcc | cal-image | N,3,384,192     | body   | mean over T; body QE stats    |
/// | cal-mevid          | cal-video | B,3,T,256,128   | body   | (clip model); body QE stats   |
/// | aim                | aim       | N,3,384,192     | body   | mean over T                   |
/// | agrl               | agrl      | B,T,3,256,128   | body   | (clip model)                  |
#include <cstdint>
#include <string>

namespace qme::backbone {

/// How forward() takes its input.
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

/// Per-frame statistics the quality estimators read (DESIGN §2.3).
enum class QeStatistics {
  kNone,
  kFace,  ///< per block, mean and unbiased std over tokens: [block][stat][channel] (2*2*512)
  kBody,  ///< per channel of layer2 and layer3, (mean, std) interleaved (2*(512+1024))
};

struct BackboneSpec {
  std::string model;   ///< upstream name, e.g. "cal-ccvid"
  std::string family;  ///< the `qme_family` attribute it needs
  InputLayout layout = InputLayout::kFrames;
  int64_t height = 0;  ///< input size (the model's test transform)
  int64_t width = 0;
  bool face_input = false;  ///< face crops (face .h5) instead of body frames
  /// The model whose data::test_transform() applies (upstream gives every face model adaface's).
  std::string transform_model;
  ClipPooling pooling = ClipPooling::kMean;
  QeStatistics qe = QeStatistics::kNone;
  /// Clip models see a lone frame as a clip of this many copies of it: upstream's training
  /// loader (num_sample 1) crops AGRL's 8-frame clip from a 1-frame sample by drawing that frame
  /// 8 times; CAL-video's clip length follows num_sample (1).
  int64_t frame_clip_length = 1;

  bool clip_model() const { return pooling == ClipPooling::kClipModel; }
  /// The `qme_input` attribute value: "N,3,H,W", "B,3,T,H,W" or "B,T,3,H,W".
  std::string input_attribute() const;
  /// Width of a frame's QE statistics: 2048 (face), 3072 (body) or 0.
  int64_t qe_width() const;
};

/// The spec of a known model (config::known_models()); InputError naming the known ones otherwise.
const BackboneSpec& backbone_spec(const std::string& model);

/// Attribute names of the TorchScript contract.
inline constexpr const char* kFamilyAttribute = "qme_family";
inline constexpr const char* kInputAttribute = "qme_input";
inline constexpr const char* kSourceAttribute = "qme_source";
inline constexpr const char* kFcBinAttribute = "fc_bin";

}  // namespace qme::backbone

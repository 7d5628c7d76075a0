#pragma once
/// What each upstream model needs from its TorchScript backbone (docs/architecture.md §8): the registry's row
/// (models/model_spec.hpp), torch-free so that executables and tests can check names and files
/// before LibTorch is involved.
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
#include <string>

#include "qme/models/model_spec.hpp"

namespace qme::backbone {

using models::ClipPooling;
using models::InputLayout;
using models::QeStatistics;
/// A model's backbone needs are its registry row.
using BackboneSpec = models::ModelSpec;

/// The row of a known model (config::known_models()); InputError naming the known ones otherwise.
const BackboneSpec& backbone_spec(const std::string& model);

/// Attribute names of the TorchScript contract.
inline constexpr const char* kFamilyAttribute = "qme_family";
inline constexpr const char* kInputAttribute = "qme_input";
inline constexpr const char* kSourceAttribute = "qme_source";
inline constexpr const char* kFcBinAttribute = "fc_bin";

}  // namespace qme::backbone

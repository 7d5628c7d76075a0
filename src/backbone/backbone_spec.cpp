#include "qme/backbone/backbone_spec.hpp"

#include <map>

#include "qme/config/backbone_config.hpp"
#include "qme/core/error.hpp"

namespace qme::backbone {

namespace {

BackboneSpec make(const std::string& model, const std::string& family, InputLayout layout, int64_t height,
                  int64_t width, ClipPooling pooling, QeStatistics qe, bool face = false,
                  int64_t frame_clip_length = 1) {
  BackboneSpec spec;
  spec.model = model;
  spec.family = family;
  spec.layout = layout;
  spec.height = height;
  spec.width = width;
  spec.face_input = face;
  spec.transform_model = face ? "adaface" : model;
  spec.pooling = pooling;
  spec.qe = qe;
  spec.frame_clip_length = frame_clip_length;
  return spec;
}

std::map<std::string, BackboneSpec> build_specs() {
  using L = InputLayout;
  using P = ClipPooling;
  using Q = QeStatistics;
  std::map<std::string, BackboneSpec> specs;
  for (const char* face : {"adaface", "kprpe"}) {
    specs[face] = make(face, face, L::kFrames, 112, 112, P::kMean, Q::kFace, true);
  }
  specs["arcface"] = make("arcface", "arcface", L::kFrames, 112, 112, P::kMean, Q::kNone, true);
  specs["biggait"] = make("biggait", "biggait", L::kFrames, 256, 128, P::kMaxFcBin, Q::kNone);
  for (const char* cal : {"cal-ccvid", "cal-ltcc"}) {
    specs[cal] = make(cal, "cal-image", L::kFrames, 384, 192, P::kMean, Q::kBody);
  }
  specs["cal-mevid"] = make("cal-mevid", "cal-video", L::kClipCTHW, 256, 128, P::kClipModel, Q::kBody);
  specs["aim"] = make("aim", "aim", L::kFrames, 384, 192, P::kMean, Q::kNone);
  specs["agrl"] = make("agrl", "agrl", L::kClipTCHW, 256, 128, P::kClipModel, Q::kNone, false, 8);
  return specs;
}

}  // namespace

std::string BackboneSpec::input_attribute() const {
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

int64_t BackboneSpec::qe_width() const {
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

const BackboneSpec& backbone_spec(const std::string& model) {
  static const std::map<std::string, BackboneSpec> kSpecs = build_specs();
  const auto found = kSpecs.find(model);
  if (found == kSpecs.end()) config::check_model_name(model, "backbone", "model");  // throws
  if (found == kSpecs.end()) throw InputError("backbone: no spec for model '" + model + "'");
  return found->second;
}

}  // namespace qme::backbone

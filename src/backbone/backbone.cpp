#include "qme/backbone/backbone.hpp"

#include <caffe2/serialize/inline_container.h>
#include <torch/torch.h>

#include <filesystem>
#include <sstream>
#include <utility>

#include "qme/core/error.hpp"
#include "qme/fusion/quality_estimator.hpp"
#include "qme/io/tensor_shape.hpp"

namespace qme::backbone {

namespace {

std::string first_line(const std::string& text) {
  return text.substr(0, text.find('\n'));
}

/// The string attribute `name`, or "" when the module has none (a non-string is an error).
std::string string_attribute(const torch::jit::Module& module, const std::string& name,
                             const std::string& path) {
  if (!module.hasattr(name)) return "";
  const auto value = module.attr(name);
  if (!value.isString()) throw InputError(path, name, "must be a string attribute, got " + value.tagKind());
  return value.toStringRef();
}

torch::Device parse_device(const std::string& name) {
  if (name.rfind("cuda", 0) == 0 && !torch::cuda::is_available()) {
    throw UsageError("device '" + name + "' requested but this LibTorch has no CUDA device (use cpu)");
  }
  try {
    return torch::Device(name);
  } catch (const c10::Error&) {
    throw UsageError("unknown device '" + name + "' (use cpu, cuda or cuda:N)");
  }
}

void check_contract(const torch::jit::Module& module, const BackboneSpec& spec, const std::string& path) {
  const std::string family = string_attribute(module, kFamilyAttribute, path);
  const std::string input = string_attribute(module, kInputAttribute, path);
  const std::string wanted = "family '" + spec.family + "', input " + spec.input_attribute();
  if (family.empty() || input.empty()) {
    throw InputError(path + ": TorchScript module has no '" +
                     std::string(family.empty() ? kFamilyAttribute : kInputAttribute) +
                     "' attribute: it is not a qme backbone export (write one with tools/export/; model '" +
                     spec.name + "' needs " + wanted + ")");
  }
  if (family != spec.family || input != spec.input_attribute()) {
    throw InputError(path + ": TorchScript backbone is family '" + family + "', input " + input +
                     ", but model '" + spec.name + "' needs " + wanted + " (check the '" + spec.name +
                     "_torchscript_path' key of the backbone config)");
  }
}

torch::Tensor nan_rows(int64_t rows, int64_t cols) {
  return torch::full({rows, cols}, std::numeric_limits<float>::quiet_NaN(), torch::kFloat32);
}

int64_t total_length(const std::vector<int64_t>& lengths) {
  int64_t sum = 0;
  for (const int64_t n : lengths) {
    if (n < 0) throw UsageError("backbone: negative clip length " + std::to_string(n));
    sum += n;
  }
  return sum;
}

/// Why torch::jit::load refused `path`, in the user's terms: a torch.save checkpoint (weights
/// without code) is named as such.
std::string not_torchscript(const std::string& path, const c10::Error& error) {
  try {
    caffe2::serialize::PyTorchStreamReader reader(path);
    if (reader.hasRecord("data.pkl") && !reader.hasRecord("constants.pkl")) {
      return "it is a torch.save checkpoint, weights without the model's code; export the model to "
             "TorchScript with tools/export/";
    }
  } catch (const c10::Error&) {
    return "not a zip archive, or truncated or damaged";
  }
  return first_line(error.what_without_backtrace());
}

}  // namespace

Backbone Backbone::load(const std::string& path, const std::string& model, const BackboneOptions& options) {
  Backbone backbone;
  backbone.spec_ = &backbone_spec(model);
  backbone.path_ = path;
  backbone.device_ = parse_device(options.device);
  if (!std::filesystem::is_regular_file(path)) {
    throw InputError(path + " does not exist (the TorchScript backbone of '" + model +
                     "'; export it with tools/export/)");
  }
  try {
    backbone.module_ = torch::jit::load(path, backbone.device_);
  } catch (const c10::Error& e) {
    throw InputError(path + ": not a TorchScript file that torch::jit::load can read (" +
                     not_torchscript(path, e) + ")");
  }
  check_contract(backbone.module_, *backbone.spec_, path);
  backbone.source_ = string_attribute(backbone.module_, kSourceAttribute, path);
  if (backbone.spec_->pooling == ClipPooling::kMaxFcBin) {
    if (!backbone.module_.hasattr(kFcBinAttribute) || !backbone.module_.attr(kFcBinAttribute).isTensor()) {
      throw InputError(path, kFcBinAttribute,
                       "is missing: biggait's export must carry its fc_bin (P, C, C') tensor");
    }
    backbone.fc_bin_ =
        backbone.module_.attr(kFcBinAttribute).toTensor().detach().to(backbone.device_, torch::kFloat32);
    if (backbone.fc_bin_.dim() != 3) {
      throw InputError(path, kFcBinAttribute, "must be (P, C, C'), got " + io::shape_text(backbone.fc_bin_));
    }
  }
  backbone.module_.eval();
  if (options.optimize) backbone.module_ = torch::jit::optimize_for_inference(backbone.module_);
  return backbone;
}

std::map<std::string, torch::Tensor> Backbone::forward(const torch::Tensor& input) {
  c10::InferenceMode guard;
  const auto output = module_.forward({input.to(device_, torch::kFloat32)});
  if (!output.isGenericDict()) {
    throw InputError(path_ + ": forward must return Dict[str, Tensor], got " + output.tagKind());
  }
  std::map<std::string, torch::Tensor> tensors;
  for (const auto& entry : output.toGenericDict()) {
    if (!entry.key().isString() || !entry.value().isTensor()) {
      throw InputError(path_ + ": forward must return Dict[str, Tensor]");
    }
    tensors[entry.key().toStringRef()] = entry.value().toTensor();
  }
  if (!tensors.count("embedding")) throw InputError(path_ + ": forward returns no 'embedding'");
  return tensors;
}

void Backbone::check_frames(const torch::Tensor& frames) const {
  const auto& s = *spec_;
  if (frames.dim() != 4 || frames.size(1) != 3 || frames.size(2) != s.height || frames.size(3) != s.width) {
    throw UsageError("backbone '" + s.name + "' takes frames (N, 3, " + std::to_string(s.height) + ", " +
                     std::to_string(s.width) + "), got " + io::shape_text(frames));
  }
}

torch::Tensor Backbone::qe_statistics(const std::map<std::string, torch::Tensor>& outputs) {
  const auto need = [&](const char* key, const char* why) -> const torch::Tensor& {
    const auto found = outputs.find(key);
    if (found == outputs.end()) {
      throw InputError(path_ + ": forward returns no '" + key + "' (" + why + ")");
    }
    return found->second;
  };
  torch::Tensor stats;
  if (spec_->qe == QeStatistics::kFace) {
    stats = face_qe_statistics(need("intermediates", "the face quality estimator reads ViT blocks 8 and 16"));
  } else {
    stats = body_qe_statistics(need("layer2", "the body quality estimator reads ResNet layer2"),
                               need("layer3", "the body quality estimator reads ResNet layer3"));
  }
  if (stats.size(1) != spec_->qe_width()) {
    throw InputError(path_ + ": intermediates give " + std::to_string(stats.size(1)) +
                     " quality statistics per frame, the quality estimator reads " +
                     std::to_string(spec_->qe_width()));
  }
  return stats.to(torch::kCPU, torch::kFloat32).contiguous();
}

BatchFeatures Backbone::frame_family(const torch::Tensor& frames, const std::vector<int64_t>& lengths,
                                     bool with_qe) {
  const auto outputs = forward(frames);
  const auto& embedding = outputs.at("embedding");
  const bool parts = spec_->pooling == ClipPooling::kMaxFcBin;
  if (embedding.size(0) != frames.size(0) || embedding.dim() != (parts ? 3 : 2)) {
    throw InputError(path_ + ": 'embedding' of " + std::to_string(frames.size(0)) + " frames is " +
                     io::shape_text(embedding) + ", expected (N, " + (parts ? "C, P)" : "d)"));
  }
  BatchFeatures out;
  if (parts) {
    if (embedding.size(1) != fc_bin_.size(1) || embedding.size(2) != fc_bin_.size(0)) {
      throw InputError(path_ + ": 'embedding' " + io::shape_text(embedding) + " does not fit fc_bin " +
                       io::shape_text(fc_bin_));
    }
    out.features = apply_fc_bin(segment_max(embedding, lengths), fc_bin_);
  } else {
    out.features = segment_mean(embedding, lengths);
  }
  out.features = out.features.to(torch::kCPU, torch::kFloat32).contiguous();
  width_ = out.features.size(1);
  if (with_qe && spec_->qe != QeStatistics::kNone) out.qe_stats = qe_statistics(outputs);
  return out;
}

BatchFeatures Backbone::clip_family(const torch::Tensor& clips, bool with_qe) {
  const auto input = spec_->layout == InputLayout::kClipCTHW ? clips.permute({0, 2, 1, 3, 4}) : clips;
  const auto outputs = forward(input.contiguous());
  const auto& embedding = outputs.at("embedding");
  if (embedding.dim() != 2 || embedding.size(0) != clips.size(0)) {
    throw InputError(path_ + ": 'embedding' of " + std::to_string(clips.size(0)) + " clips is " +
                     io::shape_text(embedding) + ", expected (B, d)");
  }
  BatchFeatures out;
  out.features = embedding.to(torch::kCPU, torch::kFloat32).contiguous();
  width_ = out.features.size(1);
  if (with_qe && spec_->qe != QeStatistics::kNone) out.qe_stats = qe_statistics(outputs);
  return out;
}

BatchFeatures Backbone::clips(const torch::Tensor& frames, const std::vector<int64_t>& clip_lengths,
                              bool with_qe) {
  check_frames(frames);
  if (total_length(clip_lengths) != frames.size(0)) {
    throw UsageError("backbone: clip lengths add up to " + std::to_string(total_length(clip_lengths)) +
                     ", not " + std::to_string(frames.size(0)) + " frames");
  }
  if (frames.size(0) == 0) {
    // Only faceless clips: NaN rows of the model's width.
    return BatchFeatures{nan_rows(static_cast<int64_t>(clip_lengths.size()), feature_width()), {}};
  }
  if (!spec_->clip_model()) return frame_family(frames, clip_lengths, with_qe);
  // Clip models: each run of consecutive clips of one length goes through the module at once.
  std::vector<torch::Tensor> features, stats;
  int64_t start = 0;
  for (size_t i = 0; i < clip_lengths.size();) {
    size_t j = i;
    while (j < clip_lengths.size() && clip_lengths[j] == clip_lengths[i]) ++j;
    const int64_t length = clip_lengths[i];
    const auto count = static_cast<int64_t>(j - i);
    if (length == 0) {
      features.push_back(nan_rows(count, feature_width()));
    } else {
      const auto run =
          frames.narrow(0, start, count * length).reshape({count, length, 3, spec_->height, spec_->width});
      auto part = clip_family(run, with_qe);
      features.push_back(part.features);
      if (part.qe_stats.defined()) stats.push_back(part.qe_stats);
    }
    start += count * length;
    i = j;
  }
  BatchFeatures out;
  out.features = torch::cat(features, 0);
  if (!stats.empty()) out.qe_stats = torch::cat(stats, 0);
  return out;
}

int64_t Backbone::feature_width() {
  if (width_ == 0) width_ = frames(torch::zeros({1, 3, spec_->height, spec_->width}), false).features.size(1);
  return width_;
}

BatchFeatures Backbone::frames(const torch::Tensor& frames, bool with_qe) {
  check_frames(frames);
  const int64_t n = frames.size(0);
  if (!spec_->clip_model())
    return frame_family(frames, std::vector<int64_t>(static_cast<size_t>(n), 1), with_qe);
  const int64_t copies = spec_->frame_clip_length;
  const auto clips = frames.unsqueeze(1).expand({n, copies, 3, spec_->height, spec_->width}).contiguous();
  auto out = clip_family(clips, with_qe);
  if (out.qe_stats.defined() && copies > 1) {
    out.qe_stats = out.qe_stats.reshape({n, copies, -1}).select(1, 0).contiguous();
  }
  return out;
}

torch::Tensor segment_mean(const torch::Tensor& rows, const std::vector<int64_t>& lengths) {
  std::vector<torch::Tensor> out;
  int64_t start = 0;
  for (const int64_t n : lengths) {
    out.push_back(
        n > 0 ? rows.narrow(0, start, n).mean(0)
              : torch::full(rows.sizes().slice(1), std::numeric_limits<float>::quiet_NaN(), rows.options()));
    start += n;
  }
  if (out.empty()) return torch::empty({0, rows.size(1)}, rows.options());
  return torch::stack(out, 0);
}

torch::Tensor segment_max(const torch::Tensor& rows, const std::vector<int64_t>& lengths) {
  std::vector<torch::Tensor> out;
  int64_t start = 0;
  for (const int64_t n : lengths) {
    out.push_back(
        n > 0 ? std::get<0>(rows.narrow(0, start, n).max(0))
              : torch::full(rows.sizes().slice(1), std::numeric_limits<float>::quiet_NaN(), rows.options()));
    start += n;
  }
  if (out.empty()) {
    auto sizes = rows.sizes().vec();
    sizes[0] = 0;
    return torch::empty(sizes, rows.options());
  }
  return torch::stack(out, 0);
}

torch::Tensor apply_fc_bin(const torch::Tensor& pooled, const torch::Tensor& fc_bin) {
  // Upstream's SeparateFCs: (B, C, P) -> (P, B, C) @ (P, C, C') -> (P, B, C') -> (B, C', P).
  const auto projected = pooled.permute({2, 0, 1}).contiguous().matmul(fc_bin.to(pooled.device()));
  return projected.permute({1, 2, 0}).contiguous().reshape({pooled.size(0), -1});
}

torch::Tensor face_qe_statistics(const torch::Tensor& intermediates) {
  return fusion::FaceQualityEstimatorImpl::style_statistics(intermediates);
}

torch::Tensor body_qe_statistics(const torch::Tensor& layer2, const torch::Tensor& layer3) {
  if (layer2.dim() == 4 && layer3.dim() == 4) {
    // Image maps (N, C, H, W): the N frames are one batch entry's T frames.
    return fusion::BodyQualityEstimatorImpl::style_statistics({layer2.unsqueeze(0), layer3.unsqueeze(0)})
        .squeeze(0);
  }
  if (layer2.dim() == 5 && layer3.dim() == 5) {
    // Video maps (B, C, T, H, W) -> (B, T, C, H, W), as upstream rearranges them.
    const auto stats = fusion::BodyQualityEstimatorImpl::style_statistics(
        {layer2.permute({0, 2, 1, 3, 4}), layer3.permute({0, 2, 1, 3, 4})});
    return stats.reshape({-1, stats.size(2)});
  }
  throw InputError("backbone: layer2 " + io::shape_text(layer2) + " and layer3 " + io::shape_text(layer3) +
                   " must both be (N, C, H, W) or (B, C, T, H, W)");
}

torch::Tensor video_means(const torch::Tensor& clip_features,
                          const std::vector<std::array<int64_t, 2>>& ranges) {
  const int64_t width = clip_features.size(1);
  auto out = torch::empty({static_cast<int64_t>(ranges.size()), width}, clip_features.options());
  for (size_t i = 0; i < ranges.size(); ++i) {
    const auto clips = clip_features.narrow(0, ranges[i][0], ranges[i][1] - ranges[i][0]);
    const auto valid = torch::logical_not(torch::isnan(clips).any(1)).nonzero().squeeze(1);
    if (valid.numel() > 0) {
      out[static_cast<int64_t>(i)] = clips.index_select(0, valid).mean(0);
    } else {
      out[static_cast<int64_t>(i)].fill_(std::numeric_limits<float>::quiet_NaN());
    }
  }
  return out;
}

}  // namespace qme::backbone

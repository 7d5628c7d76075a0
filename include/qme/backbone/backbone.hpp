#pragma once
/// A TorchScript backbone (docs/architecture.md §8) and its per-family post-processing: clip pooling (mean,
/// biggait's max + fc_bin, clip models) and the per-frame statistics the quality estimators read.
/// The module runs in eval mode without autograd, on the CPU or a CUDA device.
#include <torch/script.h>

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "qme/backbone/backbone_spec.hpp"

namespace qme::backbone {

struct BackboneOptions {
  /// "cpu", "cuda" or "cuda:N" (train::resolve_device's spelling). CUDA is refused with a
  /// UsageError when this LibTorch has no CUDA device.
  std::string device = "cpu";
  /// Freeze the module and apply torch.jit.optimize_for_inference's passes (conv-bn folding,
  /// oneDNN layouts on the CPU). Faster; outputs differ from the unfrozen module by float
  /// round-off only.
  bool optimize = false;
};

/// One batch's results, float32 on the CPU.
struct BatchFeatures {
  torch::Tensor features;  ///< (B, d): one row per clip; a clip without frames is a NaN row
  torch::Tensor qe_stats;  ///< (N, S): one row per input frame, or undefined (no QE, or not asked)
};

class Backbone {
 public:
  /// Loads a TorchScript file for `model` (a config::known_models() name). Throws InputError
  /// naming the file when it is missing, not TorchScript, lacks the contract's attributes, or
  /// was exported for another family or input than `model` needs.
  static Backbone load(const std::string& path, const std::string& model,
                       const BackboneOptions& options = {});

  const BackboneSpec& spec() const { return *spec_; }
  const std::string& path() const { return path_; }
  const torch::Device& device() const { return device_; }
  /// The `qme_source` attribute (where the weights came from), or "".
  const std::string& source() const { return source_; }

  /// Clips laid end to end: `frames` (N, 3, H, W) float32, clip i has clip_lengths[i] frames
  /// (sum = N; 0 allowed for a faceless clip, giving a NaN row). Clip models need equal
  /// lengths within each run of consecutive clips (any lengths work; runs are batched).
  BatchFeatures clips(const torch::Tensor& frames, const std::vector<int64_t>& clip_lengths, bool with_qe);

  /// Every frame as its own clip: (N, d) features, (N, S) statistics. Clip models see each
  /// frame as a clip of spec().frame_clip_length copies of it.
  BatchFeatures frames(const torch::Tensor& frames, bool with_qe);

  /// d, the width of a clip feature (known after the first batch; else one zero frame is run).
  int64_t feature_width();

  /// The module's outputs for `input`, in its own layout (on the module's device).
  std::map<std::string, torch::Tensor> forward(const torch::Tensor& input);

 private:
  Backbone() = default;
  BatchFeatures frame_family(const torch::Tensor& frames, const std::vector<int64_t>& clip_lengths,
                             bool with_qe);
  BatchFeatures clip_family(const torch::Tensor& clips, bool with_qe);  // (B, T, 3, H, W)
  torch::Tensor qe_statistics(const std::map<std::string, torch::Tensor>& outputs);
  void check_frames(const torch::Tensor& frames) const;

  const BackboneSpec* spec_ = nullptr;
  std::string path_;
  std::string source_;
  torch::Device device_{torch::kCPU};
  torch::jit::Module module_;
  torch::Tensor fc_bin_;  // biggait: (P, C, C')
  int64_t width_ = 0;
};

/// Mean of each segment of rows: `rows` (N, d), segments of `lengths` (sum = N) -> (B, d);
/// an empty segment is a NaN row.
torch::Tensor segment_mean(const torch::Tensor& rows, const std::vector<int64_t>& lengths);
/// The same with the maximum, over dimension 0 of `rows` (N, ...) -> (B, ...).
torch::Tensor segment_max(const torch::Tensor& rows, const std::vector<int64_t>& lengths);
/// biggait's part-wise projection: pooled (B, C, P), fc_bin (P, C, C') -> (B, C' * P), value
/// [b, c' * P + p] = sum_c pooled[b, c, p] * fc_bin[p, c, c'] (upstream's SeparateFCs, flatten(1)).
torch::Tensor apply_fc_bin(const torch::Tensor& pooled, const torch::Tensor& fc_bin);
/// Face QE statistics of intermediates (N, K, P, C) -> (N, K*2*C), [block][stat][channel].
torch::Tensor face_qe_statistics(const torch::Tensor& intermediates);
/// Body QE statistics of CAL maps: image (N, C, H, W) or video (B, C, T, H, W) maps -> one row
/// per frame (N or B*T, 2*(C2+C3)), per channel (mean, unbiased std) over H*W, interleaved.
torch::Tensor body_qe_statistics(const torch::Tensor& layer2, const torch::Tensor& layer3);

/// Mean of the rows of `clip_features` (C, d) that are not NaN, for each video's clip range
/// [first, end): upstream's extract_vid_feature. A video whose clips are all NaN is a NaN row.
torch::Tensor video_means(const torch::Tensor& clip_features,
                          const std::vector<std::array<int64_t, 2>>& ranges);

}  // namespace qme::backbone

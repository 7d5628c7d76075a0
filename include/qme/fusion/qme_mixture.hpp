#pragma once
/// The QME fusion head, upstream's `MoNormQE_dev`: two LSN experts mixed by a quality weight q,
///   fused = q * expert0(scores) + (1 - q) * expert1(scores),
/// with q from a quality estimator (or a file of precomputed weights), or fixed at
/// 1/num_experts = 0.5 when the QE is off. State-dict keys are upstream's:
/// "experts.{0,1}.bn.*", "experts.{0,1}.score_mlp.fc{1,2}.*", "qe.*".
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <vector>

#include "qme/config/backbone_config.hpp"
#include "qme/config/train_config.hpp"
#include "qme/core/score_matrix.hpp"
#include "qme/fusion/lsn_expert.hpp"
#include "qme/fusion/quality_estimator.hpp"
#include "qme/io/checkpoint.hpp"

namespace qme::fusion {

/// Which QE the head carries as "qe" (upstream: face for adaface/kprpe, body for cal-*).
/// kNone: no "qe" submodule, for inference from a file of quality weights.
enum class QualityEstimatorKind { kNone, kFace, kBody };

struct QmeMixtureOptions {
  /// num_models: the length of the backbone config's model_list.
  explicit QmeMixtureOptions(int64_t num_models) : num_models_(num_models) {}
  TORCH_ARG(int64_t, num_models);
  TORCH_ARG(int64_t, num_experts) = 2;  ///< the quality-guided mixture needs exactly 2
  TORCH_ARG(int64_t, mlp_ratio) = 3;
  TORCH_ARG(int64_t, out_dim) = 1;
  TORCH_ARG(double, dropout) = 0.0;
  TORCH_ARG(bool, use_qe) = true;  ///< false: q = 1 / num_experts
  TORCH_ARG(QualityEstimatorKind, quality_estimator) = QualityEstimatorKind::kFace;
};

class QmeMixtureImpl : public torch::nn::Module {
 public:
  /// Throws UsageError unless num_models >= 1 and num_experts == 2. Weights start as upstream's
  /// training init (truncated normal 0.02, zero biases).
  explicit QmeMixtureImpl(const QmeMixtureOptions& options);
  /// scores (B, M, G), quality (B, 1) -> fused (B, G). `quality` is ignored (and may be
  /// undefined) when use_qe is false.
  torch::Tensor forward(const torch::Tensor& scores, const torch::Tensor& quality = {});
  /// One expert's output (B, G).
  torch::Tensor expert(int64_t index, const torch::Tensor& scores);
  /// The "qe" submodule; null when the head carries the other kind or none.
  FaceQualityEstimator face_quality_estimator() const { return face_qe_; }
  BodyQualityEstimator body_quality_estimator() const { return body_qe_; }
  const QmeMixtureOptions& options() const { return options_; }

 private:
  QmeMixtureOptions options_;
  torch::nn::ModuleList experts_{nullptr};
  FaceQualityEstimator face_qe_{nullptr};
  BodyQualityEstimator body_qe_{nullptr};
};
TORCH_MODULE(QmeMixture);

/// Fuses the models' (Q, N) score matrices (training order) with `model` in eval mode without
/// gradients, as upstream's inference: q = `quality[probe]` (one weight per probe; unused when
/// the head has use_qe false). Rows go through in one pass when the activations fit in 1 GiB
/// (upstream's single pass, bit for bit), else in blocks of `block_rows` (0: as many as fit).
/// Throws Error on mismatched shapes or weight counts. Inputs and the result stay on the CPU;
/// the forward passes run on `device`. On the CPU, an eval-mode head with one output per expert
/// goes through qme's pair-by-pair kernel instead (src/fusion/mixture_kernel.hpp: the same
/// float32 operations as LibTorch's, threaded, no large intermediates; block_rows is then
/// unused); `cpu_kernel` false keeps LibTorch's ops, the reference the kernel is tested against.
ScoreMatrix fuse_score_matrices(QmeMixture& model, const std::vector<const ScoreMatrix*>& matrices,
                                const std::vector<float>& quality, int64_t block_rows = 0,
                                const torch::Device& device = torch::kCPU, bool cpu_kernel = true);

/// The head a training run builds: num_models = the backbone config's model_list length,
/// num_experts / mlp_ratio / out_dim / dropout_rate from the training config, and the face QE
/// (upstream's default qe_mode 'adaface').
QmeMixtureOptions qme_options_from_config(const config::BackboneConfig& backbone,
                                          const config::TrainConfig& train, bool use_qe);

/// The options of the head a QME state dict was saved from, read off its shapes: num_models
/// (experts.0.bn.weight), mlp_ratio, out_dim, num_experts, and the QE kind its "qe.*" keys
/// belong to (kNone without them). Throws InputError naming `source` when the state dict is
/// not a QME head (e.g. a quality-estimator checkpoint given by mistake).
QmeMixtureOptions qme_options_from_state(const io::StateDict& state, const std::string& source);

}  // namespace qme::fusion

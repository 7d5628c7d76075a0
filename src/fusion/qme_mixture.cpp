#include "qme/fusion/qme_mixture.hpp"

#include <torch/torch.h>

#include "qme/core/error.hpp"
#include "qme/fusion/init.hpp"

namespace qme::fusion {

QmeMixtureImpl::QmeMixtureImpl(const QmeMixtureOptions& options) : options_(options) {
  if (options_.num_models() < 1)
    throw UsageError("QmeMixture: num_models (the model_list length) must be >= 1");
  if (options_.num_experts() != 2) {
    throw UsageError("QmeMixture: num_experts is " + std::to_string(options_.num_experts()) +
                     "; the quality-guided mixture weighs exactly 2 experts by q and 1 - q");
  }
  experts_ = register_module("experts", torch::nn::ModuleList());
  for (int64_t i = 0; i < options_.num_experts(); ++i) {
    experts_->push_back(LsnExpert(LsnExpertOptions(options_.num_models())
                                      .mlp_ratio(options_.mlp_ratio())
                                      .out_dim(options_.out_dim())
                                      .dropout(options_.dropout())));
  }
  switch (options_.quality_estimator()) {
    case QualityEstimatorKind::kFace:
      face_qe_ = register_module(
          "qe", FaceQualityEstimator(FaceQualityEstimatorOptions().dropout(options_.dropout())));
      break;
    case QualityEstimatorKind::kBody:
      body_qe_ = register_module(
          "qe", BodyQualityEstimator(BodyQualityEstimatorOptions().dropout(options_.dropout())));
      break;
    case QualityEstimatorKind::kNone:
      break;
  }
  init_linear_weights(*this);
}

torch::Tensor QmeMixtureImpl::expert(int64_t index, const torch::Tensor& scores) {
  return experts_->at<LsnExpertImpl>(static_cast<size_t>(index)).forward(scores);
}

torch::Tensor QmeMixtureImpl::forward(const torch::Tensor& scores, const torch::Tensor& quality) {
  if (scores.dim() != 3 || scores.size(1) != options_.num_models()) {
    throw UsageError("QmeMixture: scores must be (B, " + std::to_string(options_.num_models()) + ", G)");
  }
  torch::Tensor q;
  if (options_.use_qe()) {
    if (!quality.defined() || quality.dim() != 2 || quality.size(0) != scores.size(0) ||
        quality.size(1) != 1) {
      throw UsageError("QmeMixture: the quality weights must be (B, 1) with B = " +
                       std::to_string(scores.size(0)));
    }
    q = quality.to(scores.dtype());
  } else {
    q = torch::full({scores.size(0), 1}, 1.0 / static_cast<double>(options_.num_experts()), scores.options());
  }
  return q * expert(0, scores) + (1 - q) * expert(1, scores);
}

}  // namespace qme::fusion

namespace qme::fusion {

namespace {

const torch::Tensor& entry(const io::StateDict& state, const std::string& key, int64_t dims,
                           const std::string& source) {
  const auto* t = state.find(key);
  if (t == nullptr) throw InputError(source, "model_state_dict", "has no '" + key + "'");
  if (t->dim() != dims) {
    throw InputError(source, "model_state_dict/" + key,
                     "has " + std::to_string(t->dim()) + " dimensions, expected " + std::to_string(dims));
  }
  return *t;
}

std::string not_a_head_hint(const io::StateDict& state) {
  if (state.contains("f_style_mlp.fc1.weight") || state.contains("style_mlp.fc1.weight")) {
    return " (it is a quality-estimator checkpoint, not a QME fusion head)";
  }
  return "";
}

}  // namespace

QmeMixtureOptions qme_options_from_config(const config::BackboneConfig& backbone,
                                          const config::TrainConfig& train, bool use_qe) {
  return QmeMixtureOptions(static_cast<int64_t>(backbone.model_list.size()))
      .num_experts(train.num_experts)
      .mlp_ratio(train.mlp_ratio)
      .out_dim(train.out_dim)
      .dropout(train.dropout_rate)
      .use_qe(use_qe)
      .quality_estimator(QualityEstimatorKind::kFace);
}

QmeMixtureOptions qme_options_from_state(const io::StateDict& state, const std::string& source) {
  if (!state.contains("experts.0.bn.weight")) {
    throw InputError(source, "model_state_dict",
                     "is not a QME fusion head: it has no 'experts.0.bn.weight'" + not_a_head_hint(state));
  }
  const int64_t models = entry(state, "experts.0.bn.weight", 1, source).size(0);
  const auto& fc1 = entry(state, "experts.0.score_mlp.fc1.weight", 2, source);
  const auto& fc2 = entry(state, "experts.0.score_mlp.fc2.weight", 2, source);
  if (models < 1 || fc1.size(1) != models || fc1.size(0) % models != 0) {
    throw InputError(source, "model_state_dict/experts.0.score_mlp.fc1.weight",
                     "does not fit " + std::to_string(models) + " models (hidden width must be a multiple)");
  }
  int64_t experts = 0;
  while (state.contains("experts." + std::to_string(experts) + ".bn.weight")) ++experts;
  QmeMixtureOptions options(models);
  options.mlp_ratio(fc1.size(0) / models).out_dim(fc2.size(0)).num_experts(experts);
  if (state.contains("qe.f_style_mlp.fc1.weight")) {
    options.quality_estimator(QualityEstimatorKind::kFace);
  } else if (state.contains("qe.style_mlp.fc1.weight")) {
    options.quality_estimator(QualityEstimatorKind::kBody);
  } else {
    options.quality_estimator(QualityEstimatorKind::kNone);
  }
  if (experts != 2) {
    throw InputError(source, "model_state_dict",
                     "holds " + std::to_string(experts) + " experts; the quality-guided mixture needs 2");
  }
  return options;
}

}  // namespace qme::fusion

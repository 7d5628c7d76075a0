#include "qme/fusion/lsn_expert.hpp"

#include <torch/torch.h>

#include "qme/core/error.hpp"

namespace qme::fusion {

LsnExpertImpl::LsnExpertImpl(const LsnExpertOptions& options) : options_(options) {
  if (options_.num_models() < 1 || options_.mlp_ratio() < 1 || options_.out_dim() < 1) {
    throw UsageError("LsnExpert: num_models, mlp_ratio and out_dim must be >= 1");
  }
  const int64_t m = options_.num_models();
  bn_ = register_module("bn", torch::nn::BatchNorm1d(m));
  score_mlp_ = register_module("score_mlp", Mlp(MlpOptions(m, m * options_.mlp_ratio(), options_.out_dim())
                                                    .activation(Activation::kSelu)
                                                    .dropout(options_.dropout())));
}

torch::Tensor LsnExpertImpl::forward(const torch::Tensor& scores) {
  // Normalise each model's scores, then fuse the M scores of every (probe, gallery) pair; the
  // transposed view goes into the Mlp as upstream's einops rearrange does.
  auto normalised = bn_(scores).transpose(1, 2);  // (B, G, M)
  return score_mlp_(normalised).mean(-1);
}

}  // namespace qme::fusion

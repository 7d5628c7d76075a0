#pragma once
/// The training config (configs/train_cfg-{dataset}.yaml): hyperparameters of the quality
/// estimator and QME fusion-head training. Same keys as upstream's train_cfg-mevid.yaml, plus
/// modality_dropout.
#include <cstdint>
#include <string>

namespace qme::config {

struct TrainConfig {
  std::string source;            ///< the file it was loaded from
  std::int64_t seed = 42;        ///< seeds every random stream of a run; 0 .. 2^32-1
  double lr_rate = 1e-4;         ///< Adam learning rate (> 0)
  double weight_decay = 0.01;    ///< Adam L2 penalty added to the gradient (>= 0)
  std::int64_t train_batch = 8;  ///< samples per training step (>= 1)
  std::int64_t num_sample = 1;   ///< frames per training sample = dense sampling step (>= 1)
  double triplet_margin = 1.0;   ///< margin of the score triplet loss (>= 0)
  std::int64_t num_experts = 2;  ///< fusion experts; the quality-guided mixture needs exactly 2
  std::int64_t mlp_ratio = 3;    ///< expert MLP hidden width = mlp_ratio x number of models
  std::int64_t out_dim = 1;      ///< expert MLP outputs, averaged into one score (>= 1)
  double dropout_rate = 0.1;     ///< nn.Dropout probability in the experts and the QE, [0, 1)
  /// Probability, per model and training step, that the model's score matrix is zeroed (QME
  /// training only). Upstream draws randn() < dropout_rate; when the key is absent qme uses
  /// Phi(dropout_rate), the same probability (0.5398 for 0.1). In [0, 1].
  double modality_dropout = 0.5398;
  /// Score normalisation before fusion; upstream implements only "none".
  std::string norm_method = "none";
  // Read by neither upstream nor qme; kept so upstream's files load without warnings and so a
  // resolved config still carries them.
  std::int64_t proj_dim = 512;
  std::int64_t head_dim = 1536;
  double drop_path = 0.0;
  std::int64_t tmax = 10;
};

/// "configs/train_cfg-{dataset}.yaml", relative to the working directory.
std::string default_train_config_path(const std::string& dataset);

/// Phi(x), the standard normal CDF: the chance that upstream's randn() < x.
double standard_normal_cdf(double x);

/// Loads and validates a training config. Required: seed, lr_rate, weight_decay, train_batch,
/// num_sample, triplet_margin, num_experts, mlp_ratio, out_dim, dropout_rate; optional (with
/// the defaults above): modality_dropout, norm_method, proj_dim, head_dim, drop_path, tmax.
/// Unknown keys are logged as warnings. Throws InputError naming the file and the key.
TrainConfig load_train_config(const std::string& path);

/// The same from YAML text; `source` names it in messages.
TrainConfig parse_train_config(const std::string& text, const std::string& source);

/// The config as YAML that load_train_config reads back to the same values (and PyYAML reads
/// as the same types), for writing the resolved config next to a run's outputs.
std::string to_yaml(const TrainConfig& config);

}  // namespace qme::config

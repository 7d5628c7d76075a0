#include "qme/config/train_config.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "qme/config/yaml_node.hpp"
#include "qme/core/error.hpp"

namespace qme::config {

namespace {

// Shortest text that reads back as the same double, e.g. 0.0001 rather than
// 0.00010000000000000000479.
std::string shortest(double value) {
  char buffer[32];
  for (int precision = 15; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof buffer, "%.*g", precision, value);
    if (std::strtod(buffer, nullptr) == value) break;
  }
  return buffer;
}

// A double as a YAML float that PyYAML also reads as a float: YAML 1.1 wants a '.' in the
// mantissa ("1e-05" would be a string, "1.0e-05" is a float).
std::string yaml_float(double value) {
  if (std::isnan(value)) return ".nan";
  if (std::isinf(value)) return value > 0 ? ".inf" : "-.inf";
  std::string text = shortest(value);
  if (text.find('.') == std::string::npos) {
    const auto exponent = text.find('e');
    text.insert(exponent == std::string::npos ? text.size() : exponent, ".0");
  }
  return text;
}

// Range checks read "file:line: 'key' must be ..., got <value>".
void check(bool ok, const YamlMap& yaml, const std::string& key, const std::string& expected,
           const std::string& got) {
  if (!ok) throw InputError(yaml.location(key), key, "must be " + expected + ", got " + got);
}

void check_at_least_one(const YamlMap& yaml, const std::string& key, std::int64_t value) {
  check(value >= 1, yaml, key, ">= 1", std::to_string(value));
}

void check_probability(const YamlMap& yaml, const std::string& key, double value) {
  check(value >= 0.0 && value <= 1.0, yaml, key, "a probability in [0, 1]", shortest(value));
}

void read_optimisation(const YamlMap& yaml, TrainConfig& config) {
  config.seed = yaml.required<std::int64_t>("seed");
  // numpy and PyTorch seeding take a 32-bit unsigned seed.
  check(config.seed >= 0 && config.seed <= 4294967295LL, yaml, "seed", "between 0 and 4294967295",
        std::to_string(config.seed));
  config.lr_rate = yaml.required<double>("lr_rate");
  check(std::isfinite(config.lr_rate) && config.lr_rate > 0.0, yaml, "lr_rate", "> 0",
        shortest(config.lr_rate));
  config.weight_decay = yaml.required<double>("weight_decay");
  check(std::isfinite(config.weight_decay) && config.weight_decay >= 0.0, yaml, "weight_decay",
        ">= 0", shortest(config.weight_decay));
  config.train_batch = yaml.required<std::int64_t>("train_batch");
  check_at_least_one(yaml, "train_batch", config.train_batch);
  config.num_sample = yaml.required<std::int64_t>("num_sample");
  check_at_least_one(yaml, "num_sample", config.num_sample);
  config.triplet_margin = yaml.required<double>("triplet_margin");
  check(std::isfinite(config.triplet_margin) && config.triplet_margin >= 0.0, yaml,
        "triplet_margin", ">= 0", shortest(config.triplet_margin));
}

void read_model(const YamlMap& yaml, TrainConfig& config) {
  config.num_experts = yaml.required<std::int64_t>("num_experts");
  check(config.num_experts == 2, yaml, "num_experts",
        "2 (the quality weight q blends expert 0 with q and expert 1 with 1 - q)",
        std::to_string(config.num_experts));
  config.mlp_ratio = yaml.required<std::int64_t>("mlp_ratio");
  check_at_least_one(yaml, "mlp_ratio", config.mlp_ratio);
  config.out_dim = yaml.required<std::int64_t>("out_dim");
  check_at_least_one(yaml, "out_dim", config.out_dim);
  config.dropout_rate = yaml.required<double>("dropout_rate");
  check_probability(yaml, "dropout_rate", config.dropout_rate);
  config.modality_dropout =
      yaml.optional<double>("modality_dropout", standard_normal_cdf(config.dropout_rate));
  check_probability(yaml, "modality_dropout", config.modality_dropout);
  config.norm_method = yaml.optional<std::string>("norm_method", "none");
  check(config.norm_method == "none", yaml, "norm_method",
        "'none' (the only score normalisation upstream implements)",
        "'" + config.norm_method + "'");
}

void read_unused(const YamlMap& yaml, TrainConfig& config) {
  config.proj_dim = yaml.optional<std::int64_t>("proj_dim", config.proj_dim);
  config.head_dim = yaml.optional<std::int64_t>("head_dim", config.head_dim);
  config.drop_path = yaml.optional<double>("drop_path", config.drop_path);
  config.tmax = yaml.optional<std::int64_t>("tmax", config.tmax);
}

TrainConfig train_config_from_yaml(const YamlMap& yaml) {
  TrainConfig config;
  config.source = yaml.source();
  read_optimisation(yaml, config);
  read_model(yaml, config);
  read_unused(yaml, config);
  yaml.warn_unknown_keys(std::set<std::string>{
      "seed", "lr_rate", "weight_decay", "train_batch", "num_sample", "triplet_margin",
      "num_experts", "mlp_ratio", "out_dim", "dropout_rate", "modality_dropout", "norm_method",
      "proj_dim", "head_dim", "drop_path", "tmax"});
  return config;
}

}  // namespace

std::string default_train_config_path(const std::string& dataset) {
  return "configs/train_cfg-" + dataset + ".yaml";
}

double standard_normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

TrainConfig parse_train_config(const std::string& text, const std::string& source) {
  return train_config_from_yaml(YamlMap::parse(text, source));
}

TrainConfig load_train_config(const std::string& path) {
  return train_config_from_yaml(YamlMap::load_file(path));
}

std::string to_yaml(const TrainConfig& config) {
  std::string out;
  out += "seed: " + std::to_string(config.seed) + "\n";
  out += "lr_rate: " + yaml_float(config.lr_rate) + "\n";
  out += "weight_decay: " + yaml_float(config.weight_decay) + "\n";
  out += "train_batch: " + std::to_string(config.train_batch) + "\n";
  out += "num_sample: " + std::to_string(config.num_sample) + "\n";
  out += "triplet_margin: " + yaml_float(config.triplet_margin) + "\n";
  out += "num_experts: " + std::to_string(config.num_experts) + "\n";
  out += "mlp_ratio: " + std::to_string(config.mlp_ratio) + "\n";
  out += "out_dim: " + std::to_string(config.out_dim) + "\n";
  out += "dropout_rate: " + yaml_float(config.dropout_rate) + "\n";
  out += "modality_dropout: " + yaml_float(config.modality_dropout) + "\n";
  out += "norm_method: '" + config.norm_method + "'\n";
  out += "proj_dim: " + std::to_string(config.proj_dim) + "\n";
  out += "head_dim: " + std::to_string(config.head_dim) + "\n";
  out += "drop_path: " + yaml_float(config.drop_path) + "\n";
  out += "tmax: " + std::to_string(config.tmax) + "\n";
  return out;
}

}  // namespace qme::config

#include "qme/config/backbone_config.hpp"

#include <algorithm>
#include <set>

#include "qme/config/yaml_node.hpp"
#include "qme/core/error.hpp"
#include "qme/models/model_spec.hpp"

namespace qme::config {

namespace {

const char* const kModelListKey = "model_list";

// Upstream's per-model path keys are "{model}{suffix}". Upstream spells BigGait's config key
// "biggait_cfg_path" and every other "{model}_config_path"; both spellings are accepted.
struct PathKind {
  const char* suffix;
  std::string ModelPaths::*field;
};
const PathKind kPathKinds[] = {
    {"_cache_path", &ModelPaths::cache_path},
    {"_backbone_path", &ModelPaths::backbone_path},
    {"_config_path", &ModelPaths::config_path},
    {"_cfg_path", &ModelPaths::config_path},
    {"_torchscript_path", &ModelPaths::torchscript_path},  // qme extension
};

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

std::set<std::string> known_keys() {
  std::set<std::string> keys = {kModelListKey, "HF_TOKEN", "qe_ckpt_path", "face_weights"};
  for (const auto& model : known_models()) {
    for (const auto& kind : kPathKinds) keys.insert(model + kind.suffix);
  }
  return keys;
}

std::vector<std::string> read_model_list(const YamlMap& yaml) {
  auto models = yaml.required<std::vector<std::string>>(kModelListKey);
  const std::string where = yaml.location(kModelListKey);
  if (models.empty()) throw InputError(where, kModelListKey, "must name at least one model");
  std::set<std::string> seen;
  for (const auto& model : models) {
    check_model_name(model, where, kModelListKey);
    if (!seen.insert(model).second) {
      throw InputError(where, kModelListKey, "names '" + model + "' twice");
    }
  }
  return models;
}

std::map<std::string, ModelPaths> read_model_paths(const YamlMap& yaml) {
  std::map<std::string, ModelPaths> paths;
  for (const auto& model : known_models()) {
    for (const auto& kind : kPathKinds) {
      const std::string key = model + kind.suffix;
      if (!yaml.has(key)) continue;
      std::string& field = paths[model].*kind.field;
      if (!field.empty()) {
        // Only {model}_config_path and {model}_cfg_path, the later kind, can collide.
        throw InputError(yaml.location(key), key,
                         "and '" + model + "_config_path' both give the config path; keep one");
      }
      field = yaml.required<std::string>(key);
    }
  }
  return paths;
}

BackboneConfig from_yaml(const YamlMap& yaml) {
  BackboneConfig config;
  config.source = yaml.source();
  config.model_list = read_model_list(yaml);
  config.hf_token = yaml.optional<std::string>("HF_TOKEN", "");
  config.model_paths = read_model_paths(yaml);
  config.qe_ckpt_path = yaml.optional<std::string>("qe_ckpt_path", "");
  if (yaml.has("face_weights")) config.face_weights = yaml.required<std::string>("face_weights");
  yaml.warn_unknown_keys(known_keys());
  return config;
}

}  // namespace

const std::vector<std::string>& known_datasets() {
  static const std::vector<std::string> kDatasets = {"ccvid", "ltcc", "mevid"};
  return kDatasets;
}

std::string default_backbone_config_path(const std::string& dataset) {
  return "configs/backbone_cfg-" + dataset + ".yaml";
}

const std::vector<std::string>& known_models() {
  return models::model_names();
}

std::optional<std::string> quality_face_model(const BackboneConfig& config) {
  for (const auto& model : config.model_list) {
    const models::ModelSpec* row = models::find_model_spec(model);
    if (row && row->feeds_face_quality) return model;
  }
  return std::nullopt;
}

void check_model_name(const std::string& model, const std::string& source, const std::string& field) {
  const auto& known = known_models();
  if (std::find(known.begin(), known.end(), model) == known.end()) {
    throw InputError(source, field, "has unknown model '" + model + "' (known models: " + join(known) + ")");
  }
}

BackboneConfig parse_backbone_config(const std::string& text, const std::string& source) {
  return from_yaml(YamlMap::parse(text, source));
}

BackboneConfig load_backbone_config(const std::string& path) {
  return from_yaml(YamlMap::load_file(path));
}

std::string to_yaml(const BackboneConfig& config) {
  std::string out = "model_list:\n";
  for (const auto& model : config.model_list) out += "  - " + model + "\n";
  for (const auto& [model, paths] : config.model_paths) {
    const models::ModelSpec* row = models::find_model_spec(model);
    const std::string config_suffix = row ? row->config_key_suffix : "_config_path";
    if (!paths.cache_path.empty()) {
      out += model + "_cache_path: " + yaml_quoted(paths.cache_path) + "\n";
    }
    if (!paths.backbone_path.empty()) {
      out += model + "_backbone_path: " + yaml_quoted(paths.backbone_path) + "\n";
    }
    if (!paths.config_path.empty()) {
      out += model + config_suffix + ": " + yaml_quoted(paths.config_path) + "\n";
    }
    if (!paths.torchscript_path.empty()) {
      out += model + "_torchscript_path: " + yaml_quoted(paths.torchscript_path) + "\n";
    }
  }
  out += "qe_ckpt_path: " + yaml_quoted(config.qe_ckpt_path) + "\n";
  if (config.face_weights) out += "face_weights: " + yaml_quoted(*config.face_weights) + "\n";
  return out;
}

}  // namespace qme::config

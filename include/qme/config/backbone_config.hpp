#pragma once
/// The backbone config (configs/backbone_cfg-{dataset}.yaml): which recognition models are
/// fused, in which order, and where their weights live. Same keys as upstream's files.
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace qme::config {

/// Upstream's per-model path keys, "{model}_{kind}_path". Which ones a model has depends on the
/// upstream code that loads it (face models: cache; biggait: backbone + cfg; cal-*, aim:
/// backbone + config; agrl: backbone).
struct ModelPaths {
  std::string cache_path;     ///< {model}_cache_path: face models' download folder
  std::string backbone_path;  ///< {model}_backbone_path: upstream checkpoint
  std::string config_path;    ///< {model}_config_path (biggait: biggait_cfg_path)
  /// qme extension, {model}_torchscript_path: the TorchScript export of the model
  /// (tools/export/) that qme_test --eval_mode feat and qme_precompute_center run. Relative
  /// paths are relative to the working directory, as upstream's paths are.
  std::string torchscript_path;
};

struct BackboneConfig {
  std::string source;                             ///< the file it was loaded from
  std::vector<std::string> model_list;            ///< fused models, in score-matrix order
  std::string hf_token;                           ///< HF_TOKEN (upstream downloads face models with it)
  std::map<std::string, ModelPaths> model_paths;  ///< per known model with any *_path key
  std::string qe_ckpt_path;  ///< trained quality estimator that QME training loads; may be empty
  /// qme extension: HDF5 file with dataset 'face_weights' (one per probe) that QME evaluation
  /// reads; upstream hard-codes it per dataset in main.py.
  std::optional<std::string> face_weights;
};

/// The datasets qme supports: ccvid, ltcc, mevid.
const std::vector<std::string>& known_datasets();

/// "configs/backbone_cfg-{dataset}.yaml", relative to the working directory as upstream's
/// "./configs/..." is.
std::string default_backbone_config_path(const std::string& dataset);

/// The model names qme knows, in upstream's spelling: the registry's (models::model_names()).
const std::vector<std::string>& known_models();

/// The first model of `config.model_list` whose intermediate features feed the face quality
/// estimator (a registry row with feeds_face_quality: adaface or kprpe; arcface has none), or
/// nothing.
std::optional<std::string> quality_face_model(const BackboneConfig& config);

/// Throws InputError naming `source` and `field` unless `model` is a known model; the message
/// lists the known names.
void check_model_name(const std::string& model, const std::string& source, const std::string& field);

/// Loads and validates a backbone config: model_list is required, non-empty, without duplicates
/// and made of known models; every other key is optional. Unknown keys are logged as warnings.
/// Throws InputError naming the file and the key.
BackboneConfig load_backbone_config(const std::string& path);

/// The same from YAML text; `source` names it in messages.
BackboneConfig parse_backbone_config(const std::string& text, const std::string& source);

/// The config as YAML that load_backbone_config reads back to the same values, for writing the
/// resolved config next to a run's outputs. HF_TOKEN is left out: it is a secret, and those
/// files get shared.
std::string to_yaml(const BackboneConfig& config);

}  // namespace qme::config

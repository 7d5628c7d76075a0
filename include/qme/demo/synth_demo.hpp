#pragma once
/// Everything `qme_synth` writes: a synthetic CCVID-layout dataset (synth_dataset.hpp), the demo
/// TorchScript backbones (synth_backbones.hpp) and the two configs the qme tools read:
///   {out}/CCVID/...                    the dataset ({out} is the tools' --root)
///   {out}/backbones/{model}.pt         adaface, biggait, cal-ccvid
///   {out}/backbone_cfg-ccvid.yaml      configs/backbone_cfg-ccvid.yaml's keys, with
///                                      {model}_torchscript_path pointing at the backbones
///   {out}/train_cfg-ccvid.yaml         the training config of the demo runs
/// Paths inside the configs are `{out}/...` as given (relative paths are relative to the working
/// directory, as the tools read them). Deterministic: the same spec gives identical files.
#include <cstdint>
#include <map>
#include <string>

#include "qme/demo/synth_dataset.hpp"
#include "qme/demo/synth_world.hpp"

namespace qme::demo {

struct SynthDemoFiles {
  std::string root;  ///< {out}: the --root of the qme tools
  SynthDatasetFiles dataset;
  std::map<std::string, std::string> backbones;  ///< model -> .pt
  std::string backbone_cfg, train_cfg;
};

/// Writes the dataset, the backbones and the configs under `out` (created when missing).
SynthDemoFiles write_synth_demo(const std::string& out, const SynthSpec& spec, int threads = 1);

/// The backbone config text for `backbones` (model -> TorchScript path).
std::string demo_backbone_config(const std::map<std::string, std::string>& backbones);
/// The training config text of the demo runs (seed = the dataset seed).
std::string demo_train_config(uint64_t seed);

}  // namespace qme::demo

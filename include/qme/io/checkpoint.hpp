#pragma once
/// Checkpoints in upstream's format: `torch.save` zip archives (`<name>/data.pkl` +
/// `<name>/data/<key>` storages + `<name>/version`) of a dict
/// {"model_state_dict": OrderedDict(name -> tensor), ["optimizer_state_dict",
/// "scheduler_state_dict", ...]}. qme reads them without Python and without LibTorch's
/// pickle_load (which turns an OrderedDict into None): the zip is read with
/// caffe2::serialize::PyTorchStreamReader and data.pkl with the restricted unpickler of
/// checkpoint_pickle.hpp, so a checkpoint can never run code. Writes produce files that
/// `torch.load` reads, atomically.
#include <torch/nn/module.h>
#include <torch/ordered_dict.h>

#include <string>
#include <utility>
#include <vector>

namespace qme::io {

/// Parameters and buffers by upstream's dotted names (e.g. "experts.0.bn.running_mean"), in
/// PyTorch's state_dict() order.
using StateDict = torch::OrderedDict<std::string, torch::Tensor>;

/// What a checkpoint holds: the model's state dict, and every other top-level entry
/// (optimizer_state_dict, scheduler_state_dict, step, RNG state, ...) in file order as decoded
/// values (GenericDict, GenericList, Tuple, str, int, float, bool, None, tensors).
struct Checkpoint {
  StateDict model_state_dict;
  std::vector<std::pair<std::string, c10::IValue>> entries;

  /// The entry named `key`, or nullptr.
  const c10::IValue* find(const std::string& key) const;
  /// Replaces the entry named `key`, or appends it.
  void set(const std::string& key, c10::IValue value);
};

/// The whole object of a torch.save archive, decoded by the restricted unpickler. Throws
/// InputError naming the file when it is missing, not a zip-format torch.save archive (legacy
/// pre-1.6 files and TorchScript archives are named as such), truncated or corrupt, or when its
/// pickle asks for a global outside the allow-list.
c10::IValue read_torch_archive(const std::string& path);

/// Reads an upstream (or qme) checkpoint: a dict whose "model_state_dict" maps names to
/// tensors. Errors as read_torch_archive, plus a missing or malformed model_state_dict.
Checkpoint read_checkpoint(const std::string& path);

/// Writes `checkpoint` laid out as torch.save writes it (model_state_dict as an OrderedDict,
/// the other entries as given), to `<path>.tmp-<pid>` renamed to `path` when complete.
void write_checkpoint(const std::string& path, const Checkpoint& checkpoint);

/// module.state_dict() as PyTorch orders it: each module's parameters, then its buffers, then
/// its children's, depth first. The tensors are the module's own (not copies).
StateDict state_dict(const torch::nn::Module& module);

/// How a state dict differs from a module's.
struct StateDictDiff {
  std::vector<std::string> missing;     ///< the module has it, the state dict does not
  std::vector<std::string> unexpected;  ///< the state dict has it, the module does not
  std::vector<std::string> mis_shaped;  ///< "name is [3] in the file, the model expects [2]"

  bool empty() const { return missing.empty() && unexpected.empty() && mis_shaped.empty(); }
  /// "missing keys: a, b; unexpected keys: c; mis-shaped: ...", long lists shortened.
  std::string describe() const;
};

StateDictDiff compare_state_dict(const torch::nn::Module& module, const StateDict& state);

/// Copies `state` into the module's parameters and buffers (converting dtype if needed), like
/// PyTorch's load_state_dict: mis-shaped entries are always an error; missing and unexpected
/// keys are one when `strict`. Errors are InputError naming `source` and listing every
/// difference. Returns the tolerated differences (empty when strict).
StateDictDiff load_state_dict(torch::nn::Module& module, const StateDict& state, const std::string& source,
                              bool strict = true);

}  // namespace qme::io

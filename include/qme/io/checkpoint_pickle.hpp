#pragma once
/// The pickle half of a `torch.save` checkpoint (the `data.pkl` record of its zip archive), as
/// LibTorch values.
///
/// Reading decodes with the restricted unpickler of pickle_tree.hpp (which resolves no global
/// outside its short allow-list, so no checkpoint can make qme call anything) and turns its
/// tree into IValues, loading each storage through the caller's loader.
///
/// Writing emits protocol 2 pickles laid out like torch.save's, so `torch.load` reads them.
/// checkpoint.hpp wraps both in the zip archive; this header is public for tests and tools that
/// need the raw codec.
#include <ATen/core/ivalue.h>

#include <functional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace qme::io {

/// Returns the storage record `data/<key>` as a 1-D contiguous CPU tensor of `numel` elements
/// of `dtype`; throws InputError when the record is missing or too short.
using StorageLoader = std::function<at::Tensor(const std::string& key, c10::ScalarType dtype, int64_t numel)>;

/// Decodes `bytes` into an IValue tree: dict and OrderedDict -> GenericDict (insertion order
/// kept), list -> GenericList, tuple -> Tuple, str, int, float, bool, None, tensors. The tree is
/// what a state dict can be: containers nested at most 100 deep and no container inside itself. `source`
/// (the file) and "data.pkl" prefix every error message. Throws InputError on a refused global
/// ("<source>: refuses to load global 'posix.system' ..."), an unsupported opcode, or a
/// malformed/truncated stream.
c10::IValue unpickle_restricted(std::string_view bytes, const StorageLoader& load_storage,
                                const std::string& source);

/// One tensor's storage as the pickler referenced it: archive record `data/<key>`.
struct PickledStorage {
  std::string key;
  at::Tensor data;  // contiguous CPU
};

struct PickleOptions {
  /// Dicts (by IValue::internalToPointer()) to write as collections.OrderedDict, as PyTorch's
  /// state_dict() is; every other dict is a plain dict.
  std::unordered_set<const void*> ordered_dicts;
};

/// Encodes `value` as torch.save does (protocol 2; tensors as _rebuild_tensor_v2 calls on
/// persistent storage ids). Each tensor's storage is appended to `storages`, to be written as
/// `data/<key>`. Throws qme::Error for values that have no Python counterpart.
std::string pickle_for_torch(const c10::IValue& value, const PickleOptions& options,
                             std::vector<PickledStorage>* storages);

}  // namespace qme::io

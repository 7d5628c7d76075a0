#pragma once
/// The pickle half of a `torch.save` checkpoint (its `data.pkl` record), decoded without
/// LibTorch by a restricted unpickler. It interprets the opcodes torch.save emits and builds
/// values itself, and it resolves a global only when it is on a short allow-list
/// (collections.OrderedDict, torch._utils._rebuild_tensor_v2 / _rebuild_parameter /
/// _rebuild_parameter_with_state, the torch.*Storage types). Any other global is refused by name
/// the moment it appears, so no checkpoint can make qme call anything.
///
/// The result is a tree of plain values: containers nested at most 100 deep, none inside itself
/// (a crafted stream that builds a cycle or a million levels is refused as it is built), and
/// tensors as views (offset, sizes, strides) of storages that the caller loads. This is the one
/// reader of checkpoints: checkpoint_pickle.hpp turns the tree into LibTorch values, and the
/// torch-free state-dict reader (plain_checkpoint.hpp) reads it directly.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace qme::io {

/// The element types of torch.<Name>Storage.
enum class StorageElement : uint8_t {
  kFloat,
  kDouble,
  kHalf,
  kBFloat16,
  kLong,
  kInt,
  kShort,
  kChar,
  kByte,
  kBool,
  kComplexFloat,
  kComplexDouble
};

/// Bytes per element.
size_t element_size(StorageElement element);
/// "FloatStorage", ...: the name after "torch." in a pickle.
const char* storage_type_name(StorageElement element);

/// One storage as the pickle references it: archive record `data/<key>`, `numel` elements.
struct StorageRef {
  std::string key;
  StorageElement element = StorageElement::kFloat;
  int64_t numel = 0;
};

/// A tensor: a strided view of storage `storage` (an index into PickleTree::storages()),
/// checked to lie within it.
struct TensorView {
  uint32_t storage = 0;
  int64_t offset = 0;
  std::vector<int64_t> sizes, strides;
};

/// One decoded value. Scalars are held here; strings, containers, tensors and storages by
/// index into the tree that made them.
struct PickleValue {
  enum class Kind : uint8_t {
    kNone,
    kBool,
    kInt,
    kFloat,
    kString,
    kTuple,
    kList,
    kDict,
    kTensor,
    kStorage,
    kGlobal
  };
  Kind kind = Kind::kNone;
  uint32_t index = 0;   ///< kString, kTuple, kList, kDict, kTensor, kStorage, kGlobal
  int64_t integer = 0;  ///< kBool (0 or 1), kInt
  double real = 0;      ///< kFloat

  bool is_container() const { return kind == Kind::kTuple || kind == Kind::kList || kind == Kind::kDict; }
  /// "None", "bool", "int", "float", "str", "tuple", "list", "dict", "tensor", "storage",
  /// "global": Python's names, for messages.
  const char* kind_name() const;
};

class PickleTree {
 public:
  const PickleValue& root() const { return root_; }
  const std::string& text(const PickleValue& string) const { return strings_.at(string.index); }
  /// A tuple's or list's elements; a dict's keys and values, alternating, in insertion order.
  const std::vector<PickleValue>& items(const PickleValue& container) const {
    return containers_.at(container.index).items;
  }
  const TensorView& tensor(const PickleValue& tensor) const { return tensors_.at(tensor.index); }
  /// Every storage referenced, in order of first reference.
  const std::vector<StorageRef>& storages() const { return storages_; }

 private:
  friend class RestrictedUnpickler;
  struct Container {
    PickleValue::Kind kind;
    std::vector<PickleValue> items;
    int height = 1;       // 1 + the deepest container inside
    bool sealed = false;  // inside another container: never changed again
  };
  struct Global {
    int kind = 0;
    std::string name;  // "module.name"
    StorageElement element = StorageElement::kFloat;
  };
  PickleValue root_;
  std::vector<std::string> strings_;
  std::vector<Container> containers_;
  std::vector<TensorView> tensors_;
  std::vector<StorageRef> storages_;
  std::vector<Global> globals_;
};

/// Called once per storage key, at its first reference, before decoding goes on: checks the
/// record (and may load it). Throws InputError to refuse the file.
using StorageCheck = std::function<void(const StorageRef& storage)>;

/// Decodes `bytes`. `source` (the file) and "data.pkl" prefix every error message. Throws
/// InputError on a refused global ("<source>: refuses to load global 'posix.system' ..."), an
/// unsupported opcode, a recursive or too deeply nested structure, a tensor outside its storage,
/// or a malformed/truncated stream.
PickleTree unpickle_tree(std::string_view bytes, const StorageCheck& check_storage,
                         const std::string& source);

}  // namespace qme::io

#include "qme/io/checkpoint_pickle.hpp"

#include <torch/torch.h>

#include <cstring>
#include <unordered_map>

#include "qme/core/error.hpp"
#include "qme/io/pickle_tree.hpp"

namespace qme::io {

namespace {

// ---------------------------------------------------------------------------
// Reading: pickle_tree.hpp's restricted unpickler decodes the stream; its tree becomes LibTorch
// values here. Shared references stay shared (each container and tensor is made once), and the
// tree is at most 100 containers deep, so the recursion is bounded.

c10::ScalarType scalar_type_of(StorageElement element) {
  switch (element) {
    case StorageElement::kFloat:
      return at::kFloat;
    case StorageElement::kDouble:
      return at::kDouble;
    case StorageElement::kHalf:
      return at::kHalf;
    case StorageElement::kBFloat16:
      return at::kBFloat16;
    case StorageElement::kLong:
      return at::kLong;
    case StorageElement::kInt:
      return at::kInt;
    case StorageElement::kShort:
      return at::kShort;
    case StorageElement::kChar:
      return at::kChar;
    case StorageElement::kByte:
      return at::kByte;
    case StorageElement::kBool:
      return at::kBool;
    case StorageElement::kComplexFloat:
      return at::kComplexFloat;
    case StorageElement::kComplexDouble:
      return at::kComplexDouble;
  }
  throw Error("unknown storage element type");
}

class IValueBuilder {
 public:
  IValueBuilder(const PickleTree& tree, const std::vector<at::Tensor>& storages)
      : tree_(tree), storages_(storages) {}

  c10::IValue build(const PickleValue& v) {
    using Kind = PickleValue::Kind;
    switch (v.kind) {
      case Kind::kNone:
        return c10::IValue();
      case Kind::kBool:
        return c10::IValue(v.integer != 0);
      case Kind::kInt:
        return c10::IValue(v.integer);
      case Kind::kFloat:
        return c10::IValue(v.real);
      case Kind::kString:
        return c10::IValue(tree_.text(v));
      case Kind::kStorage:
        return storages_.at(v.index);
      case Kind::kTensor:
        return made(tensors_, v, [&] { return tensor(tree_.tensor(v)); });
      case Kind::kTuple:
      case Kind::kList:
      case Kind::kDict:
        return made(containers_, v, [&] { return container(v); });
      case Kind::kGlobal:
        break;  // refused by the unpickler
    }
    throw Error("a checkpoint value of kind " + std::string(v.kind_name()) + " has no LibTorch counterpart");
  }

 private:
  template <typename Make>
  c10::IValue made(std::unordered_map<uint32_t, c10::IValue>& cache, const PickleValue& v, Make&& make) {
    const auto it = cache.find(v.index);
    if (it != cache.end()) return it->second;
    auto value = make();
    cache.emplace(v.index, value);
    return value;
  }

  at::Tensor tensor(const TensorView& view) const {
    return storages_.at(view.storage).as_strided(view.sizes, view.strides, view.offset);
  }

  c10::IValue container(const PickleValue& v) {
    const auto& items = tree_.items(v);
    std::vector<c10::IValue> values;
    values.reserve(items.size());
    for (const auto& item : items) values.push_back(build(item));
    if (v.kind == PickleValue::Kind::kTuple) return c10::ivalue::Tuple::create(std::move(values));
    if (v.kind == PickleValue::Kind::kList) {
      c10::impl::GenericList list(c10::AnyType::get());
      for (auto& value : values) list.push_back(std::move(value));
      return list;
    }
    c10::impl::GenericDict dict(c10::AnyType::get(), c10::AnyType::get());
    for (size_t i = 0; i + 1 < values.size(); i += 2) dict.insert_or_assign(values[i], values[i + 1]);
    return dict;
  }

  const PickleTree& tree_;
  const std::vector<at::Tensor>& storages_;
  std::unordered_map<uint32_t, c10::IValue> containers_, tensors_;
};

// ---------------------------------------------------------------------------
// The pickler: torch.save's layout, protocol 2.

std::string storage_type_name(c10::ScalarType dtype) {
  for (int e = 0; e <= static_cast<int>(StorageElement::kComplexDouble); ++e) {
    const auto element = static_cast<StorageElement>(e);
    if (scalar_type_of(element) == dtype) return io::storage_type_name(element);
  }
  throw Error(std::string("a tensor of type ") + c10::toString(dtype) + " cannot be saved in a checkpoint");
}

class TorchPickler {
 public:
  TorchPickler(const PickleOptions& options, std::vector<PickledStorage>* storages)
      : options_(options), storages_(storages) {}

  std::string encode(const c10::IValue& value) {
    out_ += "\x80\x02";  // PROTO 2, what torch.save uses
    write(value);
    out_ += '.';
    return std::move(out_);
  }

 private:
  void write(const c10::IValue& v) {
    if (v.isNone()) {
      out_ += 'N';
    } else if (v.isBool()) {
      out_ += static_cast<char>(v.toBool() ? 0x88 : 0x89);
    } else if (v.isInt()) {
      write_int(v.toInt());
    } else if (v.isDouble()) {
      write_double(v.toDouble());
    } else if (v.isString()) {
      write_string(v.toStringRef());
    } else if (v.isTensor()) {
      write_tensor(v.toTensor());
    } else if (v.isTuple()) {
      write_tuple(v.toTupleRef().elements());
    } else if (v.isList()) {
      write_list(v.toListRef());
    } else if (v.isGenericDict()) {
      write_dict(v);
    } else {
      throw Error("a value of type " + v.tagKind() + " cannot be saved in a checkpoint");
    }
  }

  void write_uint(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_ += static_cast<char>((v >> (8 * i)) & 0xff);
  }
  void write_int(int64_t v) {
    if (v >= 0 && v < 256) {
      out_ += 'K';
      write_uint(static_cast<uint64_t>(v), 1);
    } else if (v >= 0 && v < 65536) {
      out_ += 'M';
      write_uint(static_cast<uint64_t>(v), 2);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
      out_ += 'J';
      write_uint(static_cast<uint64_t>(static_cast<uint32_t>(static_cast<int32_t>(v))), 4);
    } else {
      // LONG1 with the fewest two's complement bytes that keep the sign.
      int n = 8;
      while (n > 1) {
        const int64_t shifted = v >> (8 * (n - 1) - 1);
        if (shifted != 0 && shifted != -1) break;
        --n;
      }
      out_ += static_cast<char>(0x8a);
      out_ += static_cast<char>(n);
      write_uint(static_cast<uint64_t>(v), n);
    }
  }
  void write_double(double v) {
    uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    out_ += 'G';
    for (int i = 7; i >= 0; --i) out_ += static_cast<char>((bits >> (8 * i)) & 0xff);
  }
  void write_string(const std::string& s) {
    out_ += 'X';
    write_uint(s.size(), 4);
    out_ += s;
  }
  void write_global(const char* module, const char* name) {
    out_ += 'c';
    out_ += module;
    out_ += '\n';
    out_ += name;
    out_ += '\n';
  }
  void write_tuple(c10::ArrayRef<c10::IValue> items) {
    if (items.empty()) {
      out_ += ')';
      return;
    }
    if (items.size() > 3) out_ += '(';
    for (const auto& e : items) write(e);
    out_ += items.size() > 3 ? 't' : static_cast<char>(0x84 + items.size());  // TUPLE1..3
  }
  void write_int_tuple(at::IntArrayRef values) {
    std::vector<c10::IValue> items(values.begin(), values.end());
    write_tuple(items);
  }
  void write_list(c10::ArrayRef<c10::IValue> items) {
    out_ += ']';
    if (items.empty()) return;
    out_ += '(';
    for (const auto& e : items) write(e);
    out_ += 'e';
  }
  void write_empty_ordered_dict() {
    write_global("collections", "OrderedDict");
    out_ += ")R";
  }
  void write_dict(const c10::IValue& v) {
    const auto dict = v.toGenericDict();
    if (options_.ordered_dicts.count(v.internalToPointer())) {
      write_empty_ordered_dict();
    } else {
      out_ += '}';
    }
    if (dict.empty()) return;
    out_ += '(';
    for (const auto& kv : dict) {
      write(kv.key());
      write(kv.value());
    }
    out_ += 'u';
  }
  void write_tensor(const at::Tensor& tensor) {
    // One storage per tensor, holding exactly its elements: the reader then needs no sharing.
    auto t = tensor.detach().to(at::kCPU).contiguous();
    if (t.storage_offset() != 0 || t.storage().nbytes() != t.nbytes()) t = t.clone();
    const std::string key = std::to_string(storages_->size());
    storages_->push_back({key, t});
    write_global("torch._utils", "_rebuild_tensor_v2");
    out_ += '(';
    out_ += '(';  // persistent id
    write_string("storage");
    write_global("torch", storage_type_name(t.scalar_type()).c_str());
    write_string(key);
    write_string("cpu");
    write_int(t.numel());
    out_ += 't';
    out_ += 'Q';  // BINPERSID
    write_int(0);
    write_int_tuple(t.sizes());
    write_int_tuple(t.strides());
    out_ += static_cast<char>(0x89);  // requires_grad False
    write_empty_ordered_dict();       // backward hooks
    out_ += "tR";
  }

  const PickleOptions& options_;
  std::vector<PickledStorage>* storages_;
  std::string out_;
};

}  // namespace

c10::IValue unpickle_restricted(std::string_view bytes, const StorageLoader& load_storage,
                                const std::string& source) {
  try {
    std::vector<at::Tensor> storages;
    const auto tree = unpickle_tree(
        bytes,
        [&](const StorageRef& storage) {
          storages.push_back(load_storage(storage.key, scalar_type_of(storage.element), storage.numel));
        },
        source);
    return IValueBuilder(tree, storages).build(tree.root());
  } catch (const c10::Error& e) {
    // LibTorch's own checks (e.g. hashing a dict key) surface as one line naming the file.
    throw InputError(source + ": data.pkl: " + e.what_without_backtrace());
  }
}

std::string pickle_for_torch(const c10::IValue& value, const PickleOptions& options,
                             std::vector<PickledStorage>* storages) {
  return TorchPickler(options, storages).encode(value);
}

}  // namespace qme::io

#include "qme/io/checkpoint_pickle.hpp"

#include <torch/torch.h>

#include <cstring>
#include <map>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "qme/core/error.hpp"

namespace qme::io {

namespace {

// ---------------------------------------------------------------------------
// The allow-list. A state dict (and the optimiser/scheduler state around it) needs nothing else.

enum class GlobalKind {
  kOrderedDict,
  kRebuildTensorV2,
  kRebuildParameter,
  kRebuildParameterWithState,
  kStorageType
};

const std::map<std::string, c10::ScalarType>& storage_types() {
  static const std::map<std::string, c10::ScalarType> types = {{"FloatStorage", at::kFloat},
                                                               {"DoubleStorage", at::kDouble},
                                                               {"HalfStorage", at::kHalf},
                                                               {"BFloat16Storage", at::kBFloat16},
                                                               {"LongStorage", at::kLong},
                                                               {"IntStorage", at::kInt},
                                                               {"ShortStorage", at::kShort},
                                                               {"CharStorage", at::kChar},
                                                               {"ByteStorage", at::kByte},
                                                               {"BoolStorage", at::kBool},
                                                               {"ComplexFloatStorage", at::kComplexFloat},
                                                               {"ComplexDoubleStorage", at::kComplexDouble}};
  return types;
}

/// A resolved, allowed global on the unpickler's stack. It travels as an IValue capsule so that
/// tuples and the memo can hold it like any other value; the result may not contain one.
struct AllowedGlobal : torch::CustomClassHolder {
  AllowedGlobal(GlobalKind k, std::string n, c10::ScalarType d = at::kFloat)
      : kind(k), name(std::move(n)), dtype(d) {}
  GlobalKind kind;
  std::string name;  // "module.name", for messages
  c10::ScalarType dtype;
};

std::optional<AllowedGlobal> find_allowed_global(const std::string& module, const std::string& name) {
  const std::string full = module + "." + name;
  if (full == "collections.OrderedDict") return AllowedGlobal(GlobalKind::kOrderedDict, full);
  if (module == "torch._utils") {
    if (name == "_rebuild_tensor_v2") return AllowedGlobal(GlobalKind::kRebuildTensorV2, full);
    if (name == "_rebuild_parameter") return AllowedGlobal(GlobalKind::kRebuildParameter, full);
    if (name == "_rebuild_parameter_with_state") {
      return AllowedGlobal(GlobalKind::kRebuildParameterWithState, full);
    }
  }
  if (module == "torch") {
    const auto it = storage_types().find(name);
    if (it != storage_types().end()) return AllowedGlobal(GlobalKind::kStorageType, full, it->second);
  }
  return std::nullopt;
}

const AllowedGlobal* as_global(const c10::IValue& v) {
  if (!v.isCapsule()) return nullptr;
  return dynamic_cast<const AllowedGlobal*>(v.toCapsule().get());
}

bool is_simple_key(const std::string& key) {
  if (key.empty() || key.size() > 64) return false;
  for (char c : key) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

// ---------------------------------------------------------------------------
// The shape of what the pickle builds. A state dict (and the optimiser state around it) is a
// shallow tree built bottom-up: Python's pickler fills a container before it puts it inside
// another. A crafted stream can instead make a container hold itself (a cycle: never freed, and
// a naive walk never ends) or nest a million levels (whose recursive destruction overflows the
// stack). qme refuses both as they are built, with a depth limit and a rule that a container
// may not change once it sits inside another.

class ContainerGraph {
 public:
  static constexpr int kMaxNesting = 100;  // a checkpoint needs about five
  using Fail = std::function<void(const std::string&)>;

  explicit ContainerGraph(Fail fail) : fail_(std::move(fail)) {}

  /// Registers `container`, just made from `items`.
  void created(const c10::IValue& container, const std::vector<c10::IValue>& items) {
    nodes_[container.internalToPointer()] = Node{container, nested_height(items), false};
  }

  /// Before `items` go into `container` (a list or dict registered here).
  void adding(const c10::IValue& container, const std::vector<c10::IValue>& items) {
    const void* self = container.internalToPointer();
    auto it = nodes_.find(self);
    if (it == nodes_.end()) {
      fail_("a " + container.tagKind() + " that the pickle did not build");
      return;
    }
    if (it->second.sealed) {
      fail_("a " + container.tagKind() +
            " is changed after it was put inside another container (a recursive structure, which "
            "a checkpoint never holds)");
    }
    for (const auto& item : items) {
      if (is_container(item) && item.internalToPointer() == self)
        fail_("a " + container.tagKind() +
              " contains itself (a recursive structure, which a checkpoint never holds)");
    }
    it->second.height = std::max(it->second.height, nested_height(items));
  }

  /// Calls visit on every value under `root`, expanding each container once: shared references
  /// are common in pickles and must not multiply the work.
  template <typename Visit>
  void walk(const c10::IValue& root, Visit&& visit) const {
    std::unordered_set<const void*> seen;
    std::vector<c10::IValue> todo{root};
    while (!todo.empty()) {
      auto v = std::move(todo.back());
      todo.pop_back();
      visit(v);
      if (!is_container(v) || !seen.insert(v.internalToPointer()).second) continue;
      if (v.isTuple()) {
        for (const auto& e : v.toTupleRef().elements()) todo.push_back(e);
      } else if (v.isList()) {
        for (const auto& e : v.toListRef()) todo.push_back(e);
      } else {
        for (const auto& kv : v.toGenericDict()) todo.push_back(kv.value());
      }
    }
  }

 private:
  struct Node {
    c10::IValue keep;  // holds the container, so that its address is never reused
    int height = 1;
    bool sealed = false;
  };

  static bool is_container(const c10::IValue& v) { return v.isTuple() || v.isList() || v.isGenericDict(); }

  /// 1 + the highest container among `items`, which are sealed from now on.
  int nested_height(const std::vector<c10::IValue>& items) {
    int height = 1;
    for (const auto& item : items) {
      if (!is_container(item)) continue;
      auto it = nodes_.find(item.internalToPointer());
      if (it == nodes_.end()) {
        fail_("a " + item.tagKind() + " that the pickle did not build");
        continue;
      }
      it->second.sealed = true;
      height = std::max(height, it->second.height + 1);
    }
    if (height > kMaxNesting) {
      fail_("containers nested deeper than " + std::to_string(kMaxNesting) +
            " levels (a checkpoint's state needs a handful)");
    }
    return height;
  }

  Fail fail_;
  std::unordered_map<const void*, Node> nodes_;
};

// ---------------------------------------------------------------------------
// The restricted unpickler: an interpreter of the opcodes torch.save emits (protocol 2, plus
// the few protocol 4 ones a torch.save(..., pickle_protocol=4) adds). It never imports, calls
// or instantiates anything outside the allow-list.

class RestrictedUnpickler {
 public:
  RestrictedUnpickler(std::string_view bytes, const StorageLoader& loader, const std::string& source)
      : bytes_(bytes),
        loader_(loader),
        source_(source),
        containers_([this](const std::string& problem) { fail(problem); }) {}

  c10::IValue run() {
    while (true) {
      op_pos_ = pos_;
      const auto op = static_cast<uint8_t>(*take(1));
      if (op == '.') return finish();
      step(op);
    }
  }

 private:
  [[noreturn]] void fail(const std::string& problem) const {
    throw InputError(source_ + ": data.pkl (byte " + std::to_string(op_pos_) + "): " + problem);
  }

  void step(uint8_t op) {
    switch (op) {
      case 0x80:
        take(1);
        break;  // PROTO: any version; unknown opcodes fail below
      case 0x95:
        take(8);
        break;  // FRAME: a buffering hint
      case '(':
        marks_.push_back(stack_.size());
        break;
      case '0':
        pop();
        break;
      case '1':
        pop_mark();
        break;
      case '2':
        push(top());
        break;
      case 'N':
        push(c10::IValue());
        break;
      case 0x88:
        push(true);
        break;
      case 0x89:
        push(false);
        break;
      case 'J':
        push(static_cast<int64_t>(static_cast<int32_t>(read_uint(4))));
        break;
      case 'K':
        push(static_cast<int64_t>(read_uint(1)));
        break;
      case 'M':
        push(static_cast<int64_t>(read_uint(2)));
        break;
      case 0x8a:
        push(read_long(read_uint(1)));
        break;
      case 0x8b:
        push(read_long(read_uint(4)));
        break;
      case 'G':
        push(read_binfloat());
        break;
      case 'X':
        push(read_string(read_uint(4)));
        break;
      case 0x8c:
        push(read_string(read_uint(1)));
        break;
      case 0x8d:
        push(read_string(read_uint(8)));
        break;
      case ')':
        push(tuple_of({}));
        break;
      case 't':
        push(tuple_of(pop_mark()));
        break;
      case 0x85:
        push_tuple(1);
        break;
      case 0x86:
        push_tuple(2);
        break;
      case 0x87:
        push_tuple(3);
        break;
      case ']':
        push(new_list());
        break;
      case 'l':
        push(list_of(pop_mark()));
        break;
      case 'a':
        append(std::vector<c10::IValue>{pop()});
        break;
      case 'e':
        append(pop_mark());
        break;
      case '}':
        push(new_dict());
        break;
      case 'd':
        push(dict_of(pop_mark()));
        break;
      case 's':
        set_pair();
        break;
      case 'u':
        set_items(pop_mark());
        break;
      case 'q':
        memo_put(read_uint(1));
        break;
      case 'r':
        memo_put(read_uint(4));
        break;
      case 0x94:
        memo_put(memo_.size());
        break;
      case 'h':
        memo_get(read_uint(1));
        break;
      case 'j':
        memo_get(read_uint(4));
        break;
      case 'c':
        global_from_lines();
        break;
      case 0x93:
        stack_global();
        break;
      case 'R':
      case 0x81:
        reduce(op == 'R' ? "REDUCE" : "NEWOBJ");
        break;
      case 'b':
        build();
        break;
      case 'Q':
        push(persistent_load(pop()));
        break;
      default: {
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02x", op);
        fail(std::string("unsupported pickle opcode ") + hex +
             " (torch.save checkpoints of tensors and containers do not use it)");
      }
    }
  }

  // --- reading the byte stream ------------------------------------------------------------
  const char* take(uint64_t n) {
    if (n > bytes_.size() - pos_) fail("truncated: the pickle stream ends early");
    const char* p = bytes_.data() + pos_;
    pos_ += static_cast<size_t>(n);
    return p;
  }
  uint64_t read_uint(int n) {
    const auto* p = reinterpret_cast<const uint8_t*>(take(static_cast<uint64_t>(n)));
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
    return v;
  }
  int64_t read_long(uint64_t n) {
    // Python's LONG1/LONG4: little-endian two's complement of n bytes.
    if (n == 0) return 0;
    if (n > 8) fail("integer wider than 64 bits");
    const auto* p = reinterpret_cast<const uint8_t*>(take(n));
    uint64_t v = 0;
    for (uint64_t i = n; i-- > 0;) v = (v << 8) | p[i];
    if (n < 8 && (p[n - 1] & 0x80)) v |= ~uint64_t{0} << (8 * n);  // sign-extend
    return static_cast<int64_t>(v);
  }
  double read_binfloat() {
    const auto* p = reinterpret_cast<const uint8_t*>(take(8));
    uint64_t bits = 0;
    for (int i = 0; i < 8; ++i) bits = (bits << 8) | p[i];  // big-endian
    double v;
    std::memcpy(&v, &bits, sizeof v);
    return v;
  }
  std::string read_string(uint64_t n) { return std::string(take(n), static_cast<size_t>(n)); }
  std::string read_line() {
    const auto end = bytes_.find('\n', pos_);
    if (end == std::string_view::npos) fail("truncated: the pickle stream ends early");
    std::string line(bytes_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return line;
  }

  // --- the stack -----------------------------------------------------------------------------
  void push(c10::IValue v) { stack_.push_back(std::move(v)); }
  c10::IValue& top() {
    if (stack_.size() <= (marks_.empty() ? 0 : marks_.back())) fail("stack underflow (corrupt pickle)");
    return stack_.back();
  }
  c10::IValue pop() {
    c10::IValue v = std::move(top());
    stack_.pop_back();
    return v;
  }
  std::vector<c10::IValue> pop_mark() {
    if (marks_.empty()) fail("no MARK on the stack (corrupt pickle)");
    const size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<c10::IValue> items(std::make_move_iterator(stack_.begin() + static_cast<long>(mark)),
                                   std::make_move_iterator(stack_.end()));
    stack_.resize(mark);
    return items;
  }
  void push_tuple(size_t n) {
    std::vector<c10::IValue> items(n);
    for (size_t i = n; i-- > 0;) items[i] = pop();
    push(tuple_of(std::move(items)));
  }

  // --- containers (each one registered in containers_) ----------------------------------------
  c10::IValue tuple_of(std::vector<c10::IValue> items) {
    c10::IValue tuple = c10::ivalue::Tuple::create(items);
    containers_.created(tuple, items);
    return tuple;
  }
  c10::IValue new_list() {
    c10::IValue list = c10::impl::GenericList(c10::AnyType::get());
    containers_.created(list, {});
    return list;
  }
  c10::IValue new_dict() {
    c10::IValue dict = c10::impl::GenericDict(c10::AnyType::get(), c10::AnyType::get());
    containers_.created(dict, {});
    return dict;
  }
  c10::IValue list_of(std::vector<c10::IValue> items) {
    auto list = new_list();
    containers_.adding(list, items);
    for (auto& v : items) list.toList().push_back(std::move(v));
    return list;
  }
  c10::IValue dict_of(std::vector<c10::IValue> items) {
    auto dict = new_dict();
    insert_pairs(dict, items);
    return dict;
  }
  void append(const std::vector<c10::IValue>& items) {
    auto& target = top();
    if (!target.isList()) fail("APPEND to a " + target.tagKind() + ", not a list");
    containers_.adding(target, items);
    auto list = target.toList();
    for (const auto& v : items) list.push_back(v);
  }
  void set_pair() {
    auto value = pop();
    auto key = pop();
    insert_pairs(top(), {std::move(key), std::move(value)});
  }
  void set_items(const std::vector<c10::IValue>& items) { insert_pairs(top(), items); }
  void insert_pairs(c10::IValue& target, const std::vector<c10::IValue>& items) {
    if (!target.isGenericDict()) fail("SETITEM on a " + target.tagKind() + ", not a dict");
    if (items.size() % 2 != 0) fail("odd number of items for a dict");
    containers_.adding(target, items);
    auto dict = target.toGenericDict();
    for (size_t i = 0; i < items.size(); i += 2) {
      const auto& key = items[i];
      if (!(key.isString() || key.isInt() || key.isDouble() || key.isBool())) {
        fail("dict key of type " + key.tagKind() + " is not supported");
      }
      dict.insert_or_assign(key, items[i + 1]);
    }
  }

  // --- memo ------------------------------------------------------------------------------------
  void memo_put(uint64_t index) { memo_[index] = top(); }
  void memo_get(uint64_t index) {
    const auto it = memo_.find(index);
    if (it == memo_.end()) fail("memo entry " + std::to_string(index) + " is not defined (corrupt pickle)");
    push(it->second);
  }

  // --- globals, calls and storages ----------------------------------------------------------
  void global_from_lines() {
    const std::string module = read_line();
    const std::string name = read_line();
    push(resolve_global(module, name));
  }
  void stack_global() {
    auto name = pop();
    auto module = pop();
    if (!name.isString() || !module.isString()) fail("STACK_GLOBAL needs two strings");
    push(resolve_global(module.toStringRef(), name.toStringRef()));
  }
  c10::IValue resolve_global(const std::string& module, const std::string& name) {
    auto allowed = find_allowed_global(module, name);
    if (!allowed) {
      throw InputError(source_ + ": refuses to load global '" + module + "." + name +
                       "': a checkpoint may hold only tensors, numbers, strings and containers of "
                       "them, and this one asks to import code");
    }
    return c10::IValue::make_capsule(c10::make_intrusive<AllowedGlobal>(*allowed));
  }

  void reduce(const char* opname) {
    auto args = pop();
    auto callable = pop();
    const AllowedGlobal* global = as_global(callable);
    if (global == nullptr)
      fail(std::string(opname) + " on a " + callable.tagKind() + ", not an allowed global");
    if (!args.isTuple()) fail(std::string(opname) + " arguments are a " + args.tagKind() + ", not a tuple");
    const auto& a = args.toTupleRef().elements();
    switch (global->kind) {
      case GlobalKind::kOrderedDict:
        if (!a.empty()) fail("collections.OrderedDict called with arguments");
        push(new_dict());
        return;
      case GlobalKind::kRebuildTensorV2:
        if (a.size() != 6 && a.size() != 7) fail("_rebuild_tensor_v2 takes 6 or 7 arguments");
        push(rebuild_tensor(a[0], a[1], a[2], a[3]));
        return;
      case GlobalKind::kRebuildParameter:
      case GlobalKind::kRebuildParameterWithState:
        if (a.empty() || !a[0].isTensor()) fail(global->name + " needs a tensor");
        push(a[0]);  // a Parameter is its data here; requires_grad and hooks do not apply
        return;
      case GlobalKind::kStorageType:
        fail(std::string(opname) + " on storage type " + global->name + " is not supported");
    }
  }

  int64_t as_int(const c10::IValue& v, const char* what) const {
    if (!v.isInt()) fail(std::string(what) + " must be an integer, got " + v.tagKind());
    return v.toInt();
  }
  std::vector<int64_t> int_tuple(const c10::IValue& v, const char* what) const {
    if (!v.isTuple()) fail(std::string(what) + " must be a tuple, got " + v.tagKind());
    std::vector<int64_t> out;
    for (const auto& e : v.toTupleRef().elements()) out.push_back(as_int(e, what));
    return out;
  }

  at::Tensor rebuild_tensor(const c10::IValue& storage_v, const c10::IValue& offset_v,
                            const c10::IValue& size_v, const c10::IValue& stride_v) const {
    if (!storage_v.isTensor()) fail("_rebuild_tensor_v2 needs a storage, got " + storage_v.tagKind());
    const auto storage = storage_v.toTensor();
    if (storage.dim() != 1 || !storage.is_contiguous()) fail("_rebuild_tensor_v2 needs a storage");
    const int64_t offset = as_int(offset_v, "tensor offset");
    const auto size = int_tuple(size_v, "tensor size");
    const auto stride = int_tuple(stride_v, "tensor stride");
    if (size.size() != stride.size()) fail("tensor size and stride differ in length");
    check_view_in_bounds(storage.numel(), offset, size, stride);
    return storage.as_strided(size, stride, offset);
  }

  // as_strided trusts its arguments; a crafted file must not make it read outside the storage.
  void check_view_in_bounds(int64_t numel, int64_t offset, const std::vector<int64_t>& size,
                            const std::vector<int64_t>& stride) const {
    if (offset < 0 || offset > numel) fail("tensor offset outside its storage");
    bool empty = false;
    for (size_t i = 0; i < size.size(); ++i) {
      if (size[i] < 0 || stride[i] < 0) fail("negative tensor size or stride");
      empty = empty || size[i] == 0;
    }
    if (empty) return;
    int64_t last = offset;
    for (size_t i = 0; i < size.size(); ++i) {
      const int64_t room = numel - 1 - last;  // what is left of the storage
      if (stride[i] != 0 && (size[i] - 1) > room / stride[i]) fail("tensor extends past its storage");
      last += (size[i] - 1) * stride[i];
    }
    if (last >= numel) fail("tensor extends past its storage");
  }

  // torch.save's persistent id: ('storage', torch.<T>Storage, key, location, numel).
  c10::IValue persistent_load(const c10::IValue& pid) {
    if (!pid.isTuple()) fail("persistent id is a " + pid.tagKind() + ", not a tuple");
    const auto e = pid.toTupleRef().elements().vec();  // a copy: GCC misreads the inline storage
    if (e.size() != 5 || !e[0].isString() || e[0].toStringRef() != "storage") {
      fail("persistent id is not ('storage', type, key, location, numel)");
    }
    const AllowedGlobal* type = as_global(e[1]);
    if (type == nullptr || type->kind != GlobalKind::kStorageType)
      fail("persistent id without a storage type");
    if (!e[2].isString() || !is_simple_key(e[2].toStringRef())) fail("storage key is not a plain name");
    if (!e[3].isString()) fail("storage location is not a string");  // 'cpu', 'cuda:0': all load on the CPU
    const std::string key = e[2].toStringRef();
    const int64_t numel = as_int(e[4], "storage size");
    if (numel < 0) fail("negative storage size");
    const auto it = storages_.find(key);
    if (it != storages_.end()) {
      if (it->second.scalar_type() != type->dtype) fail("storage '" + key + "' used with two element types");
      return it->second;
    }
    auto tensor = loader_(key, type->dtype, numel);
    storages_.emplace(key, tensor);
    return tensor;
  }

  void build() {
    auto state = pop();
    auto& target = top();
    // OrderedDict carries `_metadata` (per-module state-dict versions) as BUILD state. qme's
    // modules have one version each, so it is dropped, as load_state_dict would ignore it.
    if (target.isGenericDict()) return;
    if (target.isTensor() && (state.isNone() || (state.isGenericDict() && state.toGenericDict().empty())))
      return;
    fail("BUILD on a " + target.tagKind() + " is not supported");
  }

  c10::IValue finish() {
    if (stack_.empty()) fail("STOP with an empty stack (corrupt pickle)");
    auto result = stack_.back();
    check_no_globals(result);
    return result;
  }

  // An allowed global may appear only where it is consumed (a storage type inside a persistent
  // id, a callable under REDUCE); one left in the result would be a class object.
  void check_no_globals(const c10::IValue& root) const {
    containers_.walk(root, [&](const c10::IValue& v) {
      if (const auto* g = as_global(v)) fail("the result holds a bare reference to " + g->name);
    });
  }

  std::string_view bytes_;
  const StorageLoader& loader_;
  const std::string& source_;
  size_t pos_ = 0;
  size_t op_pos_ = 0;
  std::vector<c10::IValue> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, c10::IValue> memo_;
  std::map<std::string, at::Tensor> storages_;
  ContainerGraph containers_;  // last: destroyed first, while the stack and memo still hold values
};

// ---------------------------------------------------------------------------
// The pickler: torch.save's layout, protocol 2.

std::string storage_type_name(c10::ScalarType dtype) {
  for (const auto& [name, type] : storage_types()) {
    if (type == dtype) return name;
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
    return RestrictedUnpickler(bytes, load_storage, source).run();
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

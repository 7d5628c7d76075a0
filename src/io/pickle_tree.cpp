#include "qme/io/pickle_tree.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "qme/core/error.hpp"

namespace qme::io {

size_t element_size(StorageElement element) {
  switch (element) {
    case StorageElement::kDouble:
    case StorageElement::kLong:
    case StorageElement::kComplexFloat:
      return 8;
    case StorageElement::kFloat:
    case StorageElement::kInt:
      return 4;
    case StorageElement::kHalf:
    case StorageElement::kBFloat16:
    case StorageElement::kShort:
      return 2;
    case StorageElement::kChar:
    case StorageElement::kByte:
    case StorageElement::kBool:
      return 1;
    case StorageElement::kComplexDouble:
      return 16;
  }
  return 1;
}

const char* storage_type_name(StorageElement element) {
  switch (element) {
    case StorageElement::kFloat:
      return "FloatStorage";
    case StorageElement::kDouble:
      return "DoubleStorage";
    case StorageElement::kHalf:
      return "HalfStorage";
    case StorageElement::kBFloat16:
      return "BFloat16Storage";
    case StorageElement::kLong:
      return "LongStorage";
    case StorageElement::kInt:
      return "IntStorage";
    case StorageElement::kShort:
      return "ShortStorage";
    case StorageElement::kChar:
      return "CharStorage";
    case StorageElement::kByte:
      return "ByteStorage";
    case StorageElement::kBool:
      return "BoolStorage";
    case StorageElement::kComplexFloat:
      return "ComplexFloatStorage";
    case StorageElement::kComplexDouble:
      return "ComplexDoubleStorage";
  }
  return "Storage";
}

const char* PickleValue::kind_name() const {
  switch (kind) {
    case Kind::kNone:
      return "None";
    case Kind::kBool:
      return "bool";
    case Kind::kInt:
      return "int";
    case Kind::kFloat:
      return "float";
    case Kind::kString:
      return "str";
    case Kind::kTuple:
      return "tuple";
    case Kind::kList:
      return "list";
    case Kind::kDict:
      return "dict";
    case Kind::kTensor:
      return "tensor";
    case Kind::kStorage:
      return "storage";
    case Kind::kGlobal:
      return "global";
  }
  return "value";
}

namespace {

// ---------------------------------------------------------------------------
// The allow-list. A state dict (and the optimiser/scheduler state around it) needs nothing else.

enum GlobalKind : int {
  kOrderedDict,
  kRebuildTensorV2,
  kRebuildParameter,
  kRebuildParameterWithState,
  kStorageType
};

const std::map<std::string, StorageElement>& storage_types() {
  static const auto types = [] {
    std::map<std::string, StorageElement> by_name;
    for (int e = 0; e <= static_cast<int>(StorageElement::kComplexDouble); ++e) {
      by_name.emplace(storage_type_name(static_cast<StorageElement>(e)), static_cast<StorageElement>(e));
    }
    return by_name;
  }();
  return types;
}

struct AllowedGlobal {
  GlobalKind kind;
  std::string name;  // "module.name", for messages
  StorageElement element = StorageElement::kFloat;
};

std::optional<AllowedGlobal> find_allowed_global(const std::string& module, const std::string& name) {
  const std::string full = module + "." + name;
  if (full == "collections.OrderedDict") return AllowedGlobal{kOrderedDict, full};
  if (module == "torch._utils") {
    if (name == "_rebuild_tensor_v2") return AllowedGlobal{kRebuildTensorV2, full};
    if (name == "_rebuild_parameter") return AllowedGlobal{kRebuildParameter, full};
    if (name == "_rebuild_parameter_with_state") return AllowedGlobal{kRebuildParameterWithState, full};
  }
  if (module == "torch") {
    const auto it = storage_types().find(name);
    if (it != storage_types().end()) return AllowedGlobal{kStorageType, full, it->second};
  }
  return std::nullopt;
}

bool is_simple_key(const std::string& key) {
  if (key.empty() || key.size() > 64) return false;
  for (char c : key) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

using Kind = PickleValue::Kind;

PickleValue scalar(Kind kind, int64_t integer = 0, double real = 0) {
  PickleValue v;
  v.kind = kind;
  v.integer = integer;
  v.real = real;
  return v;
}

}  // namespace

// ---------------------------------------------------------------------------
// The restricted unpickler: an interpreter of the opcodes torch.save emits (protocol 2, plus
// the few protocol 4 ones a torch.save(..., pickle_protocol=4) adds). It never imports, calls
// or instantiates anything outside the allow-list.
//
// A state dict (and the optimiser state around it) is a shallow tree built bottom-up: Python's
// pickler fills a container before it puts it inside another. A crafted stream can instead make
// a container hold itself (a cycle: a naive walk never ends) or nest a million levels (whose
// recursive walks overflow the stack). Both are refused as they are built, with a depth limit
// and a rule that a container may not change once it sits inside another.

class RestrictedUnpickler {
 public:
  static constexpr int kMaxNesting = 100;  // a checkpoint needs about five

  RestrictedUnpickler(std::string_view bytes, const StorageCheck& check, const std::string& source)
      : bytes_(bytes), check_(check), source_(source) {}

  PickleTree run() {
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
    if (step_value(op) || step_container(op) || step_reference(op)) return;
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02x", op);
    fail(std::string("unsupported pickle opcode ") + hex +
         " (torch.save checkpoints of tensors and containers do not use it)");
  }

  /// Framing, the stack and scalars.
  bool step_value(uint8_t op) {
    switch (op) {
      case 0x80:
        take(1);
        return true;  // PROTO: any version; unknown opcodes fail
      case 0x95:
        take(8);
        return true;  // FRAME: a buffering hint
      case '(':
        marks_.push_back(stack_.size());
        return true;
      case '0':
        pop();
        return true;
      case '1':
        pop_mark();
        return true;
      case '2':
        push(top());
        return true;
      case 'N':
        push(scalar(Kind::kNone));
        return true;
      case 0x88:
      case 0x89:
        push(scalar(Kind::kBool, op == 0x88 ? 1 : 0));
        return true;
      case 'J':
        push(scalar(Kind::kInt, static_cast<int32_t>(read_uint(4))));
        return true;
      case 'K':
        push(scalar(Kind::kInt, static_cast<int64_t>(read_uint(1))));
        return true;
      case 'M':
        push(scalar(Kind::kInt, static_cast<int64_t>(read_uint(2))));
        return true;
      case 0x8a:
        push(scalar(Kind::kInt, read_long(read_uint(1))));
        return true;
      case 0x8b:
        push(scalar(Kind::kInt, read_long(read_uint(4))));
        return true;
      case 'G':
        push(scalar(Kind::kFloat, 0, read_binfloat()));
        return true;
      case 'X':
        push(string_value(read_uint(4)));
        return true;
      case 0x8c:
        push(string_value(read_uint(1)));
        return true;
      case 0x8d:
        push(string_value(read_uint(8)));
        return true;
      default:
        return false;
    }
  }

  /// Tuples, lists and dicts.
  bool step_container(uint8_t op) {
    switch (op) {
      case ')':
        push(new_container(Kind::kTuple, {}));
        return true;
      case 't':
        push(new_container(Kind::kTuple, pop_mark()));
        return true;
      case 0x85:
      case 0x86:
      case 0x87:
        push_tuple(static_cast<size_t>(op - 0x84));
        return true;
      case ']':
        push(new_container(Kind::kList, {}));
        return true;
      case 'l':
        push(new_container(Kind::kList, pop_mark()));
        return true;
      case 'a':
        append({pop()});
        return true;
      case 'e':
        append(pop_mark());
        return true;
      case '}':
        push(new_container(Kind::kDict, {}));
        return true;
      case 'd':
        push(dict_of(pop_mark()));
        return true;
      case 's': {
        auto value = pop();
        auto key = pop();
        insert_pairs(top(), {key, value});
        return true;
      }
      case 'u': {
        const auto items = pop_mark();
        insert_pairs(top(), items);
        return true;
      }
      default:
        return false;
    }
  }

  /// The memo, globals, calls and storages.
  bool step_reference(uint8_t op) {
    switch (op) {
      case 'q':
        memo_put(read_uint(1));
        return true;
      case 'r':
        memo_put(read_uint(4));
        return true;
      case 0x94:
        memo_put(memo_.size());
        return true;
      case 'h':
        memo_get(read_uint(1));
        return true;
      case 'j':
        memo_get(read_uint(4));
        return true;
      case 'c': {
        const std::string module = read_line();
        const std::string name = read_line();
        push(resolve_global(module, name));
        return true;
      }
      case 0x93:
        stack_global();
        return true;
      case 'R':
      case 0x81:
        reduce(op == 'R' ? "REDUCE" : "NEWOBJ");
        return true;
      case 'b':
        build();
        return true;
      case 'Q':
        push(persistent_load(pop()));
        return true;
      default:
        return false;
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
  PickleValue string_value(uint64_t n) {
    const char* p = take(n);
    PickleValue v;
    v.kind = Kind::kString;
    v.index = static_cast<uint32_t>(tree_.strings_.size());
    tree_.strings_.emplace_back(p, static_cast<size_t>(n));
    return v;
  }
  std::string read_line() {
    const auto end = bytes_.find('\n', pos_);
    if (end == std::string_view::npos) fail("truncated: the pickle stream ends early");
    std::string line(bytes_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return line;
  }

  // --- the stack -----------------------------------------------------------------------------
  void push(const PickleValue& v) { stack_.push_back(v); }
  const PickleValue& top() const {
    if (stack_.size() <= (marks_.empty() ? 0 : marks_.back())) fail("stack underflow (corrupt pickle)");
    return stack_.back();
  }
  PickleValue pop() {
    const PickleValue v = top();
    stack_.pop_back();
    return v;
  }
  std::vector<PickleValue> pop_mark() {
    if (marks_.empty()) fail("no MARK on the stack (corrupt pickle)");
    const size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<PickleValue> items(stack_.begin() + static_cast<long>(mark), stack_.end());
    stack_.resize(mark);
    return items;
  }
  void push_tuple(size_t n) {
    std::vector<PickleValue> items(n);
    for (size_t i = n; i-- > 0;) items[i] = pop();
    push(new_container(Kind::kTuple, std::move(items)));
  }

  // --- containers ------------------------------------------------------------------------------
  PickleTree::Container& container(const PickleValue& v) { return tree_.containers_[v.index]; }

  PickleValue new_container(Kind kind, std::vector<PickleValue> items) {
    PickleValue v;
    v.kind = kind;
    v.index = static_cast<uint32_t>(tree_.containers_.size());
    const int height = nested_height(items);
    tree_.containers_.push_back(PickleTree::Container{kind, std::move(items), height, false});
    return v;
  }
  PickleValue dict_of(const std::vector<PickleValue>& items) {
    const auto dict = new_container(Kind::kDict, {});
    insert_pairs(dict, items);
    return dict;
  }

  /// 1 + the highest container among `items`, which are sealed from now on.
  int nested_height(const std::vector<PickleValue>& items) {
    int height = 1;
    for (const auto& item : items) {
      if (!item.is_container()) continue;
      auto& inner = container(item);
      inner.sealed = true;
      height = std::max(height, inner.height + 1);
    }
    if (height > kMaxNesting) {
      fail("containers nested deeper than " + std::to_string(kMaxNesting) +
           " levels (a checkpoint's state needs a handful)");
    }
    return height;
  }

  /// Before `items` go into `target`.
  void adding(const PickleValue& target, const std::vector<PickleValue>& items) {
    const std::string kind = target.kind_name();
    if (container(target).sealed) {
      fail("a " + kind +
           " is changed after it was put inside another container (a recursive structure, which a "
           "checkpoint never holds)");
    }
    for (const auto& item : items) {
      if (item.is_container() && item.index == target.index) {
        fail("a " + kind + " contains itself (a recursive structure, which a checkpoint never holds)");
      }
    }
    auto& c = container(target);
    c.height = std::max(c.height, nested_height(items));
  }

  void append(const std::vector<PickleValue>& items) {
    const auto target = top();
    if (target.kind != Kind::kList) fail(std::string("APPEND to a ") + target.kind_name() + ", not a list");
    adding(target, items);
    auto& list = container(target).items;
    list.insert(list.end(), items.begin(), items.end());
  }

  /// Python's dict semantics: a key given again replaces its value, in its first place.
  void insert_pairs(const PickleValue& target, const std::vector<PickleValue>& items) {
    if (target.kind != Kind::kDict) fail(std::string("SETITEM on a ") + target.kind_name() + ", not a dict");
    if (items.size() % 2 != 0) fail("odd number of items for a dict");
    adding(target, items);
    auto& index = dict_index_[target.index];
    auto& pairs = container(target).items;
    for (size_t i = 0; i < items.size(); i += 2) {
      const auto [place, fresh] = index.emplace(key_of(items[i]), pairs.size());
      if (fresh) {
        pairs.push_back(items[i]);
        pairs.push_back(items[i + 1]);
      } else {
        pairs[place->second + 1] = items[i + 1];
      }
    }
  }

  std::string key_of(const PickleValue& key) const {
    switch (key.kind) {
      case Kind::kString:
        return "s" + tree_.strings_[key.index];
      case Kind::kInt:
      case Kind::kBool:
        return "i" + std::to_string(key.integer);
      case Kind::kFloat: {
        char bits[sizeof(double)];
        std::memcpy(bits, &key.real, sizeof bits);
        return "f" + std::string(bits, sizeof bits);
      }
      default:
        fail(std::string("dict key of type ") + key.kind_name() + " is not supported");
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
  void stack_global() {
    const auto name = pop();
    const auto module = pop();
    if (name.kind != Kind::kString || module.kind != Kind::kString) fail("STACK_GLOBAL needs two strings");
    push(resolve_global(tree_.text(module), tree_.text(name)));
  }
  PickleValue resolve_global(const std::string& module, const std::string& name) {
    auto allowed = find_allowed_global(module, name);
    if (!allowed) {
      throw InputError(source_ + ": refuses to load global '" + module + "." + name +
                       "': a checkpoint may hold only tensors, numbers, strings and containers of "
                       "them, and this one asks to import code");
    }
    PickleValue v;
    v.kind = Kind::kGlobal;
    v.index = static_cast<uint32_t>(tree_.globals_.size());
    tree_.globals_.push_back(PickleTree::Global{allowed->kind, allowed->name, allowed->element});
    return v;
  }
  const PickleTree::Global* as_global(const PickleValue& v) const {
    return v.kind == Kind::kGlobal ? &tree_.globals_[v.index] : nullptr;
  }

  void reduce(const char* opname) {
    const auto args = pop();
    const auto callable = pop();
    const auto* global = as_global(callable);
    if (global == nullptr)
      fail(std::string(opname) + " on a " + callable.kind_name() + ", not an allowed global");
    if (args.kind != Kind::kTuple)
      fail(std::string(opname) + " arguments are a " + args.kind_name() + ", not a tuple");
    const auto a = container(args).items;  // a copy: pushing may move the containers
    switch (global->kind) {
      case kOrderedDict:
        if (!a.empty()) fail("collections.OrderedDict called with arguments");
        push(new_container(Kind::kDict, {}));
        return;
      case kRebuildTensorV2:
        if (a.size() != 6 && a.size() != 7) fail("_rebuild_tensor_v2 takes 6 or 7 arguments");
        push(rebuild_tensor(a[0], a[1], a[2], a[3]));
        return;
      case kRebuildParameter:
      case kRebuildParameterWithState:
        if (a.empty() || a[0].kind != Kind::kTensor) fail(global->name + " needs a tensor");
        push(a[0]);  // a Parameter is its data here; requires_grad and hooks do not apply
        return;
      default:
        fail(std::string(opname) + " on storage type " + global->name + " is not supported");
    }
  }

  int64_t as_int(const PickleValue& v, const char* what) const {
    if (v.kind != Kind::kInt) fail(std::string(what) + " must be an integer, got " + v.kind_name());
    return v.integer;
  }
  std::vector<int64_t> int_tuple(const PickleValue& v, const char* what) {
    if (v.kind != Kind::kTuple) fail(std::string(what) + " must be a tuple, got " + v.kind_name());
    std::vector<int64_t> out;
    for (const auto& e : container(v).items) out.push_back(as_int(e, what));
    return out;
  }

  PickleValue rebuild_tensor(const PickleValue& storage, const PickleValue& offset_v,
                             const PickleValue& size_v, const PickleValue& stride_v) {
    if (storage.kind != Kind::kStorage)
      fail(std::string("_rebuild_tensor_v2 needs a storage, got ") + storage.kind_name());
    TensorView view;
    view.storage = storage.index;
    view.offset = as_int(offset_v, "tensor offset");
    view.sizes = int_tuple(size_v, "tensor size");
    view.strides = int_tuple(stride_v, "tensor stride");
    if (view.sizes.size() != view.strides.size()) fail("tensor size and stride differ in length");
    check_view_in_bounds(tree_.storages_[storage.index].numel, view);
    PickleValue v;
    v.kind = Kind::kTensor;
    v.index = static_cast<uint32_t>(tree_.tensors_.size());
    tree_.tensors_.push_back(std::move(view));
    return v;
  }

  // Readers of the view (LibTorch's as_strided among them) trust it; a crafted file must not
  // make them read outside the storage.
  void check_view_in_bounds(int64_t numel, const TensorView& view) const {
    if (view.offset < 0 || view.offset > numel) fail("tensor offset outside its storage");
    bool empty = false;
    for (size_t i = 0; i < view.sizes.size(); ++i) {
      if (view.sizes[i] < 0 || view.strides[i] < 0) fail("negative tensor size or stride");
      empty = empty || view.sizes[i] == 0;
    }
    if (empty) return;
    int64_t last = view.offset;
    for (size_t i = 0; i < view.sizes.size(); ++i) {
      const int64_t room = numel - 1 - last;  // what is left of the storage
      if (view.strides[i] != 0 && (view.sizes[i] - 1) > room / view.strides[i])
        fail("tensor extends past its storage");
      last += (view.sizes[i] - 1) * view.strides[i];
    }
    if (last >= numel) fail("tensor extends past its storage");
  }

  // torch.save's persistent id: ('storage', torch.<T>Storage, key, location, numel).
  PickleValue persistent_load(const PickleValue& pid) {
    if (pid.kind != Kind::kTuple)
      fail(std::string("persistent id is a ") + pid.kind_name() + ", not a tuple");
    const auto e = container(pid).items;
    if (e.size() != 5 || e[0].kind != Kind::kString || tree_.text(e[0]) != "storage") {
      fail("persistent id is not ('storage', type, key, location, numel)");
    }
    const auto* type = as_global(e[1]);
    if (type == nullptr || type->kind != kStorageType) fail("persistent id without a storage type");
    if (e[2].kind != Kind::kString || !is_simple_key(tree_.text(e[2])))
      fail("storage key is not a plain name");
    if (e[3].kind != Kind::kString)
      fail("storage location is not a string");  // 'cpu', 'cuda:0': all load on the CPU
    const std::string key = tree_.text(e[2]);
    const int64_t numel = as_int(e[4], "storage size");
    if (numel < 0) fail("negative storage size");
    PickleValue v;
    v.kind = Kind::kStorage;
    const auto it = storage_index_.find(key);
    if (it != storage_index_.end()) {
      if (tree_.storages_[it->second].element != type->element) {
        fail("storage '" + key + "' used with two element types");
      }
      v.index = it->second;
      return v;
    }
    StorageRef storage{key, type->element, numel};
    check_(storage);
    v.index = static_cast<uint32_t>(tree_.storages_.size());
    storage_index_.emplace(key, v.index);
    tree_.storages_.push_back(std::move(storage));
    return v;
  }

  void build() {
    const auto state = pop();
    const auto& target = top();
    // OrderedDict carries `_metadata` (per-module state-dict versions) as BUILD state. qme's
    // modules have one version each, so it is dropped, as load_state_dict would ignore it.
    if (target.kind == Kind::kDict) return;
    if (target.kind == Kind::kTensor &&
        (state.kind == Kind::kNone || (state.kind == Kind::kDict && container(state).items.empty()))) {
      return;
    }
    fail(std::string("BUILD on a ") + target.kind_name() + " is not supported");
  }

  PickleTree finish() {
    if (stack_.empty()) fail("STOP with an empty stack (corrupt pickle)");
    tree_.root_ = stack_.back();
    check_no_globals(tree_.root_);
    return std::move(tree_);
  }

  // An allowed global may appear only where it is consumed (a storage type inside a persistent
  // id, a callable under REDUCE); one left in the result would be a class object. Each container
  // is expanded once: shared references are common in pickles and must not multiply the work.
  void check_no_globals(const PickleValue& root) const {
    std::unordered_set<uint32_t> seen;
    std::vector<PickleValue> todo{root};
    while (!todo.empty()) {
      const auto v = todo.back();
      todo.pop_back();
      if (const auto* g = as_global(v)) fail("the result holds a bare reference to " + g->name);
      if (!v.is_container() || !seen.insert(v.index).second) continue;
      const auto& items = tree_.containers_[v.index].items;
      todo.insert(todo.end(), items.begin(), items.end());
    }
  }

  std::string_view bytes_;
  const StorageCheck& check_;
  const std::string& source_;
  size_t pos_ = 0;
  size_t op_pos_ = 0;
  PickleTree tree_;
  std::vector<PickleValue> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, PickleValue> memo_;
  std::unordered_map<std::string, uint32_t> storage_index_;
  std::unordered_map<uint32_t, std::unordered_map<std::string, size_t>> dict_index_;
};

PickleTree unpickle_tree(std::string_view bytes, const StorageCheck& check_storage,
                         const std::string& source) {
  return RestrictedUnpickler(bytes, check_storage, source).run();
}

}  // namespace qme::io

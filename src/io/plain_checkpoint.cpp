#include "qme/io/plain_checkpoint.hpp"

#include <cstring>

#include "qme/core/error.hpp"
#include "qme/io/torch_archive.hpp"

namespace qme::io {

namespace {

using Kind = PickleValue::Kind;

/// The storages' records: sizes checked as the unpickler meets them, bytes read once the
/// wanted entries are known.
class StoredRecords {
 public:
  explicit StoredRecords(TorchArchive& archive) : archive_(archive) {}

  void admit(const StorageRef& storage) {
    archive_.check_storage_record(storage.key, element_size(storage.element), storage.numel);
    keys_.push_back(storage.key);
  }
  /// Reads the storages `wanted` marks, CRC-checks the others in chunks, in storage order.
  void read(const std::vector<bool>& wanted) {
    bytes_.resize(keys_.size());
    for (size_t i = 0; i < keys_.size(); ++i) {
      const auto record = "data/" + keys_[i];
      if (wanted[i]) {
        bytes_[i] = archive_.read_stored_bytes(record);
      } else {
        archive_.check_stored(record);
      }
    }
  }
  size_t size() const { return keys_.size(); }
  std::string_view bytes(uint32_t storage) const { return bytes_.at(storage).view(); }

 private:
  TorchArchive& archive_;
  std::vector<std::string> keys_;
  std::vector<TorchArchive::RecordBytes> bytes_;
};

bool is_row_major(const TensorView& view) {
  int64_t stride = 1;
  for (size_t d = view.sizes.size(); d-- > 0;) {
    if (view.sizes[d] != 1 && view.strides[d] != stride) return false;
    stride *= view.sizes[d];
  }
  return true;
}

/// A float32 view's elements in row-major order (the view was checked to lie in its storage).
std::vector<float> gathered(const TensorView& view, std::string_view storage) {
  int64_t count = 1;
  for (const auto s : view.sizes) count *= s;
  std::vector<float> out(static_cast<size_t>(count));
  if (is_row_major(view)) {  // what torch.save writes for a parameter: one copy
    if (count > 0) std::memcpy(out.data(), storage.data() + view.offset * 4, out.size() * 4);
    return out;
  }
  std::vector<int64_t> index(view.sizes.size(), 0);
  for (int64_t n = 0; n < count; ++n) {
    int64_t at = view.offset;
    for (size_t d = 0; d < index.size(); ++d) at += index[d] * view.strides[d];
    std::memcpy(&out[static_cast<size_t>(n)], storage.data() + at * 4, 4);
    for (size_t d = index.size(); d-- > 0;) {  // the next index, last dimension fastest
      if (++index[d] < view.sizes[d]) break;
      index[d] = 0;
    }
  }
  return out;
}

const PickleValue* find_entry(const PickleTree& tree, const PickleValue& dict, const std::string& key) {
  const auto& items = tree.items(dict);
  for (size_t i = 0; i + 1 < items.size(); i += 2) {
    if (items[i].kind == Kind::kString && tree.text(items[i]) == key) return &items[i + 1];
  }
  return nullptr;
}

/// model_state_dict's entries: names and views, checked to be a dict of tensors under string keys.
std::vector<std::pair<std::string, const TensorView*>> state_entries(const PickleTree& tree,
                                                                     const std::string& path) {
  if (tree.root().kind != Kind::kDict) {
    throw InputError(path, "", std::string("holds a ") + tree.root().kind_name() + ", not a checkpoint dict");
  }
  const auto& top = tree.items(tree.root());
  for (size_t i = 0; i < top.size(); i += 2) {
    if (top[i].kind != Kind::kString) throw InputError(path, "", "has a top-level key that is not a string");
  }
  const auto* model = find_entry(tree, tree.root(), "model_state_dict");
  if (model == nullptr) throw InputError(path, "model_state_dict", "is missing");
  if (model->kind != Kind::kDict) {
    throw InputError(path, "model_state_dict",
                     std::string("is a ") + model->kind_name() + ", not a dict of tensors");
  }
  std::vector<std::pair<std::string, const TensorView*>> entries;
  const auto& items = tree.items(*model);
  for (size_t i = 0; i + 1 < items.size(); i += 2) {
    if (items[i].kind != Kind::kString)
      throw InputError(path, "model_state_dict", "has a key that is not a string");
    const auto& name = tree.text(items[i]);
    if (items[i + 1].kind != Kind::kTensor) {
      throw InputError(path, "model_state_dict/" + name,
                       std::string("is a ") + items[i + 1].kind_name() + ", not a tensor");
    }
    entries.emplace_back(name, &tree.tensor(items[i + 1]));
  }
  return entries;
}

}  // namespace

PlainStateDict read_plain_state_dict(const std::string& path, const WantedEntry& wanted) {
  check_is_zip_archive(path);
  TorchArchive archive(path);
  archive.check_version_record();
  archive.check_not_torchscript();
  if (archive.has("byteorder")) archive.check_byte_order(archive.read_stored("byteorder", 16));
  const auto pickle = archive.read_stored("data.pkl", TorchArchive::kMaxPickleBytes);
  StoredRecords records(archive);
  const auto tree = unpickle_tree(
      pickle, [&](const StorageRef& storage) { records.admit(storage); }, path);
  const auto entries = state_entries(tree, path);

  std::vector<bool> read_storage(records.size(), false);
  std::vector<bool> read_entry(entries.size(), false);
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& [name, view] = entries[i];
    const bool is_float = tree.storages().at(view->storage).element == StorageElement::kFloat;
    read_entry[i] = is_float && (!wanted || wanted(name));
    if (read_entry[i]) read_storage.at(view->storage) = true;
  }
  records.read(read_storage);

  PlainStateDict state;
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& [name, view] = entries[i];
    PlainTensor tensor;
    tensor.element = tree.storages().at(view->storage).element;
    tensor.sizes = view->sizes;
    if (read_entry[i]) tensor.values = gathered(*view, records.bytes(view->storage));
    state.emplace_back(name, std::move(tensor));
  }
  return state;
}

}  // namespace qme::io

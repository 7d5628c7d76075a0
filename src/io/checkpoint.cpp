#include "qme/io/checkpoint.hpp"

#include <caffe2/serialize/inline_container.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>

#include "qme/core/error.hpp"
#include "qme/io/checkpoint_pickle.hpp"
#include "qme/io/tensor_shape.hpp"
#include "qme/io/torch_archive.hpp"

namespace qme::io {

namespace {

using caffe2::serialize::PyTorchStreamReader;
using caffe2::serialize::PyTorchStreamWriter;

/// LibTorch's message, less its backtrace and its plea for a better message.
std::string first_line(const std::string& text) {
  const std::string line = text.substr(0, text.find('\n'));
  return line.substr(0, line.find("  (Could this error message be improved?"));
}

static_assert(kMinTorchFormatVersion == caffe2::serialize::kMinSupportedFileFormatVersion &&
                  kMaxTorchFormatVersion == caffe2::serialize::kMaxSupportedFileFormatVersion,
              "torch_archive.hpp's format versions must be LibTorch's");

std::unique_ptr<PyTorchStreamReader> open_archive(const std::string& path) {
  try {
    return std::make_unique<PyTorchStreamReader>(path);
  } catch (const c10::Error& e) {
    throw InputError(path, "",
                     "cannot be read as a torch.save archive, it is truncated or corrupt (" +
                         first_line(e.what_without_backtrace()) + ")");
  }
}

/// A record's bytes, CRC-checked; `limit` caps its declared size before it is inflated.
std::pair<at::DataPtr, size_t> read_record(PyTorchStreamReader& reader, TorchArchive& directory,
                                           const std::string& path, const std::string& name,
                                           uint64_t limit = UINT64_MAX) {
  if (!reader.hasRecord(name)) throw InputError(path, name, "is missing from the archive");
  directory.admit(name, limit);
  auto [data, size] = reader.getRecord(name);
  directory.verify(name, static_cast<const char*>(data.get()), size);
  return {std::move(data), size};
}

std::string_view as_text(const std::pair<at::DataPtr, size_t>& record) {
  return {static_cast<const char*>(record.first.get()), record.second};
}

void check_byte_order(PyTorchStreamReader& reader, TorchArchive& directory, const std::string& path) {
  // torch >= 2.1 records the writer's byte order.
  if (!reader.hasRecord("byteorder")) return;
  const auto record = read_record(reader, directory, path, "byteorder", 16);
  directory.check_byte_order(std::string(as_text(record)));
}

at::Tensor load_storage(PyTorchStreamReader& reader, TorchArchive& directory, const std::string& path,
                        const std::string& key, c10::ScalarType dtype, int64_t numel) {
  const auto item = static_cast<uint64_t>(c10::elementSize(dtype));
  directory.check_storage_record(key, item, numel);
  // The bytes read must then match what the directory declared.
  const std::string name = "data/" + key;
  auto [data, size] = read_record(reader, directory, path, name);
  if (size != directory.declared_size(name))
    throw InputError(path, name, "is shorter than the zip directory declares");
  auto tensor = torch::empty({numel}, torch::TensorOptions().dtype(dtype));
  if (numel > 0) std::memcpy(tensor.data_ptr(), data.get(), static_cast<size_t>(numel) * item);
  return tensor;
}

c10::IValue decode_archive(PyTorchStreamReader& reader, TorchArchive& directory, const std::string& path) {
  directory.check_not_torchscript();
  check_byte_order(reader, directory, path);
  const auto pickle = read_record(reader, directory, path, "data.pkl", TorchArchive::kMaxPickleBytes);
  const StorageLoader loader = [&](const std::string& key, c10::ScalarType dtype, int64_t numel) {
    return load_storage(reader, directory, path, key, dtype, numel);
  };
  return unpickle_restricted(as_text(pickle), loader, path);
}

StateDict to_state_dict(const c10::IValue& value, const std::string& path) {
  if (!value.isGenericDict()) {
    throw InputError(path, "model_state_dict", "is a " + value.tagKind() + ", not a dict of tensors");
  }
  StateDict state;
  for (const auto& kv : value.toGenericDict()) {
    if (!kv.key().isString()) throw InputError(path, "model_state_dict", "has a key that is not a string");
    const auto& name = kv.key().toStringRef();
    if (!kv.value().isTensor()) {
      throw InputError(path, "model_state_dict/" + name, "is a " + kv.value().tagKind() + ", not a tensor");
    }
    state.insert(name, kv.value().toTensor());
  }
  return state;
}

std::string joined_keys(const c10::Dict<c10::IValue, c10::IValue>& dict) {
  std::string out;
  for (const auto& kv : dict) {
    if (!out.empty()) out += ", ";
    out += kv.key().isString() ? kv.key().toStringRef() : kv.key().tagKind();
  }
  return out.empty() ? "nothing" : out;
}

std::string temporary_path(const std::string& path) {
  return path + ".tmp-" + std::to_string(::getpid());
}

void write_archive(const std::string& path, const std::string& tmp, const std::string& pickle,
                   const std::vector<PickledStorage>& storages) {
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  if (!out) throw InputError(path, "", "cannot be written (is its folder missing or read-only?)");
  {
    // The sink always reports success: a failure inside the writer would surface from its
    // destructor. The stream's state is checked once it is closed.
    PyTorchStreamWriter writer([&](const void* data, size_t size) -> size_t {
      out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
      return size;
    });
    writer.writeRecord("data.pkl", pickle.data(), pickle.size());
    writer.writeRecord("byteorder", "little", 6);
    for (const auto& s : storages) writer.writeRecord("data/" + s.key, s.data.data_ptr(), s.data.nbytes());
    writer.writeEndOfFile();  // adds "version" and the zip directory
  }
  out.close();
  if (!out) throw InputError(path, "", "could not be written completely (disk full?)");
}

void append_module_state(const torch::nn::Module& module, const std::string& prefix, StateDict* out) {
  for (const auto& p : module.named_parameters(/*recurse=*/false)) out->insert(prefix + p.key(), p.value());
  for (const auto& b : module.named_buffers(/*recurse=*/false)) out->insert(prefix + b.key(), b.value());
  for (const auto& child : module.named_children()) {
    append_module_state(*child.value(), prefix + child.key() + ".", out);
  }
}

std::string list_shortened(const std::vector<std::string>& items) {
  constexpr size_t kShown = 8;
  std::string out;
  for (size_t i = 0; i < items.size() && i < kShown; ++i) out += (i ? ", " : "") + items[i];
  if (items.size() > kShown) out += " (and " + std::to_string(items.size() - kShown) + " more)";
  return out;
}

}  // namespace

const c10::IValue* Checkpoint::find(const std::string& key) const {
  for (const auto& [name, value] : entries) {
    if (name == key) return &value;
  }
  return nullptr;
}

void Checkpoint::set(const std::string& key, c10::IValue value) {
  for (auto& [name, existing] : entries) {
    if (name == key) {
      existing = std::move(value);
      return;
    }
  }
  entries.emplace_back(key, std::move(value));
}

c10::IValue read_torch_archive(const std::string& path) {
  check_is_zip_archive(path);
  TorchArchive directory(path);
  directory.check_version_record();
  auto reader = open_archive(path);
  try {
    return decode_archive(*reader, directory, path);
  } catch (const c10::Error& e) {
    throw InputError(path, "", "is corrupt (" + first_line(e.what_without_backtrace()) + ")");
  }
}

Checkpoint read_checkpoint(const std::string& path) {
  const auto top = read_torch_archive(path);
  if (!top.isGenericDict())
    throw InputError(path, "", "holds a " + top.tagKind() + ", not a checkpoint dict");
  const auto dict = top.toGenericDict();
  Checkpoint checkpoint;
  bool have_model = false;
  for (const auto& kv : dict) {
    if (!kv.key().isString()) throw InputError(path, "", "has a top-level key that is not a string");
    const auto& name = kv.key().toStringRef();
    if (name == "model_state_dict") {
      checkpoint.model_state_dict = to_state_dict(kv.value(), path);
      have_model = true;
    } else {
      checkpoint.entries.emplace_back(name, kv.value());
    }
  }
  if (!have_model) {
    throw InputError(path, "model_state_dict", "is missing (the checkpoint has: " + joined_keys(dict) + ")");
  }
  return checkpoint;
}

void write_checkpoint(const std::string& path, const Checkpoint& checkpoint) {
  auto model = c10::impl::GenericDict(c10::StringType::get(), c10::TensorType::get());
  for (const auto& item : checkpoint.model_state_dict) model.insert(item.key(), item.value());
  const c10::IValue model_value(model);
  auto top = c10::impl::GenericDict(c10::StringType::get(), c10::AnyType::get());
  top.insert("model_state_dict", model_value);
  for (const auto& [name, value] : checkpoint.entries) {
    if (name == "model_state_dict") throw Error(path + ": 'model_state_dict' given twice");
    top.insert(name, value);
  }
  PickleOptions options;
  options.ordered_dicts.insert(model_value.internalToPointer());
  std::vector<PickledStorage> storages;
  const auto pickle = pickle_for_torch(c10::IValue(top), options, &storages);

  const std::string tmp = temporary_path(path);
  try {
    write_archive(path, tmp, pickle, storages);
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw InputError(path, "", "cannot be moved into place");
  }
}

StateDict state_dict(const torch::nn::Module& module) {
  StateDict out;
  append_module_state(module, "", &out);
  return out;
}

std::string StateDictDiff::describe() const {
  std::vector<std::string> parts;
  if (!missing.empty()) parts.push_back("missing keys: " + list_shortened(missing));
  if (!unexpected.empty()) parts.push_back("unexpected keys: " + list_shortened(unexpected));
  if (!mis_shaped.empty()) parts.push_back("mis-shaped: " + list_shortened(mis_shaped));
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? "; " : "") + parts[i];
  return out;
}

StateDictDiff compare_state_dict(const torch::nn::Module& module, const StateDict& state) {
  const auto own = state_dict(module);
  StateDictDiff diff;
  for (const auto& item : own) {
    const auto* theirs = state.find(item.key());
    if (theirs == nullptr) {
      diff.missing.push_back(item.key());
    } else if (theirs->sizes() != item.value().sizes()) {
      diff.mis_shaped.push_back(item.key() + " is " + shape_text(theirs->sizes()) +
                                " in the file, the model expects " + shape_text(item.value().sizes()));
    }
  }
  for (const auto& item : state) {
    if (!own.contains(item.key())) diff.unexpected.push_back(item.key());
  }
  return diff;
}

StateDictDiff load_state_dict(torch::nn::Module& module, const StateDict& state, const std::string& source,
                              bool strict) {
  auto diff = compare_state_dict(module, state);
  const bool fatal = !diff.mis_shaped.empty() || (strict && !diff.empty());
  if (fatal) throw InputError(source, "model_state_dict", "does not match the model: " + diff.describe());
  torch::NoGradGuard no_grad;
  for (auto& item : state_dict(module)) {
    if (const auto* value = state.find(item.key())) item.value().copy_(*value);
  }
  return diff;
}

}  // namespace qme::io

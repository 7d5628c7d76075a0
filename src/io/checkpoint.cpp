#include "qme/io/checkpoint.hpp"

#include <caffe2/serialize/inline_container.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string_view>

#include "qme/core/error.hpp"
#include "qme/io/checkpoint_pickle.hpp"
#include "qme/io/tensor_shape.hpp"

namespace qme::io {

namespace {

using caffe2::serialize::PyTorchStreamReader;
using caffe2::serialize::PyTorchStreamWriter;

/// LibTorch's message, less its backtrace and its plea for a better message.
std::string first_line(const std::string& text) {
  const std::string line = text.substr(0, text.find('\n'));
  return line.substr(0, line.find("  (Could this error message be improved?"));
}

/// Names what the file is when it is not a zip archive, from its first bytes.
void check_is_zip(const std::string& path) {
  namespace fs = std::filesystem;
  if (!fs::exists(path)) throw InputError(path, "", "does not exist");
  if (fs::is_directory(path)) throw InputError(path, "", "is a directory, not a checkpoint file");
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {0, 0, 0, 0};
  in.read(magic, sizeof magic);
  if (in.gcount() == 4 && std::memcmp(magic, "PK\x03\x04", 4) == 0) return;
  if (in.gcount() >= 1 && static_cast<unsigned char>(magic[0]) == 0x80) {
    throw InputError(path, "",
                     "is a legacy torch.save file (PyTorch < 1.6, not a zip archive), which qme does not "
                     "read; re-save it with torch.save from PyTorch >= 1.6");
  }
  throw InputError(path, "", "is not a torch.save checkpoint (not a zip archive)");
}

// --- CRC-32 of every record ----------------------------------------------------------------
// LibTorch builds miniz without CRC checks, so a flipped bit inside a tensor would load silently.
// qme reads each record's CRC-32 from the zip's central directory and checks the bytes it got.

uint32_t crc32(const char* data, size_t size) {
  static const auto table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < size; ++i) c = table[(c ^ static_cast<uint8_t>(data[i])) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

uint64_t little_endian(const std::string& bytes, size_t at, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(bytes[at + static_cast<size_t>(i)]);
  return v;
}

/// The archive's central directory: per record (named after the archive's top folder) its CRC-32
/// and sizes. Sizes are checked before a record is inflated: torch.save stores records
/// uncompressed, so a record that inflates far beyond the file is a bomb, not a checkpoint.
class ArchiveDirectory {
 public:
  static constexpr uint64_t kMaxPickleBytes = uint64_t{256} << 20;  // a state dict's needs a few MB
  static constexpr uint64_t kMaxInflation = 64;                     // inflated bytes per file byte
  static constexpr uint64_t kMaxVersionBytes = 64;

  explicit ArchiveDirectory(const std::string& path) : path_(path) {
    std::ifstream in(path, std::ios::binary);
    in.seekg(0, std::ios::end);
    const auto size = static_cast<uint64_t>(in.tellg());
    inflation_budget_ = std::max<uint64_t>(uint64_t{64} << 20, size * kMaxInflation);
    const auto [offset, length, count] = find_directory(in, size);
    if (offset > size || length > size - offset) truncated("the zip directory lies outside the file");
    std::string dir(static_cast<size_t>(length), '\0');
    in.seekg(static_cast<std::streamoff>(offset));
    in.read(dir.data(), static_cast<std::streamsize>(length));
    if (!in) truncated("the zip directory cannot be read");
    if (parse_directory(dir) != count)
      corrupt("its zip directory holds another number of records than it declares");
  }

  /// Refuses a record whose inflated size would exceed `limit` or what a checkpoint of this
  /// file's size can hold (compressed records share one budget), before anything is allocated.
  void admit(const std::string& record, uint64_t limit = UINT64_MAX) {
    const Entry& e = entry(record);
    if (e.size > limit) {
      throw InputError(path_, record,
                       "declares " + std::to_string(e.size) + " bytes, more than the " +
                           std::to_string(limit) + " a checkpoint's record of this kind can need");
    }
    if (e.compressed) {
      if (e.size > inflation_budget_) {
        throw InputError(path_, record,
                         "would inflate to " + std::to_string(e.size) + " bytes, more than " +
                             std::to_string(kMaxInflation) +
                             " times the file's size (torch.save stores records uncompressed; this is "
                             "a zip bomb or not a checkpoint)");
      }
      inflation_budget_ -= e.size;
    }
  }

  uint64_t declared_size(const std::string& record) const { return entry(record).size; }

  /// LibTorch's reader reads and parses the version record as it opens the archive, and leaks its
  /// zip state when that fails: qme reads the record itself first, with its size capped, its CRC
  /// checked and its number within what LibTorch reads.
  void check_version_record() {
    if (entries_.count("version") == 0) {
      throw InputError(path_, "version", "is missing from the archive (every torch.save archive has one)");
    }
    admit("version", kMaxVersionBytes);
    const Entry& e = entry("version");
    if (e.compressed) corrupt("record 'version' is compressed; torch.save stores records as they are");
    if (e.local_offset == 0xFFFFFFFFu) return;  // a zip64 offset: left to LibTorch
    const std::string text = read_stored(e);
    verify("version", text.data(), text.size());
    check_version_number(text);
  }

  void verify(const std::string& record, const char* data, size_t size) const {
    if (crc32(data, size) != entry(record).crc) corrupt("record '" + record + "' fails its CRC check");
  }

 private:
  struct Entry {
    uint32_t crc = 0;
    bool compressed = false;
    uint64_t size = 0;          // uncompressed
    uint64_t local_offset = 0;  // of its local header
  };

  /// A stored (uncompressed) record's bytes, found through its local header.
  std::string read_stored(const Entry& e) const {
    std::ifstream in(path_, std::ios::binary);
    std::string header(30, '\0');
    in.seekg(static_cast<std::streamoff>(e.local_offset));
    in.read(header.data(), 30);
    if (!in || little_endian(header, 0, 4) != 0x04034b50) truncated("a record's local header is missing");
    const uint64_t skip = little_endian(header, 26, 2) + little_endian(header, 28, 2);
    std::string data(static_cast<size_t>(e.size), '\0');
    in.seekg(static_cast<std::streamoff>(e.local_offset + 30 + skip));
    in.read(data.data(), static_cast<std::streamsize>(e.size));
    if (!in) truncated("a record ends beyond the file");
    return data;
  }

  void check_version_number(const std::string& text) const {
    const std::string digits = !text.empty() && text.back() == '\n' ? text.substr(0, text.size() - 1) : text;
    const bool numeric =
        !digits.empty() && digits.size() <= 9 &&
        std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!numeric) throw InputError(path_, "version", "is not a decimal number (torch.save's format version)");
    const uint64_t version = std::stoull(digits);
    if (version < caffe2::serialize::kMinSupportedFileFormatVersion ||
        version > caffe2::serialize::kMaxSupportedFileFormatVersion) {
      throw InputError(path_, "version",
                       "is '" + digits + "', not a torch.save format version LibTorch reads (" +
                           std::to_string(caffe2::serialize::kMinSupportedFileFormatVersion) + " to " +
                           std::to_string(caffe2::serialize::kMaxSupportedFileFormatVersion) + ")");
    }
  }

  const Entry& entry(const std::string& record) const {
    const auto it = entries_.find(record);
    if (it == entries_.end()) corrupt("record '" + record + "' is not in the zip directory");
    return it->second;
  }

  [[noreturn]] void corrupt(const std::string& why) const {
    throw InputError(path_, "", "is corrupt (" + why + ")");
  }

  /// The zip directory itself cannot be found or read: most often a partial download.
  [[noreturn]] void truncated(const std::string& why) const {
    throw InputError(path_, "", "is truncated or corrupt (" + why + ")");
  }

  /// Where the zip directory lies and how many records it declares, from the end record and,
  /// when there is one, the zip64 end record. LibTorch's zip reader (miniz) takes the zip64
  /// values, so the two must agree wherever the end record does not defer to zip64.
  struct DirectoryPlace {
    uint64_t offset = 0, length = 0, count = 0;
  };

  DirectoryPlace find_directory(std::ifstream& in, uint64_t size) const {
    // The end-of-directory record (22 bytes + a comment of up to 64 KiB) closes the file.
    const uint64_t tail_size = std::min<uint64_t>(size, 22 + 65535 + 20);
    std::string tail(static_cast<size_t>(tail_size), '\0');
    in.seekg(static_cast<std::streamoff>(size - tail_size));
    in.read(tail.data(), static_cast<std::streamsize>(tail_size));
    for (size_t at = tail.size() >= 22 ? tail.size() - 22 + 1 : 0; at-- > 0;) {
      if (little_endian(tail, at, 4) != 0x06054b50) continue;
      DirectoryPlace place{little_endian(tail, at + 16, 4), little_endian(tail, at + 12, 4),
                           little_endian(tail, at + 10, 2)};
      if (at >= 20 && little_endian(tail, at - 20, 4) == 0x07064b50) {
        place = merge_zip64(in, little_endian(tail, at - 20 + 8, 8), place);
      }
      return place;
    }
    truncated("no end of zip directory");
  }

  DirectoryPlace merge_zip64(std::ifstream& in, uint64_t zip64_end, const DirectoryPlace& place) const {
    std::string record(56, '\0');
    in.seekg(static_cast<std::streamoff>(zip64_end));
    in.read(record.data(), 56);
    if (!in || little_endian(record, 0, 4) != 0x06064b50) truncated("bad zip64 end of directory");
    const DirectoryPlace zip64{little_endian(record, 48, 8), little_endian(record, 40, 8),
                               little_endian(record, 32, 8)};
    const bool agree = (place.offset == 0xFFFFFFFFu || place.offset == zip64.offset) &&
                       (place.length == 0xFFFFFFFFu || place.length == zip64.length) &&
                       (place.count == 0xFFFFu || place.count == zip64.count);
    if (!agree) corrupt("its zip64 end record disagrees with its end record");
    return zip64;
  }

  /// Reads every record's entry; returns how many there are.
  uint64_t parse_directory(const std::string& dir) {
    size_t at = 0;
    uint64_t records = 0;
    while (at + 46 <= dir.size() && little_endian(dir, at, 4) == 0x02014b50) {
      const auto name_length = static_cast<size_t>(little_endian(dir, at + 28, 2));
      const auto extra_length = static_cast<size_t>(little_endian(dir, at + 30, 2));
      const auto comment_length = static_cast<size_t>(little_endian(dir, at + 32, 2));
      if (at + 46 + name_length + extra_length > dir.size()) truncated("truncated zip directory");
      const std::string name = dir.substr(at + 46, name_length);
      Entry e;
      e.crc = static_cast<uint32_t>(little_endian(dir, at + 16, 4));
      e.compressed = stored_or_deflated(name, little_endian(dir, at + 8, 2), little_endian(dir, at + 10, 2));
      e.size = little_endian(dir, at + 24, 4);
      e.local_offset = little_endian(dir, at + 42, 4);
      if (e.size == 0xFFFFFFFFu) e.size = zip64_size(dir.substr(at + 46 + name_length, extra_length));
      add_entry(name, e);
      at += 46 + name_length + extra_length + comment_length;
      ++records;
    }
    return records;
  }

  /// True for a deflated record, false for a stored one; anything else (encrypted or patched
  /// data, another method) LibTorch cannot read and torch.save never writes.
  bool stored_or_deflated(const std::string& name, uint64_t flags, uint64_t method) const {
    constexpr uint64_t kEncrypted = 0x1, kPatched = 0x20, kStrongEncryption = 0x40;
    if ((flags & (kEncrypted | kPatched | kStrongEncryption)) != 0) {
      corrupt("record '" + name + "' is encrypted or patched, which torch.save never writes");
    }
    if (method != 0 && method != 8) {
      corrupt("record '" + name + "' uses zip compression method " + std::to_string(method) +
              "; a checkpoint's records are stored or deflated");
    }
    return method == 8;
  }

  /// torch.save puts every record under one top folder, which LibTorch's reader takes from the
  /// first record: a record elsewhere is one LibTorch would not find, so the file is refused.
  void add_entry(const std::string& name, const Entry& e) {
    const auto slash = name.find('/');
    if (slash == std::string::npos) corrupt("record '" + name + "' is not in the archive's top folder");
    if (entries_.empty()) top_folder_ = name.substr(0, slash);
    if (name.compare(0, slash, top_folder_) != 0 || slash != top_folder_.size()) {
      corrupt("its records lie in more than one top folder, where torch.save writes one");
    }
    if (!entries_.emplace(name.substr(slash + 1), e).second) corrupt("record '" + name + "' appears twice");
  }

  /// The uncompressed size from a zip64 extra field (id 1, whose first value it is).
  uint64_t zip64_size(const std::string& extra) const {
    for (size_t at = 0; at + 4 <= extra.size();) {
      const auto id = little_endian(extra, at, 2);
      const auto length = static_cast<size_t>(little_endian(extra, at + 2, 2));
      if (id == 1 && length >= 8 && at + 12 <= extra.size()) return little_endian(extra, at + 4, 8);
      at += 4 + length;
    }
    corrupt("a record's size is missing from its zip64 field");
  }

  std::string path_;
  std::map<std::string, Entry> entries_;
  std::string top_folder_;
  uint64_t inflation_budget_ = 0;
};

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
std::pair<at::DataPtr, size_t> read_record(PyTorchStreamReader& reader, ArchiveDirectory& directory,
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

void check_byte_order(PyTorchStreamReader& reader, ArchiveDirectory& directory, const std::string& path) {
  // torch >= 2.1 records the writer's byte order; storages are raw machine words.
  if (!reader.hasRecord("byteorder")) return;
  const auto record = read_record(reader, directory, path, "byteorder", 16);
  const auto order = as_text(record);
  if (order != "little")
    throw InputError(path, "byteorder",
                     "is '" + std::string(order) + "'; qme reads little-endian files only");
}

at::Tensor load_storage(PyTorchStreamReader& reader, ArchiveDirectory& directory, const std::string& path,
                        const std::string& key, c10::ScalarType dtype, int64_t numel) {
  const std::string name = "data/" + key;
  if (!reader.hasRecord(name)) throw InputError(path, name, "is missing from the archive");
  // The pickle's element count is checked against the record's declared size before either is
  // allocated; the bytes read must then match what the directory declared.
  const auto item = static_cast<uint64_t>(c10::elementSize(dtype));
  const uint64_t declared = directory.declared_size(name);
  // torch.save writes each storage whole, so its record holds exactly numel elements.
  if (declared % item != 0 || declared / item != static_cast<uint64_t>(numel)) {
    throw InputError(path, name,
                     "holds " + std::to_string(declared) + " bytes, but the pickle's storage is " +
                         std::to_string(numel) + " elements of " + std::to_string(item) + " bytes");
  }
  auto [data, size] = read_record(reader, directory, path, name);
  if (size != declared) throw InputError(path, name, "is shorter than the zip directory declares");
  auto tensor = torch::empty({numel}, torch::TensorOptions().dtype(dtype));
  if (numel > 0) std::memcpy(tensor.data_ptr(), data.get(), static_cast<size_t>(numel) * item);
  return tensor;
}

c10::IValue decode_archive(PyTorchStreamReader& reader, ArchiveDirectory& directory,
                           const std::string& path) {
  if (reader.hasRecord("constants.pkl") || reader.hasRecord("code/__torch__.py")) {
    throw InputError(path, "", "is a TorchScript archive (torch.jit.save), not a torch.save checkpoint");
  }
  check_byte_order(reader, directory, path);
  const auto pickle = read_record(reader, directory, path, "data.pkl", ArchiveDirectory::kMaxPickleBytes);
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
  check_is_zip(path);
  ArchiveDirectory directory(path);
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

#include "qme/io/torch_archive.hpp"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include <zlib.h>

#include "qme/core/error.hpp"

namespace qme::io {

namespace {

// LibTorch builds miniz without CRC checks, so a flipped bit inside a tensor would load silently.
// qme reads each record's CRC-32 from the zip's central directory and checks the bytes it got,
// with zlib's CRC (the zip's own polynomial), fed in chunks that fit its uInt length.
uint32_t crc32_of(const char* data, size_t size, uint32_t running = 0) {
  uLong c = running;
  constexpr size_t kChunk = size_t{1} << 30;
  for (size_t done = 0; done < size; done += kChunk) {
    const auto n = static_cast<uInt>(std::min(kChunk, size - done));
    c = ::crc32(c, reinterpret_cast<const Bytef*>(data + done), n);
  }
  return static_cast<uint32_t>(c);
}

uint64_t little_endian(const std::string& bytes, size_t at, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(bytes[at + static_cast<size_t>(i)]);
  return v;
}

constexpr uint64_t kZip64Marker32 = 0xFFFFFFFFu;

}  // namespace

void check_is_zip_archive(const std::string& path) {
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

TorchArchive::TorchArchive(const std::string& path) : path_(path) {
  std::ifstream in(path, std::ios::binary);
  in.seekg(0, std::ios::end);
  file_size_ = static_cast<uint64_t>(in.tellg());
  inflation_budget_ = std::max<uint64_t>(uint64_t{64} << 20, file_size_ * kMaxInflation);
  const DirectoryPlace place = find_directory(in);
  check_one_file(place);
  const uint64_t offset = place.offset, length = place.length, count = place.count;
  if (offset > file_size_ || length > file_size_ - offset)
    truncated("the zip directory lies outside the file");
  std::string dir(static_cast<size_t>(length), '\0');
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(dir.data(), static_cast<std::streamsize>(length));
  if (!in) truncated("the zip directory cannot be read");
  if (parse_directory(dir, place.this_disk) != count)
    corrupt("its zip directory holds another number of records than it declares");
}

void TorchArchive::admit(const std::string& record, uint64_t limit) {
  const Entry& e = entry(record);
  if (e.size > limit) {
    throw InputError(path_, record,
                     "declares " + std::to_string(e.size) + " bytes, more than the " + std::to_string(limit) +
                         " a checkpoint's record of this kind can need");
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

// LibTorch's reader reads and parses the version record as it opens the archive, and leaks its
// zip state when that fails: qme reads the record itself first, with its size capped, its CRC
// checked and its number within what LibTorch reads.
void TorchArchive::check_version_record() {
  if (!has("version")) {
    throw InputError(path_, "version", "is missing from the archive (every torch.save archive has one)");
  }
  admit("version", kMaxVersionBytes);
  const Entry& e = entry("version");
  if (e.compressed) corrupt("record 'version' is compressed; torch.save stores records as they are");
  const auto bytes = read_entry(e);
  verify("version", bytes.data.get(), bytes.size);
  check_version_number(std::string(bytes.view()));
}

void TorchArchive::check_not_torchscript() const {
  if (has("constants.pkl") || has("code/__torch__.py")) {
    throw InputError(path_, "", "is a TorchScript archive (torch.jit.save), not a torch.save checkpoint");
  }
}

void TorchArchive::check_byte_order(const std::string& text) const {
  // Storages are raw machine words.
  if (text != "little")
    throw InputError(path_, "byteorder", "is '" + text + "'; qme reads little-endian files only");
}

void TorchArchive::check_storage_record(const std::string& key, uint64_t element_bytes, int64_t numel) const {
  const std::string name = "data/" + key;
  if (!has(name)) throw InputError(path_, name, "is missing from the archive");
  const uint64_t declared = declared_size(name);
  if (declared % element_bytes != 0 || declared / element_bytes != static_cast<uint64_t>(numel)) {
    throw InputError(path_, name,
                     "holds " + std::to_string(declared) + " bytes, but the pickle's storage is " +
                         std::to_string(numel) + " elements of " + std::to_string(element_bytes) + " bytes");
  }
}

void TorchArchive::verify(const std::string& record, const char* data, size_t size) const {
  if (crc32_of(data, size) != entry(record).crc) corrupt("record '" + record + "' fails its CRC check");
}

/// A stored record that may be read: present, admitted against `limit`, not compressed.
const TorchArchive::Entry& TorchArchive::stored_entry(const std::string& record, uint64_t limit) {
  if (!has(record)) throw InputError(path_, record, "is missing from the archive");
  admit(record, limit);
  const Entry& e = entry(record);
  if (e.compressed) corrupt("record '" + record + "' is compressed");
  return e;
}

TorchArchive::RecordBytes TorchArchive::read_stored_bytes(const std::string& record, uint64_t limit) {
  auto bytes = read_entry(stored_entry(record, limit));
  verify(record, bytes.data.get(), bytes.size);
  return bytes;
}

std::string TorchArchive::read_stored(const std::string& record, uint64_t limit) {
  return std::string(read_stored_bytes(record, limit).view());
}

/// Where a stored record's bytes begin, found through its local header, which must name the
/// same record and method as the directory (zip readers that trust one or the other must see
/// one file).
uint64_t TorchArchive::data_start(const Entry& e, std::ifstream& in) const {
  if (e.packed_size != e.size) corrupt("stored record '" + e.name + "' declares two sizes");
  if (e.local_offset > file_size_ || file_size_ - e.local_offset < 30) {
    truncated("a record's local header is missing");
  }
  std::string header(30, '\0');
  in.seekg(static_cast<std::streamoff>(e.local_offset));
  in.read(header.data(), 30);
  if (!in || little_endian(header, 0, 4) != 0x04034b50) truncated("a record's local header is missing");
  const uint64_t name_length = little_endian(header, 26, 2);
  const uint64_t skip = name_length + little_endian(header, 28, 2);
  const uint64_t start = e.local_offset + 30 + skip;
  if (start > file_size_ || e.size > file_size_ - start) truncated("a record ends beyond the file");
  std::string name(static_cast<size_t>(name_length), '\0');
  in.read(name.data(), static_cast<std::streamsize>(name_length));
  if (!in || name != e.name || little_endian(header, 8, 2) != 0) {
    corrupt("record '" + e.name + "' has a local header that disagrees with the zip directory");
  }
  in.seekg(static_cast<std::streamoff>(start));
  return start;
}

TorchArchive::RecordBytes TorchArchive::read_entry(const Entry& e) const {
  std::ifstream in(path_, std::ios::binary);
  data_start(e, in);
  RecordBytes bytes{std::unique_ptr<char[]>(new char[static_cast<size_t>(e.size)]),
                    static_cast<size_t>(e.size)};
  in.read(bytes.data.get(), static_cast<std::streamsize>(e.size));
  if (!in) truncated("a record ends beyond the file");
  return bytes;
}

void TorchArchive::check_stored(const std::string& record) {
  const Entry& e = stored_entry(record, UINT64_MAX);
  std::ifstream in(path_, std::ios::binary);
  data_start(e, in);
  constexpr uint64_t kChunk = uint64_t{1} << 20;
  std::vector<char> chunk(static_cast<size_t>(std::min(kChunk, e.size)));
  uint32_t crc = crc32_of(nullptr, 0);
  for (uint64_t left = e.size; left > 0;) {
    const auto n = static_cast<size_t>(std::min<uint64_t>(kChunk, left));
    in.read(chunk.data(), static_cast<std::streamsize>(n));
    if (!in) truncated("a record ends beyond the file");
    crc = crc32_of(chunk.data(), n, crc);
    left -= n;
  }
  if (crc != e.crc) corrupt("record '" + record + "' fails its CRC check");
}

void TorchArchive::check_version_number(const std::string& text) const {
  const std::string digits = !text.empty() && text.back() == '\n' ? text.substr(0, text.size() - 1) : text;
  const bool numeric = !digits.empty() && digits.size() <= 9 &&
                       std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!numeric) throw InputError(path_, "version", "is not a decimal number (torch.save's format version)");
  const uint64_t version = std::stoull(digits);
  if (version < kMinTorchFormatVersion || version > kMaxTorchFormatVersion) {
    throw InputError(path_, "version",
                     "is '" + digits + "', not a torch.save format version LibTorch reads (" +
                         std::to_string(kMinTorchFormatVersion) + " to " +
                         std::to_string(kMaxTorchFormatVersion) + ")");
  }
}

const TorchArchive::Entry& TorchArchive::entry(const std::string& record) const {
  const auto it = entries_.find(record);
  if (it == entries_.end()) corrupt("record '" + record + "' is not in the zip directory");
  return it->second;
}

void TorchArchive::corrupt(const std::string& why) const {
  throw InputError(path_, "", "is corrupt (" + why + ")");
}

/// The zip directory itself cannot be found or read: most often a partial download.
void TorchArchive::truncated(const std::string& why) const {
  throw InputError(path_, "", "is truncated or corrupt (" + why + ")");
}

/// Where the zip directory lies and how many records it declares, from the end record and,
/// when there is one, the zip64 end record. LibTorch's zip reader (miniz) takes the zip64
/// values, so the two must agree wherever the end record does not defer to zip64.
TorchArchive::DirectoryPlace TorchArchive::find_directory(std::ifstream& in) const {
  // The end-of-directory record (22 bytes + a comment of up to 64 KiB) closes the file.
  const uint64_t tail_size = std::min<uint64_t>(file_size_, 22 + 65535 + 20);
  std::string tail(static_cast<size_t>(tail_size), '\0');
  in.seekg(static_cast<std::streamoff>(file_size_ - tail_size));
  in.read(tail.data(), static_cast<std::streamsize>(tail_size));
  for (size_t at = tail.size() >= 22 ? tail.size() - 22 + 1 : 0; at-- > 0;) {
    if (little_endian(tail, at, 4) != 0x06054b50) continue;
    DirectoryPlace place{little_endian(tail, at + 16, 4), little_endian(tail, at + 12, 4),
                         little_endian(tail, at + 10, 2), little_endian(tail, at + 4, 2),
                         little_endian(tail, at + 6, 2),  little_endian(tail, at + 8, 2)};
    if (at >= 20 && little_endian(tail, at - 20, 4) == 0x07064b50) {
      if (little_endian(tail, at - 20 + 16, 4) != 1) corrupt("its zip64 locator counts other than one disk");
      place = merge_zip64(in, little_endian(tail, at - 20 + 8, 8), place);
    }
    return place;
  }
  truncated("no end of zip directory");
}

TorchArchive::DirectoryPlace TorchArchive::merge_zip64(std::ifstream& in, uint64_t zip64_end,
                                                       const DirectoryPlace& place) const {
  std::string record(56, '\0');
  in.seekg(static_cast<std::streamoff>(zip64_end));
  in.read(record.data(), 56);
  if (!in || little_endian(record, 0, 4) != 0x06064b50) truncated("bad zip64 end of directory");
  if (little_endian(record, 4, 8) < 44) corrupt("its zip64 end of directory is too short");
  const DirectoryPlace zip64{little_endian(record, 48, 8), little_endian(record, 40, 8),
                             little_endian(record, 32, 8), little_endian(record, 16, 4),
                             little_endian(record, 20, 4), little_endian(record, 24, 8)};
  // LibTorch's reader (miniz) keeps these counts and the directory's size in 32 bits.
  if (zip64.count > kZip64Marker32 || zip64.count_on_this_disk > kZip64Marker32)
    corrupt("its zip64 end record declares more records than a zip reader holds");
  if (zip64.length > kZip64Marker32) corrupt("its zip64 end record declares a directory over 4 GiB");
  const bool agree = (place.offset == kZip64Marker32 || place.offset == zip64.offset) &&
                     (place.length == kZip64Marker32 || place.length == zip64.length) &&
                     (place.count == 0xFFFFu || place.count == zip64.count);
  if (!agree) corrupt("its zip64 end record disagrees with its end record");
  return zip64;
}

/// The archive is one file: every record on this disk, the directory on it (miniz's rule: both
/// disk numbers 0, or both 1), and room in the directory for every record it declares.
void TorchArchive::check_one_file(const DirectoryPlace& place) const {
  const bool one_disk =
      (place.this_disk | place.directory_disk) == 0 || (place.this_disk == 1 && place.directory_disk == 1);
  if (!one_disk || place.count_on_this_disk != place.count) {
    corrupt("its end record describes an archive split over several files (disks)");
  }
  if (place.length < place.count * 46) corrupt("its zip directory is too short for the records it declares");
}

/// The checks LibTorch's reader makes of every directory record when it opens an archive, so
/// that what it refuses is refused here too.
void TorchArchive::check_record_fields(const std::string& dir, size_t at, const Entry& e,
                                       uint64_t this_disk) const {
  const uint64_t packed32 = little_endian(dir, at + 20, 4), size32 = little_endian(dir, at + 24, 4);
  if (packed32 != kZip64Marker32 && size32 != kZip64Marker32 &&
      ((!e.compressed && packed32 != size32) || (size32 != 0 && packed32 == 0))) {
    corrupt("record '" + e.name + "' declares sizes that disagree");
  }
  const uint64_t disk = little_endian(dir, at + 34, 2);
  if (disk == 0xFFFFu || (disk != this_disk && disk != 1)) {
    corrupt("record '" + e.name + "' lies on another disk of a split archive");
  }
  if (packed32 != kZip64Marker32 && little_endian(dir, at + 42, 4) + 30 + packed32 > file_size_) {
    truncated("record '" + e.name + "' ends beyond the file");
  }
}

/// Reads every record's entry; returns how many there are.
uint64_t TorchArchive::parse_directory(const std::string& dir, uint64_t this_disk) {
  size_t at = 0;
  uint64_t records = 0;
  while (at + 46 <= dir.size() && little_endian(dir, at, 4) == 0x02014b50) {
    const auto name_length = static_cast<size_t>(little_endian(dir, at + 28, 2));
    const auto extra_length = static_cast<size_t>(little_endian(dir, at + 30, 2));
    const auto comment_length = static_cast<size_t>(little_endian(dir, at + 32, 2));
    if (at + 46 + name_length + extra_length > dir.size()) truncated("truncated zip directory");
    Entry e;
    e.name = dir.substr(at + 46, name_length);
    e.crc = static_cast<uint32_t>(little_endian(dir, at + 16, 4));
    e.compressed = stored_or_deflated(e.name, little_endian(dir, at + 8, 2), little_endian(dir, at + 10, 2));
    e.packed_size = little_endian(dir, at + 20, 4);
    e.size = little_endian(dir, at + 24, 4);
    e.local_offset = little_endian(dir, at + 42, 4);
    check_record_fields(dir, at, e, this_disk);
    read_zip64_sizes(dir.substr(at + 46 + name_length, extra_length), e);
    add_entry(e.name, e);
    at += 46 + name_length + extra_length + comment_length;
    ++records;
  }
  return records;
}

/// True for a deflated record, false for a stored one; anything else (encrypted or patched
/// data, another method) LibTorch cannot read and torch.save never writes.
bool TorchArchive::stored_or_deflated(const std::string& name, uint64_t flags, uint64_t method) const {
  constexpr uint64_t kEncrypted = 0x1, kPatched = 0x20, kStrongEncryption = 0x40, kMaskedLocalHeader = 0x2000;
  if ((flags & (kEncrypted | kPatched | kStrongEncryption | kMaskedLocalHeader)) != 0) {
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
void TorchArchive::add_entry(const std::string& name, const Entry& e) {
  const auto slash = name.find('/');
  if (slash == std::string::npos) corrupt("record '" + name + "' is not in the archive's top folder");
  if (entries_.empty()) top_folder_ = name.substr(0, slash);
  if (name.compare(0, slash, top_folder_) != 0 || slash != top_folder_.size()) {
    corrupt("its records lie in more than one top folder, where torch.save writes one");
  }
  if (!entries_.emplace(name.substr(slash + 1), e).second) corrupt("record '" + name + "' appears twice");
}

/// The zip64 extra field (id 1) holds, in this order, each of the uncompressed size, the
/// compressed size and the local header's offset whose 32-bit field is 0xFFFFFFFF.
void TorchArchive::read_zip64_sizes(const std::string& extra, Entry& e) const {
  uint64_t* wanted[] = {&e.size, &e.packed_size, &e.local_offset};
  if (std::none_of(std::begin(wanted), std::end(wanted), [](uint64_t* v) { return *v == kZip64Marker32; }))
    return;
  for (size_t at = 0; at + 4 <= extra.size();) {
    const auto id = little_endian(extra, at, 2);
    const auto length = static_cast<size_t>(little_endian(extra, at + 2, 2));
    if (id == 1 && at + 4 + length <= extra.size()) {
      size_t next = at + 4;
      for (uint64_t* value : wanted) {
        if (*value != kZip64Marker32) continue;
        if (next + 8 > at + 4 + length) corrupt("a record's size is missing from its zip64 field");
        *value = little_endian(extra, next, 8);
        next += 8;
      }
      return;
    }
    at += 4 + length;
  }
  corrupt("a record's size is missing from its zip64 field");
}

}  // namespace qme::io

#pragma once
/// The zip container of a `torch.save` checkpoint, read without LibTorch: its central directory
/// (each record's CRC-32, sizes and place, named after the archive's one top folder) and its
/// stored records, CRC-checked. Every size is checked against the file before anything is
/// allocated. checkpoint.cpp reads deflated records through LibTorch's reader and everything
/// else through this; the torch-free QME weights reader (state_dict_file.hpp) reads stored
/// records only, which is what torch.save writes.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace qme::io {

/// The torch.save format versions LibTorch 1.13 reads (caffe2::serialize's bounds, which
/// checkpoint.cpp asserts these equal).
constexpr uint64_t kMinTorchFormatVersion = 1;
constexpr uint64_t kMaxTorchFormatVersion = 10;

/// Throws InputError naming what the file is when it is not a zip archive: missing, a folder,
/// a legacy (pre-1.6) torch.save file, or anything else.
void check_is_zip_archive(const std::string& path);

class TorchArchive {
 public:
  static constexpr uint64_t kMaxPickleBytes = uint64_t{256} << 20;  // a state dict's needs a few MB
  static constexpr uint64_t kMaxInflation = 64;                     // inflated bytes per file byte
  static constexpr uint64_t kMaxVersionBytes = 64;

  /// Reads the zip directory (the end record, zip64 where present, every entry). Throws
  /// InputError naming the file when it is truncated, corrupt or not laid out as torch.save
  /// lays out its archives (one top folder, stored or deflated records, no encryption).
  explicit TorchArchive(const std::string& path);

  const std::string& path() const { return path_; }
  /// Whether `record` (relative to the top folder, e.g. "data.pkl") is in the directory.
  bool has(const std::string& record) const { return entries_.count(record) != 0; }
  bool compressed(const std::string& record) const { return entry(record).compressed; }
  uint64_t declared_size(const std::string& record) const { return entry(record).size; }

  /// Refuses a record whose inflated size would exceed `limit` or what a checkpoint of this
  /// file's size can hold (compressed records share one budget), before anything is allocated.
  void admit(const std::string& record, uint64_t limit = UINT64_MAX);

  /// Reads the version record (size capped, stored, CRC-checked) and refuses a number outside
  /// [kMinTorchFormatVersion, kMaxTorchFormatVersion] or a missing record.
  void check_version_record();

  /// Refuses a TorchScript archive (torch.jit.save), which holds code, not a checkpoint.
  void check_not_torchscript() const;
  /// Refuses a `byteorder` record (torch >= 2.1 writes one) other than "little".
  void check_byte_order(const std::string& text) const;
  /// Refuses a storage whose record `data/<key>` is missing or holds another number of bytes
  /// than the pickle's element count, before either is allocated (torch.save writes each
  /// storage whole).
  void check_storage_record(const std::string& key, uint64_t element_bytes, int64_t numel) const;

  /// Throws InputError unless `data` matches the record's CRC-32 from the directory.
  void verify(const std::string& record, const char* data, size_t size) const;

  /// A stored (uncompressed) record's bytes, admitted against `limit` first and CRC-checked;
  /// its local header must agree with the directory. Throws InputError when the record is
  /// missing, compressed (`compressed()` tells beforehand), or damaged.
  std::string read_stored(const std::string& record, uint64_t limit = UINT64_MAX);

  /// A record's bytes in a buffer that is not zero-filled before the read (a storage can be
  /// large, and every page touched twice costs).
  struct RecordBytes {
    std::unique_ptr<char[]> data;
    size_t size = 0;
    std::string_view view() const { return {data.get(), size}; }
  };
  /// read_stored, into a RecordBytes.
  RecordBytes read_stored_bytes(const std::string& record, uint64_t limit = UINT64_MAX);
  /// The checks of read_stored (admitted, stored, local header, CRC) on a record that is read
  /// in chunks and not kept.
  void check_stored(const std::string& record);

 private:
  struct Entry {
    std::string name;  // as stored, with the top folder
    uint32_t crc = 0;
    bool compressed = false;
    uint64_t size = 0;          // uncompressed
    uint64_t packed_size = 0;   // compressed
    uint64_t local_offset = 0;  // of its local header
  };
  struct DirectoryPlace {
    uint64_t offset = 0, length = 0, count = 0;
    // A zip may span several files ("disks"); LibTorch reads one-file archives only.
    uint64_t this_disk = 0, directory_disk = 0, count_on_this_disk = 0;
  };

  const Entry& entry(const std::string& record) const;
  const Entry& stored_entry(const std::string& record, uint64_t limit);
  uint64_t data_start(const Entry& e, std::ifstream& in) const;
  RecordBytes read_entry(const Entry& e) const;
  void check_version_number(const std::string& text) const;
  [[noreturn]] void corrupt(const std::string& why) const;
  [[noreturn]] void truncated(const std::string& why) const;
  DirectoryPlace find_directory(std::ifstream& in) const;
  DirectoryPlace merge_zip64(std::ifstream& in, uint64_t zip64_end, const DirectoryPlace& place) const;
  void check_one_file(const DirectoryPlace& place) const;
  void check_record_fields(const std::string& dir, size_t at, const Entry& e, uint64_t this_disk) const;
  uint64_t parse_directory(const std::string& dir, uint64_t this_disk);
  bool stored_or_deflated(const std::string& name, uint64_t flags, uint64_t method) const;
  void add_entry(const std::string& name, const Entry& e);
  void read_zip64_sizes(const std::string& extra, Entry& e) const;

  std::string path_;
  uint64_t file_size_ = 0;
  std::map<std::string, Entry> entries_;
  std::string top_folder_;
  uint64_t inflation_budget_ = 0;
};

}  // namespace qme::io

#pragma once
/// Writes hand-made checkpoints for the readers' tests: a zip archive in torch.save's layout,
/// written with LibTorch's own writer.
#include <caffe2/serialize/inline_container.h>

#include <cstddef>
#include <fstream>
#include <map>
#include <string>

namespace qme::test {

/// A zip archive in torch.save's layout holding exactly `records` (plus "version"), stored, or
/// deflated when `deflate`.
inline void write_archive(const std::string& path, const std::map<std::string, std::string>& records,
                          bool deflate = false) {
  std::ofstream out(path, std::ios::binary);
  caffe2::serialize::PyTorchStreamWriter writer([&](const void* data, size_t size) -> size_t {
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
    return size;
  });
  for (const auto& [name, bytes] : records) writer.writeRecord(name, bytes.data(), bytes.size(), deflate);
  writer.writeEndOfFile();
}

}  // namespace qme::test

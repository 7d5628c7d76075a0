#pragma once
/// Shared pieces of qme's fuzz targets: the fuzzer's bytes as a file the production readers
/// open by path, and the rule every target checks: a reader either succeeds or refuses with
/// qme's own error. Any other exception (HDF5's, yaml-cpp's, c10's, the standard library's)
/// reaching the caller would become a cryptic message or a crash, so it aborts the run and the
/// fuzzer records the input.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <string>

#include <spdlog/spdlog.h>

#include "qme/core/error.hpp"

namespace qme::fuzz {

/// The bytes as a file in /dev/shm (memory, so the fuzzer does not wear the disk), removed on
/// destruction. The readers take paths, so the fuzzers exercise exactly their open paths.
class MemoryFile {
 public:
  MemoryFile(const uint8_t* data, size_t size, const std::string& suffix)
      : path_("/dev/shm/qme_fuzz_" + std::to_string(::getpid()) + suffix) {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  ~MemoryFile() { std::remove(path_.c_str()); }
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

/// Runs `read`; returns normally when it succeeds or throws qme::Error, aborts otherwise.
/// QME_FUZZ_SHOW=1 prints each refusal (to check by eye that the messages name the field).
template <class Read>
void expect_read_or_refusal(const char* what, Read&& read) {
  // The readers' warnings (unknown keys, ...) would flood the fuzzer's log and slow it down.
  static const bool quiet = [] {
    if (!std::getenv("QME_FUZZ_SHOW")) spdlog::set_level(spdlog::level::off);
    return true;
  }();
  (void)quiet;
  try {
    read();
  } catch (const qme::Error& e) {
    if (std::getenv("QME_FUZZ_SHOW")) std::fprintf(stderr, "%s refused: %s\n", what, e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: an exception outside qme's error family escaped: %s\n", what, e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "%s: an exception of unknown type escaped\n", what);
    std::abort();
  }
}

}  // namespace qme::fuzz

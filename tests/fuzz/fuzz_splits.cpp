// libFuzzer target: the CCVID and MEVID split and list parsers. The first byte picks one list
// file; the rest replaces it in a copy of the fixtures' dataset root (the other files are
// links to the fixtures, set by QME_FUZZ_DATASETS or the build's default).
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "fuzz_input.hpp"
#include "qme/data/datasets.hpp"

#ifndef QME_FUZZ_DATASETS_DEFAULT
#define QME_FUZZ_DATASETS_DEFAULT ""
#endif

namespace fs = std::filesystem;

namespace {

struct ListFile {
  const char* dataset;  // qme's name
  const char* folder;   // under the root
  const char* file;
};

constexpr std::array<ListFile, 8> kListFiles = {{
    {"ccvid", "CCVID", "train.txt"},
    {"ccvid", "CCVID", "query.txt"},
    {"ccvid", "CCVID", "gallery.txt"},
    {"mevid", "mevid", "train_name.txt"},
    {"mevid", "mevid", "test_name.txt"},
    {"mevid", "mevid", "track_train_info.txt"},
    {"mevid", "mevid", "track_test_info.txt"},
    {"mevid", "mevid", "query_IDX.txt"},
}};

fs::path fixture_root() {
  const char* env = std::getenv("QME_FUZZ_DATASETS");
  return fs::path(env ? env : QME_FUZZ_DATASETS_DEFAULT);
}

/// A dataset root in /dev/shm whose one list file holds the fuzzer's bytes and whose other files
/// link to the fixtures'.
class FuzzedRoot {
 public:
  FuzzedRoot(const ListFile& target, const uint8_t* data, size_t size)
      : root_("/dev/shm/qme_fuzz_splits_" + std::to_string(::getpid())) {
    fs::remove_all(root_);
    const fs::path folder = root_ / target.folder;
    fs::create_directories(folder);
    for (const auto& entry : fs::directory_iterator(fixture_root() / target.folder)) {
      if (entry.path().filename() != target.file)
        fs::create_symlink(entry.path(), folder / entry.path().filename());
    }
    std::ofstream(folder / target.file, std::ios::binary)
        .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  ~FuzzedRoot() { fs::remove_all(root_); }
  FuzzedRoot(const FuzzedRoot&) = delete;
  FuzzedRoot& operator=(const FuzzedRoot&) = delete;

  std::string path() const { return root_.string(); }

 private:
  fs::path root_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  if (!fs::is_directory(fixture_root() / "CCVID")) {
    std::fprintf(stderr, "fuzz_splits: no dataset root at '%s' (set QME_FUZZ_DATASETS)\n",
                 fixture_root().c_str());
    std::abort();
  }
  const ListFile& target = kListFiles[data[0] % kListFiles.size()];
  const FuzzedRoot root(target, data + 1, size - 1);
  qme::fuzz::expect_read_or_refusal(target.file,
                                    [&] { qme::data::read_dataset(target.dataset, root.path()); });
  return 0;
}

#include "qme/io/output_directory.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "qme/core/error.hpp"

namespace qme::io {

namespace fs = std::filesystem;

namespace {

/// `path` itself when it exists, else its nearest existing ancestor ("." for a relative path
/// with none).
fs::path nearest_existing(const fs::path& path) {
  std::error_code ec;
  fs::path p = path;
  while (!p.empty() && !fs::exists(p, ec)) p = p.parent_path();
  return p.empty() ? fs::path(".") : p;
}

/// Empty when a folder can be made in the folder `dir` (a probe folder made and removed at once),
/// else why not. Access bits alone do not say: root ignores them, and /proc or a read-only mount
/// refuse what they allow.
std::string probe_error(const fs::path& dir) {
  std::string probe = (dir / ".qme-write-check-XXXXXX").string();
  if (::mkdtemp(probe.data()) == nullptr) return std::strerror(errno);
  ::rmdir(probe.c_str());
  return "";
}

/// Empty when a folder can be made in `dir`, else "DIR is not a folder" or "DIR is not writable
/// (why)".
std::string creation_problem(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return dir.string() + " is not a folder";
  const std::string why = probe_error(dir);
  return why.empty() ? why : dir.string() + " is not writable (" + why + ")";
}

}  // namespace

void ensure_output_directory(const std::string& path) {
  if (path.empty()) return;
  std::error_code ec;
  if (fs::exists(path, ec) && !fs::is_directory(path, ec))
    throw InputError(path, "", "is not a folder (an output folder was expected)");
  fs::create_directories(path, ec);
  if (ec) throw InputError(path, "", "cannot be created as an output folder (" + ec.message() + ")");
  if (!fs::is_directory(path, ec))
    throw InputError(path, "", "is not a folder (an output folder was expected)");
}

void check_output_directory(const std::string& path) {
  if (path.empty()) return;
  const fs::path existing = nearest_existing(path);
  std::error_code ec;
  if (existing == fs::path(path)) {
    if (!fs::is_directory(existing, ec))
      throw InputError(path, "", "is not a folder (an output folder was expected)");
    const std::string why = probe_error(existing);
    if (!why.empty()) throw InputError(path, "", "is not a writable output folder (" + why + ")");
    return;
  }
  const std::string problem = creation_problem(existing);
  if (!problem.empty()) throw InputError(path, "", "cannot be created as an output folder: " + problem);
}

void check_output_file(const std::string& path, bool create_folder) {
  if (path.empty()) return;
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw InputError(path, "", "is a folder, not a file that can be written");
  fs::path folder = fs::path(path).parent_path();
  if (folder.empty()) folder = ".";
  if (!create_folder && !fs::exists(folder, ec)) {
    throw InputError(path, "", "cannot be written: its folder " + folder.string() + " does not exist");
  }
  const fs::path existing = nearest_existing(folder);
  const std::string problem = creation_problem(existing);
  if (problem.empty()) return;
  if (existing == folder) {
    throw InputError(
        path, "",
        "cannot be written: " + std::string(fs::is_directory(folder, ec) ? "its folder " : "") + problem);
  }
  throw InputError(path, "",
                   "cannot be written: its folder " + folder.string() + " cannot be created: " + problem);
}

}  // namespace qme::io

#include "qme/io/output_directory.hpp"

#include <filesystem>
#include <system_error>

#include "qme/core/error.hpp"

namespace qme::io {

void ensure_output_directory(const std::string& path) {
  if (path.empty()) return;
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) throw InputError(path, "", "cannot be created as an output folder (" + ec.message() + ")");
  if (!std::filesystem::is_directory(path, ec))
    throw InputError(path, "", "is not a folder (an output folder was expected)");
}

}  // namespace qme::io

#include "qme/io/text_file.hpp"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "qme/core/error.hpp"

namespace qme::io {

void write_text_file(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary);
    if (!out) throw InputError(path, "", "cannot be written");
    out << text;
    out.close();
    if (!out) {
      std::remove(tmp.c_str());
      throw InputError(path, "", "cannot be written");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    throw InputError(path, "", "cannot be moved into place (" + ec.message() + ")");
  }
}

}  // namespace qme::io

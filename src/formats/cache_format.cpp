#include "qme/formats/cache_format.hpp"

#include "qme/core/error.hpp"
#include "qme/io/hdf5_file.hpp"

namespace qme::formats {

void stamp_qme_format(io::AtomicH5Writer& writer) {
  writer.write_int_attribute(kQmeFormatAttribute, kQmeFormatVersion);
}

void check_qme_format(const io::H5Reader& reader, const std::string& what) {
  const auto version = reader.read_int_attribute(kQmeFormatAttribute);
  const std::string expected = "qme_format " + std::to_string(kQmeFormatVersion);
  if (!version) {
    throw InputError(reader.path(), kQmeFormatAttribute,
                     "attribute is missing: not a " + what + " written by qme (expected " + expected + ")");
  }
  if (*version != kQmeFormatVersion) {
    throw InputError(reader.path(), kQmeFormatAttribute,
                     "is " + std::to_string(*version) + " but this qme reads " + what + " files of " +
                         expected + "; rewrite the file with this version");
  }
}

}  // namespace qme::formats

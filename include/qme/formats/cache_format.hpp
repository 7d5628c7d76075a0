#pragma once
/// The version stamp of qme's own cache files (docs/architecture.md §2.3): the training-frames
/// cache and the test QE statistics carry a root attribute `qme_format` = 1.
/// Readers refuse a file whose stamp is absent or differs, naming the file, so an
/// old or foreign file is never silently misread. Upstream-layout files (centers,
/// score matrices, face weights) carry no stamp.
#include <cstdint>
#include <string>

namespace qme::io {
class H5Reader;
class AtomicH5Writer;
}  // namespace qme::io

namespace qme::formats {

inline constexpr const char* kQmeFormatAttribute = "qme_format";
inline constexpr int64_t kQmeFormatVersion = 1;

/// Writes the `qme_format` root attribute.
void stamp_qme_format(io::AtomicH5Writer& writer);

/// Throws InputError naming the file unless its `qme_format` attribute equals
/// kQmeFormatVersion; `what` names the kind of file in the message.
void check_qme_format(const io::H5Reader& reader, const std::string& what);

}  // namespace qme::formats

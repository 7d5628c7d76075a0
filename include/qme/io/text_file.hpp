#pragma once
/// Small text outputs (JSON, CSV reports) written atomically: to a temporary
/// file next to the target, then renamed, so a reader never sees half a file.
#include <string>

namespace qme::io {

/// Throws InputError naming `path` when it cannot be written or moved into place.
void write_text_file(const std::string& path, const std::string& text);

}  // namespace qme::io

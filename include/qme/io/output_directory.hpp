#pragma once
/// Output folders: created on demand, with a clear error instead of a filesystem exception.
#include <string>

namespace qme::io {

/// Creates `path` and its parents when missing (an empty path is the working directory: nothing
/// to do). Throws InputError naming the folder when it cannot be created or is not a folder.
void ensure_output_directory(const std::string& path);

}  // namespace qme::io

#pragma once
/// Output folders and files: checked before any work, created on demand, with a clear error
/// instead of a filesystem exception.
#include <string>

namespace qme::io {

/// Creates `path` and its parents when missing (an empty path is the working directory: nothing
/// to do). Throws InputError naming the folder when it cannot be created or is not a folder.
void ensure_output_directory(const std::string& path);

/// Checks, creating nothing, that `path` is a writable folder or can be created as one (its
/// nearest existing ancestor is a writable folder). Throws InputError naming the folder
/// otherwise. For checking every output before the work starts; an empty path passes (the
/// working directory).
void check_output_directory(const std::string& path);

/// Checks, creating nothing, that a file can be written at `path`: it is not a folder, and its
/// folder is writable (or, with `create_folder`, can be created, as AtomicH5Writer does).
/// Throws InputError naming the file and the reason otherwise. An empty path (no output) passes.
void check_output_file(const std::string& path, bool create_folder = false);

}  // namespace qme::io

#pragma once
/// qme's exception family. Every message names the file and the field it is
/// about, so a user can fix the input without reading the source.
#include <stdexcept>
#include <string>

namespace qme {

/// Base class: anything qme reports to the user as "error: <what()>".
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A file, dataset, config key or value that is missing or malformed.
class InputError : public Error {
 public:
  InputError(const std::string& source, const std::string& field, const std::string& problem);
  /// For messages that already name their source.
  explicit InputError(const std::string& message) : Error(message) {}
};

/// Wrong flags or a stage that is not available: exit code 2.
class UsageError : public Error {
 public:
  using Error::Error;
};

/// Exit codes shared by every executable.
enum ExitCode : int { kExitOk = 0, kExitFailure = 1, kExitUsage = 2 };

}  // namespace qme

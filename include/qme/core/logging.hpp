#pragma once
/// spdlog set-up shared by the executables: one console logger, a level
/// chosen on the command line, warnings always visible.
#include <string>

namespace qme {

/// Configures the default spdlog logger ("info", "debug", "warn", ...).
/// Throws UsageError on an unknown level name.
void setup_logging(const std::string& level = "info");

}  // namespace qme

#include "qme/core/logging.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "qme/core/error.hpp"

namespace qme {

void setup_logging(const std::string& level) {
  const auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") {
    throw UsageError("unknown log level '" + level + "' (use trace, debug, info, warn, error, off)");
  }
  // Logs go to stderr so that tables and JSON on stdout stay machine-readable.
  auto logger = spdlog::stderr_color_mt("qme");
  logger->set_pattern("[%H:%M:%S] [%^%l%$] %v");
  logger->set_level(parsed);
  spdlog::set_default_logger(logger);
}

}  // namespace qme

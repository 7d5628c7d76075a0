#pragma once
/// Flags several executables share, spelled, documented and checked the same
/// way everywhere (names as upstream's argparse flags).
#include <CLI/CLI.hpp>
#include <string>

#include "qme/config/backbone_config.hpp"

namespace qme::tools {

inline CLI::Option* add_dataset_flag(CLI::App& app, std::string& dataset) {
  return app.add_option("--dataset", dataset, "ccvid, mevid or ltcc")
      ->check(CLI::IsMember(qme::config::known_datasets()))
      ->capture_default_str();
}

inline CLI::Option* add_root_flag(CLI::App& app, std::string& root) {
  return app.add_option("--root", root, "root folder of the datasets")->capture_default_str();
}

inline CLI::Option* add_device_flag(CLI::App& app, std::string& device, const std::string& what = "") {
  return app.add_option("--device", device, "auto (CUDA when available), cpu, cuda or cuda:N" + what)
      ->capture_default_str();
}

inline CLI::Option* add_log_level_flag(CLI::App& app, std::string& level) {
  return app.add_option("--log_level", level, "trace, debug, info, warn, error or off")->capture_default_str();
}

}  // namespace qme::tools

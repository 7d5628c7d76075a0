#pragma once
/// The one thing every qme executable shares: parse flags, run one library
/// entry point, turn any exception into a one-line message and an exit code.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <string>

#include "qme/core/error.hpp"

namespace qme::tools {

template <typename Body>
int run_tool(CLI::App& app, int argc, char** argv, Body&& body) {
  const std::string name = app.get_name();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);  // --help
    // A bad flag: one line in the form of every other error.
    std::fprintf(stderr, "%s: error: %s (see --help)\n", name.c_str(), e.what());
    return kExitUsage;
  }
  try {
    return body();
  } catch (const UsageError& e) {
    std::fprintf(stderr, "%s: error: %s\n", name.c_str(), e.what());
    return kExitUsage;
  } catch (const Error& e) {
    std::fprintf(stderr, "%s: error: %s\n", name.c_str(), e.what());
    return kExitFailure;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: internal error: %s\n", name.c_str(), e.what());
    return kExitFailure;
  }
}

}  // namespace qme::tools

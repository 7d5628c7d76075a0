/// qme_demo_check: checks the output folder of demo/run_demo.sh (every stage's files open) and
/// compares QME with the classic baselines on the selection metric (qme::demo::check_demo_output).
/// Exit 0 when QME beats --beat, 1 otherwise or when a file is missing or broken.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "common_flags.hpp"
#include "qme/core/logging.hpp"
#include "qme/demo/demo_check.hpp"
#include "tool_main.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Check a demo output folder and compare QME with the baselines", "qme_demo_check"};
  qme::demo::DemoCheckOptions options;
  std::string log_level = "warn";
  app.add_option("--out", options.out, "the demo's output folder (run_demo.sh --out)")->required();
  app.add_option("--beat", options.beat,
                 "the baseline QME must beat: zscore, minmax, rhe, min, mean, max or best")
      ->check(CLI::IsMember({"best", "zscore", "minmax", "rhe", "min", "mean", "max"}))
      ->capture_default_str();
  qme::tools::add_log_level_flag(app, log_level);
  return qme::tools::run_tool(app, argc, argv, [&] {
    qme::setup_logging(log_level);
    const auto result = qme::demo::check_demo_output(options);
    std::fputs(qme::demo::format_demo_check(result).c_str(), stdout);
    return result.qme_wins ? qme::kExitOk : qme::kExitFailure;
  });
}

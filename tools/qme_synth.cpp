/// qme_synth: a small synthetic whole-body dataset in CCVID's layout, the demo TorchScript
/// backbones that read it and the configs of a demo run (qme::demo::write_synth_demo).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "common_flags.hpp"
#include "qme/core/logging.hpp"
#include "qme/core/parallel.hpp"
#include "qme/demo/synth_demo.hpp"
#include "tool_main.hpp"

int main(int argc, char** argv) {
  CLI::App app{"A synthetic CCVID-layout dataset, demo TorchScript backbones and configs", "qme_synth"};
  std::string out, size = "demo", log_level = "info";
  uint64_t seed = 7;
  int threads = 0;
  app.add_option("--out", out, "output folder: the --root of the other tools")->required();
  app.add_option("--seed", seed, "generator seed (same seed, same files)")->capture_default_str();
  app.add_option("--size", size, "demo (the demo script's) or ci (the end-to-end test's)")
      ->check(CLI::IsMember({"demo", "ci"}))
      ->capture_default_str();
  app.add_option("--threads", threads, "rendering threads (0: all cores); the files do not depend on it")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  qme::tools::add_log_level_flag(app, log_level);
  return qme::tools::run_tool(app, argc, argv, [&] {
    qme::setup_logging(log_level);
    const auto files = qme::demo::write_synth_demo(out, qme::demo::synth_preset(size, seed),
                                                   threads > 0 ? threads : qme::default_num_threads());
    std::printf("%s\n%s\n%s\n", files.dataset.dir.c_str(), files.backbone_cfg.c_str(),
                files.train_cfg.c_str());
    for (const auto& [model, path] : files.backbones) std::printf("%s\n", path.c_str());
    return qme::kExitOk;
  });
}

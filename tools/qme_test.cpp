/// qme_test: test-set features (--eval_mode feat, sharded with --num_shards/--shard_index and
/// assembled with --eval_mode merge), the evaluation report of one model (score), or the
/// score-matrix file of several models (gather), as upstream's test.py. Flags keep upstream's
/// names and defaults. Score and gather on the CPU run here without LibTorch; the rest runs in
/// the LibTorch module (qme_test_torch.cpp), opened only then.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

#include "qme/core/logging.hpp"
#include "qme/io/runtime_module.hpp"
#include "qme_test_cli.hpp"
#include "tool_main.hpp"

namespace {

using qme::tools::test_tool::Options;

/// Score and gather with the CPU's kernels.
int run_on_cpu(const Options& o) {
  qme::setup_logging(o.log_level);
  qme::tools::test_tool::check_flags(o);
  qme::scores::ScoreOptions scores;
  scores.device = "cpu";
  spdlog::debug("{} for {} on {} (cpu, without LibTorch)", o.eval_mode, o.feat.model, o.feat.dataset);
  if (o.eval_mode == "gather") return qme::tools::test_tool::gather(o, scores);
  return qme::tools::test_tool::report(o, scores);
}

/// The whole command in the LibTorch module.
int run_in_module(const Options& o, int argc, char** argv) {
  using Main = int (*)(int, char**);
  const auto main = reinterpret_cast<Main>(qme::io::open_module_entry(
      "libqme_test_torch.so", "qme_test_torch_main", "--eval_mode " + o.eval_mode + " --device " + o.device));
  return main(argc, argv);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Test features, one model's report, or a score-matrix file (upstream test.py)", "qme_test"};
  Options options;
  qme::tools::test_tool::add_flags(app, options);
  return qme::tools::run_tool(app, argc, argv, [&] {
    return qme::tools::test_tool::needs_libtorch(options) ? run_in_module(options, argc, argv)
                                                          : run_on_cpu(options);
  });
}

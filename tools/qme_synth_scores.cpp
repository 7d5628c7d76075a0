// qme_synth_scores: writes a synthetic score-matrix file (demo data and
// benchmark input) with qme::synthetic::make_synthetic_scores.
#include <CLI/CLI.hpp>

#include "common_flags.hpp"
#include "qme/core/logging.hpp"
#include "qme/formats/score_matrix_file.hpp"
#include "qme/io/output_directory.hpp"
#include "qme/synthetic/synthetic_scores.hpp"
#include "tool_main.hpp"

int main(int argc, char** argv) {
  CLI::App app{"qme_synth_scores: a synthetic scoremats file (upstream layout) for demos and benchmarks",
               "qme_synth_scores"};
  std::string out_path, preset = "demo";
  uint32_t seed = 7;
  qme::synthetic::ScoreDistribution distribution;
  int64_t gallery_per_subject = 0;
  app.add_option("--out", out_path, "output score-matrix file")->required();
  app.add_option("--preset", preset, "demo (40 subjects, 200 x 800) or ltcc (493 x 7050)")
      ->check(CLI::IsMember({"demo", "ltcc"}))
      ->capture_default_str();
  app.add_option("--seed", seed, "generator seed")->capture_default_str();
  qme::tools::add_score_distribution_flags(app, distribution);
  app.add_option("--gallery_per_subject", gallery_per_subject,
                 "gallery entries per subject (default: the preset's)");
  return qme::tools::run_tool(app, argc, argv, [&] {
    qme::setup_logging("info");
    qme::io::check_output_file(out_path, /*create_folder=*/true);  // before any work
    auto spec = preset == "ltcc" ? qme::synthetic::ltcc_sized_spec() : qme::synthetic::SyntheticScoreSpec{};
    spec.seed = seed;
    spec.distribution = distribution;
    if (gallery_per_subject > 0) spec.gallery_per_subject = gallery_per_subject;
    const auto synthetic = qme::synthetic::make_synthetic_scores(spec);
    qme::formats::write_score_matrix_file(out_path, synthetic.labels, synthetic.models);
    return qme::kExitOk;
  });
}

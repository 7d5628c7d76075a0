// qme_ranks: pictures of rank lists (qme_tables --rank_lists DIR): for chosen probes, the probe's
// frame and face crop next to its top-k gallery entries, bordered by label, plus index.csv and
// index.html. All work happens in qme::analysis::write_rank_pictures.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "common_flags.hpp"
#include "qme/analysis/rank_pictures.hpp"
#include "qme/core/error.hpp"
#include "qme/core/logging.hpp"
#include "tool_main.hpp"

int main(int argc, char** argv) {
  CLI::App app{"qme_ranks: pictures of the rank lists qme_tables --rank_lists writes", "qme_ranks"};
  qme::analysis::RankPicturesOptions options;
  std::string select, log_level = "info";
  app.add_option("--rank_lists", options.rank_lists, "folder of {column}.csv and {column}_first_match.csv")
      ->required();
  app.add_option("--dataset_root", options.dataset_root,
                 "root folder of the dataset the score matrices were built from (holds CCVID/, mevid/ or "
                 "LTCC_ReID/)")
      ->required();
  qme::tools::add_dataset_flag(app, options.dataset)->required();
  app.add_option("--out", options.out_dir,
                 "output folder: {column}_probe{index}.png per probe, index.csv, index.html")
      ->required();
  app.add_option("--column", options.column, "the rank list drawn (a model, a baseline or qme)")
      ->capture_default_str();
  auto* probes = app.add_option("--probes", options.probes, "these probes (query indices), e.g. 3,17,42")
                     ->delimiter(',');
  app.add_option("--select", select,
                 "improved: --column ranks a match first and --against does not; regressed: the reverse; "
                 "random: --count probes drawn with --seed (default: improved)")
      ->check(CLI::IsMember({"improved", "regressed", "random"}))
      ->excludes(probes);
  app.add_option("--against", options.against,
                 "the column compared with (improved/regressed): a column in --rank_lists, or best (the "
                 "baseline among zscore,minmax,rhe,min,mean,max with the most rank-1 first matches)")
      ->capture_default_str();
  app.add_option("--count", options.count, "at most this many pictures (improved/regressed/random)")
      ->capture_default_str();
  app.add_option("--seed", options.seed, "seed of --select random (std::mt19937)")->capture_default_str();
  app.add_option("--top_k", options.top_k,
                 "gallery entries per picture: up to the top_k-th ranked one, junk before it included "
                 "(0: every entry of the rank list)")
      ->capture_default_str();
  app.add_option("--thumb_height", options.thumb_height, "height of the frame thumbnails, pixels")
      ->capture_default_str();
  app.add_option("--per_row", options.per_row, "gallery entries per row of a picture")->capture_default_str();
  qme::tools::add_log_level_flag(app, log_level);

  return qme::tools::run_tool(app, argc, argv, [&] {
    qme::setup_logging(log_level);
    if (!select.empty()) options.selection = qme::analysis::parse_probe_selection(select);
    const auto result = qme::analysis::write_rank_pictures(options);
    for (const auto& picture : result.pictures) {
      std::printf("%s\n", (std::filesystem::path(options.out_dir) / picture.file).string().c_str());
    }
    std::printf("%s\n%s\n", result.index_csv.c_str(), result.index_html.c_str());
    return qme::kExitOk;
  });
}

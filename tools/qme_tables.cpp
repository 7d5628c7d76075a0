// qme_tables: the paper table (single models + classic fusion baselines, and the
// QME fusion head given a checkpoint) from a score-matrix file, and its plots. All
// work happens in qme::pipeline::run_tables; the QME matrices come from qme::fusion through
// the module qme::pipeline::load_qme_column opens (this executable does not link LibTorch),
// the plots' curves from qme::eval::TablesCurves and their drawing from qme::plot.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>

#include "common_flags.hpp"
#include "qme/core/error.hpp"
#include "qme/core/logging.hpp"
#include "qme/io/output_directory.hpp"
#include "qme/io/text_file.hpp"
#include "qme/pipeline/qme_column.hpp"
#include "qme/pipeline/tables_analysis.hpp"
#include "qme/pipeline/tables_job.hpp"
#include "qme/plot/analysis_charts.hpp"
#include "qme/plot/tables_plots.hpp"
#include "tool_main.hpp"

int main(int argc, char** argv) {
  CLI::App app{
      "qme_tables: the paper table (single models, classic fusion baselines, QME) from a score-matrix file",
      "qme_tables"};
  qme::pipeline::TablesOptions options;
  std::vector<std::string> baselines = {"zscore", "minmax", "rhe", "min", "mean", "max"};
  std::string json_path, csv_path, plots_dir, face_weights, log_level = "info";
  bool markdown = false;
  app.add_option("--scoremats", options.scoremats, "score-matrix file (scoremats_{ds}.h5)")->required();
  app.add_option("--models", options.models, "models to evaluate, in order (default: all in the file)")
      ->delimiter(',');
  app.add_option("--baselines", baselines,
                 "classic fusion baselines (zscore,minmax,rhe,min,mean,max; 'none' for none)")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--seed", options.seed, "seed of numpy's legacy generator for the open-set draws")
      ->capture_default_str();
  app.add_option("--threads", options.num_threads, "worker threads (0: QME_NUM_THREADS or all cores)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--json", json_path, "write every report in full as JSON");
  app.add_option("--csv", csv_path, "write every metric of every report as CSV");
  app.add_flag("--markdown", markdown, "print the table as Markdown");
  app.add_option("--plots", plots_dir,
                 "write the ROC, DET, CMC, score-density (and quality-weight) plots into this folder "
                 "(PNG, SVG and CSV each)");
  app.add_option("--face_weights", face_weights,
                 "HDF5 file with dataset 'face_weights', one quality weight per probe: mixes QME's experts "
                 "(--qme_ckpt, needed with --use_qe true) and adds the quality plot (--plots)");
  std::string qme_ckpt;
  bool use_qe = true;
  app.add_option("--qme_ckpt", qme_ckpt, "QME checkpoint (.pth): adds the 'qme' report and a QME column");
  app.add_option("--use_qe", use_qe, "mix the experts by the face weights (false: fixed 0.5)")
      ->default_str("true");
  qme::pipeline::TablesAnalysisOptions analysis;
  app.add_option("--rank_lists", analysis.rank_lists,
                 "write each column's top-k gallery entries per probe and each probe's first-match rank "
                 "into this folder (CSV per column, and rank_lists.h5)");
  app.add_option("--top_k", analysis.top_k, "entries per probe in the rank lists")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--bootstrap", analysis.bootstrap,
                 "paired bootstrap over N subject resamples: a confidence interval for every metric of every "
                 "column and for its difference with QME")
      ->check(CLI::PositiveNumber);
  app.add_option("--ci", analysis.ci_level, "confidence level of the bootstrap intervals, in percent")
      ->capture_default_str();
  app.add_option("--bootstrap_seed", analysis.bootstrap_seed, "seed of the bootstrap's subject draws")
      ->capture_default_str();
  app.add_option("--quality_bins", analysis.quality_bins,
                 "every metric per bin of the probes' face-quality weights (quantile bins; needs "
                 "--face_weights), e.g. 4")
      ->check(CLI::PositiveNumber);
  qme::tools::add_log_level_flag(app, log_level);

  return qme::tools::run_tool(app, argc, argv, [&] {
    qme::setup_logging(log_level);
    for (const auto& b : baselines) {
      if (b != "none") options.baselines.push_back(qme::eval::parse_fusion_method(b));
    }
    if (!face_weights.empty() && qme_ckpt.empty() && plots_dir.empty() && analysis.quality_bins == 0) {
      throw qme::UsageError("--face_weights is only used with --qme_ckpt, --plots or --quality_bins");
    }
    qme::io::check_output_file(json_path);  // every output before any work ("": none)
    qme::io::check_output_file(csv_path);
    qme::io::check_output_directory(plots_dir);
    qme::io::check_output_directory(analysis.rank_lists);
    analysis.face_weights = face_weights;
    qme::pipeline::TablesAnalysis analyses(analysis, options);
    if (!qme_ckpt.empty())
      options.learned.push_back(qme::pipeline::load_qme_column(qme_ckpt, face_weights, use_qe));
    std::optional<qme::plot::TablesPlotter> plots;
    if (!plots_dir.empty()) {
      plots.emplace(qme::plot::TablesPlotsOptions{plots_dir, face_weights, {}});
      options.observers.push_back(plots->observer());
    }
    analyses.attach(options);
    const auto result = qme::pipeline::run_tables(options);
    std::fputs(analyses.format_tables(result, markdown).c_str(), stdout);
    if (!json_path.empty()) {
      auto json = qme::pipeline::tables_to_json(result);
      analyses.add_to_json(json);
      qme::io::write_text_file(json_path, json.dump(1) + "\n");
    }
    if (!csv_path.empty()) qme::io::write_text_file(csv_path, qme::pipeline::tables_to_csv(result));
    if (plots) {
      plots->write();
      qme::plot::write_tables_analysis_charts(plots_dir, analyses, result);
    }
    return qme::kExitOk;
  });
}

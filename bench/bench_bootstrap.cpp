// bench_bootstrap: the paired subject bootstrap of a whole paper table (qme_tables --bootstrap N):
// the three single models and the six classic baselines of an LTCC-sized score-matrix file
// (493 x 7050, 75 probe subjects; the distribution flags of bench_eval apply) or of --scoremats,
// each bootstrapped with the same N resamples. Prints the median over the repeats of the whole
// bootstrap time and of each column's, with the input size. The target: N = 1000 in
// under a minute on 2 cores.
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "qme/analysis/bootstrap.hpp"
#include "qme/core/logging.hpp"
#include "qme/core/parallel.hpp"
#include "qme/formats/score_matrix_file.hpp"
#include "qme/pipeline/tables_job.hpp"
#include "qme/synthetic/synthetic_scores.hpp"

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_bootstrap: median time of the paired bootstrap of a paper table", "bench_bootstrap"};
  std::string scoremats;
  int repeats = 3, resamples = 1000, threads = 0;
  auto spec = qme::synthetic::ltcc_sized_spec();
  app.add_option("--scoremats", scoremats, "bootstrap this score-matrix file instead of a synthetic one");
  app.add_option("--resamples", resamples, "bootstrap resamples N")->capture_default_str();
  app.add_option("--repeats", repeats, "repeats (median reported)")->capture_default_str();
  app.add_option("--threads", threads, "worker threads (0: all cores)");
  qme::bench::add_distribution_flags(app, spec);
  CLI11_PARSE(app, argc, argv);
  qme::setup_logging("error");

  const auto folder =
      std::filesystem::temp_directory_path() / ("qme_bench_bootstrap_" + std::to_string(getpid()));
  if (scoremats.empty()) {
    std::filesystem::create_directories(folder);
    scoremats = (folder / "scoremats_ltcc.h5").string();
    const auto synthetic = qme::synthetic::make_synthetic_scores(spec);
    qme::formats::write_score_matrix_file(scoremats, synthetic.labels, synthetic.models);
  }
  qme::pipeline::TablesOptions tables;
  tables.scoremats = scoremats;
  tables.num_threads = threads;
  tables.baselines = {qme::eval::FusionMethod::kZScore, qme::eval::FusionMethod::kMinMax,
                      qme::eval::FusionMethod::kRhe,    qme::eval::FusionMethod::kMin,
                      qme::eval::FusionMethod::kMean,   qme::eval::FusionMethod::kMax};
  const qme::formats::ScoreMatrixFile file(scoremats);
  std::printf(
      "input: %s, score_mat %zux%zu, %zu model(s) + %zu baselines, %lld probe subjects, N = %d, %d "
      "thread(s), %d repeats\n",
      scoremats.c_str(), file.labels().query.size(), file.labels().gallery.size(), file.models().size(),
      tables.baselines.size(), static_cast<long long>(qme::unique_sorted(file.labels().query.pids).size()),
      resamples, threads > 0 ? threads : qme::default_num_threads(), repeats);
  std::vector<double> totals;
  std::map<std::string, std::vector<double>> per_column;
  std::vector<std::string> order;
  for (int r = 0; r < repeats; ++r) {
    qme::analysis::BootstrapOptions options;
    options.resamples = resamples;
    options.eval.num_threads = threads;
    qme::analysis::TablesBootstrap bootstrap(options);
    auto run = tables;
    double previous = 0;
    run.observers.push_back(bootstrap.observer());
    run.observers.push_back(
        [&](const qme::eval::TableColumnId& column, const qme::ModelScores&, const qme::TestLabels&) {
          if (r == 0) order.push_back(column.key);
          per_column[column.key].push_back(bootstrap.seconds() - previous);
          previous = bootstrap.seconds();
        });
    qme::pipeline::run_tables(run);
    totals.push_back(bootstrap.seconds());
  }
  for (const auto& key : order) std::printf("  %-10s %8.1f ms\n", key.c_str(), median(per_column[key]) * 1e3);
  std::printf("bootstrap of %zu columns, N = %d: median %.2f s\n", order.size(), resamples, median(totals));
  if (std::filesystem::exists(folder)) std::filesystem::remove_all(folder);
  return 0;
}

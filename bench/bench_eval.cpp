// bench_eval: median time of one full evaluation report (qme::eval::evaluate)
// on an LTCC-sized score matrix (493 x 7050, 75 subjects) or a given file.
// Upstream's Python test_score takes ~2.0-2.5 s per model at this size on the
// reference 2-core machine (docs/architecture.md §5).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <vector>

#include "bench_common.hpp"
#include "qme/core/logging.hpp"
#include "qme/core/parallel.hpp"
#include "qme/eval/evaluation_report.hpp"
#include "qme/eval/retrieval.hpp"
#include "qme/eval/verification.hpp"
#include "qme/formats/score_matrix_file.hpp"
#include "qme/synthetic/synthetic_scores.hpp"

using qme::bench::median_seconds;

int main(int argc, char** argv) {
  CLI::App app{"bench_eval: median full-report time on an LTCC-sized matrix", "bench_eval"};
  std::string scoremats, model;
  int repeats = 21, threads = 0, model_index = 1;
  auto spec = qme::synthetic::ltcc_sized_spec();
  app.add_option("--scoremats", scoremats, "read this score-matrix file instead of generating one");
  app.add_option("--model", model, "model in --scoremats (default: the first)");
  app.add_option("--repeats", repeats, "repeats (median reported)")->capture_default_str();
  app.add_option("--threads", threads, "worker threads (0: all cores)");
  app.add_option("--model_index", model_index,
                 "synthetic model to time: 0 adaface, 1 cal-ltcc (default, the harder ranking), 2 aim")
      ->check(CLI::Range(0, 2));
  qme::bench::add_distribution_flags(app, spec);
  CLI11_PARSE(app, argc, argv);
  qme::setup_logging("error");

  qme::TestLabels labels;
  qme::ModelScores scores;
  if (scoremats.empty()) {
    auto synthetic = qme::synthetic::make_synthetic_scores(spec);
    labels = synthetic.labels;
    scores = synthetic.models[static_cast<size_t>(model_index)].second;
  } else {
    const qme::formats::ScoreMatrixFile file(scoremats);
    labels = file.labels();
    scores = file.read_model(model.empty() ? file.models().at(0) : model);
  }
  qme::eval::EvalOptions options;
  options.num_threads = threads;
  const int used_threads = threads > 0 ? threads : qme::default_num_threads();
  std::printf("input: score_mat %lldx%lld, merge_score_mat %lldx%lld, %d thread(s), %d repeats\n",
              static_cast<long long>(scores.score_mat.rows), static_cast<long long>(scores.score_mat.cols),
              static_cast<long long>(scores.merge_score_mat.rows),
              static_cast<long long>(scores.merge_score_mat.cols), used_threads, repeats);
  qme::bench::print_distribution("score_mat", scores.score_mat);
  const long faults_before = qme::bench::minor_page_faults();
  const auto cold_start = std::chrono::steady_clock::now();
  qme::eval::evaluate(scores.score_mat, scores.merge_score_mat, labels, options);
  const double cold = std::chrono::duration<double>(std::chrono::steady_clock::now() - cold_start).count();
  const long cold_faults = qme::bench::minor_page_faults() - faults_before;
  qme::eval::evaluate(scores.score_mat, scores.merge_score_mat, labels, options);
  const long warm_faults = qme::bench::minor_page_faults() - faults_before - cold_faults;
  const double full = median_seconds(
      repeats, [&] { qme::eval::evaluate(scores.score_mat, scores.merge_score_mat, labels, options); });
  const double retrieval =
      median_seconds(repeats, [&] { qme::eval::evaluate_retrieval(scores.score_mat, labels, threads); });
  const double verification = median_seconds(repeats, [&] {
    qme::eval::tar_at_far(scores.score_mat, labels.query.pids, labels.gallery.pids, options.fars, threads);
  });
  std::printf("first report of the process (cold): %.2f ms (%ld page faults; the next report: %ld)\n",
              cold * 1e3, cold_faults, warm_faults);
  std::printf("full report (test_score): median %.2f ms\n", full * 1e3);
  std::printf("  CMC/mAP, 3 protocols:   median %.2f ms\n", retrieval * 1e3);
  std::printf("  TAR@FAR:                median %.2f ms\n", verification * 1e3);
  std::printf("upstream Python: ~2000-2500 ms  ->  speed-up ~%.0fx-%.0fx\n", 2.0 / full, 2.5 / full);
  return 0;
}

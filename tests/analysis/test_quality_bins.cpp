// Quality bins: the edges are numpy.quantile's (expected values printed by numpy 1.24), every
// probe lands in exactly one bin, and each bin's report is evaluate() on that bin's rows.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "qme/analysis/quality_bins.hpp"
#include "qme/core/error.hpp"
#include "qme/eval/paper_table.hpp"
#include "qme/formats/score_matrix_file.hpp"
#include "qme/pipeline/tables_job.hpp"
#include "qme/synthetic/synthetic_scores.hpp"
#include "support/tables_support.hpp"
#include "support/test_support.hpp"

using qme::analysis::quality_bin_edges;
using qme::analysis::quality_bin_of;
using qme::analysis::QualityBins;
using qme::test::TempDir;

namespace {

qme::synthetic::SyntheticScores quality_bin_scores() {
  qme::synthetic::SyntheticScoreSpec spec;
  spec.num_subjects = 8;
  spec.probes_per_subject = 3;
  spec.gallery_per_subject = 4;
  spec.num_cameras = 3;
  spec.models = {"adaface", "cal-ccvid"};
  return qme::synthetic::make_synthetic_scores(spec);
}

/// Weights spread over [0, 1) with a few ties, one per probe.
std::vector<float> spread_weights(size_t probes) {
  std::vector<float> w;
  for (size_t i = 0; i < probes; ++i) w.push_back(static_cast<float>((i * 7) % 11) / 11.0f);
  return w;
}

/// Two reports hold the same metrics in the same order with equal values (NaN equals NaN).
void check_same_report(const qme::eval::EvaluationReport& a, const qme::eval::EvaluationReport& b) {
  REQUIRE(a.size() == b.size());
  for (size_t k = 0; k < a.size(); ++k) {
    const auto& [name, value] = a.entries()[k];
    INFO(name);
    CHECK(name == b.entries()[k].first);
    if (std::isnan(value)) {
      CHECK(std::isnan(b.entries()[k].second));
    } else {
      CHECK(value == b.entries()[k].second);
    }
  }
}

/// What the per-bin report must equal: evaluate() on rows copied here, not by select_probes.
qme::eval::EvaluationReport report_by_hand(const qme::ModelScores& scores, const qme::TestLabels& labels,
                                           const std::vector<int64_t>& rows,
                                           const qme::eval::EvalOptions& options) {
  const auto q = static_cast<int64_t>(rows.size());
  qme::ScoreMatrix entries(q, scores.score_mat.cols), subjects(q, scores.merge_score_mat.cols);
  qme::TestLabels sub = labels;
  sub.query = {};
  for (int64_t k = 0; k < q; ++k) {
    const auto i = static_cast<size_t>(rows[static_cast<size_t>(k)]);
    for (int64_t j = 0; j < entries.cols; ++j) {
      entries.values[static_cast<size_t>(k * entries.cols + j)] =
          scores.score_mat.at(static_cast<int64_t>(i), j);
    }
    for (int64_t j = 0; j < subjects.cols; ++j) {
      subjects.values[static_cast<size_t>(k * subjects.cols + j)] =
          scores.merge_score_mat.at(static_cast<int64_t>(i), j);
    }
    sub.query.pids.push_back(labels.query.pids[i]);
    sub.query.camids.push_back(labels.query.camids[i]);
    sub.query.clothes_ids.push_back(labels.query.clothes_ids[i]);
  }
  return qme::eval::evaluate(entries, subjects, sub, options);
}

qme::eval::EvalOptions quick_eval() {
  qme::eval::EvalOptions options;
  options.open_set.num_draws = 3;
  options.num_threads = 1;
  return options;
}

}  // namespace

TEST_CASE("quality bin edges are numpy.quantile at linspace(0, 1, B + 1)", "[analysis]") {
  CHECK(quality_bin_edges({4, 0, 3, 1, 2}, 4) == std::vector<double>{0, 1, 2, 3, 4});
  // Linear interpolation from the nearer neighbour, as numpy's _lerp (5.333333333333332, not 16/3).
  CHECK(quality_bin_edges({1, 2, 4, 8}, 9) ==
        std::vector<double>{1.0, 1.3333333333333333, 1.6666666666666665, 2.0, 2.6666666666666665,
                            3.3333333333333335, 4.0, 5.333333333333332, 6.666666666666666, 8.0});
  CHECK(quality_bin_edges({0.25f, 0.75f}, 3) ==
        std::vector<double>{0.25, 0.41666666666666663, 0.5833333333333333, 0.75});
  // float32 weights are widened exactly, not rounded to their decimal spelling
  CHECK(quality_bin_edges({0.3f, 0.1f, 0.9f, 0.5f}, 3) ==
        std::vector<double>{0.10000000149011612, 0.30000001192092896, 0.5, 0.8999999761581421});
  CHECK(quality_bin_edges({0.7f}, 2) == std::vector<double>(3, static_cast<double>(0.7f)));
}

TEST_CASE("tied weights give equal edges and empty bins, as numpy.digitize", "[analysis]") {
  const std::vector<float> w = {0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.25f, 0.75f};
  const auto edges = quality_bin_edges(w, 4);
  CHECK(edges == std::vector<double>{0.25, 0.5, 0.5, 0.5, 0.75});
  // numpy.digitize(w, edges[1:-1]): a weight on an edge opens the bin above it
  CHECK(quality_bin_of(w, edges) == std::vector<int>{3, 3, 3, 3, 3, 0, 3});
  // the top edge belongs to the last bin
  CHECK(quality_bin_of({0.0f, 1.0f, 2.0f, 3.0f, 4.0f}, {0, 1, 2, 3, 4}) == std::vector<int>{0, 1, 2, 3, 3});
}

TEST_CASE("every probe lands in exactly one bin, inside its edges", "[analysis]") {
  const auto w = spread_weights(37);
  QualityBins bins({w, 5, quick_eval()});
  REQUIRE(bins.num_bins() == 5);
  REQUIRE(bins.edges().size() == 6);
  std::vector<int> seen(w.size(), 0);
  int64_t total = 0;
  for (int b = 0; b < bins.num_bins(); ++b) {
    const auto& probes = bins.probes()[static_cast<size_t>(b)];
    CHECK(bins.counts()[static_cast<size_t>(b)] == static_cast<int64_t>(probes.size()));
    total += static_cast<int64_t>(probes.size());
    for (int64_t i : probes) {
      ++seen[static_cast<size_t>(i)];
      const double v = w[static_cast<size_t>(i)];
      CHECK(bins.edges()[static_cast<size_t>(b)] <= v);
      if (b + 1 < bins.num_bins()) {
        CHECK(v < bins.edges()[static_cast<size_t>(b) + 1]);
      } else {
        CHECK(v <= bins.edges().back());
      }
    }
  }
  CHECK(total == 37);
  CHECK(std::all_of(seen.begin(), seen.end(), [](int n) { return n == 1; }));
}

TEST_CASE("each bin's report is evaluate() on the bin's probe rows", "[analysis]") {
  const auto synthetic = quality_bin_scores();
  const auto& [name, scores] = synthetic.models.front();
  const auto w = spread_weights(synthetic.labels.query.size());
  QualityBins bins({w, 3, quick_eval()});
  bins.add({name, "AdaFace", qme::eval::ColumnKind::kModel}, scores, synthetic.labels);
  REQUIRE(bins.columns().size() == 1);
  const auto& column = bins.columns().front();
  CHECK(column.key == name);
  CHECK(column.label == "AdaFace");
  REQUIRE(column.reports.size() == 3);
  for (size_t b = 0; b < 3; ++b) {
    INFO("bin " << b);
    CHECK(column.reports[b].at("num_probe_templates") == static_cast<double>(bins.counts()[b]));
    check_same_report(column.reports[b],
                      report_by_hand(scores, synthetic.labels, bins.probes()[b], quick_eval()));
  }
}

TEST_CASE("an empty bin gets a report of NaN metrics, not a crash", "[analysis]") {
  const auto synthetic = quality_bin_scores();
  std::vector<float> w(synthetic.labels.query.size(), 0.5f);
  w.front() = 0.1f;
  QualityBins bins({w, 4, quick_eval()});
  CHECK(bins.counts() == std::vector<int64_t>{1, 0, 0, static_cast<int64_t>(w.size()) - 1});
  bins.add({"adaface", "adaface", qme::eval::ColumnKind::kModel}, synthetic.models.front().second,
           synthetic.labels);
  const auto& empty = bins.columns().front().reports[1];
  CHECK(std::isnan(empty.at("GR_top1")));
  CHECK(std::isnan(empty.at("TAR@1.00%FAR")));
  CHECK(empty.at("num_probe_templates") == 0);
  CHECK(empty.size() == bins.columns().front().reports[3].size());
  const auto json = qme::analysis::quality_bins_json(bins);
  CHECK(json.at("columns").at("adaface").at(1).at("GR_top1").is_null());
}

TEST_CASE("quality bins refuse bad bin counts and bad weights", "[analysis]") {
  const auto usage = qme::test::message_of<qme::UsageError>([] { quality_bin_edges({0.5f}, 0); });
  CHECK(usage.find("--quality_bins") != std::string::npos);
  CHECK_THROWS_AS(QualityBins({{0.5f}, -1, {}}), qme::UsageError);
  CHECK(qme::test::message_of<qme::InputError>([] { quality_bin_edges({}, 3); }).find("no quality weights") !=
        std::string::npos);
  const auto nan = qme::test::message_of<qme::InputError>([] {
    quality_bin_edges({0.1f, std::nanf(""), 0.3f}, 2);
  });
  CHECK(nan.find("probe 1") != std::string::npos);
}

TEST_CASE("weights that do not match the probes are an error naming the weights file", "[analysis]") {
  const auto synthetic = quality_bin_scores();
  const auto probes = synthetic.labels.query.size();
  const qme::eval::TableColumnId column{"adaface", "adaface", qme::eval::ColumnKind::kModel};
  const auto& scores = synthetic.models.front().second;
  QualityBins named({spread_weights(probes - 2), 2, quick_eval(), "/data/mod_qe_x.h5"});
  CHECK(qme::test::message_of<qme::InputError>([&] { named.add(column, scores, synthetic.labels); }) ==
        "/data/mod_qe_x.h5: 'face_weights' has " + std::to_string(probes - 2) +
            " rows but the score matrices have " + std::to_string(probes) + " probes");
  QualityBins unnamed({spread_weights(probes + 1), 2, quick_eval()});
  CHECK(qme::test::message_of<qme::InputError>([&] { unnamed.add(column, scores, synthetic.labels); }) ==
        "quality bins: there are " + std::to_string(probes + 1) +
            " quality weights but the score matrices have " + std::to_string(probes) + " probes");
  CHECK(named.columns().empty());
}

TEST_CASE("run_tables feeds every column to the quality bins, and the JSON has their shape", "[analysis]") {
  TempDir dir;
  const auto synthetic = quality_bin_scores();
  auto options = qme::test::tables_on_file(dir, synthetic);
  options.baselines = {qme::eval::FusionMethod::kZScore, qme::eval::FusionMethod::kMax};
  QualityBins bins({spread_weights(synthetic.labels.query.size()), 4, quick_eval()});
  options.observers.push_back(bins.observer());
  qme::pipeline::run_tables(options);

  REQUIRE(bins.columns().size() == 4);
  CHECK(bins.columns()[2].kind == qme::eval::ColumnKind::kBaseline);
  const auto json = qme::analysis::quality_bins_json(bins);
  CHECK(json.size() == 3);
  CHECK(json.at("edges").get<std::vector<double>>() == bins.edges());
  CHECK(json.at("counts").get<std::vector<int64_t>>() == bins.counts());
  const auto& columns = json.at("columns");
  CHECK(columns.size() == 4);
  for (const char* key : {"adaface", "cal-ccvid", "zscore", "max"}) {
    INFO(key);
    REQUIRE(columns.contains(key));
    REQUIRE(columns.at(key).size() == 4);
    for (const auto& report : columns.at(key)) CHECK(report.contains("FNIR@1.00%FPIR_std"));
  }
  // The bins of a model match evaluate() on their rows of the file's matrices.
  const auto& cal = synthetic.models[1].second;
  check_same_report(bins.columns()[1].reports[2],
                    report_by_hand(cal, synthetic.labels, bins.probes()[2], quick_eval()));
  // The printed table: a header and one row per bin, each value the report's in percent.
  const auto table = qme::analysis::format_quality_bins_table(bins, "GR_top1", false);
  CHECK(std::count(table.begin(), table.end(), '\n') == 5);
  CHECK_THAT(table, Catch::Contains("GR_top1 per quality bin") && Catch::Contains("zscore") &&
                        Catch::Contains("4: [") && Catch::Contains("]"));
  char value[32];
  std::snprintf(value, sizeof value, "%.1f",
                qme::eval::table_percent(bins.columns()[1].reports[0].at("GR_top1")));
  CHECK_THAT(table, Catch::Contains(value));
}

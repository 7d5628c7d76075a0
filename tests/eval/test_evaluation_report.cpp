// The full report (upstream test_score): names, order, edge cases, and that
// it is assembled from the metric functions the way upstream assembles it.

#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "qme/core/error.hpp"
#include "qme/core/identity_labels.hpp"
#include "qme/core/numpy_random.hpp"
#include "qme/core/score_matrix.hpp"
#include "qme/eval/evaluation_report.hpp"
#include "qme/eval/open_set.hpp"
#include "qme/eval/retrieval.hpp"
#include "qme/eval/verification.hpp"
#include "support/log_capture.hpp"
#include "support/test_support.hpp"

using Catch::Matchers::Contains;
using qme::ScoreMatrix;
using qme::TestLabels;
using qme::eval::EvalOptions;
using qme::eval::evaluate;
using qme::eval::EvaluationReport;

namespace {

using qme::test::kNaN;

// Routes spdlog's default logger into a string (and off the console).
struct Dataset {
  ScoreMatrix scores, merged;
  TestLabels labels;
};

/// `subjects` gallery subjects with `per_subject` entries each over 3 cameras
/// and 2 outfits; probes of those subjects plus two subjects not in the
/// gallery; scores random, matches higher on average.
Dataset random_dataset(uint32_t seed, int64_t subjects, int64_t per_subject, int64_t probes) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::uniform_int_distribution<int64_t> pid(1, subjects + 2), cam(0, 2), clothes(0, 1);
  Dataset d;
  auto& g = d.labels.gallery;
  for (int64_t s = 1; s <= subjects; ++s) {
    for (int64_t k = 0; k < per_subject; ++k) {
      g.pids.push_back(s);
      g.camids.push_back(k % 3);
      g.clothes_ids.push_back(k % 2);
    }
  }
  auto& q = d.labels.query;
  for (int64_t i = 0; i < probes; ++i) {
    q.pids.push_back(pid(gen));
    q.camids.push_back(cam(gen));
    q.clothes_ids.push_back(clothes(gen));
  }
  d.labels.unique_gallery_pids = qme::unique_sorted(g.pids);
  const auto rows = static_cast<int64_t>(q.size());
  const auto cols = static_cast<int64_t>(g.size());
  const auto subjects_n = static_cast<int64_t>(d.labels.unique_gallery_pids.size());
  d.scores = ScoreMatrix(rows, cols);
  d.merged = ScoreMatrix(rows, subjects_n);
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) {
      d.scores.row(i)[j] = u(gen) + (q.pids[i] == g.pids[j] ? 0.4f : 0.0f);
    }
    for (int64_t j = 0; j < subjects_n; ++j) {
      d.merged.row(i)[j] = u(gen) + (q.pids[i] == d.labels.unique_gallery_pids[j] ? 0.5f : 0.0f);
    }
  }
  return d;
}

const std::vector<std::string>& upstream_names() {
  static const std::vector<std::string> names = {
      "GR_top1", "GR_top5", "GR_top10", "GR_top20", "GR_mAP",
      "SC_top1", "SC_top5", "SC_top10", "SC_top20", "SC_mAP",
      "CC_top1", "CC_top5", "CC_top10", "CC_top20", "CC_mAP",
      "TAR@0.01%FAR", "TAR@0.10%FAR", "TAR@1.00%FAR",
      "Threshold@0.01%FAR", "Threshold@0.10%FAR", "Threshold@1.00%FAR",
      "TPIR@0.01%FPIR", "TPIR@0.10%FPIR", "TPIR@1.00%FPIR",
      "FNIR@0.01%FPIR", "FNIR@0.10%FPIR", "FNIR@1.00%FPIR",
      "FNIR@0.01%FPIR_threshold", "FNIR@0.10%FPIR_threshold", "FNIR@1.00%FPIR_threshold",
      "num_probe_templates", "num_probe_subjects", "num_gallery_subjects",
      "num_galley1_templates", "num_gallary1_subjects",
      "TPIR@0.01%FPIR_std", "TPIR@0.10%FPIR_std", "TPIR@1.00%FPIR_std",
      "FNIR@0.01%FPIR_std", "FNIR@0.10%FPIR_std", "FNIR@1.00%FPIR_std"};
  return names;
}

using qme::test::same_value;

bool close_value(double a, double b) {
  return (std::isnan(a) && std::isnan(b)) || std::abs(a - b) <= 1e-12;
}

EvalOptions quiet_options(int threads = 1) {
  EvalOptions o;
  o.num_threads = threads;
  o.context = "test";
  return o;
}

}  // namespace

TEST_CASE("report lists upstream's metric names in upstream's order", "[eval]") {
  qme::test::LogCapture quiet;
  const auto d = random_dataset(1, 8, 5, 30);
  const auto report = evaluate(d.scores, d.merged, d.labels, quiet_options());
  std::vector<std::string> names;
  for (const auto& e : report.entries()) names.push_back(e.first);
  CHECK(names == upstream_names());
  CHECK(report.size() == 41);
}

TEST_CASE("percent_label formats a rate like Python's {:.2%}", "[eval]") {
  CHECK(qme::eval::percent_label(1e-4) == "0.01%");
  CHECK(qme::eval::percent_label(1e-3) == "0.10%");
  CHECK(qme::eval::percent_label(1e-2) == "1.00%");
  CHECK(qme::eval::percent_label(0.5) == "50.00%");
  CHECK(qme::eval::percent_label(1.0) == "100.00%");
}

TEST_CASE("evaluate rejects matrices whose shape disagrees with the labels", "[eval]") {
  qme::test::LogCapture quiet;
  const auto d = random_dataset(2, 4, 5, 10);  // Q = 10, G = 20, U = 4
  auto narrow = d.scores;
  narrow.cols -= 1;
  narrow.values.resize(static_cast<size_t>(narrow.rows * narrow.cols));
  CHECK_THROWS_AS(evaluate(narrow, d.merged, d.labels, quiet_options()), qme::InputError);
  CHECK_THROWS_WITH(evaluate(narrow, d.merged, d.labels, quiet_options()), Contains("score_mat"));
  auto merged_wide = ScoreMatrix(d.merged.rows, d.merged.cols + 1);
  CHECK_THROWS_AS(evaluate(d.scores, merged_wide, d.labels, quiet_options()), qme::InputError);
  CHECK_THROWS_WITH(evaluate(d.scores, merged_wide, d.labels, quiet_options()), Contains("merge_score_mat"));
  auto fewer_rows = ScoreMatrix(d.scores.rows - 1, d.scores.cols);
  CHECK_THROWS_AS(evaluate(fewer_rows, d.merged, d.labels, quiet_options()), qme::InputError);
}

TEST_CASE("an all-NaN matrix evaluates without throwing", "[eval]") {
  // Q = 4 (pids 1 2 3 9, camera 0), G = 6 (pids 1 1 2 2 3 3, cameras 0 1 ...),
  // one outfit, U = 3: each draw enrols int(0.8 * 3) = 2 subjects.
  const TestLabels labels =
      qme::test::make_labels({{1, 2, 3, 9}, {0, 0, 0, 0}, {0, 0, 0, 0}},
                             {{1, 1, 2, 2, 3, 3}, {0, 1, 0, 1, 0, 1}, {0, 0, 0, 0, 0, 0}});
  const ScoreMatrix scores(4, 6, kNaN), merged(4, 3, kNaN);
  qme::test::LogCapture log;
  EvaluationReport report;
  REQUIRE_NOTHROW(report = evaluate(scores, merged, labels, quiet_options()));
  REQUIRE(report.size() == 41);
  // Ranking: all tied (NaN) -> index order in these short rows. After junk
  // removal the good entries sit at positions 0 (pid 1), 2 (pid 2), 4 (pid 3).
  CHECK(report.at("GR_top1") == Approx(1.0 / 3.0));
  CHECK(report.at("GR_top5") == 1.0);
  CHECK(std::isnan(report.at("GR_top10")));
  CHECK(std::isnan(report.at("GR_top20")));
  CHECK(report.at("GR_mAP") == Approx((1.0 + 1.0 / 3.0 + 1.0 / 5.0) / 3.0));
  CHECK(report.at("CC_top1") == 0.0);  // no other outfit: no valid query
  CHECK(report.at("CC_mAP") == 0.0);
  // Verification: every NaN becomes 0 (no number to take the minimum of).
  CHECK(report.at("TAR@1.00%FAR") == 1.0);
  CHECK(report.at("Threshold@1.00%FAR") == 0.0);
  // Open set: mated rows are NaN -> never identified; non-mated maxima are NaN.
  CHECK(report.at("TPIR@1.00%FPIR") == 0.0);
  CHECK(report.at("FNIR@1.00%FPIR") == 1.0);
  CHECK(std::isnan(report.at("FNIR@1.00%FPIR_threshold")));
  CHECK(report.at("FNIR@1.00%FPIR_std") == 0.0);
  CHECK(report.at("num_probe_templates") == 4);
  CHECK(report.at("num_probe_subjects") == 4);
  CHECK(report.at("num_gallery_subjects") == 3);
  CHECK(report.at("num_galley1_templates") == 2);
  CHECK(report.at("num_gallary1_subjects") == 2);
  CHECK_THAT(log.text(), Contains("warn"));
}

TEST_CASE("a gallery smaller than 20 leaves the ranks beyond it NaN and warns", "[eval]") {
  const auto d = random_dataset(3, 3, 4, 12);  // G = 12
  qme::test::LogCapture log;
  const auto report = evaluate(d.scores, d.merged, d.labels, quiet_options());
  CHECK_FALSE(std::isnan(report.at("GR_top10")));
  CHECK(std::isnan(report.at("GR_top20")));
  CHECK(std::isnan(report.at("SC_top20")));
  CHECK(std::isnan(report.at("CC_top20")));
  CHECK_THAT(log.text(), Contains("12 entries"));
}

TEST_CASE("without a general-protocol query GR_* is NaN while SC_* and CC_* are 0", "[eval]") {
  // Every match of every probe shares its camera.
  const TestLabels labels =
      qme::test::make_labels({{1, 2}, {0, 0}, {0, 0}}, {{1, 2, 3, 4, 5}, {0, 0, 1, 1, 1}, {0, 0, 0, 0, 0}});
  ScoreMatrix scores(2, 5, 0.5f), merged(2, 5, 0.5f);
  qme::test::LogCapture log;
  const auto report = evaluate(scores, merged, labels, quiet_options());
  for (const char* name : {"GR_top1", "GR_top5", "GR_mAP"}) CHECK(std::isnan(report.at(name)));
  for (const char* name : {"SC_top1", "SC_top5", "SC_mAP", "CC_top1", "CC_top5", "CC_mAP"}) {
    INFO(name);
    CHECK(report.at(name) == 0.0);
  }
  CHECK_THAT(log.text(), Contains("GR"));
}

TEST_CASE("report values come from the metric functions, open set averaged over seeded draws", "[eval]") {
  qme::test::LogCapture quiet;
  const auto d = random_dataset(4, 10, 6, 40);  // U = 10: 8 enrolled per draw
  const auto options = quiet_options();
  const auto report = evaluate(d.scores, d.merged, d.labels, options);

  const auto retrieval = qme::eval::evaluate_retrieval(d.scores, d.labels, 1);
  CHECK(same_value(report.at("GR_top1"), retrieval.general.top1));
  CHECK(same_value(report.at("GR_mAP"), retrieval.general.mAP));
  CHECK(same_value(report.at("SC_top5"), retrieval.same_clothes.top5));
  CHECK(same_value(report.at("CC_top20"), retrieval.clothes_changing.top20));
  CHECK(same_value(report.at("CC_mAP"), retrieval.clothes_changing.mAP));

  const auto tar = qme::eval::tar_at_far_exhaustive(d.scores, d.labels.query.pids, d.labels.gallery.pids,
                                                    {1e-4, 1e-3, 1e-2});
  CHECK(same_value(report.at("TAR@0.01%FAR"), tar[0].tar));
  CHECK(same_value(report.at("TAR@1.00%FAR"), tar[2].tar));
  CHECK(same_value(report.at("Threshold@0.10%FAR"), tar[1].threshold));

  // np.random.seed(45) once, then per draw:
  //   sort(choice(unique_g_pids, int(0.8 U), replace=False)) -> open_set_draw.
  // Means over the 10 draws; standard deviations with ddof 1.
  qme::NumpyLegacyRandom rng(45);
  const std::vector<double> fpirs = {1e-4, 1e-3, 1e-2};
  std::vector<std::vector<double>> tpir(3), fnir(3), threshold(3);
  for (int draw = 0; draw < 10; ++draw) {
    auto enrolled = rng.choice_without_replacement(d.labels.unique_gallery_pids, 8);
    std::sort(enrolled.begin(), enrolled.end());
    const auto r = qme::eval::open_set_draw(d.merged, d.labels.query.pids, d.labels.unique_gallery_pids,
                                            enrolled, fpirs);
    for (size_t k = 0; k < 3; ++k) {
      tpir[k].push_back(r.tpir[k]);
      fnir[k].push_back(r.fnir[k]);
      threshold[k].push_back(r.threshold[k]);
    }
  }
  auto mean = [](const std::vector<double>& v) {
    double s = 0;
    for (double x : v) s += x;
    return s / static_cast<double>(v.size());
  };
  auto sample_std = [&](const std::vector<double>& v) {
    const double m = mean(v);
    double s = 0;
    for (double x : v) s += (x - m) * (x - m);
    return std::sqrt(s / static_cast<double>(v.size() - 1));
  };
  const char* labels[] = {"0.01%", "0.10%", "1.00%"};
  for (size_t k = 0; k < 3; ++k) {
    const std::string p = labels[k];
    INFO(p);
    CHECK(close_value(report.at("TPIR@" + p + "FPIR"), mean(tpir[k])));
    CHECK(close_value(report.at("FNIR@" + p + "FPIR"), mean(fnir[k])));
    CHECK(close_value(report.at("FNIR@" + p + "FPIR_threshold"), mean(threshold[k])));
    CHECK(close_value(report.at("TPIR@" + p + "FPIR_std"), sample_std(tpir[k])));
    CHECK(close_value(report.at("FNIR@" + p + "FPIR_std"), sample_std(fnir[k])));
  }
  CHECK(report.at("num_probe_templates") == 40);
  CHECK(report.at("num_probe_subjects") == static_cast<double>(qme::unique_sorted(d.labels.query.pids).size()));
  CHECK(report.at("num_gallery_subjects") == 10);
  CHECK(report.at("num_galley1_templates") == 8);
  CHECK(report.at("num_gallary1_subjects") == 8);
}

TEST_CASE("the report's TAR@FAR and FNIR@FPIR are the public tar_at_far and fnir_at_fpir", "[eval]") {
  qme::test::LogCapture quiet;
  const auto d = random_dataset(6, 9, 5, 45);  // U = 9
  auto options = quiet_options();
  options.open_set.seed = 7;  // not the defaults: the report must pass its options on
  options.open_set.num_draws = 6;
  options.open_set.enrol_fraction = 0.6;
  options.fars = {1e-3, 0.05};
  options.fpirs = {0.02, 0.2};
  const auto report = evaluate(d.scores, d.merged, d.labels, options);

  const auto tar =
      qme::eval::tar_at_far(d.scores, d.labels.query.pids, d.labels.gallery.pids, options.fars, 1);
  REQUIRE(tar.size() == 2);
  CHECK(same_value(report.at("TAR@0.10%FAR"), tar[0].tar));
  CHECK(same_value(report.at("TAR@5.00%FAR"), tar[1].tar));
  CHECK(same_value(report.at("Threshold@0.10%FAR"), tar[0].threshold));
  CHECK(same_value(report.at("Threshold@5.00%FAR"), tar[1].threshold));

  qme::eval::OpenSetProtocol protocol;
  protocol.seed = 7;
  protocol.num_draws = 6;
  protocol.enrol_fraction = 0.6;
  const auto open_set = qme::eval::fnir_at_fpir(d.merged, d.labels.query.pids, d.labels.unique_gallery_pids,
                                                options.fpirs, protocol);
  REQUIRE(open_set.draws.size() == 6);
  CHECK(open_set.enrol_count == 5);  // int(0.6 * 9)
  CHECK(report.at("num_galley1_templates") == 5);
  CHECK(report.at("num_gallary1_subjects") == 5);
  const char* labels[] = {"2.00%", "20.00%"};
  for (size_t k = 0; k < 2; ++k) {
    const std::string p = labels[k];
    INFO(p);
    CHECK(same_value(report.at("TPIR@" + p + "FPIR"), open_set.tpir[k].mean));
    CHECK(same_value(report.at("FNIR@" + p + "FPIR"), open_set.fnir[k].mean));
    CHECK(same_value(report.at("FNIR@" + p + "FPIR_threshold"), open_set.threshold[k].mean));
    CHECK(same_value(report.at("TPIR@" + p + "FPIR_std"), open_set.tpir[k].std));
    CHECK(same_value(report.at("FNIR@" + p + "FPIR_std"), open_set.fnir[k].std));
  }
  // The default protocol draws other subsets: the options did reach fnir_at_fpir.
  const auto defaults =
      qme::eval::fnir_at_fpir(d.merged, d.labels.query.pids, d.labels.unique_gallery_pids, options.fpirs);
  CHECK(defaults.draws.size() == 10);
  CHECK(defaults.enrol_count == 7);
}

TEST_CASE("the same seed gives an identical report, with any thread count", "[eval]") {
  qme::test::LogCapture quiet;
  const auto d = random_dataset(5, 12, 5, 50);
  const auto a = evaluate(d.scores, d.merged, d.labels, quiet_options(1));
  const auto b = evaluate(d.scores, d.merged, d.labels, quiet_options(1));
  const auto c = evaluate(d.scores, d.merged, d.labels, quiet_options(2));
  REQUIRE(a.size() == b.size());
  REQUIRE(a.size() == c.size());
  for (size_t i = 0; i < a.size(); ++i) {
    INFO(a.entries()[i].first);
    CHECK(a.entries()[i].first == b.entries()[i].first);
    CHECK(same_value(a.entries()[i].second, b.entries()[i].second));
    CHECK(same_value(a.entries()[i].second, c.entries()[i].second));
  }
}

TEST_CASE("EvaluationReport keeps insertion order and overwrites in place", "[eval]") {
  EvaluationReport r;
  r.set("b", 1.0);
  r.set("a", 2.0);
  r.set("b", 3.0);
  REQUIRE(r.size() == 2);
  CHECK(r.entries()[0].first == "b");
  CHECK(r.entries()[0].second == 3.0);
  CHECK(r.at("a") == 2.0);
  CHECK_FALSE(r.find("missing").has_value());
  CHECK_THROWS_AS(r.at("missing"), qme::Error);
  CHECK_THROWS_WITH(r.at("missing"), Contains("missing"));
}

// The paired subject bootstrap: the fast path (per-probe results combined per resample) must
// give exactly what evaluate() gives on each resample's stacked rows, on inputs with ties,
// NaN, many matches per probe and resamples that need a deeper list of high-scoring pairs.
#include <catch2/catch.hpp>

#include <cmath>
#include <nlohmann/json.hpp>
#include <random>

#include "qme/analysis/bootstrap.hpp"
#include "qme/core/error.hpp"
#include "qme/formats/score_matrix_file.hpp"
#include "qme/pipeline/tables_job.hpp"
#include "qme/synthetic/synthetic_scores.hpp"
#include "support/tables_support.hpp"
#include "support/test_support.hpp"

namespace {

using qme::analysis::ResampledMetrics;

/// Exact equality, NaN equal to NaN, naming the resample and metric on failure.
void require_same(const ResampledMetrics& fast, const ResampledMetrics& naive) {
  REQUIRE(fast.metrics == naive.metrics);
  REQUIRE(fast.values.size() == naive.values.size());
  for (size_t b = 0; b < fast.values.size(); ++b) {
    for (size_t m = 0; m < fast.metrics.size(); ++m) {
      const double f = fast.values[b][m], n = naive.values[b][m];
      INFO("resample " << b << ", " << fast.metrics[m] << ": fast " << f << ", naive " << n);
      CHECK(((std::isnan(f) && std::isnan(n)) || f == n));
    }
  }
}

/// Scores rounded to a coarse grid (ties everywhere), some NaN, and several probes and gallery
/// entries per subject across cameras and clothes.
qme::synthetic::SyntheticScores tied_scores(uint64_t seed, double nan_fraction) {
  qme::synthetic::SyntheticScoreSpec spec;
  spec.num_subjects = 14;
  spec.probes_per_subject = 3;
  spec.gallery_per_subject = 6;
  spec.models = {"cal-ltcc"};
  spec.seed = seed;
  auto synthetic = qme::synthetic::make_synthetic_scores(spec);
  std::mt19937 rng(static_cast<uint32_t>(seed));
  std::uniform_real_distribution<double> unit(0, 1);
  for (auto* m : {&synthetic.models[0].second.score_mat, &synthetic.models[0].second.merge_score_mat}) {
    for (auto& v : m->values) {
      v = std::round(v * 20.0f) / 20.0f;
      if (unit(rng) < nan_fraction) v = NAN;
    }
  }
  return synthetic;
}

}  // namespace

TEST_CASE("bootstrap fast path equals evaluate() on every resample's stacked rows", "[analysis]") {
  for (double nan_fraction : {0.0, 0.02}) {
    const auto synthetic = tied_scores(11 + static_cast<uint64_t>(nan_fraction * 100), nan_fraction);
    const auto& scores = synthetic.models[0].second;
    const qme::analysis::SubjectResamples resamples(synthetic.labels.query.pids, 40, 3);
    qme::eval::EvalOptions options;
    options.fars = {1e-2, 1e-1, 0.5};  // deep into the curve on a small matrix
    options.fpirs = {1e-2, 0.1, 0.3};
    INFO("NaN fraction " << nan_fraction);
    require_same(qme::analysis::bootstrap_column(scores, synthetic.labels, resamples, options),
                 qme::analysis::bootstrap_column_naive(scores, synthetic.labels, resamples, options));
  }
}

TEST_CASE("bootstrap fast path equals evaluate() with FAR 1 and closed-set identification", "[analysis]") {
  const auto synthetic = tied_scores(5, 0.01);
  const auto& scores = synthetic.models[0].second;
  const qme::analysis::SubjectResamples resamples(synthetic.labels.query.pids, 25, 9);
  qme::eval::EvalOptions options;
  options.fars = {1.0, 1e-3};
  options.fpirs = {1.0};
  require_same(qme::analysis::bootstrap_column(scores, synthetic.labels, resamples, options),
               qme::analysis::bootstrap_column_naive(scores, synthetic.labels, resamples, options));
}

TEST_CASE("bootstrap retries resamples whose TAR@FAR lies below the listed pairs", "[analysis]") {
  // One "hub" subject's probes hold every high non-match score: a resample without it finds
  // its FAR points far below the first list of pairs, which must then be deepened.
  qme::synthetic::SyntheticScoreSpec spec;
  spec.num_subjects = 40;
  spec.probes_per_subject = 2;
  spec.gallery_per_subject = 60;
  spec.models = {"cal-ltcc"};
  spec.seed = 21;
  auto synthetic = qme::synthetic::make_synthetic_scores(spec);
  auto& mat = synthetic.models[0].second.score_mat;
  const auto hub = synthetic.labels.query.pids[0];
  for (int64_t i = 0; i < mat.rows; ++i) {
    if (synthetic.labels.query.pids[static_cast<size_t>(i)] != hub) continue;
    for (int64_t j = 0; j < mat.cols; ++j) mat.row(i)[j] = 2.0f + 0.001f * static_cast<float>(j % 97);
  }
  const qme::analysis::SubjectResamples resamples(synthetic.labels.query.pids, 12, 4);
  bool some_without_hub = false;
  for (int b = 0; b < resamples.size(); ++b)
    some_without_hub = some_without_hub || resamples.weights(b)[0] == 0;
  REQUIRE(some_without_hub);
  qme::eval::EvalOptions options;
  options.fars = {1e-3, 1e-2};
  const auto& scores = synthetic.models[0].second;
  // A first list of 3000 pairs holds only the hub's scores.
  const auto fast = qme::analysis::bootstrap_column(scores, synthetic.labels, resamples, options, 3000);
  CHECK(fast.retried > 0);
  require_same(fast, qme::analysis::bootstrap_column_naive(scores, synthetic.labels, resamples, options));
}

TEST_CASE("bootstrap fast path equals evaluate() on upstream's fixture score matrices",
          "[analysis][parity]") {
  for (const char* name : {"small", "small_nan"}) {
    const qme::formats::ScoreMatrixFile file(std::string(QME_FIXTURES_DIR) + "/eval/scoremats_" + name +
                                             ".h5");
    const qme::analysis::SubjectResamples resamples(file.labels().query.pids, 15, 45);
    for (const auto& model : file.models()) {
      INFO(name << " / " << model);
      const auto scores = file.read_model(model);
      require_same(qme::analysis::bootstrap_column(scores, file.labels(), resamples, {}),
                   qme::analysis::bootstrap_column_naive(scores, file.labels(), resamples, {}));
    }
  }
}

TEST_CASE("subject resamples draw subjects as numpy's RandomState.randint and take all their probes",
          "[analysis]") {
  // Ten subjects (pids 100..109 ascending), subject k with k % 3 + 1 probes, shuffled.
  std::vector<int64_t> pids;
  for (int k = 9; k >= 0; --k) {
    for (int p = 0; p <= k % 3; ++p) pids.push_back(100 + k);
  }
  const qme::analysis::SubjectResamples resamples(pids, 2, 7);
  // numpy 1.24: r = np.random.RandomState(7); r.randint(0, 10, size=10), twice.
  const std::vector<std::vector<int64_t>> expected = {{4, 9, 6, 3, 3, 7, 7, 9, 7, 8},
                                                      {9, 8, 7, 6, 4, 0, 7, 0, 7, 6}};
  for (int b = 0; b < 2; ++b) {
    std::vector<int64_t> rows;
    for (auto s : expected[static_cast<size_t>(b)]) {
      for (size_t i = 0; i < pids.size(); ++i) {
        if (pids[i] == 100 + s) rows.push_back(static_cast<int64_t>(i));
      }
    }
    CHECK(resamples.rows(b) == rows);
    const auto weights = resamples.weights(b);
    for (size_t i = 0; i < pids.size(); ++i)
      CHECK(weights[i] == std::count(rows.begin(), rows.end(), static_cast<int64_t>(i)));
  }
  CHECK(resamples.distinct_subjects(0) == 6);
  CHECK(resamples.distinct_subjects(1) == 6);
  CHECK(resamples.num_subjects() == 10);
}

TEST_CASE("percentile intervals are numpy.percentile's, NaN skipped", "[analysis]") {
  // numpy 1.24: np.percentile(v, 2.5), np.percentile(v, 97.5)
  auto i = qme::analysis::percentile_interval({0.3, 0.1, 0.7, 0.2, 0.9, 0.5, 0.4, NAN}, 95);
  CHECK(i.lo == 0.115);
  CHECK(i.hi == 0.8699999999999999);
  i = qme::analysis::percentile_interval({2.0, 1.0}, 95);
  CHECK(i.lo == 1.025);
  CHECK(i.hi == 1.975);
  i = qme::analysis::percentile_interval({NAN}, 95);
  CHECK(std::isnan(i.lo));
  CHECK(std::isnan(i.hi));
}

TEST_CASE("metric directions: rates of right decisions up, FNIR down, the rest neither", "[analysis]") {
  using qme::analysis::metric_direction;
  using qme::analysis::MetricDirection;
  CHECK(metric_direction("GR_top1") == MetricDirection::kHigherIsBetter);
  CHECK(metric_direction("CC_mAP") == MetricDirection::kHigherIsBetter);
  CHECK(metric_direction("TAR@1.00%FAR") == MetricDirection::kHigherIsBetter);
  CHECK(metric_direction("TPIR@1.00%FPIR") == MetricDirection::kHigherIsBetter);
  CHECK(metric_direction("FNIR@1.00%FPIR") == MetricDirection::kLowerIsBetter);
  CHECK(metric_direction("FNIR@1.00%FPIR_std") == MetricDirection::kNone);
  CHECK(metric_direction("FNIR@1.00%FPIR_threshold") == MetricDirection::kNone);
  CHECK(metric_direction("Threshold@1.00%FAR") == MetricDirection::kNone);
  CHECK(metric_direction("num_probe_templates") == MetricDirection::kNone);
}

TEST_CASE("bad bootstrap options are usage errors naming the flag", "[analysis]") {
  qme::analysis::BootstrapOptions options;
  options.resamples = 0;
  CHECK_THROWS_WITH(qme::analysis::TablesBootstrap(options), Catch::Contains("--bootstrap"));
  options.resamples = 10;
  for (double ci : std::vector<double>{0.0, 100.0, -5.0, NAN}) {
    options.ci_level = ci;
    CHECK_THROWS_AS(qme::analysis::TablesBootstrap(options), qme::UsageError);
  }
  CHECK_THROWS_AS(qme::analysis::SubjectResamples({}, 10, 1), qme::UsageError);
}

TEST_CASE("the table's bootstrap is paired, seeded and compares every column with qme", "[analysis]") {
  qme::test::TempDir dir;
  qme::synthetic::SyntheticScoreSpec spec;
  spec.num_subjects = 16;
  spec.probes_per_subject = 2;
  spec.gallery_per_subject = 5;
  spec.models = {"cal-ltcc", "adaface"};
  const auto synthetic = qme::synthetic::make_synthetic_scores(spec);
  auto tables = qme::test::tables_on_file(dir, synthetic);
  tables.baselines = {qme::eval::FusionMethod::kZScore};
  tables.learned.push_back(qme::test::stand_in_learned_fusion(qme::eval::FusionMethod::kMean));
  auto run = [&](uint32_t seed) {
    qme::analysis::BootstrapOptions options;
    options.resamples = 50;
    options.seed = seed;
    auto bootstrap = std::make_unique<qme::analysis::TablesBootstrap>(options);
    auto with_bootstrap = tables;
    with_bootstrap.observers.push_back(bootstrap->observer());
    qme::pipeline::run_tables(with_bootstrap);
    return bootstrap;
  };
  const auto first = run(3), again = run(3), other = run(4);
  const auto json = first->json();
  CHECK(json == again->json());
  CHECK(json["ci"] != other->json()["ci"]);
  CHECK(json["n"] == 50);
  CHECK(json["unit"] == "subject");
  REQUIRE(first->columns().size() == 4);
  CHECK(first->reference().id.key == "qme");
  for (const char* column : {"cal-ltcc", "adaface", "zscore"}) {
    INFO(column);
    REQUIRE(json["vs"].contains(column));
    CHECK(json["vs"][column]["reference"] == "qme");
    const auto& top1 = json["vs"][column]["GR_top1"];
    CHECK(top1["p_better"].get<double>() >= 0.0);
    CHECK(top1["p_better"].get<double>() <= 1.0);
    CHECK(top1["diff_ci"][0].get<double>() <= top1["diff_ci"][1].get<double>());
  }
  CHECK_FALSE(json["vs"].contains("qme"));
  // Each interval holds the middle 95 % of its resamples.
  const auto& qme = first->reference();
  const auto interval = first->interval(qme, "GR_mAP");
  int inside = 0;
  for (const auto& v : qme.resampled.values) inside += v[4] >= interval.lo && v[4] <= interval.hi;
  CHECK(qme.resampled.metrics[4] == "GR_mAP");
  CHECK(inside >= 46);
  // The differences are paired: reference minus column, resample by resample.
  const auto zscore_diff = first->compare(first->columns()[2], "GR_mAP");
  std::vector<double> diffs;
  for (size_t b = 0; b < 50; ++b)
    diffs.push_back(qme.resampled.values[b][4] - first->columns()[2].resampled.values[b][4]);
  const auto expected = qme::analysis::percentile_interval(diffs, 95);
  CHECK(zscore_diff.diff.lo == expected.lo);
  CHECK(zscore_diff.diff.hi == expected.hi);
  CHECK_THAT(qme::analysis::format_bootstrap_table(*first, false), Catch::Contains("QME - zscore"));
}

// Parity with score-matrix files built by upstream's test.py (collect_scoremat)
// from the features in ../shared/fixtures/eval: `{model}_{set}_test.h5` ->
// `scoremats_{set}.h5`, for set = small and small_nan (faceless NaN rows).
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "qme/formats/score_matrix_file.hpp"
#include "qme/pipeline/score_jobs.hpp"
#include "support/report_parity.hpp"
#include "support/test_support.hpp"

namespace {

using qme::test::kFixtures;

using qme::test::max_abs_diff;

void check_set(const std::string& set) {
  qme::test::TempDir dir;
  qme::pipeline::GatherOptions options;
  options.models = {"adaface", "biggait", "cal-ccvid"};
  options.dataset = set;  // reads {model}_{set}_test.h5
  options.feats_dir = kFixtures + "/eval";
  options.output = dir.path("scoremats_" + set + ".h5");
  qme::pipeline::run_gather(options);

  const qme::formats::ScoreMatrixFile ours(options.output);
  const qme::formats::ScoreMatrixFile upstream(kFixtures + "/eval/scoremats_" + set + ".h5");
  CHECK(ours.labels().query.pids == upstream.labels().query.pids);
  CHECK(ours.labels().query.camids == upstream.labels().query.camids);
  CHECK(ours.labels().query.clothes_ids == upstream.labels().query.clothes_ids);
  CHECK(ours.labels().gallery.pids == upstream.labels().gallery.pids);
  CHECK(ours.labels().gallery.camids == upstream.labels().gallery.camids);
  CHECK(ours.labels().gallery.clothes_ids == upstream.labels().gallery.clothes_ids);
  CHECK(ours.labels().unique_gallery_pids == upstream.labels().unique_gallery_pids);
  for (const auto& model : options.models) {
    const auto a = ours.read_model(model);
    const auto b = upstream.read_model(model);
    const double score_diff = max_abs_diff(a.score_mat, b.score_mat);
    const double merge_diff = max_abs_diff(a.merge_score_mat, b.merge_score_mat);
    INFO(set << "/" << model << ": max |diff| score_mat " << score_diff << ", merge_score_mat "
             << merge_diff);
    CHECK(score_diff <= 2e-5);
    CHECK(merge_diff <= 2e-5);
    // Faceless probes and gallery entries score exactly 0, as np.nan_to_num makes them.
    for (size_t k = 0; k < b.score_mat.size(); ++k) {
      if (b.score_mat.values[k] == 0.0f) CHECK(a.score_mat.values[k] == 0.0f);
    }
  }
}

}  // namespace

TEST_CASE("gathered score matrices match upstream's (small)", "[scores][parity]") {
  check_set("small");
}

TEST_CASE("gathered score matrices match upstream's with faceless NaN features (small_nan)",
          "[scores][parity]") {
  check_set("small_nan");
}

TEST_CASE("score mode reproduces upstream's report from the fixture features", "[scores][parity]") {
  const auto expected = qme::test::load_json(kFixtures + "/eval/small_expected.json");
  for (const std::string model : {"adaface", "biggait", "cal-ccvid"}) {
    qme::pipeline::ScoreJobOptions options;
    options.model = model;
    options.dataset = "small";
    options.feats_dir = kFixtures + "/eval";
    const auto result = qme::pipeline::run_score(options);
    // Rank metrics and counts come out exactly; thresholds are scores (float32 round-off).
    qme::test::check_report_matches(result.single.front().report, expected.at("single").at(model), model,
                                    1e-6);
  }
}

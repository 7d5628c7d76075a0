// Parity with figures computed by the upstream Python code (numpy 1.24,
// scikit-learn 1.2) on synthetic score matrices: ../shared/fixtures.
#include <catch2/catch.hpp>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "qme/core/numpy_random.hpp"
#include "qme/eval/classic_fusion.hpp"
#include "qme/eval/evaluation_report.hpp"
#include "qme/formats/score_matrix_file.hpp"
#include "support/report_parity.hpp"
#include "support/test_support.hpp"

namespace {

using qme::test::kFixtures;

void check_fixture_set(const std::string& name) {
  const auto expected = qme::test::load_json(kFixtures + "/eval/" + name + "_expected.json");
  const qme::formats::ScoreMatrixFile file(kFixtures + "/eval/scoremats_" + name + ".h5");
  const auto models = expected.at("models").get<std::vector<std::string>>();
  std::vector<qme::ModelScores> scores;
  for (const auto& m : models) scores.push_back(file.read_model(m));
  qme::eval::EvalOptions options;
  options.open_set.seed = 45;
  for (size_t k = 0; k < models.size(); ++k) {
    const auto report =
        qme::eval::evaluate(scores[k].score_mat, scores[k].merge_score_mat, file.labels(), options);
    qme::test::check_report_matches(report, expected.at("single").at(models[k]),
                                    name + " single/" + models[k], 1e-9);
  }
  std::vector<const qme::ModelScores*> inputs;
  for (const auto& s : scores) inputs.push_back(&s);
  for (const auto& [method, report_json] : expected.at("fusion").items()) {
    const auto fused = qme::eval::fuse_scores(qme::eval::parse_fusion_method(method), inputs, file.labels());
    const auto report = qme::eval::evaluate(fused.score_mat, fused.merge_score_mat, file.labels(), options);
    qme::test::check_report_matches(report, report_json, name + " fusion/" + method, 1e-9);
  }
}

}  // namespace

TEST_CASE("single-model and classic-fusion reports match upstream on the small set", "[parity][eval]") {
  check_fixture_set("small");
}

TEST_CASE("single-model and classic-fusion reports match upstream on the medium set", "[parity][eval]") {
  check_fixture_set("medium");
}

TEST_CASE("numpy legacy choice draws match numpy", "[parity][core]") {
  const auto expected = qme::test::load_json(kFixtures + "/rng/rng_expected.json");
  for (const auto& c : expected.at("choice_cases")) {
    const auto population = c.at("population").get<std::vector<int64_t>>();
    const auto size = c.at("size").get<int64_t>();
    qme::NumpyLegacyRandom rng(c.at("seed").get<uint32_t>());
    for (const auto& draw : c.at("draws_sorted")) {
      auto mine = rng.choice_without_replacement(population, size);
      std::sort(mine.begin(), mine.end());
      INFO("seed " << c.at("seed") << ", " << size << " of " << population.size());
      CHECK(mine == draw.get<std::vector<int64_t>>());
    }
  }
}

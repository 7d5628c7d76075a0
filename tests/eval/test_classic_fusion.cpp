// Classic fusion baselines (upstream normalize_score / score_fusion_method).
// Two tiny models over 2 probes x 3 gallery entries (pids 1 2 3, probes 1 2,
// so the matches are (0,0) and (1,1)) and 3 gallery subjects. Values are
// chosen so that means, population standard deviations and quotients are
// exact in float32 (the "+ 1e-10" vanishes when rounded to float32 next to
// these divisors).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "qme/core/error.hpp"
#include "qme/core/identity_labels.hpp"
#include "qme/core/numpy_float32.hpp"
#include "qme/core/score_matrix.hpp"
#include "qme/eval/classic_fusion.hpp"
#include "support/test_support.hpp"

using Catch::Matchers::Contains;
using qme::IdentityLabels;
using qme::test::make_labels;
using qme::ModelScores;
using qme::ScoreMatrix;
using qme::TestLabels;
using qme::eval::fuse_scores;
using qme::eval::FusionMethod;
using qme::test::make_matrix;

namespace {

using qme::test::kNaN;

TestLabels fusion_labels() {
  return qme::test::make_labels({{1, 2}, {0, 0}, {0, 0}}, {{1, 2, 3}, {1, 1, 1}, {0, 0, 0}});
}

// Model A: score_mat [3 1 3; 1 1 3]: three 1s and three 3s -> mean 2, std 1, min 1, max 3;
//          matches 3 (0,0) and 1 (1,1) -> match mean 2, match std 1.
//          merge_score_mat 0/10 -> mean 5, std 5, min 0, max 10.
// Model B: score_mat three 2s and three 6s -> mean 4, std 2, min 2, max 6;
//          matches 6 and 6 -> match mean 6, match std 0.
//          merge_score_mat 1/3 -> mean 2, std 1, min 1, max 3.
ModelScores model_a() {
  return {make_matrix(2, 3, {3, 1, 3, 1, 1, 3}), make_matrix(2, 3, {0, 10, 0, 10, 0, 10})};
}
ModelScores model_b() {
  return {make_matrix(2, 3, {6, 2, 2, 2, 6, 6}), make_matrix(2, 3, {1, 1, 3, 3, 3, 1})};
}

void check_values(const ScoreMatrix& got, const std::vector<float>& expected) {
  REQUIRE(got.values.size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    INFO("element " << i);
    if (std::isnan(expected[i])) {
      CHECK(std::isnan(got.values[i]));
    } else {
      CHECK(got.values[i] == expected[i]);
    }
  }
}

}  // namespace

TEST_CASE("zscore fusion normalises each matrix by its own mean and population std", "[eval]") {
  // score_mat: A (x-2)/1 = [1 -1 1; -1 -1 1], B (x-4)/2 = [1 -1 -1; -1 1 1]
  //   mean -> [1 -1 0; -1 0 1]
  // merge:     A (x-5)/5 = [-1 1 -1; 1 -1 1], B (x-2)/1 = [-1 -1 1; 1 1 -1]
  //   mean -> [-1 0 0; 1 0 0]
  const auto a = model_a(), b = model_b();
  const auto fused = fuse_scores(FusionMethod::kZScore, {&a, &b}, fusion_labels());
  check_values(fused.score_mat, {1, -1, 0, -1, 0, 1});
  check_values(fused.merge_score_mat, {-1, 0, 0, 1, 0, 0});
}

TEST_CASE("minmax fusion maps each matrix onto [0, 1] by its own range", "[eval]") {
  // score_mat: A (x-1)/2 = [1 0 1; 0 0 1], B (x-2)/4 = [1 0 0; 0 1 1]
  //   mean -> [1 0 .5; 0 .5 1]
  // merge:     A x/10 = [0 1 0; 1 0 1], B (x-1)/2 = [0 0 1; 1 1 0]
  //   mean -> [0 .5 .5; 1 .5 .5]
  const auto a = model_a(), b = model_b();
  const auto fused = fuse_scores(FusionMethod::kMinMax, {&a, &b}, fusion_labels());
  check_values(fused.score_mat, {1, 0, 0.5f, 0, 0.5f, 1});
  check_values(fused.merge_score_mat, {0, 0.5f, 0.5f, 1, 0.5f, 0.5f});
}

TEST_CASE("rhe fusion applies the score_mat's min and match statistics to both matrices", "[eval]") {
  // RHE(x) = (x - min) / (match mean + match std - min).
  // Model C: score_mat [4 0 1; 2 6 5], matches 4 and 6 -> mean 5, std 1,
  //          min 0 -> x / 6. merge [6 0 3; 12 6 0] -> [1 0 .5; 2 1 0].
  // Model A: min 1, match mean 2, std 1 -> (x - 1) / 2.
  //          score_mat [3 1 3; 1 1 3] -> [1 0 1; 0 0 1], merge [0 10 0; 10 0 10] ->
  //          [-.5 4.5 -.5; 4.5 -.5 4.5]
  // (minmax would give C's score_mat x / 6 too, but its merge x / 12.)
  const ModelScores c = {make_matrix(2, 3, {4, 0, 1, 2, 6, 5}), make_matrix(2, 3, {6, 0, 3, 12, 6, 0})};
  const auto a = model_a();
  const auto fused = fuse_scores(FusionMethod::kRhe, {&c, &a}, fusion_labels());
  // fuse = 0; fuse += C; fuse += A; fuse /= 2 -- all in float32.
  auto f = [](float x, float y) { return ((0.0f + x) + y) / 2.0f; };
  check_values(fused.score_mat, {f(4.0f / 6.0f, 1), f(0, 0), f(1.0f / 6.0f, 1),  //
                                 f(2.0f / 6.0f, 0), f(1, 0), f(5.0f / 6.0f, 1)});
  check_values(fused.merge_score_mat, {f(1, -0.5f), f(0, 4.5f), f(0.5f, -0.5f),  //
                                       f(2, 4.5f), f(1, -0.5f), f(0, 4.5f)});
}

TEST_CASE("normalisations treat NaN as 0 first", "[eval]") {
  // [NaN 2; 2 NaN] -> [0 2; 2 0]: mean 1, std 1, min 0, max 2.
  const ModelScores m = {make_matrix(2, 2, {kNaN, 2, 2, kNaN}), make_matrix(2, 2, {kNaN, 2, 2, kNaN})};
  const TestLabels l = qme::test::make_labels({{1, 2}, {0, 0}, {0, 0}}, {{1, 2}, {1, 1}, {0, 0}});
  check_values(fuse_scores(FusionMethod::kZScore, {&m}, l).score_mat, {-1, 1, 1, -1});
  check_values(fuse_scores(FusionMethod::kMinMax, {&m}, l).merge_score_mat, {0, 1, 1, 0});
}

TEST_CASE("min, mean and max fuse raw scores element-wise and propagate NaN", "[eval]") {
  // C score_mat [4 0 1; 2 6 5] with NaN at (0,1), A score_mat [3 1 3; 1 1 3].
  const ModelScores c = {make_matrix(2, 3, {4, kNaN, 1, 2, 6, 5}), make_matrix(2, 3, {6, 0, 3, 12, 6, 0})};
  const auto a = model_a();
  const auto min = fuse_scores(FusionMethod::kMin, {&c, &a}, fusion_labels());
  const auto mean = fuse_scores(FusionMethod::kMean, {&c, &a}, fusion_labels());
  const auto max = fuse_scores(FusionMethod::kMax, {&c, &a}, fusion_labels());
  check_values(min.score_mat, {3, kNaN, 1, 1, 1, 3});
  check_values(max.score_mat, {4, kNaN, 3, 2, 6, 5});
  check_values(mean.score_mat, {3.5f, kNaN, 2, 1.5f, 3.5f, 4});
  // merge: C [6 0 3; 12 6 0], A [0 10 0; 10 0 10]
  check_values(min.merge_score_mat, {0, 0, 0, 10, 0, 0});
  check_values(max.merge_score_mat, {6, 10, 3, 12, 6, 10});
  check_values(mean.merge_score_mat, {3, 5, 1.5f, 11, 3, 5});
}

TEST_CASE("fusion method names parse and print in the paper's order", "[eval]") {
  const std::vector<std::string> names = {"zscore", "minmax", "rhe", "min", "mean", "max"};
  const auto& methods = qme::eval::all_fusion_methods();
  REQUIRE(methods.size() == names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    CHECK(qme::eval::to_string(methods[i]) == names[i]);
    CHECK(qme::eval::parse_fusion_method(names[i]) == methods[i]);
  }
}

TEST_CASE("parse_fusion_method rejects an unknown name with a UsageError", "[eval]") {
  CHECK_THROWS_AS(qme::eval::parse_fusion_method("bogus"), qme::UsageError);
  CHECK_THROWS_WITH(qme::eval::parse_fusion_method("bogus"), Contains("bogus") && Contains("zscore"));
}

TEST_CASE("fusion needs at least one model and equal shapes", "[eval]") {
  CHECK_THROWS_AS(fuse_scores(FusionMethod::kMean, {}, fusion_labels()), qme::UsageError);
  const auto a = model_a();
  const ModelScores wide = {make_matrix(2, 4, {1, 2, 3, 4, 5, 6, 7, 8}), a.merge_score_mat};
  CHECK_THROWS_AS(fuse_scores(FusionMethod::kMean, {&a, &wide}, fusion_labels()), qme::Error);
}

TEST_CASE("one ClassicFusion gives every method's fuse_scores result, in reused buffers", "[eval]") {
  // LTCC-like sizes: several numpy reduction chunks, summed on two threads.
  std::mt19937 gen(3);
  std::normal_distribution<float> normal(0.5f, 0.05f);
  const int64_t rows = 37, cols = 911;
  IdentityLabels q, g;
  for (int64_t i = 0; i < rows; ++i) {
    q.pids.push_back(i % 7);
    q.camids.push_back(0);
    q.clothes_ids.push_back(0);
  }
  for (int64_t j = 0; j < cols; ++j) {
    g.pids.push_back(j % 9);
    g.camids.push_back(1);
    g.clothes_ids.push_back(1);
  }
  const auto l = make_labels(q, g);
  std::vector<ModelScores> models(3);
  for (auto& m : models) {
    m.score_mat = ScoreMatrix(rows, cols);
    for (auto& v : m.score_mat.values) v = normal(gen);
    m.score_mat.values[5] = std::numeric_limits<float>::quiet_NaN();
    m.merge_score_mat = ScoreMatrix(rows, static_cast<int64_t>(l.unique_gallery_pids.size()));
    for (auto& v : m.merge_score_mat.values) v = normal(gen);
  }
  const std::vector<const ModelScores*> inputs = {&models[0], &models[1], &models[2]};
  qme::eval::ClassicFusion classic(inputs, l, 2);
  ModelScores reused;
  for (auto method : qme::eval::all_fusion_methods()) {
    INFO(qme::eval::to_string(method));
    classic.fuse(method, reused);
    const auto once = fuse_scores(method, inputs, l, 1);
    REQUIRE(reused.score_mat.values.size() == once.score_mat.values.size());
    CHECK(std::memcmp(reused.score_mat.values.data(), once.score_mat.values.data(),
                      once.score_mat.values.size() * sizeof(float)) == 0);
    CHECK(std::memcmp(reused.merge_score_mat.values.data(), once.merge_score_mat.values.data(),
                      once.merge_score_mat.values.size() * sizeof(float)) == 0);
  }
  // zscore's statistics are numpy's float32 mean and std of the NaN-zeroed matrix.
  std::vector<float> x = models[0].score_mat.values;
  for (auto& v : x) v = std::isnan(v) ? 0.0f : v;
  const float mu = qme::numpy::mean(x.data(), x.size());
  const float sd = qme::numpy::std_dev(x.data(), x.size());
  const auto z = fuse_scores(FusionMethod::kZScore, {&models[0]}, l);
  CHECK(z.score_mat.values[7] == (x[7] - mu) / qme::numpy::plus_epsilon(sd) / 1.0f);
}

TEST_CASE("fusing empty matrices gives empty matrices", "[eval]") {
  ModelScores empty;
  empty.score_mat = ScoreMatrix(0, 5);
  empty.merge_score_mat = ScoreMatrix(0, 2);
  for (auto method : qme::eval::all_fusion_methods()) {
    const auto fused = fuse_scores(method, {&empty, &empty}, fusion_labels());
    CHECK(fused.score_mat.values.empty());
    CHECK(fused.merge_score_mat.values.empty());
  }
}

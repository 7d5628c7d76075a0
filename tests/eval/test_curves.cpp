// Curve data of qme_tables' plots: the ROC is scikit-learn's roc_curve (thinned, through the
// report's TAR@FAR points), the CMC ends in the report's GR_top-k, densities carry unit mass.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "qme/core/error.hpp"
#include "qme/eval/curves.hpp"
#include "qme/eval/evaluation_report.hpp"
#include "qme/eval/retrieval.hpp"
#include "qme/eval/verification.hpp"
#include "qme/formats/score_matrix_file.hpp"
#include "qme/pipeline/tables_job.hpp"
#include "qme/synthetic/synthetic_scores.hpp"
#include "support/tables_support.hpp"
#include "support/test_support.hpp"

using qme::ScoreMatrix;
using qme::eval::RocOptions;
using qme::eval::RocPoints;
using qme::test::make_labels;
using qme::test::make_matrix;

namespace {

using qme::test::kNaN;

/// Scores of `pids` x `pids` subjects (rows: probes, cols: gallery); genuine pairs score higher
/// on average; `decimals` >= 0 rounds (ties).
struct Pairs {
  ScoreMatrix scores;
  std::vector<int64_t> qp, gp;
};

Pairs random_pairs(uint32_t seed, int64_t rows, int64_t cols, int64_t pids, int decimals) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int64_t> pid(0, pids - 1);
  std::normal_distribution<double> noise(0.0, 1.0);
  Pairs p;
  for (int64_t i = 0; i < rows; ++i) p.qp.push_back(pid(gen));
  for (int64_t j = 0; j < cols; ++j) p.gp.push_back(pid(gen));
  std::vector<float> values;
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) {
      double s = noise(gen) + (p.qp[i] == p.gp[j] ? 2.0 : 0.0);
      if (decimals >= 0) s = std::round(s * std::pow(10.0, decimals)) / std::pow(10.0, decimals);
      values.push_back(static_cast<float>(s));
    }
  }
  p.scores = make_matrix(rows, cols, values);
  return p;
}

/// TAR at the first point with FAR >= far, as the report reads the ROC.
double tar_at(const RocPoints& roc, double far) {
  for (size_t k = 0; k < roc.far.size(); ++k) {
    if (roc.far[k] >= far) return roc.tar[k];
  }
  return std::numeric_limits<double>::quiet_NaN();
}

double mass(const qme::eval::Density& d, double width) {
  double sum = 0;
  for (double v : d.density) sum += v * width;
  return sum;
}

size_t lines(const std::string& text) {
  size_t n = 0;
  for (char c : text) n += c == '\n';
  return n;
}

}  // namespace

TEST_CASE("unthinned ROC points are scikit-learn's roc_curve, ties and NaN included", "[plot]") {
  // Rows: probes of pids 1, 2; columns: gallery pids 1, 2, 3. NaN counts as the lowest score.
  const auto scores = make_matrix(2, 3, {0.9f, 0.5f, 0.5f, kNaN, 0.7f, 0.1f});
  const std::vector<int64_t> qp = {1, 2}, gp = {1, 2, 3};
  RocOptions unthinned;
  unthinned.resolution = 0;
  const auto roc = qme::eval::roc_points(scores, qp, gp, unthinned);
  std::vector<float> flat = {0.9f, 0.5f, 0.5f, 0.1f, 0.7f, 0.1f};  // NaN -> lowest (0.1)
  const auto reference = qme::eval::roc_curve(flat, {1, 0, 0, 0, 1, 0});
  REQUIRE(roc.far.size() == reference.fpr.size());
  for (size_t k = 0; k < roc.far.size(); ++k) {
    INFO("point " << k);
    CHECK(roc.far[k] == reference.fpr[k]);
    CHECK(roc.tar[k] == reference.tpr[k]);
    CHECK(roc.threshold[k] == reference.thresholds[k]);
  }
  CHECK(roc.num_genuine == 2);
  CHECK(roc.num_impostor == 4);
}

TEST_CASE("ROC points match roc_curve on random matrices with many ties", "[plot]") {
  for (int decimals : {1, 2, -1}) {
    INFO("decimals " << decimals);
    const auto p = random_pairs(11 + static_cast<uint32_t>(decimals), 40, 60, 8, decimals);
    std::vector<uint8_t> match;
    for (int64_t i = 0; i < 40; ++i) {
      for (int64_t j = 0; j < 60; ++j) match.push_back(p.qp[i] == p.gp[j]);
    }
    RocOptions unthinned;
    unthinned.resolution = 0;
    const auto roc = qme::eval::roc_points(p.scores, p.qp, p.gp, unthinned);
    const auto reference = qme::eval::roc_curve(p.scores.values, match);
    REQUIRE(roc.far == reference.fpr);
    REQUIRE(roc.tar == reference.tpr);
    REQUIRE(roc.threshold == reference.thresholds);
  }
}

TEST_CASE("a thinned ROC runs from (0, 0) to (1, 1) through the report's TAR@FAR points", "[plot]") {
  const auto p = random_pairs(5, 300, 700, 30, 3);
  const auto roc = qme::eval::roc_points(p.scores, p.qp, p.gp);
  REQUIRE(roc.far.size() >= 100);
  CHECK(roc.far.size() < 6000);
  CHECK(roc.far.front() == 0.0);
  CHECK(roc.tar.front() == 0.0);
  CHECK(roc.far.back() == 1.0);
  CHECK(roc.tar.back() == 1.0);
  for (size_t k = 1; k < roc.far.size(); ++k) {
    REQUIRE(roc.far[k] >= roc.far[k - 1]);
    REQUIRE(roc.tar[k] >= roc.tar[k - 1]);
  }
  const std::vector<double> fars = {1e-4, 1e-3, 1e-2};
  const auto report = qme::eval::tar_at_far(p.scores, p.qp, p.gp, fars);
  for (size_t k = 0; k < fars.size(); ++k) {
    INFO("FAR " << fars[k]);
    CHECK(tar_at(roc, fars[k]) == report[k].tar);
  }
}

TEST_CASE("above exact_impostors the ROC samples the bulk but stays exact at the report's FARs", "[plot]") {
  const auto p = random_pairs(9, 200, 500, 20, -1);
  const auto exact = qme::eval::roc_points(p.scores, p.qp, p.gp);
  RocOptions sampled_options;
  sampled_options.exact_impostors = 10000;
  const auto sampled = qme::eval::roc_points(p.scores, p.qp, p.gp, sampled_options);
  CHECK(exact.impostor_stride == 1);
  CHECK(exact.exact_far == 1.0);
  REQUIRE(sampled.impostor_stride == exact.num_impostor / 10000);
  CHECK(sampled.num_genuine == exact.num_genuine);
  CHECK(sampled.num_impostor == exact.num_impostor);
  CHECK(sampled.exact_far >= 0.015);
  CHECK(sampled.exact_far < 0.5);
  CHECK(sampled.far.back() == 1.0);
  CHECK(sampled.tar.back() == 1.0);
  const std::vector<double> fars = {1e-4, 1e-3, 1e-2};
  const auto report = qme::eval::tar_at_far(p.scores, p.qp, p.gp, fars);
  for (size_t k = 0; k < fars.size(); ++k) {
    INFO("FAR " << fars[k]);
    CHECK(tar_at(sampled, fars[k]) == report[k].tar);
  }
  for (double far : {0.05, 0.1, 0.5}) {
    INFO("FAR " << far);
    CHECK(tar_at(sampled, far) == Approx(tar_at(exact, far)).margin(0.02));
  }
}

TEST_CASE("a matrix without genuine pairs has no ROC curve", "[plot]") {
  const auto scores = make_matrix(1, 2, {0.3f, 0.4f});
  const auto roc = qme::eval::roc_points(scores, {1}, {2, 3});
  CHECK(roc.far.empty());
  CHECK(roc.num_genuine == 0);
  CHECK_THROWS_AS(qme::eval::roc_points(scores, {1, 2}, {2, 3}), qme::Error);
}

TEST_CASE("the CMC curve counts first good positions cumulatively", "[plot]") {
  const auto cmc = qme::eval::cmc_curve({0, 2, -1, 1}, 4, 6);
  REQUIRE(cmc.size() == 6);
  CHECK(cmc[0] == Approx(1.0 / 3));
  CHECK(cmc[1] == Approx(2.0 / 3));
  CHECK(cmc[2] == 1.0);
  CHECK(cmc[3] == 1.0);
  CHECK(std::isnan(cmc[4]));  // beyond the 4-entry gallery, as in the report
  CHECK(std::isnan(cmc[5]));
  for (double v : qme::eval::cmc_curve({-1, -1}, 30, 20)) CHECK(std::isnan(v));
}

TEST_CASE("the CMC curve is monotone and passes through the report's GR_top-k", "[plot]") {
  qme::synthetic::SyntheticScoreSpec spec;
  spec.num_subjects = 25;
  spec.probes_per_subject = 4;
  spec.gallery_per_subject = 6;
  spec.models = {"adaface", "biggait"};
  const auto synthetic = qme::synthetic::make_synthetic_scores(spec);
  auto models = synthetic.models;
  for (const auto& [name, scores] : synthetic.models) {  // rounded copies: many tied scores
    auto rounded = scores;
    for (auto* m : {&rounded.score_mat, &rounded.merge_score_mat}) {
      for (auto& v : m->values) v = std::round(v * 20.0f) / 20.0f;
    }
    models.emplace_back(name + " rounded", rounded);
  }
  for (const auto& [name, scores] : models) {
    INFO(name);
    const auto curves =
        qme::eval::matrix_curves(name, qme::eval::ColumnKind::kModel, scores.score_mat, synthetic.labels);
    const auto report = qme::eval::evaluate(scores.score_mat, scores.merge_score_mat, synthetic.labels);
    REQUIRE(curves.cmc.size() == 20);
    for (size_t r = 1; r < curves.cmc.size(); ++r) CHECK(curves.cmc[r] >= curves.cmc[r - 1]);
    CHECK(curves.cmc[0] == report.at("GR_top1"));
    CHECK(curves.cmc[4] == report.at("GR_top5"));
    CHECK(curves.cmc[9] == report.at("GR_top10"));
    CHECK(curves.cmc[19] == report.at("GR_top20"));
    CHECK(tar_at(curves.roc, 1e-2) == report.at("TAR@1.00%FAR"));
  }
}

TEST_CASE("genuine and impostor densities each carry unit mass over the score range", "[plot]") {
  // Probe pid 1 against gallery pids 1, 1, 2, 3: genuine 0.8, 0.7; impostors 0.1, 0.0. Probe
  // pid 2: genuine 0.5; impostors NaN (counts as the lowest score, 0.0), 0.5, 0.5.
  const auto scores = make_matrix(2, 4, {0.8f, 0.7f, 0.1f, 0.0f, kNaN, 0.5f, 0.5f, 0.5f});
  const std::vector<int64_t> qp = {1, 2}, gp = {1, 1, 2, 3};
  const auto d = qme::eval::score_densities(scores, qp, gp, 4);
  CHECK(d.lo == Approx(0.0));
  CHECK(d.hi == Approx(0.8));
  CHECK(d.genuine.count == 3);
  CHECK(d.impostor.count == 5);
  CHECK(mass(d.genuine, d.bin_width()) == Approx(1.0));
  CHECK(mass(d.impostor, d.bin_width()) == Approx(1.0));
  // bins [0, .2) [.2, .4) [.4, .6) [.6, .8]; the top score lands in the last bin
  const double w = d.bin_width();
  CHECK(d.impostor.density[0] * w == Approx(3.0 / 5));
  CHECK(d.impostor.density[1] == 0.0);
  CHECK(d.impostor.density[2] * w == Approx(2.0 / 5));
  CHECK(d.genuine.density[2] * w == Approx(1.0 / 3));
  CHECK(d.genuine.density[3] * w == Approx(2.0 / 3));
  CHECK(d.genuine.mean == Approx(2.0 / 3));
  CHECK(d.impostor.mean == Approx(0.22));
  CHECK(d.d_prime() > 0);
}

TEST_CASE("densities of a constant matrix still have a range", "[plot]") {
  const auto d = qme::eval::score_densities(make_matrix(1, 2, {0.5f, 0.5f}), {1}, {1, 2}, 10);
  CHECK(d.hi > d.lo);
  CHECK(mass(d.genuine, d.bin_width()) == Approx(1.0));
  CHECK(std::isnan(d.d_prime()));  // both spreads are zero
}

TEST_CASE("quality weights split by the rank-1 outcome, probes without a good entry left out", "[plot]") {
  const auto split = qme::eval::quality_split({0.9f, 0.8f, 0.1f, 0.5f, 1.2f}, {0, 0, 3, -1, 1}, 4);
  CHECK(split.lo == 0.0);
  CHECK(split.hi == Approx(1.2));
  CHECK(split.rank1_correct.count == 2);
  CHECK(split.rank1_wrong.count == 2);
  CHECK(split.rank1_correct.mean == Approx(0.85));
  CHECK(mass(split.rank1_correct, split.bin_width()) == Approx(1.0));
  CHECK(mass(split.rank1_wrong, split.bin_width()) == Approx(1.0));
  CHECK_THROWS_AS(qme::eval::quality_split({0.5f}, {0, 1}), qme::Error);
}

TEST_CASE("TablesCurves collects every column of a table run, in table order", "[plot]") {
  qme::test::TempDir dir;
  qme::synthetic::SyntheticScoreSpec spec;
  spec.num_subjects = 12;
  spec.probes_per_subject = 2;
  spec.gallery_per_subject = 4;
  spec.models = {"cal-ccvid", "adaface"};
  const auto synthetic = qme::synthetic::make_synthetic_scores(spec);
  auto options = qme::test::tables_on_file(dir, synthetic);
  options.models = {"cal-ccvid", "adaface"};
  options.baselines = {qme::eval::FusionMethod::kZScore};
  qme::eval::TablesCurves curves;
  options.observers.push_back(curves.observer());
  const auto result = qme::pipeline::run_tables(options);
  REQUIRE(curves.columns().size() == 3);
  CHECK(curves.columns()[0].name == "cal-ccvid");
  CHECK(curves.columns()[2].name == "zscore");
  CHECK(curves.columns()[2].kind == qme::eval::ColumnKind::kBaseline);
  CHECK(curves.num_probes() == 24);
  CHECK(curves.columns()[2].cmc[0] == result.fusion[0].report.at("GR_top1"));
  // adaface is the face model even though it is not the first column
  REQUIRE(qme::eval::face_model_curves(curves.columns()) != nullptr);
  CHECK(qme::eval::face_model_curves(curves.columns())->name == "adaface");

  const auto roc = qme::eval::roc_csv(curves.columns());
  CHECK(roc.rfind("curve,far,tar,threshold\n", 0) == 0);
  size_t points = 0;
  for (const auto& c : curves.columns()) points += c.roc.far.size();
  CHECK(lines(roc) == points + 1);
  CHECK(qme::eval::det_csv(curves.columns()).rfind("curve,far,fnmr\n", 0) == 0);
  const auto cmc = qme::eval::cmc_csv(curves.columns());
  CHECK(cmc.rfind("rank,cal-ccvid,adaface,zscore\n", 0) == 0);
  CHECK(lines(cmc) == 21);
  const auto scores = qme::eval::score_density_csv(curves.columns()[0].densities);
  CHECK(scores.rfind("bin_lo,bin_hi,genuine_density,impostor_density\n", 0) == 0);
  CHECK(lines(scores) == 81);
}

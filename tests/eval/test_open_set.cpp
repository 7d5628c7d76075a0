// Open-set identification (upstream DIR_FAR / find_thresholds_by_FAR):
// threshold = the n-th highest non-mated maximum, n = int(#non-mated * FPIR),
// or that maximum + 1e-8 when n = 0; a mated probe is identified when its mate
// is rank 1 among the enrolled columns and its mate score >= threshold.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <algorithm>
#include <limits>
#include <random>
#include <vector>

#include "qme/core/numpy_random.hpp"
#include "qme/core/numpy_sort.hpp"
#include "qme/core/score_matrix.hpp"
#include "qme/eval/open_set.hpp"
#include "support/test_support.hpp"

using qme::ScoreMatrix;
using qme::eval::open_set_draw;
using qme::test::make_matrix;

namespace {

using qme::test::kNaN;

using qme::test::d;

// Subjects 10 20 30 (columns), enrolled {10, 20}: column 30 is ignored.
//   probe pid  row (10, 20, 30)      role
//   p0    10   .65  .50  .95         mated, mate .65 is rank 1 among enrolled
//   p1    20   .60  .40  .10         mated, mate .40 is not rank 1: never hit
//   p2    30   .30  .70  .99         non-mated (30 not enrolled), max .70
//   p3    40   .20  .10  .00         non-mated (not in the gallery), max .20
const std::vector<int64_t> kSubjects = {10, 20, 30};
const std::vector<int64_t> kEnrolled = {10, 20};
const std::vector<int64_t> kProbes = {10, 20, 30, 40};
ScoreMatrix base_matrix() {
  return make_matrix(4, 3, {0.65f, 0.50f, 0.95f, 0.60f, 0.40f, 0.10f, 0.30f, 0.70f, 0.99f, 0.20f, 0.10f, 0.00f});
}

/// Upstream's DIR_FAR + find_thresholds_by_FAR written out directly (numpy
/// argsort for rank 1 and for ordering the non-mated maxima).
qme::eval::OpenSetDraw reference_draw(const ScoreMatrix& m, const std::vector<int64_t>& probe_pids,
                                      const std::vector<int64_t>& subjects,
                                      const std::vector<int64_t>& enrolled,
                                      const std::vector<double>& fpirs) {
  std::vector<size_t> columns;
  for (size_t c = 0; c < subjects.size(); ++c) {
    if (std::find(enrolled.begin(), enrolled.end(), subjects[c]) != enrolled.end()) columns.push_back(c);
  }
  std::vector<float> non_mated_max, mate_score;
  std::vector<bool> mate_is_top;
  for (int64_t i = 0; i < m.rows; ++i) {
    std::vector<float> row;
    int64_t mate = -1;
    for (size_t k = 0; k < columns.size(); ++k) {
      row.push_back(m.at(i, static_cast<int64_t>(columns[k])));
      if (subjects[columns[k]] == probe_pids[static_cast<size_t>(i)]) mate = static_cast<int64_t>(k);
    }
    if (mate < 0) {  // np.max: NaN if any NaN
      float best = -std::numeric_limits<float>::infinity();
      for (float v : row) best = (std::isnan(v) || std::isnan(best)) ? kNaN : std::max(best, v);
      non_mated_max.push_back(best);
    } else {  // rank 1 = last of np.argsort
      std::vector<int64_t> order;
      qme::numpy::argsort(row.data(), static_cast<int64_t>(row.size()), order);
      mate_is_top.push_back(order.back() == mate);
      mate_score.push_back(row[static_cast<size_t>(mate)]);
    }
  }
  std::vector<int64_t> order;  // np.sort(score_neg)[::-1]
  qme::numpy::argsort(non_mated_max.data(), static_cast<int64_t>(non_mated_max.size()), order);
  std::vector<float> high_to_low;
  for (auto it = order.rbegin(); it != order.rend(); ++it)
    high_to_low.push_back(non_mated_max[static_cast<size_t>(*it)]);
  qme::eval::OpenSetDraw d;
  d.num_mated = static_cast<int64_t>(mate_score.size());
  d.num_non_mated = static_cast<int64_t>(non_mated_max.size());
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (double fpir : fpirs) {
    if (high_to_low.empty()) {
      d.tpir.push_back(nan);
      d.fnir.push_back(nan);
      d.threshold.push_back(nan);
      continue;
    }
    const auto n = static_cast<size_t>(static_cast<double>(high_to_low.size()) * fpir);
    const double threshold =
        n == 0 ? static_cast<double>(high_to_low[0]) + 1e-8 : static_cast<double>(high_to_low[n - 1]);
    int64_t hits = 0;
    for (size_t k = 0; k < mate_score.size(); ++k)
      hits += mate_is_top[k] && mate_score[k] >= static_cast<float>(threshold);
    const float tpir =
        mate_score.empty()
            ? kNaN
            : static_cast<float>(static_cast<double>(hits) / static_cast<double>(mate_score.size()));
    d.tpir.push_back(tpir);
    d.fnir.push_back(1.0f - tpir);
    d.threshold.push_back(threshold);
  }
  return d;
}

using qme::test::same_value;

}  // namespace

TEST_CASE("open-set threshold is the n-th highest non-mated maximum, n = floor(#non-mated * FPIR)", "[eval]") {
  // Non-mated maxima high to low: [.70, .20], 2 mated probes.
  //   FPIR .01: n = 0 -> .70 + 1e-8; p0 .65 < it        -> TPIR 0
  //   FPIR .5 : n = 1 -> .70; p0 .65 < .70              -> TPIR 0
  //   FPIR .99: n = int(1.98) = 1 (floor, not round) -> .70 -> TPIR 0
  //   FPIR 1.0: n = 2 -> .20; p0 .65 >= .20, p1 not rank 1 -> TPIR 1/2
  const auto draw = open_set_draw(base_matrix(), kProbes, kSubjects, kEnrolled, {0.01, 0.5, 0.99, 1.0});
  CHECK(draw.num_mated == 2);
  CHECK(draw.num_non_mated == 2);
  REQUIRE(draw.tpir.size() == 4);
  CHECK(draw.threshold[0] == d(0.70f) + 1e-8);
  CHECK(draw.threshold[1] == d(0.70f));
  CHECK(draw.threshold[2] == d(0.70f));
  CHECK(draw.threshold[3] == d(0.20f));
  CHECK(draw.tpir[0] == 0.0);
  CHECK(draw.tpir[1] == 0.0);
  CHECK(draw.tpir[2] == 0.0);
  CHECK(draw.tpir[3] == 0.5);
  CHECK(draw.fnir[0] == 1.0);
  CHECK(draw.fnir[3] == 0.5);
}

TEST_CASE("a mated probe counts only when its mate is rank 1 and reaches the threshold", "[eval]") {
  // p0's mate raised to .90 (>= .70): hit at every FPIR. p1's mate .40 loses
  // rank 1 to .60: a miss even at the lowest threshold (.20).
  auto m = base_matrix();
  m.values[0] = 0.90f;
  const auto draw = open_set_draw(m, kProbes, kSubjects, kEnrolled, {0.01, 0.5, 1.0});
  for (double t : draw.tpir) CHECK(t == 0.5);
  // The non-enrolled column (.95 for p0, .99 for p2) plays no part: with
  // subject 30 enrolled too, p0 loses rank 1 and p2 becomes mated.
  const auto all = open_set_draw(m, kProbes, kSubjects, {10, 20, 30}, {0.01});
  CHECK(all.num_mated == 3);
  CHECK(all.num_non_mated == 1);
  CHECK(all.threshold[0] == d(0.20f) + 1e-8);
  // p0: .95 (col 30) beats its mate; p1: not rank 1; p2: mate .99 is rank 1 -> 1/3.
  CHECK(all.tpir[0] == d(static_cast<float>(1.0 / 3.0)));
  CHECK(all.fnir[0] == d(1.0f - static_cast<float>(1.0 / 3.0)));
}

TEST_CASE("n = 0: max + 1e-8 is compared with the scores in float32", "[eval]") {
  {
    // p0's mate equals the top non-mated maximum .70f. .70f + 1e-8 rounds back
    // to .70f in float32 (half a float32 step there is ~3e-8): a hit.
    auto m = base_matrix();
    m.values[0] = 0.70f;
    const auto draw = open_set_draw(m, kProbes, kSubjects, kEnrolled, {0.01});
    CHECK(draw.threshold[0] == d(0.70f) + 1e-8);  // reported in double
    CHECK(draw.tpir[0] == 0.5);
  }
  {
    // Near 1e-6 a float32 step is ~1e-13, so 1e-6f + 1e-8 stays above 1e-6f:
    // a mate scoring exactly the top non-mated maximum is a miss.
    const auto m = make_matrix(2, 2, {1e-6f, 0.0f, 1e-6f, 0.0f});
    const auto draw = open_set_draw(m, {10, 30}, {10, 20}, {10, 20}, {0.01});
    CHECK(draw.num_mated == 1);
    CHECK(draw.threshold[0] == d(1e-6f) + 1e-8);
    CHECK(draw.tpir[0] == 0.0);
    CHECK(draw.fnir[0] == 1.0);
  }
}

TEST_CASE("a NaN among a probe's enrolled scores means it is not identified", "[eval]") {
  // Upstream's ascending argsort puts NaN last, i.e. at rank 1.
  auto m = base_matrix();
  m.values[0] = 0.90f;
  m.values[1] = kNaN;  // p0, enrolled column 20
  const auto draw = open_set_draw(m, kProbes, kSubjects, kEnrolled, {1.0});
  CHECK(draw.tpir[0] == 0.0);
  // A NaN in a column that is not enrolled does not matter.
  m.values[1] = 0.50f;
  m.values[2] = kNaN;  // p0, column 30
  CHECK(open_set_draw(m, kProbes, kSubjects, kEnrolled, {1.0}).tpir[0] == 0.5);
}

TEST_CASE("a NaN non-mated maximum sorts first and gives a NaN threshold", "[eval]") {
  // p2 has NaN at enrolled column 10 -> np.max = NaN; sorted high to low with
  // NaN first: [NaN, .20]. n = 1 -> threshold NaN, no comparison passes;
  // n = 2 -> .20.
  auto m = base_matrix();
  m.values[0] = 0.90f;
  m.values[6] = kNaN;
  const auto draw = open_set_draw(m, kProbes, kSubjects, kEnrolled, {0.5, 1.0});
  CHECK(std::isnan(draw.threshold[0]));
  CHECK(draw.tpir[0] == 0.0);
  CHECK(draw.threshold[1] == d(0.20f));
  CHECK(draw.tpir[1] == 0.5);
}

TEST_CASE("a tie at rank 1 follows numpy's ascending argsort: the later column wins", "[eval]") {
  // Row (.8, .8, .1) over enrolled {10, 20, 30}: np.argsort = [2, 0, 1]
  // (stable for short rows), reversed -> column 1 (subject 20) is rank 1.
  // Probe 0 (pid 20) is identified, probe 1 (pid 10) is not.
  // A single FPIR of 1.0 is upstream's closed-set case: threshold min - 1e-10.
  const auto m = make_matrix(3, 3, {0.8f, 0.8f, 0.1f, 0.8f, 0.8f, 0.1f, 0.1f, 0.1f, 0.1f});
  const auto draw = open_set_draw(m, {20, 10, 40}, {10, 20, 30}, {10, 20, 30}, {1.0});
  CHECK(draw.num_mated == 2);
  CHECK(draw.threshold[0] == d(0.1f) - 1e-10);
  CHECK(draw.tpir[0] == 0.5);
  // Probe 1 alone: its mate (column 0) loses the tie.
  const auto alone = open_set_draw(make_matrix(2, 3, {0.8f, 0.8f, 0.1f, 0.1f, 0.1f, 0.1f}), {10, 40}, {10, 20, 30},
                                   {10, 20, 30}, {1.0});
  CHECK(alone.tpir[0] == 0.0);
}

TEST_CASE("without a non-mated probe FNIR@FPIR is NaN", "[eval]") {
  // Every probe's subject enrolled: upstream asserts; here everything is NaN.
  const auto m = make_matrix(2, 2, {0.9f, 0.1f, 0.2f, 0.8f});
  const auto draw = open_set_draw(m, {10, 20}, {10, 20}, {10, 20}, {1e-4, 1e-2});
  CHECK(draw.num_non_mated == 0);
  CHECK(draw.num_mated == 2);
  for (size_t k = 0; k < 2; ++k) {
    CHECK(std::isnan(draw.tpir[k]));
    CHECK(std::isnan(draw.fnir[k]));
    CHECK(std::isnan(draw.threshold[k]));
  }
}

TEST_CASE("without a mated probe TPIR is NaN but the threshold is defined", "[eval]") {
  const auto m = make_matrix(2, 2, {0.9f, 0.1f, 0.2f, 0.8f});
  const auto draw = open_set_draw(m, {30, 40}, {10, 20}, {10, 20}, {0.5});
  CHECK(draw.num_mated == 0);
  CHECK(draw.num_non_mated == 2);
  CHECK(draw.threshold[0] == d(0.9f));
  CHECK(std::isnan(draw.tpir[0]));
}

TEST_CASE("open_set_draw rejects ids that do not match the matrix", "[eval]") {
  const auto m = make_matrix(2, 2, {0.9f, 0.1f, 0.2f, 0.8f});
  CHECK_THROWS(open_set_draw(m, {10}, {10, 20}, {10}, {0.5}));
  CHECK_THROWS(open_set_draw(m, {10, 20}, {10, 20, 30}, {10}, {0.5}));
}

TEST_CASE("open_set_draw matches upstream's DIR_FAR on random merged matrices", "[eval]") {
  // Scores rounded to 1-2 decimals (ties at rank 1 and among the non-mated
  // maxima), some NaN, enrolled subsets of 80%, 20 and 40 subjects.
  std::mt19937 gen(31);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const std::vector<double> fpirs = {1e-4, 1e-2, 0.1, 0.3, 0.5, 1.0};
  for (int trial = 0; trial < 40; ++trial) {
    const int64_t subjects_n = trial % 2 ? 40 : 20, probes = 60;
    const double scale = trial % 3 ? 10.0 : 100.0;
    std::vector<int64_t> subjects, probe_pids, enrolled;
    for (int64_t s = 0; s < subjects_n; ++s) subjects.push_back(3 * s + 1);
    for (int64_t i = 0; i < probes; ++i)
      probe_pids.push_back(3 * static_cast<int64_t>(gen() % (subjects_n + 5)) + 1);
    for (auto s : subjects) {
      if (u(gen) < 0.8) enrolled.push_back(s);
    }
    ScoreMatrix m(probes, subjects_n);
    for (auto& v : m.values)
      v = u(gen) < 0.02 ? kNaN : static_cast<float>(std::round(u(gen) * scale) / scale);
    const auto got = open_set_draw(m, probe_pids, subjects, enrolled, fpirs);
    const auto want = reference_draw(m, probe_pids, subjects, enrolled, fpirs);
    INFO("trial " << trial);
    CHECK(got.num_mated == want.num_mated);
    CHECK(got.num_non_mated == want.num_non_mated);
    for (size_t k = 0; k < fpirs.size(); ++k) {
      INFO("FPIR " << fpirs[k]);
      CHECK(same_value(got.tpir[k], want.tpir[k]));
      CHECK(same_value(got.fnir[k], want.fnir[k]));
      CHECK(same_value(got.threshold[k], want.threshold[k]));
    }
  }
}

// fnir_at_fpir: upstream's protocol over the public function. Subjects 10..50 (U = 5, so each
// draw enrols int(0.8 * 5) = 4 and leaves one out, L). Probe s scores m_s on its own column
// and .10 elsewhere, m = .90 .80 .70 .60 .50; probe 60 (never enrolled) scores .55 everywhere.
// Non-mated maxima: .55 (probe 60) and .10 (probe L): at FPIR .5 (n = 1) the threshold is
// .55, at FPIR .01 (n = 0) .55 + 1e-8. Both FPIRs: the 4 mated probes hit when m_s >= .55,
// so TPIR = 1 when L = 50 and 3/4 otherwise.
namespace {

const std::vector<int64_t> kProtocolSubjects = {10, 20, 30, 40, 50};
const std::vector<int64_t> kProtocolProbes = {10, 20, 30, 40, 50, 60};

ScoreMatrix protocol_matrix() {
  const float mate[] = {0.90f, 0.80f, 0.70f, 0.60f, 0.50f};
  ScoreMatrix m(6, 5, 0.10f);
  for (int64_t s = 0; s < 5; ++s) m.row(s)[s] = mate[s];
  for (int64_t c = 0; c < 5; ++c) m.row(5)[c] = 0.55f;
  return m;
}

/// The subject each of upstream's draws leaves out: np.random.seed(seed), then per draw
/// np.random.choice(subjects, 4, replace=False).
std::vector<int64_t> left_out_subjects(uint32_t seed, int draws) {
  qme::NumpyLegacyRandom rng(seed);
  std::vector<int64_t> out;
  for (int k = 0; k < draws; ++k) {
    const auto enrolled = rng.choice_without_replacement(kProtocolSubjects, 4);
    for (auto s : kProtocolSubjects) {
      if (std::find(enrolled.begin(), enrolled.end(), s) == enrolled.end()) out.push_back(s);
    }
  }
  return out;
}

}  // namespace

TEST_CASE("fnir_at_fpir averages seeded enrolment draws: mean and sample std (ddof 1)", "[eval]") {
  const std::vector<double> fpirs = {0.01, 0.5};
  const auto summary = qme::eval::fnir_at_fpir(protocol_matrix(), kProtocolProbes, kProtocolSubjects, fpirs);
  CHECK(summary.enrol_count == 4);
  REQUIRE(summary.draws.size() == 10);
  REQUIRE(summary.tpir.size() == 2);
  REQUIRE(summary.fnir.size() == 2);
  REQUIRE(summary.threshold.size() == 2);

  const auto left_out = left_out_subjects(45, 10);
  REQUIRE(left_out.size() == 10);
  std::vector<double> tpir, fnir;
  for (size_t k = 0; k < 10; ++k) {
    INFO("draw " << k << ", subject " << left_out[k] << " left out");
    const auto& draw = summary.draws[k];
    CHECK(draw.num_mated == 4);
    CHECK(draw.num_non_mated == 2);
    const double want = left_out[k] == 50 ? 1.0 : 0.75;
    CHECK(draw.tpir[0] == want);
    CHECK(draw.tpir[1] == want);
    CHECK(draw.fnir[1] == 1.0 - want);
    CHECK(draw.threshold[1] == d(0.55f));
    CHECK(draw.threshold[0] == d(0.55f) + 1e-8);
    tpir.push_back(want);
    fnir.push_back(1.0 - want);
  }
  const auto with_50_out = std::count(left_out.begin(), left_out.end(), int64_t{50});
  // Both values occur, so the sample and the population std differ.
  REQUIRE(with_50_out > 0);
  REQUIRE(with_50_out < 10);
  const double mean = (with_50_out * 1.0 + (10 - with_50_out) * 0.75) / 10.0;
  double squares = 0;
  for (double v : tpir) squares += (v - mean) * (v - mean);
  const double sample_std = std::sqrt(squares / 9.0), population_std = std::sqrt(squares / 10.0);
  for (size_t t = 0; t < 2; ++t) {
    INFO("FPIR " << fpirs[t]);
    CHECK(summary.tpir[t].mean == Approx(mean).epsilon(1e-12));
    CHECK(summary.fnir[t].mean == Approx(1.0 - mean).epsilon(1e-12));
    CHECK(summary.tpir[t].std == Approx(sample_std).epsilon(1e-12));
    CHECK(summary.fnir[t].std == Approx(sample_std).epsilon(1e-12));
    CHECK(summary.tpir[t].std != Approx(population_std).epsilon(1e-6));
  }
  CHECK(summary.threshold[1].mean == Approx(d(0.55f)).epsilon(1e-12));
  CHECK(summary.threshold[1].std == Approx(0.0).margin(1e-12));

  // The same draws as open_set_draw over the enrolled subsets, draw by draw.
  qme::NumpyLegacyRandom rng(45);
  for (size_t k = 0; k < 10; ++k) {
    auto enrolled = rng.choice_without_replacement(kProtocolSubjects, 4);
    std::sort(enrolled.begin(), enrolled.end());
    const auto want = open_set_draw(protocol_matrix(), kProtocolProbes, kProtocolSubjects, enrolled, fpirs);
    for (size_t t = 0; t < 2; ++t) {
      CHECK(same_value(summary.draws[k].tpir[t], want.tpir[t]));
      CHECK(same_value(summary.draws[k].threshold[t], want.threshold[t]));
    }
  }
}

TEST_CASE("fnir_at_fpir follows the protocol's seed, draw count and enrolment fraction", "[eval]") {
  const std::vector<double> fpirs = {0.5};
  const auto m = protocol_matrix();
  qme::eval::OpenSetProtocol protocol;
  protocol.seed = 7;
  protocol.num_draws = 25;
  const auto seeded = qme::eval::fnir_at_fpir(m, kProtocolProbes, kProtocolSubjects, fpirs, protocol);
  REQUIRE(seeded.draws.size() == 25);
  const auto left_out = left_out_subjects(7, 25);
  for (size_t k = 0; k < 25; ++k) CHECK(seeded.draws[k].tpir[0] == (left_out[k] == 50 ? 1.0 : 0.75));

  // One draw: a mean but no sample std. No draw: nothing defined.
  protocol.num_draws = 1;
  const auto one = qme::eval::fnir_at_fpir(m, kProtocolProbes, kProtocolSubjects, fpirs, protocol);
  CHECK_FALSE(std::isnan(one.tpir[0].mean));
  CHECK(std::isnan(one.tpir[0].std));
  protocol.num_draws = 0;
  const auto none = qme::eval::fnir_at_fpir(m, kProtocolProbes, kProtocolSubjects, fpirs, protocol);
  CHECK(none.draws.empty());
  CHECK(std::isnan(none.fnir[0].mean));
  CHECK(std::isnan(none.fnir[0].std));

  // Enrolling everyone (fraction 1): no non-mated probe but 60, so FPIR .5 has n = 0 and the
  // threshold .55 + 1e-8; the mates .90 .80 .70 .60 hit, .50 does not: TPIR 4/5 in every draw.
  protocol.num_draws = 3;
  protocol.enrol_fraction = 1.0;
  const auto all = qme::eval::fnir_at_fpir(m, kProtocolProbes, kProtocolSubjects, fpirs, protocol);
  CHECK(all.enrol_count == 5);
  CHECK(all.tpir[0].mean == Approx(0.8f));
  CHECK(all.tpir[0].std == 0.0);
  CHECK(all.threshold[0].mean == Approx(d(0.55f) + 1e-8).epsilon(1e-15));
}

// Verification: scikit-learn 1.2's roc_curve and upstream's compute_tar_at_far.
// Hand cases list the scores sorted high to low with their labels (P match,
// N non-match), the cumulative counts per distinct score, and which points
// drop_intermediate keeps (np.diff(fps, 2) or np.diff(tps, 2) non-zero).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "qme/core/error.hpp"
#include "qme/core/score_matrix.hpp"
#include "qme/eval/ranking.hpp"
#include "qme/eval/score_histogram.hpp"
#include "qme/eval/verification.hpp"
#include "support/test_support.hpp"

using qme::ScoreMatrix;
using qme::eval::roc_curve;
using qme::eval::tar_at_far;
using qme::eval::tar_at_far_exhaustive;
using qme::eval::VerificationPoint;
using qme::test::make_matrix;

namespace {

using qme::test::kNaN;
const std::vector<double> kFars = {1e-4, 1e-3, 1e-2, 0.1, 0.5, 1.0};

using qme::test::d;

void check_vector(const std::vector<double>& got, const std::vector<double>& expected) {
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("index " << i);
    CHECK(got[i] == Approx(expected[i]).margin(1e-12));
  }
}

using qme::test::same_value;

void require_same_points(const std::vector<VerificationPoint>& fast, const std::vector<VerificationPoint>& ref) {
  REQUIRE(fast.size() == ref.size());
  for (size_t k = 0; k < fast.size(); ++k) {
    INFO("FAR " << ref[k].far);
    CHECK(fast[k].far == ref[k].far);
    CHECK(same_value(fast[k].tar, ref[k].tar));
    CHECK(same_value(fast[k].threshold, ref[k].threshold));
  }
}

struct PairCase {
  ScoreMatrix scores;
  std::vector<int64_t> qp, gp;
};

/// Random pids (about one match in `pids` pairs) and scores; decimals >= 0
/// rounds scores (ties), nan_share puts NaN in.
PairCase random_pairs(uint32_t seed, int64_t rows, int64_t cols, int64_t pids, int decimals, double nan_share,
                      double lo = -1.0, double hi = 1.0) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int64_t> pid(0, pids - 1);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  PairCase c;
  for (int64_t i = 0; i < rows; ++i) c.qp.push_back(pid(gen));
  for (int64_t j = 0; j < cols; ++j) c.gp.push_back(pid(gen));
  std::vector<float> values(static_cast<size_t>(rows * cols));
  const double scale = decimals >= 0 ? std::pow(10.0, decimals) : 0.0;
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) {
      double s = lo + (hi - lo) * u(gen);
      if (c.qp[i] == c.gp[j]) s = std::min(hi, s + 0.3 * (hi - lo));  // matches score higher on average
      if (decimals >= 0) s = std::round(s * scale) / scale;
      values[static_cast<size_t>(i * cols + j)] = u(gen) < nan_share ? kNaN : static_cast<float>(s);
    }
  }
  c.scores = make_matrix(rows, cols, std::move(values));
  return c;
}

}  // namespace

TEST_CASE("roc_curve keeps only corner points and prepends (0, 0) at max + 1", "[eval]") {
  // scores .6 .5 .4 .3 .2 .1, labels P P N N P N
  //   tps 1 2 2 2 3 3, fps 0 0 1 2 2 3
  //   diff2 fps [1 0 -1 1], diff2 tps [-1 0 1 -1] -> interior 1 kept, 2 dropped,
  //   3 and 4 kept; ends kept. Points (fps, tps): (0,1) (0,2) (2,2) (2,3) (3,3).
  const auto roc = roc_curve({0.6f, 0.5f, 0.4f, 0.3f, 0.2f, 0.1f}, {1, 1, 0, 0, 1, 0});
  check_vector(roc.fpr, {0, 0, 0, 2.0 / 3, 2.0 / 3, 1});
  check_vector(roc.tpr, {0, 1.0 / 3, 2.0 / 3, 2.0 / 3, 1, 1});
  REQUIRE(roc.thresholds.size() == 6);
  CHECK(roc.thresholds[0] == Approx(1.6).epsilon(1e-6));  // sklearn 1.2: thresholds[0] + 1
  CHECK(roc.thresholds[1] == d(0.6f));
  CHECK(roc.thresholds[2] == d(0.5f));
  CHECK(roc.thresholds[3] == d(0.3f));
  CHECK(roc.thresholds[4] == d(0.2f));
  CHECK(roc.thresholds[5] == d(0.1f));
}

TEST_CASE("roc_curve ignores input order", "[eval]") {
  const auto roc = roc_curve({0.2f, 0.5f, 0.1f, 0.6f, 0.3f, 0.4f}, {1, 1, 0, 1, 0, 0});
  check_vector(roc.fpr, {0, 0, 0, 2.0 / 3, 2.0 / 3, 1});
  check_vector(roc.tpr, {0, 1.0 / 3, 2.0 / 3, 2.0 / 3, 1, 1});
}

TEST_CASE("roc_curve without drop_intermediate keeps every distinct score", "[eval]") {
  const auto roc = roc_curve({0.6f, 0.5f, 0.4f, 0.3f, 0.2f, 0.1f}, {1, 1, 0, 0, 1, 0}, false);
  check_vector(roc.fpr, {0, 0, 0, 1.0 / 3, 2.0 / 3, 2.0 / 3, 1});
  check_vector(roc.tpr, {0, 1.0 / 3, 2.0 / 3, 2.0 / 3, 2.0 / 3, 1, 1});
  REQUIRE(roc.thresholds.size() == 7);
  CHECK(roc.thresholds[3] == d(0.4f));
}

TEST_CASE("roc_curve puts tied scores on one threshold", "[eval]") {
  // scores .8 .8 .5 .5 .3 with labels P N P P N
  //   distinct .8 .5 .3: tps 1 3 3, fps 1 1 2; diff2 fps [1], tps [-2] -> keep all.
  const auto roc = roc_curve({0.8f, 0.8f, 0.5f, 0.5f, 0.3f}, {1, 0, 1, 1, 0});
  check_vector(roc.fpr, {0, 0.5, 0.5, 1});
  check_vector(roc.tpr, {0, 1.0 / 3, 1, 1});
  REQUIRE(roc.thresholds.size() == 4);
  CHECK(roc.thresholds[0] == Approx(1.8).epsilon(1e-6));
  CHECK(roc.thresholds[1] == d(0.8f));
  CHECK(roc.thresholds[2] == d(0.5f));
  CHECK(roc.thresholds[3] == d(0.3f));
}

TEST_CASE("roc_curve with two distinct scores drops nothing", "[eval]") {
  const auto roc = roc_curve({0.9f, 0.1f}, {1, 0});
  check_vector(roc.fpr, {0, 0, 1});
  check_vector(roc.tpr, {0, 1, 1});
}

TEST_CASE("TAR@FAR takes the first kept ROC point at or above the FAR", "[eval]") {
  // q pids [1 2], g pids [1 2 3 4]; matches (0,0) = .9 and (1,1) = .3.
  // sorted: .9P .8N .7N .6N .5N .3P .2N .1N
  //   tps 1 1 1 1 1 2 2 2, fps 0 1 2 3 4 4 5 6
  //   diff2 fps [0 0 0 -1 1 0], diff2 tps [0 0 0 1 -1 0] -> keep .9 .5 .3 .1
  //   fpr [0, 0, 4/6, 4/6, 1], tpr [0, .5, .5, 1, 1]
  // FAR 1e-4 .. 0.5 -> point (4/6, .5) at threshold .5 (the .8/.7/.6 points
  // were dropped); FAR 1.0 -> (1, 1) at .1.
  const auto scores = make_matrix(2, 4, {0.9f, 0.7f, 0.2f, 0.1f, 0.8f, 0.3f, 0.6f, 0.5f});
  const std::vector<int64_t> qp = {1, 2}, gp = {1, 2, 3, 4};
  for (const auto& points : {tar_at_far(scores, qp, gp, kFars, 1), tar_at_far_exhaustive(scores, qp, gp, kFars)}) {
    REQUIRE(points.size() == kFars.size());
    for (size_t k = 0; k + 1 < kFars.size(); ++k) {
      INFO("FAR " << kFars[k]);
      CHECK(points[k].far == kFars[k]);
      CHECK(points[k].tar == 0.5);
      CHECK(points[k].threshold == d(0.5f));
    }
    CHECK(points.back().tar == 1.0);
    CHECK(points.back().threshold == d(0.1f));
  }
}

TEST_CASE("TAR@FAR counts NaN scores as the lowest non-NaN score", "[eval]") {
  // The case above with the .3 match replaced by NaN -> it becomes .1 and ties
  // with the .1 non-match.
  // sorted: .9P .8N .7N .6N .5N .2N .1{P,N}
  //   tps 1 1 1 1 1 1 2, fps 0 1 2 3 4 5 6 -> keep .9 .2 .1
  //   fpr [0, 0, 5/6, 1], tpr [0, .5, .5, 1]
  // FAR 1e-2 -> .5 at .2; FAR 1.0 -> 1 at .1. (NaN ranked below .1 instead
  // would give TAR 0.5 at FAR 1.0.)
  const auto scores = make_matrix(2, 4, {0.9f, 0.7f, 0.2f, 0.1f, 0.8f, kNaN, 0.6f, 0.5f});
  const std::vector<int64_t> qp = {1, 2}, gp = {1, 2, 3, 4};
  const std::vector<double> fars = {1e-2, 0.5, 1.0};
  for (const auto& p : {tar_at_far(scores, qp, gp, fars, 1), tar_at_far_exhaustive(scores, qp, gp, fars)}) {
    CHECK(p[0].tar == 0.5);
    CHECK(p[0].threshold == d(0.2f));
    CHECK(p[1].tar == 0.5);
    CHECK(p[2].tar == 1.0);
    CHECK(p[2].threshold == d(0.1f));
  }
}

TEST_CASE("TAR@FAR on an all-NaN matrix scores every pair 0", "[eval]") {
  // All scores -> 0: one distinct threshold, fpr [0 1], tpr [0 1].
  const auto scores = make_matrix(2, 3, std::vector<float>(6, kNaN));
  const std::vector<int64_t> qp = {1, 2}, gp = {1, 2, 3};
  for (const auto& p : {tar_at_far(scores, qp, gp, kFars, 1), tar_at_far_exhaustive(scores, qp, gp, kFars)}) {
    for (const auto& point : p) {
      CHECK(point.tar == 1.0);
      CHECK(point.threshold == 0.0);
    }
  }
}

TEST_CASE("TAR@FAR without a matching pair is NaN", "[eval]") {
  const auto scores = make_matrix(2, 3, {0.9f, 0.1f, 0.5f, 0.3f, 0.7f, 0.2f});
  const std::vector<int64_t> qp = {1, 2}, gp = {3, 4, 5};
  for (const auto& p : {tar_at_far(scores, qp, gp, kFars, 1), tar_at_far_exhaustive(scores, qp, gp, kFars)}) {
    for (const auto& point : p) CHECK(std::isnan(point.tar));
  }
}

TEST_CASE("TAR@FAR without a non-matching pair is NaN", "[eval]") {
  const auto scores = make_matrix(2, 2, {0.9f, 0.1f, 0.5f, 0.3f});
  const std::vector<int64_t> qp = {1, 1}, gp = {1, 1};
  for (const auto& p : {tar_at_far(scores, qp, gp, kFars, 1), tar_at_far_exhaustive(scores, qp, gp, kFars)}) {
    for (const auto& point : p) {
      CHECK(std::isnan(point.tar));
      CHECK(std::isnan(point.threshold));
    }
  }
}

TEST_CASE("TAR@FAR is 1 at the lowest score when every match outranks every non-match", "[eval]") {
  // Curve: matches first (fps 0), then one straight run of non-matches to
  // (N, P): only its end is a corner, so every FAR lands on the lowest score.
  std::mt19937 gen(3);
  std::uniform_real_distribution<float> neg(0.0f, 0.5f), pos(0.6f, 1.0f);
  const int64_t rows = 30, cols = 200;
  std::vector<int64_t> qp, gp;
  for (int64_t i = 0; i < rows; ++i) qp.push_back(i);
  for (int64_t j = 0; j < cols; ++j) gp.push_back(j % 40);
  std::vector<float> values;
  float lowest = 1.0f;
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) {
      values.push_back(qp[i] == gp[j] ? pos(gen) : neg(gen));
      lowest = std::min(lowest, values.back());
    }
  }
  const auto scores = make_matrix(rows, cols, values);
  const std::vector<double> fars = {1e-4, 1e-3, 1e-2, 0.5, 1.0};
  for (const auto& p : {tar_at_far(scores, qp, gp, fars, 1), tar_at_far_exhaustive(scores, qp, gp, fars)}) {
    for (const auto& point : p) {
      CHECK(point.tar == 1.0);
      CHECK(point.threshold == d(lowest));
    }
  }
}

TEST_CASE("fast TAR@FAR equals the exhaustive ROC on tied and continuous scores", "[eval]") {
  struct Setting {
    uint32_t seed;
    int64_t rows, cols, pids;
    int decimals;
    double nan_share, lo, hi;
  };
  const std::vector<double> fars = {1e-4, 1e-3, 1e-2, 0.05, 0.5, 0.999, 1.0};
  for (const auto& s : {
           Setting{1, 60, 400, 30, 2, 0.0, -1.0, 1.0},      // ~200 distinct scores, heavy ties
           Setting{2, 60, 400, 30, -1, 0.0, -1.0, 1.0},     // continuous
           Setting{3, 80, 500, 200, 3, 0.02, 0.0, 1.0},     // sparse matches, NaN
           Setting{4, 50, 300, 10, 1, 0.0, 0.0, 1.0},       // 11 distinct scores
           Setting{5, 100, 700, 400, -1, 0.0, 0.5, 0.5001}, // narrow range: few bins
           Setting{6, 40, 250, 20, -1, 0.3, -5.0, 5.0},     // many NaN
       }) {
    INFO("seed " << s.seed);
    const auto c = random_pairs(s.seed, s.rows, s.cols, s.pids, s.decimals, s.nan_share, s.lo, s.hi);
    const auto ref = tar_at_far_exhaustive(c.scores, c.qp, c.gp, fars);
    require_same_points(tar_at_far(c.scores, c.qp, c.gp, fars, 1), ref);
    require_same_points(tar_at_far(c.scores, c.qp, c.gp, fars, 2), ref);
  }
}

namespace {

/// What the retrieval scan keeps for TAR@FAR: every score at or above `key`, in `lists` lists of
/// each kind (one per worker), with the NaN count.
qme::eval::ScoreTail tail_at(const PairCase& c, uint32_t key, size_t lists) {
  qme::eval::ScoreTail tail;
  tail.key = key;
  tail.impostors.resize(lists);
  tail.genuines.resize(lists);
  for (int64_t i = 0; i < c.scores.rows; ++i) {
    for (int64_t j = 0; j < c.scores.cols; ++j) {
      const uint32_t k = qme::eval::score_key(c.scores.row(i)[j]);
      tail.nan += k == 0;
      if (k >= tail.key) (c.qp[i] == c.gp[j] ? tail.genuines : tail.impostors)[static_cast<size_t>(i) % lists].push_back(k);
    }
  }
  tail.scanned = c.scores.size();
  return tail;
}

/// The tail above the sampled estimate for `rate`, in two lists (two workers).
qme::eval::ScoreTail keep_tail(const PairCase& c, double rate) {
  double share = 0;
  auto tail = tail_at(c, qme::eval::ScoreKeyHistogram::estimate_tail_key(c.scores, rate, &share), 2);
  tail.share = share;
  return tail;
}

}  // namespace

TEST_CASE("TAR@FAR from the kept tail equals the exhaustive ROC", "[eval]") {
  struct Setting {
    uint32_t seed;
    int64_t pids;
    int decimals;
    double nan_share, lo, hi;
    bool tail_suffices;  // the tail holds every window (else tar_at_far reads the matrix)
  };
  const std::vector<double> fars = {1e-4, 1e-3, 1e-2};
  for (const auto& s : {
           Setting{1, 30, -1, 0.0, -1.0, 1.0, true},    // continuous, ~100 matches per row
           Setting{2, 30, 5, 0.0, 0.45, 0.55, true},    // narrow band with ties
           Setting{3, 300, 4, 0.01, 0.45, 0.55, true},  // narrow band, more ties, NaN
           Setting{4, 30, 6, 0.0, 0.5, 0.5001, false},  // a few bins only
           Setting{5, 30, 2, 0.0, 0.0, 1.0, false},     // 101 distinct scores
       }) {
    INFO("seed " << s.seed);
    const auto c = random_pairs(s.seed, 60, 3000, s.pids, s.decimals, s.nan_share, s.lo, s.hi);
    const auto ref = tar_at_far_exhaustive(c.scores, c.qp, c.gp, fars);
    const auto tail = keep_tail(c, fars.back());
    const auto from_tail = qme::eval::tar_at_far_from_tail(c.qp, c.gp, fars, tail);
    if (s.tail_suffices) REQUIRE(from_tail.has_value());
    if (from_tail) require_same_points(*from_tail, ref);
    require_same_points(tar_at_far(c.scores, c.qp, c.gp, fars, 2, &tail), ref);
  }
}

TEST_CASE("a tail that cannot settle TAR@FAR is not used", "[eval]") {
  const auto c = random_pairs(7, 40, 2000, 20, -1, 0.0, -1.0, 1.0);
  const std::vector<double> fars = {1e-3, 1e-2};
  const auto tail = keep_tail(c, fars.back());
  REQUIRE(qme::eval::tar_at_far_from_tail(c.qp, c.gp, fars, tail).has_value());
  auto partial = tail;  // a scan of another matrix, or an unfinished one
  partial.scanned -= 1;
  CHECK_FALSE(qme::eval::tar_at_far_from_tail(c.qp, c.gp, fars, partial).has_value());
  // Far past the tail: the 50 % point lies in the scores below it.
  CHECK_FALSE(qme::eval::tar_at_far_from_tail(c.qp, c.gp, {0.5}, tail).has_value());
  require_same_points(tar_at_far(c.scores, c.qp, c.gp, {0.5}, 1, &tail),
                      tar_at_far_exhaustive(c.scores, c.qp, c.gp, {0.5}));
  // Every number in the tail and NaN below it: NaN would count as the lowest number, inside.
  auto all = c;
  all.scores.values[5] = kNaN;
  const auto everything = tail_at(all, 1u << 16, 1);  // every number: no number's key is below 1 << 16
  CHECK_FALSE(qme::eval::tar_at_far_from_tail(all.qp, all.gp, fars, everything).has_value());
  require_same_points(tar_at_far(all.scores, all.qp, all.gp, fars, 1, &everything),
                      tar_at_far_exhaustive(all.scores, all.qp, all.gp, fars));
}

TEST_CASE("TAR@FAR rejects FAR targets outside (0, 1] and mismatched ids", "[eval]") {
  const auto scores = make_matrix(1, 2, {0.5f, 0.1f});
  CHECK_THROWS_AS(tar_at_far(scores, {1}, {1, 2}, {0.0}, 1), qme::Error);
  CHECK_THROWS_AS(tar_at_far(scores, {1}, {1, 2}, {1.5}, 1), qme::Error);
  CHECK_THROWS_AS(tar_at_far(scores, {1, 2}, {1, 2}, {0.01}, 1), qme::Error);
  CHECK_THROWS_AS(tar_at_far_exhaustive(scores, {1}, {1}, {0.01}), qme::Error);
}

// Re-id CMC / mAP (upstream tools/eval_metrics.py: evaluate and
// evaluate_with_clothes). Each hand case lists the ranking after junk removal
// and the arithmetic behind every expected number.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "qme/core/identity_labels.hpp"
#include "qme/core/numpy_sort.hpp"
#include "qme/core/score_matrix.hpp"
#include "qme/eval/retrieval.hpp"
#include "support/test_support.hpp"

using qme::IdentityLabels;
using qme::ScoreMatrix;
using qme::TestLabels;
using qme::eval::evaluate_retrieval;
using qme::eval::RankingMetrics;
using qme::test::make_labels;
using qme::test::make_matrix;

namespace {

using qme::test::kNaN;

// One query (pid 1, camera 0, clothes 0) against six gallery entries:
//   idx pid cam clothes score
//   0   2   0   0       0.9   other identity, same camera: ranked normally
//   1   1   0   0       0.8   same pid, same camera: junk in every protocol
//   2   1   1   0       0.7   GR good, SC good, CC junk (same clothes)
//   3   3   1   0       0.6
//   4   1   2   1       0.5   GR good, SC junk (other clothes), CC good
//   5   4   2   1       0.4
TestLabels one_query_labels() {
  return make_labels({{1}, {0}, {0}}, {{2, 1, 1, 3, 1, 4}, {0, 0, 1, 1, 2, 2}, {0, 0, 0, 0, 1, 1}});
}
ScoreMatrix one_query_scores() { return make_matrix(1, 6, {0.9f, 0.8f, 0.7f, 0.6f, 0.5f, 0.4f}); }

using qme::test::same_value;

void require_same(const RankingMetrics& a, const RankingMetrics& b) {
  CHECK(same_value(a.top1, b.top1));
  CHECK(same_value(a.top5, b.top5));
  CHECK(same_value(a.top10, b.top10));
  CHECK(same_value(a.top20, b.top20));
  CHECK(same_value(a.mAP, b.mAP));
  CHECK(a.num_valid_queries == b.num_valid_queries);
}

/// Upstream's algorithm, written out directly: order = np.argsort(-row),
/// drop junk, CMC from the first good position, AP over the good positions.
RankingMetrics reference_protocol(const ScoreMatrix& scores, const TestLabels& labels, int protocol) {
  std::vector<double> cmc(static_cast<size_t>(scores.cols), 0.0);
  double ap_sum = 0;
  int64_t valid = 0;
  std::vector<float> negated(static_cast<size_t>(scores.cols));
  std::vector<int64_t> order;
  for (int64_t i = 0; i < scores.rows; ++i) {
    const auto& q = labels.query;
    const auto& g = labels.gallery;
    auto same = [&](int64_t j) { return g.pids[j] == q.pids[i]; };
    auto same_cam = [&](int64_t j) { return g.camids[j] == q.camids[i]; };
    auto same_clothes = [&](int64_t j) { return g.clothes_ids[j] == q.clothes_ids[i]; };
    auto good = [&](int64_t j) {
      if (!same(j) || same_cam(j)) return false;
      if (protocol == 1) return same_clothes(j);
      if (protocol == 2) return !same_clothes(j);
      return true;
    };
    auto junk = [&](int64_t j) {
      if (!same(j)) return false;
      if (protocol == 1) return same_cam(j) || !same_clothes(j);
      if (protocol == 2) return same_cam(j) || same_clothes(j);
      return same_cam(j);
    };
    int64_t ngood = 0;
    for (int64_t j = 0; j < scores.cols; ++j) ngood += good(j);
    if (ngood == 0) continue;
    ++valid;
    for (int64_t j = 0; j < scores.cols; ++j) negated[static_cast<size_t>(j)] = -scores.at(i, j);
    qme::numpy::argsort(negated.data(), scores.cols, order);
    int64_t position = 0, hits = 0;
    double ap = 0;
    for (auto j : order) {
      if (junk(j)) continue;
      if (good(j)) {
        if (hits == 0) {
          for (size_t r = static_cast<size_t>(position); r < cmc.size(); ++r) cmc[r] += 1;
        }
        ++hits;
        ap += (1.0 / static_cast<double>(ngood)) * (static_cast<double>(hits) / static_cast<double>(position + 1));
      }
      ++position;
    }
    ap_sum += ap;
  }
  RankingMetrics m;
  m.num_valid_queries = valid;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  auto at = [&](size_t rank) {
    if (rank > cmc.size()) return nan;
    return valid > 0 ? cmc[rank - 1] / static_cast<double>(valid) : (protocol == 0 ? nan : 0.0);
  };
  m.top1 = at(1);
  m.top5 = at(5);
  m.top10 = at(10);
  m.top20 = at(20);
  m.mAP = valid > 0 ? ap_sum / static_cast<double>(valid) : (protocol == 0 ? nan : 0.0);
  return m;
}

void require_close(const RankingMetrics& ours, const RankingMetrics& ref) {
  auto close = [](double a, double b) {
    return (std::isnan(a) && std::isnan(b)) || std::abs(a - b) <= 1e-12;
  };
  CHECK(close(ours.top1, ref.top1));
  CHECK(close(ours.top5, ref.top5));
  CHECK(close(ours.top10, ref.top10));
  CHECK(close(ours.top20, ref.top20));
  CHECK(close(ours.mAP, ref.mAP));
  CHECK(ours.num_valid_queries == ref.num_valid_queries);
}

struct RandomCase {
  ScoreMatrix scores;
  TestLabels labels;
};

/// Random labels (few pids, cameras, outfits so every protocol has valid and
/// skipped queries) and scores; `decimals` >= 0 rounds scores to create ties.
RandomCase random_case(uint32_t seed, int64_t rows, int64_t cols, int decimals, double nan_share) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int64_t> pid(0, 14), cam(0, 2), clothes(0, 1);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  IdentityLabels q, g;
  for (int64_t i = 0; i < rows; ++i) {
    q.pids.push_back(pid(gen));
    q.camids.push_back(cam(gen));
    q.clothes_ids.push_back(clothes(gen));
  }
  for (int64_t j = 0; j < cols; ++j) {
    g.pids.push_back(pid(gen));
    g.camids.push_back(cam(gen));
    g.clothes_ids.push_back(clothes(gen));
  }
  std::vector<float> values(static_cast<size_t>(rows * cols));
  const double scale = decimals >= 0 ? std::pow(10.0, decimals) : 0.0;
  for (auto& v : values) {
    double s = u(gen) * 2.0 - 1.0;
    if (decimals >= 0) s = std::round(s * scale) / scale;
    v = u(gen) < nan_share ? kNaN : static_cast<float>(s);
  }
  return {make_matrix(rows, cols, std::move(values)), make_labels(q, g)};
}

}  // namespace

TEST_CASE("general protocol removes same-camera matches as junk", "[eval]") {
  // Ranking 0 1 2 3 4 5; junk {1}; left: 0 2 3 4 5 -> goods 2 and 4 at
  // positions 1 and 3. CMC: top1 0, top5 1. AP = 1/2 (1/2 + 2/4) = 0.5.
  // (Without junk removal the goods would sit at 2 and 4: AP 1/2 (1/3 + 2/5).)
  const auto m = evaluate_retrieval(one_query_scores(), one_query_labels(), 1);
  CHECK(m.general.num_valid_queries == 1);
  CHECK(m.general.top1 == 0.0);
  CHECK(m.general.top5 == 1.0);
  CHECK(m.general.mAP == Approx(0.5).margin(1e-12));
}

TEST_CASE("same-clothes protocol treats other-clothes matches as junk", "[eval]") {
  // SC: good {2}, junk {1 (same camera), 4 (other clothes)}; left: 0 2 3 5 ->
  // good at position 1: top1 0, top5 1, AP 1/2.
  const auto m = evaluate_retrieval(one_query_scores(), one_query_labels(), 1);
  CHECK(m.same_clothes.num_valid_queries == 1);
  CHECK(m.same_clothes.top1 == 0.0);
  CHECK(m.same_clothes.top5 == 1.0);
  CHECK(m.same_clothes.mAP == Approx(0.5).margin(1e-12));
}

TEST_CASE("clothes-changing CMC ignores same-clothes matches", "[eval]") {
  // CC: good {4}, junk {1 (same camera), 2 (same clothes)}; left: 0 3 4 5 ->
  // good at position 2: top1 0, top5 1, AP 1/3.
  const auto m = evaluate_retrieval(one_query_scores(), one_query_labels(), 1);
  CHECK(m.clothes_changing.num_valid_queries == 1);
  CHECK(m.clothes_changing.top1 == 0.0);
  CHECK(m.clothes_changing.top5 == 1.0);
  CHECK(m.clothes_changing.mAP == Approx(1.0 / 3.0).margin(1e-12));
}

TEST_CASE("queries without a good match are skipped", "[eval]") {
  // Query A = the one-query case above. Query B (pid 3, cam 0, clothes 0)
  // scores its only match (idx 3: cam 1, clothes 0) highest: GR and SC hit at
  // rank 1 (AP 1); under CC that match is junk -> B is skipped. Query C
  // (pid 9) has no match at all -> skipped everywhere.
  //   GR: 2 valid, top1 (0 + 1)/2, top5 1, mAP (0.5 + 1)/2
  //   SC: 2 valid, top1 (0 + 1)/2, top5 1, mAP (0.5 + 1)/2
  //   CC: 1 valid (A), top1 0, top5 1, mAP 1/3
  auto labels = one_query_labels();
  labels.query = {{1, 3, 9}, {0, 0, 0}, {0, 0, 0}};
  const auto scores = make_matrix(3, 6,
                                  {0.9f, 0.8f, 0.7f, 0.6f, 0.5f, 0.4f,     //
                                   0.1f, 0.2f, 0.3f, 0.95f, 0.5f, 0.6f,    //
                                   0.9f, 0.8f, 0.7f, 0.6f, 0.5f, 0.4f});
  const auto m = evaluate_retrieval(scores, labels, 1);
  CHECK(m.general.num_valid_queries == 2);
  CHECK(m.general.top1 == 0.5);
  CHECK(m.general.top5 == 1.0);
  CHECK(m.general.mAP == Approx(0.75).margin(1e-12));
  CHECK(m.same_clothes.num_valid_queries == 2);
  CHECK(m.same_clothes.top1 == 0.5);
  CHECK(m.same_clothes.mAP == Approx(0.75).margin(1e-12));
  CHECK(m.clothes_changing.num_valid_queries == 1);
  CHECK(m.clothes_changing.top1 == 0.0);
  CHECK(m.clothes_changing.top5 == 1.0);
  CHECK(m.clothes_changing.mAP == Approx(1.0 / 3.0).margin(1e-12));
}

TEST_CASE("without a valid query the clothes protocols report 0 and the general protocol NaN", "[eval]") {
  // The query's only match shares its camera: junk everywhere, no good entry.
  // Upstream: evaluate() divides by zero (undefined -> NaN here);
  // evaluate_with_clothes() keeps CMC at zero and sets mAP = 0. Ranks beyond
  // the 6-entry gallery (10, 20) are NaN either way.
  const auto labels = make_labels({{1}, {0}, {0}}, {{1, 2, 3, 4, 5, 6}, {0, 1, 1, 1, 1, 1}, {0, 0, 0, 1, 1, 1}});
  const auto scores = make_matrix(1, 6, {0.9f, 0.8f, 0.7f, 0.6f, 0.5f, 0.4f});
  const auto m = evaluate_retrieval(scores, labels, 1);
  CHECK(m.general.num_valid_queries == 0);
  CHECK(std::isnan(m.general.top1));
  CHECK(std::isnan(m.general.top5));
  CHECK(std::isnan(m.general.mAP));
  for (const auto* p : {&m.same_clothes, &m.clothes_changing}) {
    CHECK(p->num_valid_queries == 0);
    CHECK(p->top1 == 0.0);
    CHECK(p->top5 == 0.0);
    CHECK(std::isnan(p->top10));
    CHECK(std::isnan(p->top20));
    CHECK(p->mAP == 0.0);
  }
}

TEST_CASE("CMC ranks beyond the gallery size are NaN", "[eval]") {
  // One query, its good match (pid 1, other camera) ranked first among G
  // entries: every defined CMC value is 1.
  for (int64_t g : {4, 5, 9, 10, 19, 20, 25}) {
    INFO("gallery size " << g);
    IdentityLabels gallery;
    std::vector<float> row;
    for (int64_t j = 0; j < g; ++j) {
      gallery.pids.push_back(j == 0 ? 1 : 100 + j);
      gallery.camids.push_back(1);
      gallery.clothes_ids.push_back(0);
      row.push_back(1.0f - 0.01f * static_cast<float>(j));
    }
    const auto m = evaluate_retrieval(make_matrix(1, g, row), make_labels({{1}, {0}, {0}}, gallery), 1);
    CHECK(m.general.top1 == 1.0);
    CHECK((g >= 5 ? m.general.top5 == 1.0 : std::isnan(m.general.top5)));
    CHECK((g >= 10 ? m.general.top10 == 1.0 : std::isnan(m.general.top10)));
    CHECK((g >= 20 ? m.general.top20 == 1.0 : std::isnan(m.general.top20)));
    CHECK(m.general.mAP == 1.0);
  }
}

TEST_CASE("a tie in a short row keeps gallery index order (numpy's insertion sort)", "[eval]") {
  // np.argsort(-row) on <= 16 elements is a stable insertion sort.
  // Gallery: [other identity, good] tied at 0.5, then 0.1.
  const auto query = IdentityLabels{{1}, {0}, {0}};
  {
    // Good at idx 1, behind idx 0: position 1 -> top1 0, AP 1/2.
    const auto labels = make_labels(query, {{2, 1, 3}, {1, 1, 1}, {0, 0, 0}});
    const auto m = evaluate_retrieval(make_matrix(1, 3, {0.5f, 0.5f, 0.1f}), labels, 1);
    CHECK(m.general.top1 == 0.0);
    CHECK(m.general.mAP == Approx(0.5).margin(1e-12));
  }
  {
    // Good at idx 0: position 0 -> top1 1, AP 1.
    const auto labels = make_labels(query, {{1, 2, 3}, {1, 1, 1}, {0, 0, 0}});
    const auto m = evaluate_retrieval(make_matrix(1, 3, {0.5f, 0.5f, 0.1f}), labels, 1);
    CHECK(m.general.top1 == 1.0);
    CHECK(m.general.mAP == 1.0);
  }
}

TEST_CASE("ties in a long row follow numpy's introsort order, not index order", "[eval]") {
  // 17 gallery entries all scored 0.5: np.argsort(-row) =
  //   [0 14 13 12 11 10 9 15 8 6 5 4 3 2 1 7 16]
  // Query 0 (pid 1) has its good match at idx 14 -> position 1: top5 1, AP 1/2.
  // Query 1 (pid 2) has its good match at idx 1 -> position 14: top10 0, AP 1/15.
  // (Index order would give the opposite: positions 14 and 1.)
  // GR: top1 0, top5 (1 + 0)/2, top10 (1 + 0)/2, top20 NaN (17 < 20),
  // mAP (1/2 + 1/15)/2 = 17/60.
  IdentityLabels gallery;
  for (int64_t j = 0; j < 17; ++j) {
    gallery.pids.push_back(j == 14 ? 1 : j == 1 ? 2 : 100 + j);
    gallery.camids.push_back(1);
    gallery.clothes_ids.push_back(0);
  }
  const auto labels = make_labels({{1, 2}, {0, 0}, {0, 0}}, gallery);
  const auto scores = make_matrix(2, 17, std::vector<float>(34, 0.5f));
  const auto m = evaluate_retrieval(scores, labels, 1);
  CHECK(m.general.num_valid_queries == 2);
  CHECK(m.general.top1 == 0.0);
  CHECK(m.general.top5 == 0.5);
  CHECK(m.general.top10 == 0.5);
  CHECK(std::isnan(m.general.top20));
  CHECK(m.general.mAP == Approx(17.0 / 60.0).margin(1e-12));
}

TEST_CASE("NaN scores rank below every number", "[eval]") {
  // Good match (idx 0) scored NaN; idx 3 (other identity) NaN too.
  // np.argsort(-row): -0.5 (idx 1), -0.9 (idx 2), then NaN idx 0, NaN idx 3
  // (stable among NaN) -> good at position 2: top1 0, top5 1, AP 1/3.
  const auto labels = make_labels({{1}, {0}, {0}}, {{1, 2, 3, 4}, {1, 1, 1, 1}, {0, 0, 0, 0}});
  const auto m = evaluate_retrieval(make_matrix(1, 4, {kNaN, -0.5f, -0.9f, kNaN}), labels, 1);
  CHECK(m.general.top1 == 0.0);
  CHECK(std::isnan(m.general.top5));  // gallery of 4
  CHECK(m.general.mAP == Approx(1.0 / 3.0).margin(1e-12));
}

TEST_CASE("-0.0 ties with +0.0", "[eval]") {
  // numpy compares -0.0 == 0.0: a tie, broken by index in a short row.
  // Other identity at idx 0 scores +0.0, the good match at idx 1 scores -0.0
  // -> good at position 1.
  const auto labels = make_labels({{1}, {0}, {0}}, {{2, 1, 3}, {1, 1, 1}, {0, 0, 0}});
  const auto m = evaluate_retrieval(make_matrix(1, 3, {0.0f, -0.0f, -1.0f}), labels, 1);
  CHECK(m.general.top1 == 0.0);
  CHECK(m.general.mAP == Approx(0.5).margin(1e-12));
}

TEST_CASE("retrieval matches upstream's algorithm on random matrices", "[eval]") {
  struct Setting {
    uint32_t seed;
    int64_t rows, cols;
    int decimals;
    double nan_share;
  };
  for (const auto& s : {Setting{1, 30, 300, -1, 0.0}, Setting{2, 30, 300, 2, 0.0}, Setting{3, 30, 300, 1, 0.05},
                        Setting{4, 40, 16, 1, 0.1}, Setting{5, 20, 1000, 3, 0.01}}) {
    INFO("seed " << s.seed << ", " << s.rows << "x" << s.cols << ", decimals " << s.decimals);
    const auto c = random_case(s.seed, s.rows, s.cols, s.decimals, s.nan_share);
    const auto m = evaluate_retrieval(c.scores, c.labels, 1);
    require_close(m.general, reference_protocol(c.scores, c.labels, 0));
    require_close(m.same_clothes, reference_protocol(c.scores, c.labels, 1));
    require_close(m.clothes_changing, reference_protocol(c.scores, c.labels, 2));
  }
}

TEST_CASE("all-equal rows and crowded tie groups rank as upstream's algorithm does", "[eval]") {
  // A face model's rows for probes without a face are all 0, and gallery entries without a face
  // are 0 in every row: one tie group holds many same-identity entries (the crowded-bucket path).
  for (int decimals : {-1, 2}) {
    INFO("decimals " << decimals);
    auto c = random_case(29, 24, 2000, decimals, 0.0);
    for (int64_t i = 0; i < c.scores.rows; ++i) {
      float* row = c.scores.row(i);
      if (i % 3 == 1) std::fill(row, row + c.scores.cols, 0.0f);
      for (int64_t j = 0; j < c.scores.cols; j += 7) row[j] = i % 2 ? -0.0f : 0.0f;
    }
    const auto m = evaluate_retrieval(c.scores, c.labels, 2);
    require_close(m.general, reference_protocol(c.scores, c.labels, 0));
    require_close(m.same_clothes, reference_protocol(c.scores, c.labels, 1));
    require_close(m.clothes_changing, reference_protocol(c.scores, c.labels, 2));
  }
}

TEST_CASE("extreme score ranges rank as upstream's algorithm does", "[eval]") {
  // The fast path buckets rows by score: bands around 0, scores a few ulps apart, infinities,
  // denormals and huge values must not change a metric.
  const float inf = std::numeric_limits<float>::infinity();
  const float denormal = std::numeric_limits<float>::denorm_min();
  struct Setting {
    const char* name;
    float scale, offset;
    bool extremes;
  };
  for (const auto& s :
       {Setting{"band around 0", 1e-3f, 0.0f, false}, Setting{"a few ulps", 1e-6f, 1.0f, false},
        Setting{"denormal band", 1e-43f, 0.0f, false}, Setting{"huge", 1e30f, 0.0f, false},
        Setting{"with infinities and denormals", 1.0f, 0.0f, true}}) {
    INFO(s.name);
    auto c = random_case(41, 30, 1500, 3, 0.01);
    for (auto& v : c.scores.values) v = v * s.scale + s.offset;
    if (s.extremes) {
      for (size_t k = 0; k < c.scores.values.size(); k += 97) c.scores.values[k] = (k / 97) % 2 ? inf : -inf;
      for (size_t k = 13; k < c.scores.values.size(); k += 89)
        c.scores.values[k] = (k / 89) % 2 ? denormal : -denormal;
      for (size_t k = 7; k < c.scores.values.size(); k += 83)
        c.scores.values[k] = (k / 83) % 2 ? 3e38f : -0.0f;
    }
    const auto m = evaluate_retrieval(c.scores, c.labels, 2);
    require_close(m.general, reference_protocol(c.scores, c.labels, 0));
    require_close(m.same_clothes, reference_protocol(c.scores, c.labels, 1));
    require_close(m.clothes_changing, reference_protocol(c.scores, c.labels, 2));
  }
}

TEST_CASE("retrieval gives identical results with 1 and 2 threads", "[eval]") {
  for (int decimals : {-1, 2}) {
    INFO("decimals " << decimals);
    const auto c = random_case(17, 50, 300, decimals, 0.01);
    const auto one = evaluate_retrieval(c.scores, c.labels, 1);
    const auto two = evaluate_retrieval(c.scores, c.labels, 2);
    require_same(one.general, two.general);
    require_same(one.same_clothes, two.same_clothes);
    require_same(one.clothes_changing, two.clothes_changing);
  }
}

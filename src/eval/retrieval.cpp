#include "qme/eval/retrieval.hpp"

#include <algorithm>
#include <array>
#include <limits>
#include <numeric>
#include <unordered_map>
#include <vector>

#include "qme/core/numpy_sort.hpp"
#include "qme/core/parallel.hpp"
#include "qme/eval/ranking.hpp"

namespace qme::eval {

namespace {

constexpr int kProtocols = 3;  // general, same clothes, clothes changing
constexpr std::array<int64_t, 4> kRanks = {1, 5, 10, 20};

/// What one query contributes to one protocol.
struct QueryOutcome {
  bool valid = false;
  int64_t first_good_position = 0;  // 0-based, junk removed
  double average_precision = 0;
};

using QueryOutcomes = std::array<QueryOutcome, kProtocols>;

/// A gallery entry of the query's identity, with its place in the ranking.
struct SameIdentityEntry {
  uint64_t key;
  int64_t index;
  int64_t others_before = 0;  // entries of other identities ranked above it
};

bool is_good(int protocol, bool same_camera, bool same_clothes) {
  if (same_camera) return false;
  if (protocol == 1) return same_clothes;
  if (protocol == 2) return !same_clothes;
  return true;
}

/// Scratch buffers of one worker thread.
struct RowScratch {
  std::vector<SameIdentityEntry> entries;
  std::vector<uint64_t> ascending;
  std::vector<int64_t> histogram;
  std::vector<float> negated;
  std::vector<int64_t> order;
  std::vector<char> same_identity;
};

inline uint32_t score_part(uint64_t key) { return static_cast<uint32_t>(key >> 32); }

/// Sorts `entries` by rank and fills others_before with one pass over the
/// row, counting instead of sorting. Returns false when a same-identity entry
/// ties with another score: then only numpy's own sort order is faithful.
bool count_others_before(const float* row, int64_t cols, RowScratch& s) {
  auto& entries = s.entries;
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.key > b.key; });
  const auto m = entries.size();
  auto& ascending = s.ascending;
  ascending.resize(m);
  for (size_t t = 0; t < m; ++t) ascending[t] = entries[m - 1 - t].key;
  s.histogram.assign(m + 1, 0);
  const uint64_t lowest = ascending.front();
  const uint64_t highest = ascending.back();
  for (int64_t j = 0; j < cols; ++j) {
    const uint64_t key = rank_key(row[j], j);
    if (key < lowest) {  // below every same-identity entry: irrelevant unless tied
      if (score_part(key) == score_part(lowest)) return false;
      continue;
    }
    if (key > highest) {
      if (score_part(key) == score_part(highest)) return false;
      ++s.histogram[0];
      continue;
    }
    const auto pos = static_cast<size_t>(std::upper_bound(ascending.begin(), ascending.end(), key) -
                                         ascending.begin());
    const uint32_t score = score_part(key);
    if ((pos > 0 && ascending[pos - 1] != key && score_part(ascending[pos - 1]) == score) ||
        (pos < m && score_part(ascending[pos]) == score)) {
      return false;
    }
    ++s.histogram[m - pos];  // number of same-identity entries ranked above `key`
  }
  // The histogram prefix up to t counts every entry ranked at or above
  // entries[t], including the t+1 same-identity ones.
  int64_t at_or_above = 0;
  for (size_t t = 0; t < m; ++t) {
    at_or_above += s.histogram[t];
    entries[t].others_before = at_or_above - static_cast<int64_t>(t + 1);
  }
  return true;
}

/// Tied rows: rank exactly as upstream's np.argsort(-row) does.
void rank_like_numpy(const float* row, int64_t cols, RowScratch& s) {
  s.negated.resize(static_cast<size_t>(cols));
  for (int64_t j = 0; j < cols; ++j) s.negated[j] = -row[j];
  numpy::argsort(s.negated.data(), cols, s.order);
  s.same_identity.assign(static_cast<size_t>(cols), 0);
  for (const auto& e : s.entries) s.same_identity[e.index] = 1;
  s.entries.clear();
  int64_t others = 0;
  for (auto j : s.order) {
    if (s.same_identity[j]) {
      s.entries.push_back({rank_key(row[j], j), j, others});
    } else {
      ++others;
    }
  }
}

QueryOutcome score_protocol(int protocol, const std::vector<SameIdentityEntry>& entries,
                            const TestLabels& labels, int64_t query) {
  const auto qcam = labels.query.camids[query];
  const auto qclothes = labels.query.clothes_ids[query];
  auto good = [&](const SameIdentityEntry& e) {
    return is_good(protocol, labels.gallery.camids[e.index] == qcam,
                   labels.gallery.clothes_ids[e.index] == qclothes);
  };
  const auto num_good = std::count_if(entries.begin(), entries.end(), good);
  QueryOutcome out;
  if (num_good == 0) return out;
  out.valid = true;
  int64_t goods_before = 0;
  const double recall_step = 1.0 / static_cast<double>(num_good);
  for (const auto& e : entries) {
    if (!good(e)) continue;  // junk: removed from the ranking
    const int64_t position = e.others_before + goods_before;
    if (goods_before == 0) out.first_good_position = position;
    ++goods_before;
    out.average_precision +=
        recall_step * (static_cast<double>(goods_before) / static_cast<double>(position + 1));
  }
  return out;
}

RankingMetrics summarise(const std::vector<QueryOutcomes>& outcomes, int protocol, int64_t cols) {
  RankingMetrics m;
  std::array<double, kRanks.size()> hits{};
  double ap_sum = 0;  // summed in query order, like upstream
  for (const auto& q : outcomes) {
    const auto& o = q[static_cast<size_t>(protocol)];
    if (!o.valid) continue;
    ++m.num_valid_queries;
    for (size_t r = 0; r < kRanks.size(); ++r) hits[r] += o.first_good_position < kRanks[r] ? 1 : 0;
    ap_sum += o.average_precision;
  }
  const double n = static_cast<double>(m.num_valid_queries);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::array<double, kRanks.size()> cmc{};
  for (size_t r = 0; r < kRanks.size(); ++r) {
    // Upstream: CMC stays all zero without valid queries (clothes protocols).
    cmc[r] = kRanks[r] > cols ? nan : (n > 0 ? hits[r] / n : 0.0);
  }
  m.top1 = cmc[0];
  m.top5 = cmc[1];
  m.top10 = cmc[2];
  m.top20 = cmc[3];
  m.mAP = n > 0 ? ap_sum / n : 0.0;
  return m;
}

}  // namespace

RetrievalMetrics evaluate_retrieval(const ScoreMatrix& scores, const TestLabels& labels,
                                    int num_threads) {
  std::unordered_map<int64_t, std::vector<int64_t>> gallery_by_pid;
  for (size_t j = 0; j < labels.gallery.pids.size(); ++j) {
    gallery_by_pid[labels.gallery.pids[j]].push_back(static_cast<int64_t>(j));
  }
  std::vector<QueryOutcomes> outcomes(static_cast<size_t>(scores.rows));
  parallel_for(
      scores.rows,
      [&](int64_t begin, int64_t end, int) {
        RowScratch scratch;
        for (int64_t i = begin; i < end; ++i) {
          const auto found = gallery_by_pid.find(labels.query.pids[i]);
          if (found == gallery_by_pid.end()) continue;
          const float* row = scores.row(i);
          scratch.entries.clear();
          for (auto j : found->second) scratch.entries.push_back({rank_key(row[j], j), j});
          if (!count_others_before(row, scores.cols, scratch)) rank_like_numpy(row, scores.cols, scratch);
          for (int p = 0; p < kProtocols; ++p) {
            outcomes[i][static_cast<size_t>(p)] = score_protocol(p, scratch.entries, labels, i);
          }
        }
      },
      num_threads);
  RetrievalMetrics metrics;
  metrics.general = summarise(outcomes, 0, scores.cols);
  metrics.same_clothes = summarise(outcomes, 1, scores.cols);
  metrics.clothes_changing = summarise(outcomes, 2, scores.cols);
  if (metrics.general.num_valid_queries == 0) {
    // Upstream divides by zero here; every general-protocol value is undefined.
    const double nan = std::numeric_limits<double>::quiet_NaN();
    metrics.general = {nan, nan, nan, nan, nan, 0};
  }
  return metrics;
}

}  // namespace qme::eval

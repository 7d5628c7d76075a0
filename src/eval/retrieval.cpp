#include "qme/eval/retrieval.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <mutex>
#include <numeric>
#include <unordered_map>
#include <vector>

#include "qme/core/key_select.hpp"
#include "qme/core/numpy_sort.hpp"
#include "qme/core/parallel.hpp"
#include "qme/core/prefault.hpp"
#include "qme/eval/ranking.hpp"

namespace qme::eval {

namespace {

constexpr int kProtocols = kNumProtocols;  // general, same clothes, clothes changing
constexpr uint32_t kLinearBucket = 16;     // entries in a bucket compared one by one up to this many
constexpr std::array<int64_t, 4> kRanks = {1, 5, 10, 20};

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

inline uint32_t score_part(uint64_t key) {
  return static_cast<uint32_t>(key >> 32);
}

/// Buckets over the score range of the same-identity entries: a gallery entry in a bucket
/// without same-identity entries outranks exactly the entries of the buckets below it, so most
/// entries only need counting. Bucket 0 catches everything below the lowest entry (and NaN),
/// the last bucket everything above the highest, so the scan needs no range branches.
///
/// Buckets are of equal width in score where the entries' scores are finite and distinct:
/// scores around 0 (a face model's impostors) lie far apart as float bits, and buckets of
/// equal width in key would put most of a row into the few buckets that hold the entries.
/// Any map that never decreases with the score is exact here; (s - lo) * scale rounded twice is
/// one, and is computed by the same float operations for entries, rows and single scores.
class EntryBuckets {
 public:
  /// Finer buckets list fewer scores for comparison but cost more per row:
  /// about sqrt(2 * cols * entries) buckets balances the two (measured).
  void build(const std::vector<uint64_t>& ascending, int64_t cols) {
    const auto target = static_cast<int64_t>(
        std::sqrt(2.0 * static_cast<double>(cols) * static_cast<double>(ascending.size())));
    const int64_t max_buckets = std::clamp<int64_t>(target, 16, 8192);
    if (!by_value(ascending, max_buckets)) by_key(ascending, max_buckets);
    first_.assign(static_cast<size_t>(last_) + 2, 0);
    occupied_.assign(first_.size(), 0);
    for (auto key : ascending) {
      const auto b = static_cast<size_t>(bucket(score_part(key)));
      ++first_[b + 1];
      occupied_[b] = 1;
    }
    for (int64_t b = 0; b <= last_; ++b) first_[static_cast<size_t>(b) + 1] += first_[static_cast<size_t>(b)];
  }
  /// The bucket of a score key.
  int64_t bucket(uint32_t key) const {
    if (value_scale_ > 0) return key == 0 ? 0 : value_bucket(key_score(key));
    const int64_t raw = (static_cast<int64_t>(key) - lo_) >> shift_;
    return std::clamp<int64_t>(raw, -1, last_ - 1) + 1;
  }
  /// bucket() for a whole row (its scores and their keys), in loops the compiler vectorises.
  void buckets_of(const float* __restrict row, const uint32_t* __restrict keys, int64_t n,
                  uint32_t* __restrict out) const {
    if (value_scale_ > 0) {
      for (int64_t j = 0; j < n; ++j) out[j] = value_bucket(row[j]);
      return;
    }
    const auto lo = static_cast<uint32_t>(lo_);
    const auto top = static_cast<uint32_t>(last_ - 1);
    const uint32_t shift = shift_;
    for (int64_t j = 0; j < n; ++j) {
      const uint32_t d = (keys[j] - lo) >> shift;
      const uint32_t capped = d < top ? d : top;
      out[j] = keys[j] < lo ? 0u : capped + 1u;
    }
  }
  size_t count() const { return static_cast<size_t>(last_) + 1; }
  /// Entries [first(b), first(b + 1)) of the ascending keys lie in bucket b.
  const uint32_t* first() const { return first_.data(); }
  const uint8_t* occupied() const { return occupied_.data(); }

 private:
  /// Equal widths in score between the lowest and highest entry that are numbers; false
  /// (nothing set) where they are equal or not finite, or the scale would not be.
  bool by_value(const std::vector<uint64_t>& ascending, int64_t max_buckets) {
    value_scale_ = 0;
    auto lowest = ascending.begin();
    while (lowest != ascending.end() && score_part(*lowest) == 0) ++lowest;  // NaN
    if (lowest == ascending.end()) return false;
    const float lo = key_score(score_part(*lowest)), hi = key_score(score_part(ascending.back()));
    const float scale = static_cast<float>(max_buckets) / (hi - lo);
    if (!std::isfinite(lo) || !std::isfinite(hi) || !(hi > lo) || !std::isfinite(scale) || !(scale > 0))
      return false;
    lo_value_ = lo;
    value_scale_ = scale;
    top_value_ = static_cast<float>(max_buckets);
    last_ = max_buckets + 1;
    return true;
  }
  void by_key(const std::vector<uint64_t>& ascending, int64_t max_buckets) {
    lo_ = score_part(ascending.front());
    const uint32_t span = score_part(ascending.back()) - static_cast<uint32_t>(lo_);
    shift_ = 0;
    while ((span >> shift_) >= static_cast<uint64_t>(max_buckets)) ++shift_;
    last_ = static_cast<int64_t>(span >> shift_) + 1;  // buckets 1..last_-1 may hold entries
  }
  /// 0 below the lowest entry and for NaN, else 1 + the whole widths above it (at most top).
  uint32_t value_bucket(float s) const {
    const float d = (s - lo_value_) * value_scale_;
    const float capped = d < top_value_ ? d : top_value_;
    const float bucket = d >= 0.0f ? capped : -1.0f;  // NaN: -1
    return static_cast<uint32_t>(static_cast<int32_t>(bucket) + 1);
  }

  int64_t lo_ = 0, last_ = 0;
  uint32_t shift_ = 0;
  float lo_value_ = 0, value_scale_ = 0, top_value_ = 0;
  std::vector<uint32_t> first_;
  std::vector<uint8_t> occupied_;
};

/// Scratch buffers of one worker thread.
struct RowScratch {
  std::vector<SameIdentityEntry> entries;  // same-identity entries, best first
  std::vector<uint64_t> ascending;
  std::vector<int64_t> histogram;
  std::vector<uint32_t> keys;       // score keys of the row
  std::vector<uint32_t> bucket_of;  // and their buckets
  std::vector<uint32_t> selected;   // indices of the row's scores in the tail
  std::vector<uint32_t> bucket_counts;
  std::vector<int64_t> in_occupied;     // gallery indices sharing a bucket with an entry
  std::vector<uint32_t> tied_scores;    // score keys a same-identity entry shares with another identity
  std::vector<uint8_t> tie_flags;       // per ascending entry: its score ties with another identity
  std::vector<int64_t> tied_indices;    // gallery indices of the tied same-identity entries
  std::vector<size_t> tied_entries;     // and their places in `entries`
  std::vector<int64_t> tied_positions;  // and where numpy's argsort puts them
  std::vector<int64_t> numpy_position;  // per entry: that place, else -1
  EntryBuckets buckets;
};

/// Keys kept by one worker, in lists that never move: a full list is closed and a new one
/// started, so that nothing kept is copied again or touches a second page.
class KeptKeys {
 public:
  /// Starts with `capacity` keys reserved and their pages populated.
  void start(size_t capacity) {
    lists_.emplace_back().reserve(capacity);
    prefault(lists_.back().data(), capacity * sizeof(uint32_t));
  }
  void push(uint32_t key) {
    if (lists_.back().size() == lists_.back().capacity()) {
      const size_t capacity = std::max<size_t>(lists_.back().capacity() / 4, 4096);
      lists_.emplace_back().reserve(capacity);
    }
    lists_.back().push_back(key);
  }
  void move_to(std::vector<std::vector<uint32_t>>& out) {
    for (auto& list : lists_) out.push_back(std::move(list));
    lists_.clear();
  }

 private:
  std::vector<std::vector<uint32_t>> lists_;
};

/// Keeps the keys of a row at or above `tail_key`, apart for impostor and genuine pairs;
/// returns how many of the row's keys are NaN (key 0). `selected`: scratch.
int64_t keep_tail(const uint32_t* keys, int64_t cols, const int64_t* identity_of_column, int64_t pid,
                  uint32_t tail_key, std::vector<uint32_t>& selected, KeptKeys& impostors,
                  KeptKeys& genuines) {
  int64_t nan = 0;
  for (int64_t j = 0; j < cols; ++j) nan += keys[j] == 0;
  if (selected.size() < static_cast<size_t>(cols) + 16)
    resize_prefaulted(selected, static_cast<size_t>(cols) + 16);
  const int64_t kept = indices_at_or_above(keys, cols, tail_key, selected.data());
  for (int64_t k = 0; k < kept; ++k) {
    const uint32_t j = selected[static_cast<size_t>(k)];
    (identity_of_column[j] == pid ? genuines : impostors).push(keys[j]);
  }
  return nan;
}

/// Whether every key of a row is the same, in a loop the compiler vectorises.
bool is_one_value(const uint32_t* keys, int64_t cols) {
  uint32_t differ = 0;
  for (int64_t j = 0; j < cols; ++j) differ |= keys[j] ^ keys[0];
  return differ == 0;
}

/// Sorts `entries` by rank and fills others_before with one pass over the
/// row, counting instead of sorting. Ties are ordered by index here and the
/// tied scores remembered, for fix_ties_like_numpy.
/// `identity_of_column` gives each gallery entry's pid; `pid` is the query's. A tie between two
/// same-identity entries cannot move a metric (their positions as a set are the same either
/// way, and junk is removed), so only ties with other identities ask for numpy's order.
void count_others_before(const float* row, int64_t cols, const int64_t* identity_of_column, int64_t pid,
                         RowScratch& s) {
  auto& entries = s.entries;
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.key > b.key; });
  const auto m = entries.size();
  auto& ascending = s.ascending;
  ascending.resize(m);
  for (size_t t = 0; t < m; ++t) ascending[t] = entries[m - 1 - t].key;
  s.buckets.build(ascending, cols);
  const uint32_t* first = s.buckets.first();
  const uint8_t* occupied = s.buckets.occupied();

  // Pass 1, branch-free: count every score by bucket and list the few that
  // share a bucket with a same-identity entry.
  // Two lanes (even / odd j): neighbouring scores often share a bucket, and a
  // single counter would chain every increment through memory.
  assign_prefaulted(s.bucket_counts, 2 * s.buckets.count(), 0u);
  resize_prefaulted(s.in_occupied, static_cast<size_t>(cols));
  uint32_t* counts = s.bucket_counts.data();
  int64_t* listed = s.in_occupied.data();
  size_t num_listed = 0;
  // Keys and buckets first, in loops the compiler vectorises; then the counting.
  resize_prefaulted(s.keys, static_cast<size_t>(cols));
  resize_prefaulted(s.bucket_of, static_cast<size_t>(cols));
  uint32_t* keys = s.keys.data();
  uint32_t* bucket_of = s.bucket_of.data();
  score_keys(row, cols, keys);
  if (cols > static_cast<int64_t>(m) && is_one_value(keys, cols)) {
    // One value in the whole row (a face model's row for a probe without a face): every entry
    // ties with other identities, and numpy's order of the row places them all.
    s.tied_scores.assign(1, keys[0]);
    return;
  }
  s.buckets.buckets_of(row, keys, cols, bucket_of);
  for (int64_t j = 0; j < cols; ++j) {
    const uint32_t b = bucket_of[j];
    ++counts[2 * b + (static_cast<uint32_t>(j) & 1u)];
    listed[num_listed] = j;
    num_listed += occupied[b];
  }
  // slot = number of same-identity entries ranked above a score
  s.histogram.assign(m + 1, 0);
  int64_t* histogram = s.histogram.data();
  for (size_t b = 0; b < s.buckets.count(); ++b) {
    if (!occupied[b]) histogram[m - first[b]] += counts[2 * b] + counts[2 * b + 1];
  }
  // Pass 2: compare the listed scores with the entries of their bucket: one by one in a small
  // bucket, by binary search in a crowded one (a tie group: a face model's all-zero rows put
  // every entry and every score in one bucket). A tie with another identity flags the first
  // entry of the tied score, once, whatever the number of tied scores.
  s.tie_flags.assign(m, 0);
  for (size_t k = 0; k < num_listed; ++k) {
    const int64_t j = listed[k];
    const uint32_t score = keys[j];
    const uint32_t b = bucket_of[j];
    const uint64_t key = rank_key(row[j], j);
    const bool other_identity = identity_of_column[j] != pid;
    const uint32_t lo = first[b], hi = first[b + 1];
    uint32_t not_above = lo;
    if (hi - lo <= kLinearBucket) {
      for (uint32_t e = lo; e < hi; ++e) {
        if (other_identity && score_part(ascending[e]) == score) s.tie_flags[e] = 1;
        not_above += ascending[e] <= key;
      }
    } else {
      const uint64_t* begin = ascending.data() + lo;
      const uint64_t* end = ascending.data() + hi;
      not_above = static_cast<uint32_t>(std::upper_bound(begin, end, key) - ascending.data());
      const uint64_t* group = std::lower_bound(begin, end, uint64_t{score} << 32);
      if (other_identity && group != end && score_part(*group) == score)
        s.tie_flags[group - ascending.data()] = 1;
    }
    ++histogram[m - not_above];
  }
  s.tied_scores.clear();
  for (size_t e = 0; e < m; ++e) {
    if (s.tie_flags[e]) s.tied_scores.push_back(score_part(ascending[e]));
  }
  // The histogram prefix up to t counts every entry ranked at or above
  // entries[t], including the t+1 same-identity ones.
  int64_t at_or_above = 0;
  for (size_t t = 0; t < m; ++t) {
    at_or_above += histogram[t];
    entries[t].others_before = at_or_above - static_cast<int64_t>(t + 1);
  }
}

/// Forgets the tied scores held only by entries that are junk in every protocol (those of the
/// query's camera: no protocol keeps an entry the general one drops), removed from the
/// ranking, so where numpy puts them moves no metric.
void drop_junk_ties(const TestLabels& labels, int64_t query, RowScratch& s) {
  const auto camera = labels.query.camids[query];
  const auto clothes = labels.query.clothes_ids[query];
  auto counts = [&](uint32_t score) {
    return std::any_of(s.entries.begin(), s.entries.end(), [&](const SameIdentityEntry& e) {
      return score_part(e.key) == score && is_good(kGeneral, labels.gallery.camids[e.index] == camera,
                                                   labels.gallery.clothes_ids[e.index] == clothes);
    });
  };
  s.tied_scores.erase(std::remove_if(s.tied_scores.begin(), s.tied_scores.end(),
                                     [&](uint32_t score) { return !counts(score); }),
                      s.tied_scores.end());
}

/// Upstream ranks with np.argsort(-row): where a same-identity entry ties with
/// another score, take numpy's order for exactly those tied scores.
void fix_ties_like_numpy(const float* row, int64_t cols, RowScratch& s) {
  std::sort(s.tied_scores.begin(), s.tied_scores.end());
  s.tied_scores.erase(std::unique(s.tied_scores.begin(), s.tied_scores.end()), s.tied_scores.end());
  auto tied = [&](const SameIdentityEntry& e) {
    return std::binary_search(s.tied_scores.begin(), s.tied_scores.end(), score_part(e.key));
  };
  s.tied_indices.clear();
  s.tied_entries.clear();
  for (size_t e = 0; e < s.entries.size(); ++e) {
    if (!tied(s.entries[e])) continue;
    s.tied_indices.push_back(s.entries[e].index);
    s.tied_entries.push_back(e);
  }
  numpy::argsort_positions(row, cols, /*negated=*/true, s.tied_indices, s.tied_positions);
  s.numpy_position.assign(s.entries.size(), -1);
  for (size_t k = 0; k < s.tied_entries.size(); ++k)
    s.numpy_position[s.tied_entries[k]] = s.tied_positions[k];
  // before(a, b): a ranks above b -- by score, and by numpy's position in a tie.
  auto before = [&](size_t a, size_t b) {
    const auto sa = score_part(s.entries[a].key), sb = score_part(s.entries[b].key);
    if (sa != sb) return sa > sb;
    return s.numpy_position[a] < s.numpy_position[b];
  };
  for (size_t e = 0; e < s.entries.size(); ++e) {
    if (s.numpy_position[e] < 0) continue;
    int64_t same_before = 0;
    for (size_t f = 0; f < s.entries.size(); ++f) same_before += f != e && before(f, e);
    s.entries[e].others_before = s.numpy_position[e] - same_before;
  }
  std::vector<size_t> ranked(s.entries.size());
  std::iota(ranked.begin(), ranked.end(), size_t{0});
  std::sort(ranked.begin(), ranked.end(), before);
  std::vector<SameIdentityEntry> reordered;
  for (auto e : ranked) reordered.push_back(s.entries[e]);
  s.entries = std::move(reordered);
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

RankingMetrics summarise(const std::vector<QueryOutcomes>& outcomes, int protocol, int64_t cols,
                         const std::vector<int64_t>* rows) {
  RankingMetrics m;
  std::array<double, kRanks.size()> hits{};
  double ap_sum = 0;  // summed in query order, like upstream
  const auto count = rows ? rows->size() : outcomes.size();
  for (size_t k = 0; k < count; ++k) {
    const auto& o = outcomes[rows ? static_cast<size_t>((*rows)[k]) : k][static_cast<size_t>(protocol)];
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

/// Every query's outcome in the three protocols, filling `tail` on the way when given.
std::vector<QueryOutcomes> scan_queries(const ScoreMatrix& scores, const TestLabels& labels, int num_threads,
                                        ScoreTail* tail) {
  std::unordered_map<int64_t, std::vector<int64_t>> gallery_by_pid;
  for (size_t j = 0; j < labels.gallery.pids.size(); ++j) {
    gallery_by_pid[labels.gallery.pids[j]].push_back(static_cast<int64_t>(j));
  }
  std::vector<QueryOutcomes> outcomes;
  resize_prefaulted(outcomes, static_cast<size_t>(scores.rows));
  const int workers = num_threads > 0 ? num_threads : default_num_threads();
  const uint32_t tail_key = tail ? tail->key : 0xffffffffu;
  // Each worker's tail is reserved once for its share of the rows (it grows past that only
  // when the sampled estimate was low); no more genuine pairs than there are.
  int64_t genuine_pairs = 0;
  for (auto pid : labels.query.pids) {
    const auto found = gallery_by_pid.find(pid);
    if (found != gallery_by_pid.end()) genuine_pairs += static_cast<int64_t>(found->second.size());
  }
  const auto tail_reserve = static_cast<size_t>(
      (tail ? tail->share : 0.0) * 1.1 * static_cast<double>(scores.size()) / workers + 1024);
  const auto genuine_reserve =
      std::min(tail_reserve, static_cast<size_t>(1.1 * static_cast<double>(genuine_pairs) / workers + 1024));
  const int64_t* identity_of_column = labels.gallery.pids.data();
  // What a worker keeps across its chunks of rows (parallel_for hands out several).
  struct Worker {
    RowScratch scratch;
    KeptKeys impostors, genuines;
    int64_t nan = 0;
    bool used = false;
  };
  std::vector<Worker> state(static_cast<size_t>(workers));
  parallel_for(
      scores.rows,
      [&](int64_t begin, int64_t end, int worker) {
        auto& w = state[static_cast<size_t>(worker)];
        if (tail && !w.used) {
          w.impostors.start(tail_reserve);
          w.genuines.start(genuine_reserve);
        }
        w.used = true;
        auto& scratch = w.scratch;
        for (int64_t i = begin; i < end; ++i) {
          const float* row = scores.row(i);
          const int64_t pid = labels.query.pids[i];
          const auto found = gallery_by_pid.find(pid);
          if (found == gallery_by_pid.end()) {  // no ground truth: only keep its tail
            if (tail) {
              resize_prefaulted(scratch.keys, static_cast<size_t>(scores.cols));
              score_keys(row, scores.cols, scratch.keys.data());
              w.nan += keep_tail(scratch.keys.data(), scores.cols, identity_of_column, pid, tail_key,
                                 scratch.selected, w.impostors, w.genuines);
            }
            continue;
          }
          scratch.entries.clear();
          for (auto j : found->second) scratch.entries.push_back({rank_key(row[j], j), j});
          count_others_before(row, scores.cols, identity_of_column, pid, scratch);
          if (tail)
            w.nan += keep_tail(scratch.keys.data(), scores.cols, identity_of_column, pid, tail_key,
                               scratch.selected, w.impostors, w.genuines);
          drop_junk_ties(labels, i, scratch);
          if (!scratch.tied_scores.empty()) fix_ties_like_numpy(row, scores.cols, scratch);
          for (int p = 0; p < kProtocols; ++p) {
            outcomes[i][static_cast<size_t>(p)] = score_protocol(p, scratch.entries, labels, i);
          }
        }
      },
      workers);
  if (tail) {
    tail->scanned = scores.size();
    tail->nan = 0;
    tail->impostors.clear();
    tail->genuines.clear();
    for (auto& w : state) {
      if (!w.used) continue;  // a worker that got no rows
      tail->nan += w.nan;
      w.impostors.move_to(tail->impostors);
      w.genuines.move_to(tail->genuines);
    }
  }
  return outcomes;
}

}  // namespace

RetrievalMetrics summarise_retrieval(const std::vector<QueryOutcomes>& outcomes, int64_t gallery_size,
                                     const std::vector<int64_t>* rows) {
  RetrievalMetrics metrics;
  metrics.general = summarise(outcomes, kGeneral, gallery_size, rows);
  metrics.same_clothes = summarise(outcomes, kSameClothes, gallery_size, rows);
  metrics.clothes_changing = summarise(outcomes, kClothesChanging, gallery_size, rows);
  if (metrics.general.num_valid_queries == 0) {
    // Upstream divides by zero here; every general-protocol value is undefined.
    const double nan = std::numeric_limits<double>::quiet_NaN();
    metrics.general = {nan, nan, nan, nan, nan, 0};
  }
  return metrics;
}

RetrievalMetrics evaluate_retrieval(const ScoreMatrix& scores, const TestLabels& labels, int num_threads,
                                    ScoreTail* tail) {
  return summarise_retrieval(scan_queries(scores, labels, num_threads, tail), scores.cols);
}

std::vector<QueryOutcomes> query_outcomes(const ScoreMatrix& scores, const TestLabels& labels,
                                          int num_threads) {
  return scan_queries(scores, labels, num_threads, nullptr);
}

std::vector<int64_t> general_first_good_positions(const ScoreMatrix& scores, const TestLabels& labels,
                                                  int num_threads) {
  const auto outcomes = scan_queries(scores, labels, num_threads, nullptr);
  std::vector<int64_t> positions;
  positions.reserve(outcomes.size());
  for (const auto& q : outcomes) positions.push_back(q[0].valid ? q[0].first_good_position : -1);
  return positions;
}

}  // namespace qme::eval

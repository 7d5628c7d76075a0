#include "qme/eval/verification.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <optional>
#include <unordered_map>

#include "qme/core/error.hpp"
#include "qme/core/nan.hpp"
#include "qme/core/parallel.hpp"
#include "qme/core/prefault.hpp"
#include "qme/eval/ranking.hpp"
#include "qme/eval/score_histogram.hpp"

namespace qme::eval {

namespace {

constexpr int kBinBits = ScoreKeyHistogram::kBinBits;
constexpr int kBins = ScoreKeyHistogram::kBins;
constexpr int64_t kInitialExtension = 1024;  // scores gathered below a target's bin

void check_inputs(const ScoreMatrix& scores, const std::vector<int64_t>& query_pids,
                  const std::vector<int64_t>& gallery_pids, const std::vector<double>& fars) {
  if (static_cast<int64_t>(query_pids.size()) != scores.rows ||
      static_cast<int64_t>(gallery_pids.size()) != scores.cols) {
    throw Error("tar_at_far: pids do not match the score matrix shape");
  }
  for (double f : fars) {
    if (!(f > 0.0 && f <= 1.0)) throw Error("tar_at_far: FAR targets must lie in (0, 1]");
  }
}

/// Flattened scores and labels with NaN replaced as upstream does.
void flatten_pairs(const ScoreMatrix& scores, const std::vector<int64_t>& query_pids,
                   const std::vector<int64_t>& gallery_pids, std::vector<float>& flat,
                   std::vector<uint8_t>& is_match) {
  flat = scores.values;
  is_match.resize(flat.size());
  float lowest = std::numeric_limits<float>::infinity();
  bool any_number = false;
  for (float s : flat) {
    if (!std::isnan(s)) {
      lowest = std::min(lowest, s);
      any_number = true;
    }
  }
  const float replacement = any_number ? lowest : 0.0f;
  for (int64_t i = 0; i < scores.rows; ++i) {
    for (int64_t j = 0; j < scores.cols; ++j) {
      const auto k = static_cast<size_t>(i * scores.cols + j);
      if (std::isnan(flat[k])) flat[k] = replacement;
      is_match[k] = query_pids[i] == gallery_pids[j];
    }
  }
}

VerificationPoint point_at(const RocCurve& roc, double far) {
  for (size_t i = 0; i < roc.fpr.size(); ++i) {
    if (roc.fpr[i] >= far) return {far, roc.tpr[i], roc.thresholds[i]};
  }
  return {far, kNaN, kNaN};  // no non-match pair: FPR undefined
}

// ---- fast path -------------------------------------------------------------

/// Match / non-match counts of score keys by bin. Index i >= 1 counts the keys in
/// [base + (i - 1) << shift, base + i << shift), index 0 every key below `base`. The whole
/// matrix's histogram has ScoreKeyHistogram's 16-bit bins (base 1 << 16: index i is bin i and
/// index 0 bin 0, NaN only); a tail's starts at the tail and is as fine as its size allows.
struct ScoreHistogram {
  uint32_t base = 1u << kBinBits;
  int shift = kBinBits;
  std::vector<int64_t> negatives, positives;

  int size() const { return static_cast<int>(negatives.size()); }
  int64_t total(int index) const { return negatives[index] + positives[index]; }
  int index_of(uint32_t key) const { return key < base ? 0 : static_cast<int>((key - base) >> shift) + 1; }
};

/// Gallery indices of each query's identity: the only pairs that match.
std::vector<std::vector<int64_t>> matching_columns(const std::vector<int64_t>& qp,
                                                   const std::vector<int64_t>& gp) {
  std::unordered_map<int64_t, std::vector<int64_t>> by_pid;
  for (size_t j = 0; j < gp.size(); ++j) by_pid[gp[j]].push_back(static_cast<int64_t>(j));
  std::vector<std::vector<int64_t>> out(qp.size());
  for (size_t i = 0; i < qp.size(); ++i) {
    const auto found = by_pid.find(qp[i]);
    if (found != by_pid.end()) out[i] = found->second;
  }
  return out;
}

/// Match / non-match counts per bin: all scores first count as non-matches,
/// then the few matching pairs are moved over (no label test in the hot loop).
/// NaN keys are 0 and only NaN lands in bin 0.
ScoreHistogram split_histogram(const ScoreMatrix& scores, const ScoreKeyHistogram& all,
                               const std::vector<std::vector<int64_t>>& matches) {
  ScoreHistogram h;
  h.negatives = all.counts();
  h.positives.assign(h.negatives.size(), 0);
  for (int64_t i = 0; i < scores.rows; ++i) {
    const float* row = scores.row(i);
    for (auto j : matches[static_cast<size_t>(i)]) {
      const uint32_t bin = ScoreKeyHistogram::bin(score_key(row[j]));
      --h.negatives[bin];
      ++h.positives[bin];
    }
  }
  return h;
}

/// One distinct score of the ROC curve with its cumulative counts.
struct CurvePoint {
  uint32_t key;
  int64_t fps, tps;
};

/// The scores of bins [lo, hi] sorted into curve points, plus what lies around.
struct Window {
  int target_bin = 0;  // histogram indices (ScoreHistogram)
  int lo = 0, hi = 0;
  int64_t extension = kInitialExtension;
  int64_t above_negatives = 0, above_positives = 0, below = 0;
  std::vector<std::pair<uint32_t, bool>> items;  // (score key, is match)
  std::vector<CurvePoint> points;
};

void place_window(Window& w, const ScoreHistogram& h) {
  w.hi = w.target_bin;
  for (int b = w.target_bin + 1; b < h.size(); ++b) {
    if (h.total(b) > 0) {  // the previous curve point lives in the next non-empty bin up
      w.hi = b;
      break;
    }
  }
  w.lo = w.target_bin;
  for (int64_t gathered = 0; w.lo > 0 && gathered < w.extension;) gathered += h.total(--w.lo);
  w.above_negatives = w.above_positives = w.below = 0;
  for (int b = w.hi + 1; b < h.size(); ++b) {
    w.above_negatives += h.negatives[b];
    w.above_positives += h.positives[b];
  }
  for (int b = 0; b < w.lo; ++b) w.below += h.total(b);
}

/// Gathers (key, is match) of the scores in each window's bins. NaN scores
/// (key 0) are gathered with the bin that holds the lowest number; build_points
/// gives them that number's key.
void collect_windows(const ScoreMatrix& scores, const std::vector<int64_t>& qp,
                     const std::vector<int64_t>& gp, uint32_t nan_bin, std::vector<Window*>& windows,
                     int num_threads) {
  const int workers = num_threads > 0 ? num_threads : default_num_threads();
  std::vector<std::vector<std::vector<std::pair<uint32_t, bool>>>> partial(
      static_cast<size_t>(workers), std::vector<std::vector<std::pair<uint32_t, bool>>>(windows.size()));
  // bin -> bit mask of the windows that want it: one table load per score,
  // after one compare that rejects the ~99% of scores below every window.
  std::vector<uint8_t> wanted(kBins, 0);
  int lowest_bin = kBins;
  for (size_t k = 0; k < windows.size(); ++k) {
    lowest_bin = std::min(lowest_bin, windows[k]->lo);
    for (int b = windows[k]->lo; b <= windows[k]->hi; ++b) wanted[b] |= static_cast<uint8_t>(1u << k);
  }
  const uint32_t lowest_key = static_cast<uint32_t>(lowest_bin) << kBinBits;
  // NaN (key 0) is gathered with the lowest number's bin when that is wanted
  const uint32_t nan_stand_in = wanted[nan_bin] ? (nan_bin << kBinBits) : 0;
  parallel_for(
      scores.rows,
      [&](int64_t begin, int64_t end, int worker) {
        auto& out = partial[static_cast<size_t>(worker)];
        const int64_t cols = scores.cols;
        const uint32_t low = lowest_key, stand_in = nan_stand_in;
        const uint8_t* want = wanted.data();
        std::vector<uint32_t> key_buffer(static_cast<size_t>(cols));
        std::vector<int64_t> candidate_buffer(static_cast<size_t>(cols));
        uint32_t* keys = key_buffer.data();
        int64_t* candidates = candidate_buffer.data();
        for (int64_t i = begin; i < end; ++i) {
          score_keys(scores.row(i), cols, keys);
          // Branch-free compaction of the few scores at or above the lowest window.
          int64_t n = 0;
          for (int64_t j = 0; j < cols; ++j) {
            const uint32_t placed = keys[j] == 0 ? stand_in : keys[j];
            candidates[n] = j;
            n += placed >= low;
          }
          for (int64_t c = 0; c < n; ++c) {
            const int64_t j = candidates[c];
            const uint32_t placed = keys[j] == 0 ? stand_in : keys[j];
            const uint8_t mask = want[placed >> kBinBits];
            for (size_t k = 0; k < windows.size(); ++k) {
              if (mask & (1u << k)) out[k].emplace_back(keys[j], qp[i] == gp[j]);
            }
          }
        }
      },
      workers);
  for (size_t k = 0; k < windows.size(); ++k) {
    auto& items = windows[k]->items;
    items.clear();
    for (auto& p : partial) items.insert(items.end(), p[k].begin(), p[k].end());
  }
}

/// Fills the windows from a tail; false when one reaches below it (index 0).
bool windows_from_tail(const ScoreTail& tail, const ScoreHistogram& h, std::vector<Window*>& windows) {
  for (auto* w : windows) {
    if (w->lo == 0) return false;
    w->items.clear();
  }
  tail.for_each([&](uint32_t key, bool genuine) {
    const int index = h.index_of(key);
    for (auto* w : windows) {
      if (index >= w->lo && index <= w->hi) w->items.emplace_back(key, genuine);
    }
  });
  return true;
}

/// NaN items (key 0) take `nan_key`, or, when it is 0, the lowest key of
/// the window: the window holds the lowest number's whole bin.
void replace_nan_keys(Window& w, uint32_t nan_key) {
  uint32_t lowest = nan_key;
  if (lowest == 0) {
    lowest = std::numeric_limits<uint32_t>::max();
    for (const auto& item : w.items) {
      if (item.first != 0) lowest = std::min(lowest, item.first);
    }
  }
  for (auto& item : w.items) {
    if (item.first == 0) item.first = lowest;
  }
}

void build_points(Window& w) {
  std::sort(w.items.begin(), w.items.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  w.points.clear();
  int64_t fps = w.above_negatives, tps = w.above_positives;
  for (size_t i = 0; i < w.items.size(); ++i) {
    (w.items[i].second ? tps : fps)++;
    if (i + 1 == w.items.size() || w.items[i + 1].first != w.items[i].first) {
      w.points.push_back({w.items[i].first, fps, tps});
    }
  }
}

/// drop_intermediate keeps the ends and every point where either count's
/// second difference is non-zero. Returns -1 when the window is too short.
int64_t first_kept_point(const Window& w, int64_t needed) {
  const auto& p = w.points;
  const auto n = static_cast<int64_t>(p.size());
  int64_t j = 0;
  while (j < n && p[static_cast<size_t>(j)].fps < needed) ++j;
  for (; j < n; ++j) {
    const bool first = j == 0;  // only reachable when nothing lies above
    const bool last = j == n - 1;
    if (first) return j;
    if (last) return w.below == 0 ? j : -1;
    const auto& a = p[static_cast<size_t>(j - 1)];
    const auto& b = p[static_cast<size_t>(j)];
    const auto& c = p[static_cast<size_t>(j + 1)];
    if (roc_point_kept(a.fps, b.fps, c.fps, a.tps, b.tps, c.tps)) return j;
  }
  return -1;
}

}  // namespace

int64_t needed_false_accepts(double far, int64_t negatives) {
  const auto n = static_cast<double>(negatives);
  auto c = std::max<int64_t>(0, static_cast<int64_t>(std::ceil(far * n)) - 1);
  while (static_cast<double>(c) / n < far) ++c;
  return c;
}

RocCurve roc_curve(const std::vector<float>& scores, const std::vector<uint8_t>& is_match,
                   bool drop_intermediate) {
  if (scores.size() != is_match.size()) throw Error("roc_curve: scores and labels differ in length");
  RocCurve roc;
  if (scores.empty()) return roc;
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  std::vector<double> fps, tps, thresholds;
  double tp = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    tp += is_match[order[i]] ? 1 : 0;
    if (i + 1 == order.size() || scores[order[i + 1]] != scores[order[i]]) {
      tps.push_back(tp);
      fps.push_back(static_cast<double>(i + 1) - tp);
      thresholds.push_back(scores[order[i]]);
    }
  }
  std::vector<size_t> keep;
  for (size_t i = 0; i < fps.size(); ++i) {
    const bool end = i == 0 || i + 1 == fps.size();
    if (!drop_intermediate || fps.size() <= 2 || end || fps[i + 1] - 2 * fps[i] + fps[i - 1] != 0 ||
        tps[i + 1] - 2 * tps[i] + tps[i - 1] != 0) {
      keep.push_back(i);
    }
  }
  const double total_fp = fps.back(), total_tp = tps.back();
  roc.fpr.push_back(0.0 / total_fp);
  roc.tpr.push_back(0.0 / total_tp);
  roc.thresholds.push_back(thresholds[keep.front()] + 1.0);  // sklearn 1.2: max + 1
  for (auto i : keep) {
    roc.fpr.push_back(fps[i] / total_fp);
    roc.tpr.push_back(tps[i] / total_tp);
    roc.thresholds.push_back(thresholds[i]);
  }
  return roc;
}

std::vector<VerificationPoint> tar_at_far_exhaustive(const ScoreMatrix& scores,
                                                     const std::vector<int64_t>& query_pids,
                                                     const std::vector<int64_t>& gallery_pids,
                                                     const std::vector<double>& fars) {
  check_inputs(scores, query_pids, gallery_pids, fars);
  std::vector<float> flat;
  std::vector<uint8_t> is_match;
  flatten_pairs(scores, query_pids, gallery_pids, flat, is_match);
  const auto roc = roc_curve(flat, is_match);
  std::vector<VerificationPoint> out;
  for (double far : fars)
    out.push_back(roc.fpr.empty() ? VerificationPoint{far, kNaN, kNaN} : point_at(roc, far));
  return out;
}

namespace {

/// Gathers the items of the pending windows (each window's scores, as (key, is match));
/// false when it cannot.
using GatherWindows = std::function<bool(std::vector<Window*>&)>;

/// The first kept ROC point at or past each FAR, from windows of `h` around the bin where the
/// FAR's false accepts are reached (widened while a run of dropped points reaches past them);
/// nullopt when `gather` cannot fill a window.
std::optional<std::vector<VerificationPoint>> points_from_windows(const ScoreHistogram& h,
                                                                  const std::vector<double>& fars,
                                                                  int64_t negatives, int64_t positives,
                                                                  uint32_t nan_key,
                                                                  const GatherWindows& gather) {
  std::vector<Window> windows(fars.size());
  std::vector<int64_t> needed(fars.size());
  for (size_t k = 0; k < fars.size(); ++k) {
    needed[k] = needed_false_accepts(fars[k], negatives);
    int64_t cumulative = 0;
    int index = h.size() - 1;
    for (; index > 0; --index) {
      cumulative += h.negatives[index];
      if (cumulative >= needed[k]) break;
    }
    windows[k].target_bin = index;
    place_window(windows[k], h);
  }
  std::vector<VerificationPoint> out(fars.size());
  std::vector<Window*> pending;
  for (auto& w : windows) pending.push_back(&w);
  while (!pending.empty()) {
    if (!gather(pending)) return std::nullopt;
    std::vector<Window*> retry;
    for (auto* w : pending) {
      replace_nan_keys(*w, nan_key);
      build_points(*w);
      const auto k = static_cast<size_t>(w - windows.data());
      const int64_t j = first_kept_point(*w, needed[k]);
      if (j < 0) {  // a run of dropped points reaches past the window: widen it
        w->extension *= 8;
        place_window(*w, h);
        retry.push_back(w);
        continue;
      }
      const auto& p = w->points[static_cast<size_t>(j)];
      out[k] = {fars[k], static_cast<double>(p.tps) / static_cast<double>(positives),
                static_cast<double>(key_score(p.key))};
    }
    pending = std::move(retry);
  }
  return out;
}

/// Pairs of one identity: the sum over queries of the gallery entries sharing its pid.
int64_t matching_pairs(const std::vector<int64_t>& query_pids, const std::vector<int64_t>& gallery_pids) {
  std::unordered_map<int64_t, int64_t> entries_of;
  for (auto pid : gallery_pids) ++entries_of[pid];
  int64_t pairs = 0;
  for (auto pid : query_pids) {
    const auto found = entries_of.find(pid);
    if (found != entries_of.end()) pairs += found->second;
  }
  return pairs;
}

/// The histogram of a tail of `kept` scores, every score below it in index 0. About 8 scores
/// per bin: a window then sorts little more than the scores it must reach past.
ScoreHistogram tail_histogram(const ScoreTail& tail, int64_t kept, int64_t negatives, int64_t positives) {
  ScoreHistogram h;
  h.base = tail.key;
  uint32_t top = h.base;
  tail.for_each([&](uint32_t key, bool) { top = std::max(top, key); });
  const int64_t max_bins = std::clamp<int64_t>(kept / 8, 1024, 1 << 16);
  h.shift = 0;
  while (((top - h.base) >> h.shift) >= static_cast<uint64_t>(max_bins)) ++h.shift;
  assign_prefaulted(h.negatives, static_cast<size_t>((top - h.base) >> h.shift) + 2, int64_t{0});
  assign_prefaulted(h.positives, h.negatives.size(), int64_t{0});
  tail.for_each([&](uint32_t key, bool genuine) {
    ++(genuine ? h.positives : h.negatives)[static_cast<size_t>(h.index_of(key))];
  });
  h.negatives[0] = negatives - std::accumulate(h.negatives.begin() + 1, h.negatives.end(), int64_t{0});
  h.positives[0] = positives - std::accumulate(h.positives.begin() + 1, h.positives.end(), int64_t{0});
  return h;
}

}  // namespace

std::optional<std::vector<VerificationPoint>> tar_at_far_from_tail(const std::vector<int64_t>& query_pids,
                                                                   const std::vector<int64_t>& gallery_pids,
                                                                   const std::vector<double>& fars,
                                                                   const ScoreTail& tail) {
  const auto pairs = static_cast<int64_t>(query_pids.size() * gallery_pids.size());
  // The tail must hold every pair's score at or above its key; NaN counts as the lowest number,
  // which must then lie below the tail (some number does), so that NaN never enters a window.
  if (tail.scanned != pairs || tail.key == 0) return std::nullopt;
  const int64_t kept = tail.kept();
  if (kept == 0 || pairs - kept - tail.nan <= 0) return std::nullopt;
  const int64_t positives = matching_pairs(query_pids, gallery_pids);
  const int64_t negatives = pairs - positives;
  if (negatives == 0) return std::nullopt;
  const auto h = tail_histogram(tail, kept, negatives, positives);
  int non_empty = 0;
  for (int i = 0; i < h.size(); ++i) non_empty += h.total(i) > 0;
  if (non_empty < 3) return std::nullopt;
  return points_from_windows(h, fars, negatives, positives, 0, [&](std::vector<Window*>& pending) {
    return windows_from_tail(tail, h, pending);
  });
}

std::vector<VerificationPoint> tar_at_far(const ScoreMatrix& scores, const std::vector<int64_t>& query_pids,
                                          const std::vector<int64_t>& gallery_pids,
                                          const std::vector<double>& fars, int num_threads,
                                          const ScoreTail* tail) {
  check_inputs(scores, query_pids, gallery_pids, fars);
  if (tail) {
    if (auto points = tar_at_far_from_tail(query_pids, gallery_pids, fars, *tail)) return std::move(*points);
  }
  auto h = split_histogram(scores, ScoreKeyHistogram::of(scores, num_threads),
                           matching_columns(query_pids, gallery_pids));
  // NaN scores (bin 0) count as the lowest number (its exact key is found
  // among the window items later); all NaN: as 0.
  int nan_bin = 1;
  while (nan_bin < kBins && h.total(nan_bin) == 0) ++nan_bin;
  const uint32_t nan_key = nan_bin == kBins ? score_key(0.0f) : 0;
  if (nan_bin == kBins) nan_bin = static_cast<int>(nan_key >> kBinBits);
  h.negatives[nan_bin] += h.negatives[0];
  h.positives[nan_bin] += h.positives[0];
  h.negatives[0] = h.positives[0] = 0;
  const int64_t negatives = std::accumulate(h.negatives.begin(), h.negatives.end(), int64_t{0});
  const int64_t positives = std::accumulate(h.positives.begin(), h.positives.end(), int64_t{0});
  if (negatives == 0) {
    std::vector<VerificationPoint> out;
    for (double far : fars) out.push_back({far, kNaN, kNaN});
    return out;
  }
  int non_empty = 0;
  for (int b = 0; b < kBins; ++b) non_empty += h.total(b) > 0;
  if (non_empty < 3) return tar_at_far_exhaustive(scores, query_pids, gallery_pids, fars);
  // One more pass over the matrix per 8 windows (the bin table holds 8 windows per byte).
  auto gather = [&](std::vector<Window*>& pending) {
    for (size_t start = 0; start < pending.size(); start += 8) {
      std::vector<Window*> group(
          pending.begin() + static_cast<std::ptrdiff_t>(start),
          pending.begin() + static_cast<std::ptrdiff_t>(std::min(start + 8, pending.size())));
      collect_windows(scores, query_pids, gallery_pids, static_cast<uint32_t>(nan_bin), group, num_threads);
    }
    return true;
  };
  return *points_from_windows(h, fars, negatives, positives, nan_key, gather);
}

}  // namespace qme::eval

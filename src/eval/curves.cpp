#include "qme/eval/curves.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <optional>
#include <sstream>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "qme/core/error.hpp"
#include "qme/core/nan.hpp"
#include "qme/core/parallel.hpp"
#include "qme/eval/ranking.hpp"
#include "qme/eval/retrieval.hpp"
#include "qme/eval/score_histogram.hpp"
#include "qme/io/csv.hpp"
#include "qme/models/model_spec.hpp"

namespace qme::eval {

namespace {

/// Gallery columns of each query's identity: the genuine pairs.
std::vector<std::vector<int64_t>> genuine_columns(const std::vector<int64_t>& query_pids,
                                                  const std::vector<int64_t>& gallery_pids) {
  std::unordered_map<int64_t, std::vector<int64_t>> by_pid;
  for (size_t j = 0; j < gallery_pids.size(); ++j) by_pid[gallery_pids[j]].push_back(static_cast<int64_t>(j));
  std::vector<std::vector<int64_t>> out(query_pids.size());
  for (size_t i = 0; i < query_pids.size(); ++i) {
    const auto found = by_pid.find(query_pids[i]);
    if (found != by_pid.end()) out[i] = found->second;
  }
  return out;
}

void check_pids(const ScoreMatrix& scores, const std::vector<int64_t>& query_pids,
                const std::vector<int64_t>& gallery_pids, const char* what) {
  if (static_cast<int64_t>(query_pids.size()) != scores.rows ||
      static_cast<int64_t>(gallery_pids.size()) != scores.cols) {
    throw Error(std::string(what) + ": pids do not match the score matrix shape");
  }
}

// ---- ROC -------------------------------------------------------------------

/// Ascending LSD radix sort of 32-bit keys, three passes of 11 bits.
void radix_sort(std::vector<uint32_t>& keys) {
  std::vector<uint32_t> buffer(keys.size());
  constexpr int kBits = 11;
  constexpr uint32_t kMask = (1u << kBits) - 1;
  for (int shift = 0; shift < 32; shift += kBits) {
    std::vector<size_t> start((size_t{1} << kBits) + 1, 0);
    for (uint32_t k : keys) ++start[((k >> shift) & kMask) + 1];
    for (size_t b = 1; b < start.size(); ++b) start[b] += start[b - 1];
    for (uint32_t k : keys) buffer[start[(k >> shift) & kMask]++] = k;
    keys.swap(buffer);
  }
}

/// Score keys of the pairs, in three sorted (ascending) lists: genuine pairs; impostor pairs at
/// or above `tail_key` (every one: the low-FAR end of the curve); and every `stride`-th impostor
/// pair below it (the bulk, by flat index), with the number of all of them. NaN (key 0) counts
/// as the lowest number's key.
struct PairKeys {
  std::vector<uint32_t> genuine, tail, bulk;
  int64_t bulk_count = 0;
};

void append(PairKeys& to, const PairKeys& from) {
  to.genuine.insert(to.genuine.end(), from.genuine.begin(), from.genuine.end());
  to.tail.insert(to.tail.end(), from.tail.begin(), from.tail.end());
  to.bulk.insert(to.bulk.end(), from.bulk.begin(), from.bulk.end());
  to.bulk_count += from.bulk_count;
}

/// Sorts ascending; NaN keys (0, sorted first) become `lowest`, the lowest number's key.
void sort_keys(std::vector<uint32_t>& keys, uint32_t lowest) {
  radix_sort(keys);
  for (auto& k : keys) {
    if (k != 0) break;
    k = lowest;
  }
}

PairKeys gather_keys(const ScoreMatrix& scores, const std::vector<std::vector<int64_t>>& genuine_cols,
                     uint32_t tail_key, int64_t stride, int num_threads) {
  const int64_t cols = scores.cols;
  const int workers = num_threads > 0 ? num_threads : default_num_threads();
  std::vector<PairKeys> partial(static_cast<size_t>(workers));
  std::vector<uint32_t> lowest(static_cast<size_t>(workers), 0xffffffffu);
  parallel_for(
      scores.rows,
      [&](int64_t begin, int64_t end, int worker) {
        auto& out = partial[static_cast<size_t>(worker)];
        std::vector<uint8_t> is_genuine(static_cast<size_t>(cols), 0);
        std::vector<uint32_t> keys(static_cast<size_t>(cols));
        uint32_t low = lowest[static_cast<size_t>(worker)];
        for (int64_t i = begin; i < end; ++i) {
          const auto& g = genuine_cols[static_cast<size_t>(i)];
          for (auto j : g) is_genuine[static_cast<size_t>(j)] = 1;
          score_keys(scores.row(i), cols, keys.data());
          int64_t phase = (i * cols) % stride;  // flat index modulo stride
          for (int64_t j = 0; j < cols; ++j) {
            const uint32_t key = keys[static_cast<size_t>(j)];
            if (key != 0) low = std::min(low, key);
            if (is_genuine[static_cast<size_t>(j)]) {
              out.genuine.push_back(key);
            } else if (key >= tail_key) {
              out.tail.push_back(key);
            } else {
              ++out.bulk_count;
              if (phase == 0) out.bulk.push_back(key);
            }
            if (++phase == stride) phase = 0;
          }
          for (auto j : g) is_genuine[static_cast<size_t>(j)] = 0;
        }
        lowest[static_cast<size_t>(worker)] = low;
      },
      workers);
  PairKeys out = std::move(partial[0]);
  for (size_t w = 1; w < partial.size(); ++w) append(out, partial[w]);
  uint32_t low = *std::min_element(lowest.begin(), lowest.end());
  if (low == 0xffffffffu) low = score_key(0.0f);  // every score NaN: upstream's nan_to_num gives 0
  for (auto* keys : {&out.genuine, &out.tail, &out.bulk}) sort_keys(*keys, low);
  return out;
}

/// Keeps the points of a streamed ROC that a plot needs (see RocOptions::resolution). FAR only
/// grows and TAR only grows along the curve, so "moved by a step on a log axis" is a
/// comparison with a bound set when the last point was kept: no logarithm per point.
class Thinner {
 public:
  Thinner(const RocOptions& o, RocPoints& out) : options_(o), out_(out) {
    const double r = std::max(1, o.resolution);
    far_factor_ = std::pow(10.0, -std::log10(o.min_far) / r);
    tar_step_ = 1.0 / r;
    fnmr_factor_ = std::pow(10.0, std::log10(o.min_fnmr) / r);
    pending_fars_ = o.keep_fars;
    std::sort(pending_fars_.begin(), pending_fars_.end());
  }
  void push(double far, double tar, double threshold) {
    bool keep = out_.far.empty() || options_.resolution <= 0;
    while (next_far_ < pending_fars_.size() && far >= pending_fars_[next_far_]) {
      keep = true;  // the report's TAR@FAR point
      ++next_far_;
    }
    keep = keep || far >= far_bound_ || tar >= tar_bound_ || 1.0 - tar <= fnmr_bound_;
    if (keep) {
      append(far, tar, threshold);
    } else {
      last_ = {far, tar, threshold};
      have_last_ = true;
    }
  }
  /// The final point is always kept.
  void finish() {
    if (have_last_) append(last_[0], last_[1], last_[2]);
  }

 private:
  void append(double far, double tar, double threshold) {
    out_.far.push_back(far);
    out_.tar.push_back(tar);
    out_.threshold.push_back(threshold);
    have_last_ = false;
    // Below the axes' ends every value sits on the axis end: bounds from there.
    far_bound_ = std::max(far, options_.min_far * 0.1) * far_factor_;
    tar_bound_ = tar + tar_step_;
    fnmr_bound_ = std::max(1.0 - tar, options_.min_fnmr * 0.1) * fnmr_factor_;
  }

  const RocOptions& options_;
  RocPoints& out_;
  double far_factor_, tar_step_, fnmr_factor_;
  double far_bound_ = 0, tar_bound_ = 0, fnmr_bound_ = 0;
  std::vector<double> pending_fars_;
  size_t next_far_ = 0;
  std::array<double, 3> last_{};
  bool have_last_ = false;
};

/// One distinct threshold with the cumulative counts at or above it (impostors weighted where
/// they are sampled; whole numbers where every pair is counted).
struct CountPoint {
  double fps = 0;
  int64_t tps = 0;
  uint32_t key = 0;
};

/// scikit-learn's drop_intermediate, streamed: a point is kept unless the second differences
/// of both counts around it vanish; the first and the last are always kept.
class CornerFilter {
 public:
  template <typename Emit>
  void push(const CountPoint& p, Emit&& emit) {
    if (seen_ == 0) {
      emit(p);
    } else if (seen_ >= 2) {
      const bool corner = p.fps - 2 * cur_.fps + prev_.fps != 0.0 || p.tps - 2 * cur_.tps + prev_.tps != 0;
      if (corner) emit(cur_);
    }
    prev_ = cur_;
    cur_ = p;
    ++seen_;
  }
  template <typename Emit>
  void finish(Emit&& emit) {
    if (seen_ >= 2) emit(cur_);
  }

 private:
  CountPoint prev_, cur_;
  int64_t seen_ = 0;
};

/// Where exactness must hold: the report's FARs with room for the corner points around them.
double exact_far_needed(const RocOptions& options) {
  double far = options.min_far;
  for (double f : options.keep_fars) far = std::max(far, f);
  return std::min(1.0, 1.5 * far);
}

/// The ROC from sorted keys: one point per distinct score (corner points only), thinned.
void walk(const PairKeys& keys, double bulk_weight, const RocOptions& options, RocPoints& roc) {
  const double total_fp = static_cast<double>(roc.num_impostor),
               total_tp = static_cast<double>(roc.num_genuine);
  Thinner thin(options, roc);
  uint32_t top = 0;
  for (const auto* k : {&keys.genuine, &keys.tail, &keys.bulk})
    top = std::max(top, k->empty() ? 0u : k->back());
  thin.push(0.0, 0.0, static_cast<double>(key_score(top)) + 1.0);  // sklearn 1.2: max + 1
  auto emit = [&](const CountPoint& p) {
    thin.push(std::min(1.0, p.fps / total_fp), static_cast<double>(p.tps) / total_tp, key_score(p.key));
  };
  CornerFilter corners;
  // All tail keys lie above all bulk keys: walk genuine against tail, then against bulk.
  auto g = keys.genuine.rbegin(), t = keys.tail.rbegin(), b = keys.bulk.rbegin();
  const auto g_end = keys.genuine.rend(), t_end = keys.tail.rend(), b_end = keys.bulk.rend();
  CountPoint p;
  int64_t tail_seen = 0, bulk_seen = 0;
  while (g != g_end || t != t_end || b != b_end) {
    const uint32_t impostor = t != t_end ? *t : (b != b_end ? *b : 0u);
    p.key = std::max(g != g_end ? *g : 0u, impostor);
    for (; g != g_end && *g == p.key; ++g) ++p.tps;
    for (; t != t_end && *t == p.key; ++t) ++tail_seen;
    if (t == t_end) {
      for (; b != b_end && *b == p.key; ++b) ++bulk_seen;
    }
    // (once the whole sample is seen, the whole bulk is: exactly, whatever the rounding)
    p.fps = static_cast<double>(tail_seen) + (b == b_end ? static_cast<double>(keys.bulk_count)
                                                         : bulk_weight * static_cast<double>(bulk_seen));
    corners.push(p, emit);
  }
  corners.finish(emit);
  thin.finish();
}

/// The keys with the bulk sampled (RocOptions::exact_impostors), or nothing when the matrix is
/// small enough to sort whole, or when the tail turns out too short to hold the report's FARs.
std::optional<PairKeys> sampled_keys(const ScoreMatrix& scores,
                                     const std::vector<std::vector<int64_t>>& genuine_cols, int64_t genuine,
                                     const RocOptions& options, int64_t& stride) {
  const int64_t pairs = scores.rows * scores.cols, impostors = pairs - genuine;
  const double needed = exact_far_needed(options);
  if (impostors <= std::max<int64_t>(1, options.exact_impostors) || needed >= 1.0) return std::nullopt;
  // Genuine pairs lie mostly in the tail too: the tail's share of all scores must cover both.
  const double share = needed + static_cast<double>(genuine) / static_cast<double>(pairs);
  const uint32_t tail_key = std::max(ScoreKeyHistogram::estimate_tail_key(scores, share), 1u);
  stride = std::max<int64_t>(1, impostors / std::max<int64_t>(1, options.exact_impostors));
  auto keys = gather_keys(scores, genuine_cols, tail_key, stride, options.num_threads);
  if (static_cast<double>(keys.tail.size()) < needed * static_cast<double>(impostors) + 2)
    return std::nullopt;
  return keys;
}

}  // namespace

RocPoints roc_points(const ScoreMatrix& scores, const std::vector<int64_t>& query_pids,
                     const std::vector<int64_t>& gallery_pids, const RocOptions& options) {
  check_pids(scores, query_pids, gallery_pids, "roc_points");
  const auto genuine_cols = genuine_columns(query_pids, gallery_pids);
  int64_t genuine = 0;
  for (const auto& g : genuine_cols) genuine += static_cast<int64_t>(g.size());
  RocPoints roc;
  auto sampled = sampled_keys(scores, genuine_cols, genuine, options, roc.impostor_stride);
  if (!sampled) roc.impostor_stride = 1;  // every pair counted: all of them in the "tail"
  const PairKeys keys =
      sampled ? std::move(*sampled) : gather_keys(scores, genuine_cols, 0, 1, options.num_threads);
  roc.num_genuine = static_cast<int64_t>(keys.genuine.size());
  roc.num_impostor = static_cast<int64_t>(keys.tail.size()) + keys.bulk_count;
  if (roc.num_genuine == 0 || roc.num_impostor == 0) return roc;  // rates undefined
  roc.exact_far =
      sampled ? static_cast<double>(keys.tail.size()) / static_cast<double>(roc.num_impostor) : 1.0;
  const double bulk_weight =
      keys.bulk.empty() ? 0.0 : static_cast<double>(keys.bulk_count) / static_cast<double>(keys.bulk.size());
  walk(keys, bulk_weight, options, roc);
  return roc;
}

// ---- CMC -------------------------------------------------------------------

std::vector<double> cmc_curve(const std::vector<int64_t>& first_good_positions, int64_t gallery_size,
                              int max_rank) {
  std::vector<int64_t> hits(static_cast<size_t>(std::max(0, max_rank)), 0);
  int64_t valid = 0;
  for (auto p : first_good_positions) {
    if (p < 0) continue;
    ++valid;
    if (p < max_rank) ++hits[static_cast<size_t>(p)];
  }
  std::vector<double> cmc(hits.size(), kNaN);
  int64_t cumulative = 0;
  for (size_t r = 0; r < hits.size(); ++r) {
    cumulative += hits[r];
    const bool defined = valid > 0 && static_cast<int64_t>(r) < gallery_size;
    if (defined) cmc[r] = static_cast<double>(cumulative) / static_cast<double>(valid);
  }
  return cmc;
}

// ---- densities -------------------------------------------------------------

namespace {

/// Counts, sum and sum of squares (shifted by the range start) of one set of values.
struct Tally {
  std::vector<int64_t> counts;
  double sum = 0, sum_squares = 0;
  int64_t n = 0;

  explicit Tally(int bins = 0) : counts(static_cast<size_t>(bins), 0) {}
  void add(double shifted, int bin) {
    ++counts[static_cast<size_t>(bin)];
    sum += shifted;
    sum_squares += shifted * shifted;
    ++n;
  }
  void merge(const Tally& other) {
    for (size_t b = 0; b < counts.size(); ++b) counts[b] += other.counts[b];
    sum += other.sum;
    sum_squares += other.sum_squares;
    n += other.n;
  }
  Density density(double lo, double width) const {
    Density d;
    d.count = n;
    d.density.assign(counts.size(), 0.0);
    if (n == 0) return d;
    const auto total = static_cast<double>(n);
    for (size_t b = 0; b < counts.size(); ++b)
      d.density[b] = static_cast<double>(counts[b]) / (total * width);
    const double mean = sum / total;
    d.mean = lo + mean;
    d.stddev = std::sqrt(std::max(0.0, sum_squares / total - mean * mean));
    return d;
  }
};

/// [lo, hi] widened when empty or a single value, so that bins have a width.
std::pair<double, double> usable_range(double lo, double hi) {
  if (!(lo <= hi)) return {0.0, 1.0};
  if (lo == hi) return {lo - 0.5, hi + 0.5};
  return {lo, hi};
}

int bin_of(double shifted, double width, int bins) {
  const auto b = static_cast<int>(shifted / width);
  return std::clamp(b, 0, bins - 1);
}

}  // namespace

double ScoreDensities::bin_width() const {
  return genuine.density.empty() ? 0.0 : (hi - lo) / static_cast<double>(genuine.density.size());
}

double ScoreDensities::d_prime() const {
  if (genuine.count == 0 || impostor.count == 0) return kNaN;
  const double spread = std::sqrt((genuine.stddev * genuine.stddev + impostor.stddev * impostor.stddev) / 2);
  return spread > 0 ? std::abs(genuine.mean - impostor.mean) / spread : kNaN;
}

ScoreDensities score_densities(const ScoreMatrix& scores, const std::vector<int64_t>& query_pids,
                               const std::vector<int64_t>& gallery_pids, int bins, int num_threads) {
  check_pids(scores, query_pids, gallery_pids, "score_densities");
  if (bins < 1) throw Error("score_densities: needs at least one bin");
  const int workers = num_threads > 0 ? num_threads : default_num_threads();
  std::vector<std::pair<float, float>> ranges(
      static_cast<size_t>(workers),
      {std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()});
  parallel_for(
      scores.rows,
      [&](int64_t begin, int64_t end, int worker) {
        auto& [lo, hi] = ranges[static_cast<size_t>(worker)];
        for (int64_t i = begin; i < end; ++i) {
          const float* row = scores.row(i);
          for (int64_t j = 0; j < scores.cols; ++j) {
            if (row[j] == row[j]) {  // NaN fails both comparisons anyway; skip it explicitly
              lo = std::min(lo, row[j]);
              hi = std::max(hi, row[j]);
            }
          }
        }
      },
      workers);
  double lowest = std::numeric_limits<double>::infinity(), highest = -lowest;
  for (const auto& [lo, hi] : ranges) {
    lowest = std::min<double>(lowest, lo);
    highest = std::max<double>(highest, hi);
  }
  const float nan_value = std::isfinite(lowest) ? static_cast<float>(lowest) : 0.0f;  // as TAR@FAR
  ScoreDensities out;
  std::tie(out.lo, out.hi) = usable_range(lowest, highest);
  const double width = (out.hi - out.lo) / bins;
  const auto genuine_cols = genuine_columns(query_pids, gallery_pids);
  std::vector<Tally> genuine(static_cast<size_t>(workers), Tally(bins)), impostor(genuine);
  parallel_for(
      scores.rows,
      [&](int64_t begin, int64_t end, int worker) {
        std::vector<uint8_t> is_genuine(static_cast<size_t>(scores.cols), 0);
        auto& gen = genuine[static_cast<size_t>(worker)];
        auto& imp = impostor[static_cast<size_t>(worker)];
        for (int64_t i = begin; i < end; ++i) {
          const auto& g = genuine_cols[static_cast<size_t>(i)];
          for (auto j : g) is_genuine[static_cast<size_t>(j)] = 1;
          const float* row = scores.row(i);
          for (int64_t j = 0; j < scores.cols; ++j) {
            const double shifted = static_cast<double>(row[j] == row[j] ? row[j] : nan_value) - out.lo;
            (is_genuine[static_cast<size_t>(j)] ? gen : imp).add(shifted, bin_of(shifted, width, bins));
          }
          for (auto j : g) is_genuine[static_cast<size_t>(j)] = 0;
        }
      },
      workers);
  for (int w = 1; w < workers; ++w) {
    genuine[0].merge(genuine[static_cast<size_t>(w)]);
    impostor[0].merge(impostor[static_cast<size_t>(w)]);
  }
  out.genuine = genuine[0].density(out.lo, width);
  out.impostor = impostor[0].density(out.lo, width);
  return out;
}

double QualitySplit::bin_width() const {
  return rank1_correct.density.empty() ? 0.0 : (hi - lo) / static_cast<double>(rank1_correct.density.size());
}

QualitySplit quality_split(const std::vector<float>& weights,
                           const std::vector<int64_t>& first_good_positions, int bins) {
  if (weights.size() != first_good_positions.size()) {
    throw Error("quality_split: " + std::to_string(weights.size()) + " weights for " +
                std::to_string(first_good_positions.size()) + " probes");
  }
  if (bins < 1) throw Error("quality_split: needs at least one bin");
  QualitySplit out;
  double lo = 0.0, hi = 1.0;
  for (float w : weights) {
    lo = std::min<double>(lo, w);
    hi = std::max<double>(hi, w);
  }
  std::tie(out.lo, out.hi) = usable_range(lo, hi);
  const double width = (out.hi - out.lo) / bins;
  Tally correct(bins), wrong(bins);
  for (size_t i = 0; i < weights.size(); ++i) {
    if (first_good_positions[i] < 0) continue;  // no good entry: neither right nor wrong
    const double shifted = static_cast<double>(weights[i]) - out.lo;
    (first_good_positions[i] == 0 ? correct : wrong).add(shifted, bin_of(shifted, width, bins));
  }
  out.rank1_correct = correct.density(out.lo, width);
  out.rank1_wrong = wrong.density(out.lo, width);
  return out;
}

// ---- per matrix, per table -----------------------------------------------------

MatrixCurves matrix_curves(const std::string& name, ColumnKind kind, const ScoreMatrix& scores,
                           const TestLabels& labels, const CurveOptions& options) {
  MatrixCurves out;
  out.name = name;
  out.kind = kind;
  RocOptions roc = options.roc;
  roc.num_threads = options.num_threads;
  out.roc = roc_points(scores, labels.query.pids, labels.gallery.pids, roc);
  out.first_good_positions = general_first_good_positions(scores, labels, options.num_threads);
  out.cmc = cmc_curve(out.first_good_positions, scores.cols, options.max_rank);
  out.densities = score_densities(scores, labels.query.pids, labels.gallery.pids, options.score_bins,
                                  options.num_threads);

  return out;
}

void TablesCurves::add(const std::string& column, ColumnKind kind, const ModelScores& scores,
                       const TestLabels& labels) {
  const auto start = std::chrono::steady_clock::now();
  columns_.push_back(matrix_curves(column, kind, scores.score_mat, labels, options_));
  num_probes_ = static_cast<int64_t>(labels.query.size());
  seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

ScoresObserver TablesCurves::observer() {
  return [this](const TableColumnId& column, const ModelScores& scores, const TestLabels& labels) {
    add(column.label, column.kind, scores, labels);
  };
}

const MatrixCurves* face_model_curves(const std::vector<MatrixCurves>& columns) {
  const MatrixCurves* first_model = nullptr;
  for (const auto& c : columns) {
    if (c.kind != ColumnKind::kModel) continue;
    if (models::is_face_model(c.name)) return &c;
    if (!first_model) first_model = &c;
  }
  return first_model;
}

// ---- CSV -------------------------------------------------------------------

namespace {

using io::csv_field;
using io::csv_number;

void density_rows(std::ostringstream& out, const std::string& prefix, double lo, double width,
                  const Density& a, const Density& b) {
  for (size_t k = 0; k < a.density.size(); ++k) {
    const double left = lo + width * static_cast<double>(k);
    out << prefix << csv_number(left) << ',' << csv_number(left + width) << ',' << csv_number(a.density[k])
        << ',' << csv_number(b.density[k]) << '\n';
  }
}

}  // namespace

std::string roc_csv(const std::vector<MatrixCurves>& columns) {
  std::ostringstream out;
  out << "curve,far,tar,threshold\n";
  for (const auto& c : columns) {
    for (size_t k = 0; k < c.roc.far.size(); ++k) {
      out << csv_field(c.name) << ',' << csv_number(c.roc.far[k]) << ',' << csv_number(c.roc.tar[k]) << ','
          << csv_number(c.roc.threshold[k]) << '\n';
    }
  }
  return out.str();
}

std::string det_csv(const std::vector<MatrixCurves>& columns) {
  std::ostringstream out;
  out << "curve,far,fnmr\n";
  for (const auto& c : columns) {
    for (size_t k = 0; k < c.roc.far.size(); ++k) {
      out << csv_field(c.name) << ',' << csv_number(c.roc.far[k]) << ',' << csv_number(1.0 - c.roc.tar[k])
          << '\n';
    }
  }
  return out.str();
}

std::string cmc_csv(const std::vector<MatrixCurves>& columns) {
  std::ostringstream out;
  out << "rank";
  size_t ranks = 0;
  for (const auto& c : columns) {
    out << ',' << csv_field(c.name);
    ranks = std::max(ranks, c.cmc.size());
  }
  out << '\n';
  for (size_t r = 0; r < ranks; ++r) {
    out << r + 1;
    for (const auto& c : columns) out << ',' << csv_number(r < c.cmc.size() ? c.cmc[r] : kNaN);
    out << '\n';
  }
  return out.str();
}

std::string score_density_csv(const ScoreDensities& d) {
  std::ostringstream out;
  out << "bin_lo,bin_hi,genuine_density,impostor_density\n";
  density_rows(out, "", d.lo, d.bin_width(), d.genuine, d.impostor);
  return out.str();
}

std::string score_densities_csv(const std::vector<const MatrixCurves*>& columns) {
  std::ostringstream out;
  out << "curve,bin_lo,bin_hi,genuine_density,impostor_density\n";
  for (const auto* c : columns) {
    const auto& d = c->densities;
    density_rows(out, csv_field(c->name) + ",", d.lo, d.bin_width(), d.genuine, d.impostor);
  }
  return out.str();
}

std::string quality_csv(const QualitySplit& split) {
  std::ostringstream out;
  out << "bin_lo,bin_hi,rank1_correct_density,rank1_wrong_density\n";
  density_rows(out, "", split.lo, split.bin_width(), split.rank1_correct, split.rank1_wrong);
  return out.str();
}

}  // namespace qme::eval

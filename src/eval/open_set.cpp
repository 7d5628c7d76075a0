#include "qme/eval/open_set.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "qme/core/error.hpp"
#include "qme/core/numpy_random.hpp"
#include "qme/core/numpy_sort.hpp"

namespace qme::eval {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// What one probe row says against the enrolled columns.
struct ProbeOutcome {
  bool mated = false;
  bool mate_is_top = false;  // rank-1 hit, before thresholding
  float mate_score = 0;
  float best_score = 0;  // max over enrolled columns; NaN if any is NaN (np.max)
};

/// Upstream's rank 1: the last entry of np.argsort over the enrolled columns.
bool mate_is_last_in_numpy_order(const float* row, const std::vector<int64_t>& columns, int64_t mate_column) {
  std::vector<float> values;
  for (auto c : columns) values.push_back(row[c]);
  std::vector<int64_t> order;
  numpy::argsort(values.data(), static_cast<int64_t>(values.size()), order);
  return columns[static_cast<size_t>(order.back())] == mate_column;
}

ProbeOutcome scan_probe(const float* row, const std::vector<int64_t>& columns, int64_t mate_column) {
  ProbeOutcome out;
  out.mated = mate_column >= 0;
  bool any_nan = false;
  float best = -std::numeric_limits<float>::infinity();
  float best_other = -std::numeric_limits<float>::infinity();  // best non-mate column
  for (auto c : columns) {
    const float s = row[c];
    if (std::isnan(s)) {
      any_nan = true;
      continue;
    }
    best = std::max(best, s);
    if (c != mate_column) best_other = std::max(best_other, s);
  }
  out.best_score = any_nan ? std::numeric_limits<float>::quiet_NaN() : best;
  if (!out.mated) return out;
  out.mate_score = row[mate_column];
  if (any_nan || out.mate_score < best_other) return out;
  // A tie at the top is resolved by numpy's sort order, as upstream does.
  out.mate_is_top = out.mate_score > best_other || columns.size() == 1 ||
                    mate_is_last_in_numpy_order(row, columns, mate_column);
  return out;
}

/// Non-mated maxima sorted high to low, NaN first (numpy sorts NaN last,
/// upstream then reverses).
std::vector<float> sorted_non_mated_maxima(const std::vector<ProbeOutcome>& probes) {
  std::vector<float> values;
  for (const auto& p : probes) {
    if (!p.mated) values.push_back(p.best_score);
  }
  std::sort(values.begin(), values.end(), [](float a, float b) {
    if (std::isnan(a)) return !std::isnan(b);
    if (std::isnan(b)) return false;
    return a > b;
  });
  return values;
}

/// np.min over the enrolled columns of every probe (NaN if any is NaN).
float enrolled_minimum(const ScoreMatrix& merged, const std::vector<int64_t>& columns) {
  float lowest = std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < merged.rows; ++i) {
    for (auto c : columns) {
      const float s = merged.at(i, c);
      if (std::isnan(s)) return s;
      lowest = std::min(lowest, s);
    }
  }
  return lowest;
}

/// TPIR / FNIR at one threshold: scores are float32, the threshold float64,
/// and numpy compares them in float32.
void record(OpenSetDraw& draw, const std::vector<ProbeOutcome>& probes, double threshold) {
  const auto threshold32 = static_cast<float>(threshold);
  int64_t hits = 0;
  for (const auto& p : probes) hits += p.mated && p.mate_is_top && p.mate_score >= threshold32;
  const float tpir = draw.num_mated > 0
                         ? static_cast<float>(static_cast<double>(hits) / static_cast<double>(draw.num_mated))
                         : std::numeric_limits<float>::quiet_NaN();
  draw.tpir.push_back(tpir);
  draw.fnir.push_back(static_cast<float>(1.0f - tpir));
  draw.threshold.push_back(threshold);
}

}  // namespace

OpenSetDraw open_set_draw(const ScoreMatrix& merged, const std::vector<int64_t>& probe_pids,
                          const std::vector<int64_t>& subject_pids, const std::vector<int64_t>& enrolled,
                          const std::vector<double>& fpirs) {
  if (static_cast<int64_t>(subject_pids.size()) != merged.cols ||
      static_cast<int64_t>(probe_pids.size()) != merged.rows) {
    throw Error("open_set_draw: ids do not match the merged score matrix shape");
  }
  std::vector<int64_t> columns;
  std::vector<char> is_enrolled(subject_pids.size(), 0);
  for (size_t c = 0; c < subject_pids.size(); ++c) {
    if (std::binary_search(enrolled.begin(), enrolled.end(), subject_pids[c])) {
      columns.push_back(static_cast<int64_t>(c));
      is_enrolled[c] = 1;
    }
  }
  std::vector<ProbeOutcome> probes(probe_pids.size());
  for (int64_t i = 0; i < merged.rows; ++i) {
    const auto it = std::lower_bound(subject_pids.begin(), subject_pids.end(), probe_pids[i]);
    int64_t mate = -1;
    if (it != subject_pids.end() && *it == probe_pids[i] && is_enrolled[it - subject_pids.begin()]) {
      mate = it - subject_pids.begin();
    }
    probes[static_cast<size_t>(i)] = scan_probe(merged.row(i), columns, mate);
  }
  const auto non_mated = sorted_non_mated_maxima(probes);
  OpenSetDraw draw;
  draw.num_non_mated = static_cast<int64_t>(non_mated.size());
  draw.num_mated = merged.rows - draw.num_non_mated;
  if (fpirs.size() == 1 && fpirs[0] >= 1.0) {
    // Closed-set identification: upstream thresholds at min(scores) - 1e-10.
    const double threshold = static_cast<double>(enrolled_minimum(merged, columns)) - 1e-10;
    record(draw, probes, threshold);
    return draw;
  }
  for (double fpir : fpirs) {
    if (non_mated.empty()) {  // upstream asserts here
      draw.tpir.push_back(kNaN);
      draw.fnir.push_back(kNaN);
      draw.threshold.push_back(kNaN);
      continue;
    }
    const auto n = static_cast<int64_t>(static_cast<double>(non_mated.size()) * fpir);
    // n == 0: numpy adds 1e-8 in float64, then compares float32 scores with
    // the threshold cast to float32.
    const double threshold = n == 0 ? static_cast<double>(non_mated[0]) + 1e-8
                                    : static_cast<double>(non_mated[static_cast<size_t>(n - 1)]);
    const auto threshold32 = static_cast<float>(threshold);
    int64_t hits = 0;
    for (const auto& p : probes) hits += p.mated && p.mate_is_top && p.mate_score >= threshold32;
    const float tpir =
        draw.num_mated > 0
            ? static_cast<float>(static_cast<double>(hits) / static_cast<double>(draw.num_mated))
            : std::numeric_limits<float>::quiet_NaN();
    draw.tpir.push_back(tpir);
    draw.fnir.push_back(static_cast<float>(1.0f - tpir));
    draw.threshold.push_back(threshold);
  }
  return draw;
}

namespace {

/// pandas' mean/std over the draws: NaN draws skipped, std with ddof 1.
DrawStatistic mean_and_std(const std::vector<double>& values) {
  double sum = 0;
  int64_t n = 0;
  for (double v : values) {
    if (!std::isnan(v)) {
      sum += v;
      ++n;
    }
  }
  if (n == 0) return {kNaN, kNaN};
  const double mean = sum / static_cast<double>(n);
  if (n < 2) return {mean, kNaN};
  double squares = 0;
  for (double v : values) {
    if (!std::isnan(v)) squares += (v - mean) * (v - mean);
  }
  return {mean, std::sqrt(squares / static_cast<double>(n - 1))};
}

}  // namespace

OpenSetSummary fnir_at_fpir(const ScoreMatrix& merged, const std::vector<int64_t>& probe_pids,
                            const std::vector<int64_t>& subject_pids, const std::vector<double>& fpirs,
                            const OpenSetProtocol& protocol) {
  OpenSetSummary summary;
  summary.enrol_count =
      static_cast<int64_t>(static_cast<double>(subject_pids.size()) * protocol.enrol_fraction);
  NumpyLegacyRandom rng(protocol.seed);
  const size_t targets = fpirs.size();
  std::vector<std::vector<double>> tpir(targets), fnir(targets), threshold(targets);
  for (int d = 0; d < protocol.num_draws; ++d) {
    auto enrolled = rng.choice_without_replacement(subject_pids, summary.enrol_count);
    std::sort(enrolled.begin(), enrolled.end());
    summary.draws.push_back(open_set_draw(merged, probe_pids, subject_pids, enrolled, fpirs));
    const auto& draw = summary.draws.back();
    for (size_t t = 0; t < targets; ++t) {
      tpir[t].push_back(draw.tpir[t]);
      fnir[t].push_back(draw.fnir[t]);
      threshold[t].push_back(draw.threshold[t]);
    }
  }
  for (size_t t = 0; t < targets; ++t) {
    summary.tpir.push_back(mean_and_std(tpir[t]));
    summary.fnir.push_back(mean_and_std(fnir[t]));
    summary.threshold.push_back(mean_and_std(threshold[t]));
  }
  return summary;
}

}  // namespace qme::eval

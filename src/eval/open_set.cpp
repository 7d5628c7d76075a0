#include "qme/eval/open_set.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "qme/core/error.hpp"
#include "qme/core/nan.hpp"
#include "qme/core/numpy_random.hpp"
#include "qme/core/numpy_sort.hpp"

namespace qme::eval {

namespace {

/// Upstream's rank 1: the last entry of np.argsort over the enrolled columns.
bool mate_is_last_in_numpy_order(const float* row, const std::vector<int64_t>& columns, int64_t mate_column) {
  std::vector<float> values;
  for (auto c : columns) values.push_back(row[c]);
  std::vector<int64_t> order;
  numpy::argsort(values.data(), static_cast<int64_t>(values.size()), order);
  return columns[static_cast<size_t>(order.back())] == mate_column;
}

OpenSetProbe scan_probe(const float* row, const std::vector<int64_t>& columns, int64_t mate_column) {
  OpenSetProbe out;
  out.mated = mate_column >= 0;
  bool any_nan = false;
  float best = -std::numeric_limits<float>::infinity();
  float best_other = -std::numeric_limits<float>::infinity();  // best non-mate column
  float lowest = std::numeric_limits<float>::infinity();
  for (auto c : columns) {
    const float s = row[c];
    if (std::isnan(s)) {
      any_nan = true;
      continue;
    }
    best = std::max(best, s);
    lowest = std::min(lowest, s);
    if (c != mate_column) best_other = std::max(best_other, s);
  }
  out.best_score = any_nan ? std::numeric_limits<float>::quiet_NaN() : best;
  out.lowest_score = any_nan ? std::numeric_limits<float>::quiet_NaN() : lowest;
  if (!out.mated) return out;
  out.mate_score = row[mate_column];
  if (any_nan || out.mate_score < best_other) return out;
  // A tie at the top is resolved by numpy's sort order, as upstream does.
  out.mate_is_top = out.mate_score > best_other || columns.size() == 1 ||
                    mate_is_last_in_numpy_order(row, columns, mate_column);
  return out;
}

/// Non-mated probes by their maxima, high to low, NaN first (numpy sorts NaN last, upstream
/// then reverses).
std::vector<int32_t> non_mated_by_score(const std::vector<OpenSetProbe>& probes) {
  std::vector<int32_t> order;
  for (size_t i = 0; i < probes.size(); ++i) {
    if (!probes[i].mated) order.push_back(static_cast<int32_t>(i));
  }
  std::stable_sort(order.begin(), order.end(), [&](int32_t i, int32_t j) {
    const float a = probes[static_cast<size_t>(i)].best_score, b = probes[static_cast<size_t>(j)].best_score;
    if (std::isnan(a)) return !std::isnan(b);
    if (std::isnan(b)) return false;
    return a > b;
  });
  return order;
}

int64_t weight_of(const int32_t* weights, size_t probe) {
  return weights ? weights[probe] : 1;
}

/// The n-th (0-based) non-mated maximum, counting each probe `weight` times.
float nth_non_mated_maximum(const OpenSetDrawProbes& draw, const int32_t* weights, int64_t n) {
  for (auto i : draw.non_mated_by_score) {
    n -= weight_of(weights, static_cast<size_t>(i));
    if (n < 0) return draw.probes[static_cast<size_t>(i)].best_score;
  }
  return std::numeric_limits<float>::quiet_NaN();  // unreachable: n < the non-mated weight
}

/// np.min over the enrolled columns of every probe (NaN if any is NaN).
float enrolled_minimum(const OpenSetDrawProbes& draw, const int32_t* weights) {
  float lowest = std::numeric_limits<float>::infinity();
  for (size_t i = 0; i < draw.probes.size(); ++i) {
    if (weight_of(weights, i) == 0) continue;
    if (std::isnan(draw.probes[i].lowest_score)) return draw.probes[i].lowest_score;
    lowest = std::min(lowest, draw.probes[i].lowest_score);
  }
  return lowest;
}

/// TPIR / FNIR at one threshold: scores are float32, the threshold float64,
/// and numpy compares them in float32.
void record(OpenSetDraw& draw, const OpenSetDrawProbes& probes, const int32_t* weights, double threshold) {
  const auto threshold32 = static_cast<float>(threshold);
  int64_t hits = 0;
  for (size_t i = 0; i < probes.probes.size(); ++i) {
    const auto& p = probes.probes[i];
    if (p.mated && p.mate_is_top && p.mate_score >= threshold32) hits += weight_of(weights, i);
  }
  const float tpir = draw.num_mated > 0
                         ? static_cast<float>(static_cast<double>(hits) / static_cast<double>(draw.num_mated))
                         : std::numeric_limits<float>::quiet_NaN();
  draw.tpir.push_back(tpir);
  draw.fnir.push_back(static_cast<float>(1.0f - tpir));
  draw.threshold.push_back(threshold);
}

}  // namespace

OpenSetDrawProbes open_set_draw_probes(const ScoreMatrix& merged, const std::vector<int64_t>& probe_pids,
                                       const std::vector<int64_t>& subject_pids,
                                       const std::vector<int64_t>& enrolled) {
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
  OpenSetDrawProbes out;
  out.probes.resize(probe_pids.size());
  for (int64_t i = 0; i < merged.rows; ++i) {
    const auto it = std::lower_bound(subject_pids.begin(), subject_pids.end(), probe_pids[i]);
    int64_t mate = -1;
    if (it != subject_pids.end() && *it == probe_pids[i] && is_enrolled[it - subject_pids.begin()]) {
      mate = it - subject_pids.begin();
    }
    out.probes[static_cast<size_t>(i)] = scan_probe(merged.row(i), columns, mate);
  }
  out.non_mated_by_score = non_mated_by_score(out.probes);
  return out;
}

OpenSetDraw summarise_open_set_draw(const OpenSetDrawProbes& probes, const std::vector<double>& fpirs,
                                    const int32_t* weights) {
  OpenSetDraw draw;
  int64_t total = 0;
  for (size_t i = 0; i < probes.probes.size(); ++i) total += weight_of(weights, i);
  for (auto i : probes.non_mated_by_score) draw.num_non_mated += weight_of(weights, static_cast<size_t>(i));
  draw.num_mated = total - draw.num_non_mated;
  if (fpirs.size() == 1 && fpirs[0] >= 1.0) {
    // Closed-set identification: upstream thresholds at min(scores) - 1e-10.
    record(draw, probes, weights, static_cast<double>(enrolled_minimum(probes, weights)) - 1e-10);
    return draw;
  }
  for (double fpir : fpirs) {
    if (draw.num_non_mated == 0) {  // upstream asserts here
      draw.tpir.push_back(kNaN);
      draw.fnir.push_back(kNaN);
      draw.threshold.push_back(kNaN);
      continue;
    }
    const auto n = static_cast<int64_t>(static_cast<double>(draw.num_non_mated) * fpir);
    // n == 0: numpy adds 1e-8 in float64, then compares float32 scores with
    // the threshold cast to float32.
    const double threshold = n == 0 ? static_cast<double>(nth_non_mated_maximum(probes, weights, 0)) + 1e-8
                                    : static_cast<double>(nth_non_mated_maximum(probes, weights, n - 1));
    record(draw, probes, weights, threshold);
  }
  return draw;
}

OpenSetDraw open_set_draw(const ScoreMatrix& merged, const std::vector<int64_t>& probe_pids,
                          const std::vector<int64_t>& subject_pids, const std::vector<int64_t>& enrolled,
                          const std::vector<double>& fpirs) {
  return summarise_open_set_draw(open_set_draw_probes(merged, probe_pids, subject_pids, enrolled), fpirs);
}

std::vector<std::vector<int64_t>> open_set_enrolments(const std::vector<int64_t>& subject_pids,
                                                      const OpenSetProtocol& protocol) {
  const auto count = open_set_enrol_count(subject_pids.size(), protocol);
  NumpyLegacyRandom rng(protocol.seed);
  std::vector<std::vector<int64_t>> draws;
  for (int d = 0; d < protocol.num_draws; ++d) {
    draws.push_back(rng.choice_without_replacement(subject_pids, count));
    std::sort(draws.back().begin(), draws.back().end());
  }
  return draws;
}

int64_t open_set_enrol_count(size_t num_subjects, const OpenSetProtocol& protocol) {
  return static_cast<int64_t>(static_cast<double>(num_subjects) * protocol.enrol_fraction);
}

DrawStatistic draw_statistic(const std::vector<double>& values) {
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

OpenSetSummary summarise_open_set(const std::vector<OpenSetDraw>& draws, size_t targets,
                                  int64_t enrol_count) {
  OpenSetSummary summary;
  summary.enrol_count = enrol_count;
  for (size_t t = 0; t < targets; ++t) {
    std::vector<double> tpir, fnir, threshold;
    for (const auto& draw : draws) {
      tpir.push_back(draw.tpir[t]);
      fnir.push_back(draw.fnir[t]);
      threshold.push_back(draw.threshold[t]);
    }
    summary.tpir.push_back(draw_statistic(tpir));
    summary.fnir.push_back(draw_statistic(fnir));
    summary.threshold.push_back(draw_statistic(threshold));
  }
  summary.draws = draws;
  return summary;
}

OpenSetSummary fnir_at_fpir(const ScoreMatrix& merged, const std::vector<int64_t>& probe_pids,
                            const std::vector<int64_t>& subject_pids, const std::vector<double>& fpirs,
                            const OpenSetProtocol& protocol) {
  std::vector<OpenSetDraw> draws;
  for (const auto& enrolled : open_set_enrolments(subject_pids, protocol))
    draws.push_back(open_set_draw(merged, probe_pids, subject_pids, enrolled, fpirs));
  return summarise_open_set(draws, fpirs.size(), open_set_enrol_count(subject_pids.size(), protocol));
}

}  // namespace qme::eval

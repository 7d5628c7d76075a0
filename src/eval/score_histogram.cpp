#include "qme/eval/score_histogram.hpp"

#include <algorithm>
#include <numeric>

#include "qme/core/parallel.hpp"
#include "qme/core/prefault.hpp"
#include "qme/eval/ranking.hpp"

namespace qme::eval {

void ScoreKeyHistogram::flush(uint32_t* partial) {
  for (int b = 0; b < kBins; ++b) {
    counts_[static_cast<size_t>(b)] += partial[b];
    partial[b] = 0;
  }
}

void ScoreKeyHistogram::merge(const ScoreKeyHistogram& other) {
  for (int b = 0; b < kBins; ++b) counts_[static_cast<size_t>(b)] += other.counts_[static_cast<size_t>(b)];
}

int64_t ScoreKeyHistogram::total() const {
  return std::accumulate(counts_.begin(), counts_.end(), int64_t{0});
}

ScoreKeyHistogram ScoreKeyHistogram::of(const ScoreMatrix& scores, int num_threads) {
  const int workers = num_threads > 0 ? num_threads : default_num_threads();
  std::vector<ScoreKeyHistogram> partial(static_cast<size_t>(workers));
  // Two uint32 lanes: neighbouring scores often share a bin, and a single
  // counter would serialise the loop on memory.
  std::vector<std::vector<uint32_t>> lanes(static_cast<size_t>(workers), std::vector<uint32_t>(2 * kBins, 0));
  parallel_for(
      scores.rows,
      [&](int64_t begin, int64_t end, int worker) {
        uint32_t* lane = lanes[static_cast<size_t>(worker)].data();
        std::vector<uint32_t> keys(static_cast<size_t>(scores.cols));
        for (int64_t i = begin; i < end; ++i) {
          score_keys(scores.row(i), scores.cols, keys.data());
          int64_t j = 0;
          for (; j + 1 < scores.cols; j += 2) {
            ++lane[bin(keys[static_cast<size_t>(j)])];
            ++lane[kBins + bin(keys[static_cast<size_t>(j + 1)])];
          }
          if (j < scores.cols) ++lane[bin(keys[static_cast<size_t>(j)])];
        }
        partial[static_cast<size_t>(worker)].flush(lane);
        partial[static_cast<size_t>(worker)].flush(lane + kBins);
      },
      workers);
  for (size_t w = 1; w < partial.size(); ++w) partial[0].merge(partial[w]);
  return std::move(partial[0]);
}

uint32_t ScoreKeyHistogram::estimate_tail_key(const ScoreMatrix& scores, double rate, double* share) {
  // Every 8th row, or fewer where a bin's uint32 count could overflow (half the memory of
  // int64 counts: the first report of a process pays for each page it touches).
  const int64_t max_rows = std::max<int64_t>(1, (int64_t{1} << 32) / std::max<int64_t>(1, scores.cols) - 1);
  const int64_t stride = std::max<int64_t>(8, scores.rows / max_rows + 1);
  std::vector<uint32_t> sample, keys;
  assign_prefaulted(sample, kBins, 0u);
  resize_prefaulted(keys, static_cast<size_t>(scores.cols));
  int64_t total = 0;
  for (int64_t i = 0; i < scores.rows; i += stride) {
    score_keys(scores.row(i), scores.cols, keys.data());
    for (auto key : keys) ++sample[bin(key)];
    total += scores.cols;
  }
  // Three times the rate and a few hundred scores more: the tail must hold the
  // windows TAR@FAR gathers around its targets, or it is not used.
  const auto wanted = static_cast<int64_t>(3.0 * rate * static_cast<double>(total)) + 256;
  const double sampled = std::max<double>(1.0, static_cast<double>(total));
  int64_t above = 0;
  for (int b = kBins - 1; b > 0; --b) {
    above += sample[static_cast<size_t>(b)];
    if (above >= wanted) {
      if (share)
        *share = static_cast<double>(above + (b > 1 ? sample[static_cast<size_t>(b - 1)] : 0)) / sampled;
      return static_cast<uint32_t>(b > 1 ? b - 1 : 1) << kBinBits;
    }
  }
  if (share) *share = static_cast<double>(above) / sampled;
  return 1u << kBinBits;  // everything but NaN
}

}  // namespace qme::eval

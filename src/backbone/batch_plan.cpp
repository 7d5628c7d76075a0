#include "qme/backbone/batch_plan.hpp"

#include <cmath>
#include <string>

#include "qme/core/error.hpp"
#include "qme/core/random_mixing.hpp"

namespace qme::backbone {

namespace {

using core::splitmix64;

/// Weight of each video starting at item i: video_weight[i] for the first item of a video.
std::vector<int64_t> video_weights(const std::vector<int64_t>& item_video,
                                   const std::vector<int64_t>& weight) {
  std::vector<int64_t> out(item_video.size(), 0);
  size_t start = 0;
  for (size_t i = 0; i < item_video.size(); ++i) {
    if (i > 0 && item_video[i] != item_video[i - 1]) start = i;
    out[start] += weight[i];
  }
  return out;
}

}  // namespace

std::vector<PlannedBatch> plan_batches(const std::vector<int64_t>& item_video,
                                       const std::vector<int64_t>& item_weight, int64_t capacity) {
  if (capacity < 1) throw UsageError("batch capacity must be at least 1, got " + std::to_string(capacity));
  if (item_video.size() != item_weight.size()) {
    throw UsageError("plan_batches: " + std::to_string(item_video.size()) + " videos for " +
                     std::to_string(item_weight.size()) + " weights");
  }
  const auto per_video = video_weights(item_video, item_weight);
  std::vector<PlannedBatch> batches;
  PlannedBatch current;
  int64_t load = 0;
  const auto close = [&](int64_t at, bool next_starts_video) {
    if (current.end > current.first) batches.push_back(current);
    current = PlannedBatch{at, at, next_starts_video};
    load = 0;
  };
  for (size_t i = 0; i < item_video.size(); ++i) {
    const auto at = static_cast<int64_t>(i);
    const bool video_start = i == 0 || item_video[i] != item_video[i - 1];
    if (item_video[i] < (i == 0 ? item_video[0] : item_video[i - 1])) {
      throw UsageError("plan_batches: items must come in video order");
    }
    if (video_start && load > 0 && load + per_video[i] > capacity) close(at, true);
    if (!video_start && load > 0 && load + item_weight[i] > capacity) close(at, false);
    if (current.end == current.first) current.starts_video = video_start;
    current.end = at + 1;
    load += item_weight[i];
  }
  close(static_cast<int64_t>(item_video.size()), true);
  return batches;
}

std::array<int64_t, 2> shard_batches(const std::vector<PlannedBatch>& batches,
                                     const std::vector<int64_t>& item_weight, int64_t num_shards,
                                     int64_t shard_index) {
  if (num_shards < 1 || shard_index < 0 || shard_index >= num_shards) {
    throw UsageError("--shard_index must be in [0, --num_shards), got " + std::to_string(shard_index) +
                     " of " + std::to_string(num_shards));
  }
  const auto n = static_cast<int64_t>(batches.size());
  // Weight before each batch; candidate boundaries are the batches that start a video.
  std::vector<int64_t> before(static_cast<size_t>(n) + 1, 0);
  for (int64_t b = 0; b < n; ++b) {
    int64_t w = 0;
    for (int64_t i = batches[b].first; i < batches[b].end; ++i) w += item_weight[static_cast<size_t>(i)];
    before[static_cast<size_t>(b) + 1] = before[static_cast<size_t>(b)] + w;
  }
  std::vector<int64_t> candidates;  // batches a shard may start at
  for (int64_t b = 1; b < n; ++b) {
    if (batches[static_cast<size_t>(b)].starts_video) candidates.push_back(b);
  }
  if (static_cast<int64_t>(candidates.size()) < num_shards - 1) {
    throw UsageError("cannot split the work into " + std::to_string(num_shards) +
                     " shards: cut at video starts, " + "it gives at most " +
                     std::to_string(candidates.size() + (n > 0 ? 1 : 0)) + " (use fewer shards)");
  }
  std::vector<int64_t> bounds = {0};
  size_t lo = 0;
  for (int64_t k = 1; k < num_shards; ++k) {
    // Leave one candidate for every boundary still to come.
    const size_t hi = candidates.size() - static_cast<size_t>(num_shards - 1 - k);
    const double target =
        static_cast<double>(before.back()) * static_cast<double>(k) / static_cast<double>(num_shards);
    const auto distance = [&](size_t p) {
      return std::abs(static_cast<double>(before[static_cast<size_t>(candidates[p])]) - target);
    };
    size_t best = lo;
    for (size_t p = lo + 1; p < hi; ++p) {
      if (distance(p) < distance(best)) best = p;
    }
    bounds.push_back(candidates[best]);
    lo = best + 1;
  }
  bounds.push_back(n);
  return {bounds[static_cast<size_t>(shard_index)], bounds[static_cast<size_t>(shard_index) + 1]};
}

uint64_t item_seed(uint64_t seed, int64_t set, int64_t item) {
  uint64_t h = splitmix64(seed);
  h = splitmix64(h ^ static_cast<uint64_t>(set));
  return splitmix64(h ^ static_cast<uint64_t>(item));
}

}  // namespace qme::backbone

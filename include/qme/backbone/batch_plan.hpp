#pragma once
/// How extraction cuts its work into batches and shards, torch-free.
///
/// Items (test clips, or training samples) come in video order. A batch holds items of
/// consecutive videos up to a capacity (in clips or frames); a video that does not fit in what
/// is left of the current batch starts a new one, so most batches start at a video. Shards are
/// contiguous runs of batches that start at a video, balanced by weight. The plan depends only
/// on the item list and the capacity, never on the shard count: every item is computed in the
/// same batch, with the same neighbours, in a sharded run and in a single run, which is what
/// makes merged shards equal a single run bit for bit.
#include <array>
#include <cstdint>
#include <vector>

namespace qme::backbone {

struct PlannedBatch {
  int64_t first = 0;          ///< first item
  int64_t end = 0;            ///< one past the last item
  bool starts_video = false;  ///< its first item is the first item of a video
};

/// Batches over items [0, n): item i belongs to video item_video[i] (non-decreasing) and weighs
/// item_weight[i] >= 0 (clips: 1; samples: their frames). A batch takes items while their weight
/// fits in `capacity`; one item heavier than `capacity` is a batch of its own; items are never
/// split. UsageError for a capacity < 1, inconsistent lengths or items out of video order.
std::vector<PlannedBatch> plan_batches(const std::vector<int64_t>& item_video,
                                       const std::vector<int64_t>& item_weight, int64_t capacity);

/// Shard `shard_index` of `num_shards`: batches [first, end). Boundaries sit at batches that
/// start a video, as close as they can be to equal shares of the total weight. UsageError when
/// the index is out of range or there are too few such batches for every shard to get one.
std::array<int64_t, 2> shard_batches(const std::vector<PlannedBatch>& batches,
                                     const std::vector<int64_t>& item_weight, int64_t num_shards,
                                     int64_t shard_index);

/// 64-bit seed of one item's random draws (face choice): a function of the run's seed, the set
/// (query 0, gallery 1, train 2) and the item's index in the whole set, so a shard draws what a
/// single run draws.
uint64_t item_seed(uint64_t seed, int64_t set, int64_t item);

}  // namespace qme::backbone

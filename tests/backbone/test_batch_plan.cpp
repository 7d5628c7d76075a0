// Batch planning and sharding of the extraction (qme::backbone, batch_plan.hpp).
#include <catch2/catch.hpp>

#include <vector>

#include "qme/backbone/batch_plan.hpp"
#include "qme/core/error.hpp"
#include "support/test_support.hpp"

using qme::backbone::plan_batches;
using qme::backbone::PlannedBatch;
using qme::backbone::shard_batches;

namespace {

/// first, end, starts_video of each batch, one after the other.
std::vector<int64_t> flat(const std::vector<PlannedBatch>& batches) {
  std::vector<int64_t> out;
  for (const auto& b : batches) out.insert(out.end(), {b.first, b.end, b.starts_video ? 1 : 0});
  return out;
}

}  // namespace

TEST_CASE("a video that does not fit in what is left starts a new batch", "[backbone]") {
  // videos: 0 (2 clips), 1 (3 clips), 2 (1 clip), 3 (5 clips); capacity 4
  const std::vector<int64_t> video = {0, 0, 1, 1, 1, 2, 3, 3, 3, 3, 3};
  const std::vector<int64_t> weight(video.size(), 1);
  const auto batches = plan_batches(video, weight, 4);
  const std::vector<int64_t> expected = {0, 2, 1, 2, 6, 1, 6, 10, 1, 10, 11, 0};
  CHECK(flat(batches) == expected);
}

TEST_CASE("weights count frames and a heavy item is a batch of its own", "[backbone]") {
  const std::vector<int64_t> video = {0, 1, 1, 2};
  const std::vector<int64_t> weight = {3, 10, 2, 1};
  const std::vector<int64_t> expected = {0, 1, 1, 1, 2, 1, 2, 4, 0};
  CHECK(flat(plan_batches(video, weight, 4)) == expected);
  CHECK_THROWS_AS(plan_batches(video, weight, 0), qme::UsageError);
  CHECK_THROWS_AS(plan_batches({1, 0}, {1, 1}, 4), qme::UsageError);
}

TEST_CASE("shards are contiguous, start at videos and cover every batch once", "[backbone]") {
  std::vector<int64_t> video, weight;
  for (int64_t v = 0; v < 20; ++v) {
    for (int64_t c = 0; c < 1 + v % 4; ++c) {
      video.push_back(v);
      weight.push_back(1);
    }
  }
  const auto batches = plan_batches(video, weight, 3);
  for (int64_t shards : {1, 2, 3, 5}) {
    INFO(shards << " shards");
    int64_t next = 0;
    for (int64_t i = 0; i < shards; ++i) {
      const auto range = shard_batches(batches, weight, shards, i);
      CHECK(range[0] == next);
      CHECK(range[1] > range[0]);
      CHECK(batches[static_cast<size_t>(range[0])].starts_video);
      next = range[1];
    }
    CHECK(next == static_cast<int64_t>(batches.size()));
  }
}

TEST_CASE("more shards than video starts is refused with the limit", "[backbone]") {
  const std::vector<int64_t> video = {0, 0, 0, 1, 1};
  const std::vector<int64_t> weight(5, 1);
  const auto batches = plan_batches(video, weight, 2);  // {0,2} {2,3} {3,5}: videos start in 0 and 2
  CHECK(shard_batches(batches, weight, 2, 1)[0] == 2);
  const auto message = qme::test::message_of<qme::UsageError>([&] { shard_batches(batches, weight, 3, 0); });
  CHECK_THAT(message, Catch::Matchers::Contains("at most 2"));
  CHECK_THROWS_AS(shard_batches(batches, weight, 2, 2), qme::UsageError);
}

TEST_CASE("item seeds depend on the set and the item, not on a shard", "[backbone]") {
  using qme::backbone::item_seed;
  CHECK(item_seed(1, 0, 5) == item_seed(1, 0, 5));
  CHECK(item_seed(1, 0, 5) != item_seed(1, 1, 5));
  CHECK(item_seed(1, 0, 5) != item_seed(1, 0, 6));
  CHECK(item_seed(1, 0, 5) != item_seed(2, 0, 5));
}

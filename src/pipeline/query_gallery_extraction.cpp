// qme_test --eval_mode feat: test features of one model (upstream's extract_test_feats).
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>

#include "batch_source.hpp"
#include "extraction_common.hpp"
#include "qme/backbone/batch_plan.hpp"
#include "qme/core/error.hpp"
#include "qme/core/progress.hpp"
#include "qme/data/datasets.hpp"
#include "qme/formats/features_file.hpp"
#include "qme/formats/probe_quality_stats.hpp"
#include "qme/io/hdf5_file.hpp"
#include "qme/io/output_directory.hpp"
#include "qme/pipeline/extraction.hpp"

namespace qme::pipeline {

using backbone::Backbone;
using backbone::item_seed;
using backbone::plan_batches;
using backbone::PlannedBatch;
using backbone::QeStatistics;
using backbone::shard_batches;
using backbone::video_means;

namespace {

constexpr int64_t kSeqLen = 8;  // upstream's test clips: 8 frames, stride 4
constexpr int64_t kStride = 4;
constexpr int64_t kQuerySet = 0;
constexpr int64_t kGallerySet = 1;

/// One of the two test sets, cut into clips and planned batches, and this run's share of it.
struct SetWork {
  int64_t set_id = 0;
  std::vector<data::Tracklet> videos;
  std::vector<data::Tracklet> clips;
  std::vector<std::array<int64_t, 2>> vid2clip;
  std::vector<int64_t> clip_video;
  std::vector<PlannedBatch> batches;
  std::array<int64_t, 2> shard{0, 0};      // batches
  int64_t clip_first = 0, clip_end = 0;    // clips of the shard
  int64_t video_first = 0, video_end = 0;  // videos of the shard
};

SetWork plan_set(const std::vector<data::Tracklet>& videos, const data::DatasetSplits& splits, int64_t set_id,
                 const ExtractionOptions& options) {
  SetWork work;
  work.set_id = set_id;
  work.videos = videos;
  if (splits.kind == data::DatasetKind::kVideo) {
    auto split = data::test_clips(videos, kSeqLen, kStride);
    work.clips = std::move(split.clips);
    work.vid2clip = std::move(split.vid2clip_index);
  } else {
    work.clips = videos;
    for (int64_t i = 0; i < static_cast<int64_t>(videos.size()); ++i) work.vid2clip.push_back({i, i + 1});
  }
  for (int64_t v = 0; v < static_cast<int64_t>(work.vid2clip.size()); ++v) {
    for (int64_t c = work.vid2clip[v][0]; c < work.vid2clip[v][1]; ++c) work.clip_video.push_back(v);
  }
  const int64_t clip_len = splits.kind == data::DatasetKind::kVideo ? kSeqLen : 1;
  const int64_t capacity = std::max<int64_t>(1, options.batch_frames / clip_len);
  const std::vector<int64_t> weights(work.clips.size(), 1);
  work.batches = plan_batches(work.clip_video, weights, capacity);
  work.shard = shard_batches(work.batches, weights, options.shard.num_shards, options.shard.shard_index);
  if (work.shard[1] > work.shard[0]) {
    work.clip_first = work.batches[static_cast<size_t>(work.shard[0])].first;
    work.clip_end = work.batches[static_cast<size_t>(work.shard[1]) - 1].end;
    work.video_first = work.clip_video[static_cast<size_t>(work.clip_first)];
    work.video_end = work.clip_video[static_cast<size_t>(work.clip_end) - 1] + 1;
  }
  return work;
}

/// The shard's video features and (query) per-frame QE statistics.
struct SetResult {
  formats::FeatureMatrix features;  // (videos of the shard, d)
  IdentityLabels labels;
  formats::FeatureMatrix qe_stats;  // (n, S)
  std::vector<int64_t> frame_clip;  // (n) global clip index
  std::vector<int64_t> clip_query;  // clips of the shard -> global video index
};

SetResult run_set(Backbone& backbone, const data::DatasetSplits& splits, const SetWork& work, bool with_qe,
                  const ExtractionOptions& options, ProgressReporter& progress) {
  std::vector<std::vector<detail::ClipRequest>> requests;
  for (int64_t b = work.shard[0]; b < work.shard[1]; ++b) {
    const auto& batch = work.batches[static_cast<size_t>(b)];
    auto& clips = requests.emplace_back();
    for (int64_t c = batch.first; c < batch.end; ++c) {
      clips.push_back({work.clips[static_cast<size_t>(c)].frames, item_seed(options.seed, work.set_id, c)});
    }
  }
  SetResult result;
  std::vector<torch::Tensor> clip_features, stats;
  detail::BatchSource source(splits, backbone.spec(), std::move(requests), options.num_workers);
  int64_t clip = work.clip_first;
  while (auto batch = source.next()) {
    auto out = backbone.clips(batch->frames, batch->lengths, with_qe);
    clip_features.push_back(out.features);
    if (with_qe && out.qe_stats.defined()) {
      stats.push_back(out.qe_stats);
      for (const int64_t length : batch->lengths) {
        result.frame_clip.insert(result.frame_clip.end(), static_cast<size_t>(length), clip++);
      }
    } else {
      clip += static_cast<int64_t>(batch->lengths.size());
    }
    progress.advance(static_cast<int64_t>(batch->lengths.size()));
  }
  if (clip_features.empty()) return result;
  const auto all = torch::cat(clip_features, 0);
  std::vector<std::array<int64_t, 2>> ranges;
  for (int64_t v = work.video_first; v < work.video_end; ++v) {
    const auto& range = work.vid2clip[static_cast<size_t>(v)];
    ranges.push_back({range[0] - work.clip_first, range[1] - work.clip_first});
    const auto& video = work.videos[static_cast<size_t>(v)];
    result.labels.pids.push_back(video.pid);
    result.labels.camids.push_back(video.camid);
    result.labels.clothes_ids.push_back(video.clothes_id);
  }
  result.features = detail::to_matrix(video_means(all, ranges));
  if (with_qe) {
    result.qe_stats = stats.empty() ? formats::FeatureMatrix(0, backbone.spec().qe_width())
                                    : detail::to_matrix(torch::cat(stats, 0));
    for (int64_t c = work.clip_first; c < work.clip_end; ++c) {
      result.clip_query.push_back(work.clip_video[static_cast<size_t>(c)]);
    }
  }
  return result;
}

int64_t nan_rows(const formats::FeatureMatrix& m) {
  int64_t count = 0;
  for (int64_t i = 0; i < m.rows; ++i) count += std::isnan(m.row(i)[0]) ? 1 : 0;
  return count;
}

/// Everything a shard part holds (a single run: the whole set).
struct TestPart {
  SetResult query, gallery;
  int64_t query_first = 0, gallery_first = 0;  // first video of each set
  int64_t query_total = 0, gallery_total = 0;  // videos of each set
  int64_t query_clips = 0;                     // clips of the whole query set
  int64_t dim = 0, qe_width = 0;
  int64_t batch_frames = 0;
};

void write_final(const std::string& feats_dir, const std::string& model, const std::string& dataset,
                 const TestPart& part, TestExtractionResult& result) {
  formats::TestFeatures features;
  features.dim = part.dim;
  features.query = part.query.features.values;
  features.gallery = part.gallery.features.values;
  features.query_labels = part.query.labels;
  features.gallery_labels = part.gallery.labels;
  result.features_path = formats::test_features_path(feats_dir, model, dataset);
  formats::write_test_features(result.features_path, features);
  if (part.qe_width > 0) {
    formats::ProbeQualityStats stats;
    stats.qe_stats = part.query.qe_stats;
    stats.qe_stats.cols = part.qe_width;
    stats.frame_clip = part.query.frame_clip;
    stats.clip_query = part.query.clip_query;
    result.qe_path = formats::probe_quality_stats_path(feats_dir, model, dataset);
    formats::write_probe_quality_stats(result.qe_path, stats);
  }
  result.num_query = part.query.features.rows;
  result.num_gallery = part.gallery.features.rows;
  result.dim = part.dim;
  result.nan_query = nan_rows(part.query.features);
  result.nan_gallery = nan_rows(part.gallery.features);
}

void write_part(const std::string& path, const ShardSpec& shard, const TestPart& part) {
  io::AtomicH5Writer writer(path);
  const std::pair<const char*, int64_t> attributes[] = {
      {"qme_format", 1},
      {"qme_shard_index", shard.shard_index},
      {"qme_num_shards", shard.num_shards},
      {"qme_query_first", part.query_first},
      {"qme_gallery_first", part.gallery_first},
      {"qme_query_total", part.query_total},
      {"qme_gallery_total", part.gallery_total},
      {"qme_query_clips", part.query_clips},
      {"qme_dim", part.dim},
      {"qme_qe_width", part.qe_width},
      {"qme_batch_frames", part.batch_frames},
  };
  for (const auto& [name, value] : attributes) writer.write_int_attribute(name, value);
  for (const auto& [prefix, set] : {std::pair<std::string, const SetResult*>{"q", &part.query},
                                    std::pair<std::string, const SetResult*>{"g", &part.gallery}}) {
    detail::write_rows(writer, prefix + "f", set->features);
    detail::write_ids(writer, prefix + "_pids", set->labels.pids);
    detail::write_ids(writer, prefix + "_camids", set->labels.camids);
    detail::write_ids(writer, prefix + "_clothes_ids", set->labels.clothes_ids);
  }
  detail::write_rows(writer, "qe_stats", part.query.qe_stats);
  detail::write_ids(writer, "frame_clip", part.query.frame_clip);
  detail::write_ids(writer, "clip_query", part.query.clip_query);
  writer.commit();
}

TestPart read_part(const std::string& path) {
  io::H5Reader reader(path);
  TestPart part;
  part.query_first = detail::required_attribute(reader, "qme_query_first");
  part.gallery_first = detail::required_attribute(reader, "qme_gallery_first");
  part.query_total = detail::required_attribute(reader, "qme_query_total");
  part.gallery_total = detail::required_attribute(reader, "qme_gallery_total");
  part.query_clips = detail::required_attribute(reader, "qme_query_clips");
  part.dim = detail::required_attribute(reader, "qme_dim");
  part.qe_width = detail::required_attribute(reader, "qme_qe_width");
  part.batch_frames = detail::required_attribute(reader, "qme_batch_frames");
  for (const auto& [prefix, set] : {std::pair<std::string, SetResult*>{"q", &part.query},
                                    std::pair<std::string, SetResult*>{"g", &part.gallery}}) {
    set->features = detail::read_rows(reader, prefix + "f", part.dim);
    const int64_t rows = set->features.rows;
    set->labels.pids = detail::read_row_ids(reader, prefix + "_pids", rows, prefix + "f");
    set->labels.camids = detail::read_row_ids(reader, prefix + "_camids", rows, prefix + "f");
    set->labels.clothes_ids = detail::read_row_ids(reader, prefix + "_clothes_ids", rows, prefix + "f");
  }
  part.query.qe_stats = detail::read_rows(reader, "qe_stats", part.qe_width);
  part.query.frame_clip = detail::read_ids(reader, "frame_clip");
  part.query.clip_query = detail::read_ids(reader, "clip_query");
  return part;
}

void append_set(SetResult& into, const SetResult& part) {
  detail::append_rows(into.features, part.features);
  into.labels.pids.insert(into.labels.pids.end(), part.labels.pids.begin(), part.labels.pids.end());
  into.labels.camids.insert(into.labels.camids.end(), part.labels.camids.begin(), part.labels.camids.end());
  into.labels.clothes_ids.insert(into.labels.clothes_ids.end(), part.labels.clothes_ids.begin(),
                                 part.labels.clothes_ids.end());
  detail::append_rows(into.qe_stats, part.qe_stats);
  into.frame_clip.insert(into.frame_clip.end(), part.frame_clip.begin(), part.frame_clip.end());
  into.clip_query.insert(into.clip_query.end(), part.clip_query.begin(), part.clip_query.end());
}

}  // namespace

std::string test_shard_path(const std::string& feats_dir, const std::string& model,
                            const std::string& dataset, const ShardSpec& shard) {
  return detail::shard_file(formats::test_features_path(feats_dir, model, dataset), shard);
}

TestExtractionResult extract_test_features(const TestExtractionOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  io::check_output_directory(options.feats_dir);  // before any work
  auto backbone = detail::load_backbone(options);
  const auto splits = data::read_dataset(options.dataset, options.root);
  auto query = plan_set(splits.query, splits, kQuerySet, options);
  auto gallery = plan_set(splits.gallery, splits, kGallerySet, options);
  const bool with_qe = backbone.spec().qe != QeStatistics::kNone;
  const int64_t clips = (query.clip_end - query.clip_first) + (gallery.clip_end - gallery.clip_first);
  spdlog::info("{} on {}: {} query and {} gallery videos ({} and {} clips){}", options.model, options.dataset,
               query.videos.size(), gallery.videos.size(), query.clips.size(), gallery.clips.size(),
               options.shard.sharded()
                   ? ", shard " + std::to_string(options.shard.shard_index) + " of " +
                         std::to_string(options.shard.num_shards) + ": " + std::to_string(clips) + " clips"
                   : "");
  TestPart part;
  {
    ProgressReporter progress(options.model + " test clips", clips, ProgressOptions("clip"));
    part.query = run_set(backbone, splits, query, with_qe, options, progress);
    part.gallery = run_set(backbone, splits, gallery, false, options, progress);
    progress.finish();
  }
  part.dim = std::max(part.query.features.cols, part.gallery.features.cols);
  part.query.features.cols = part.gallery.features.cols = part.dim;
  part.qe_width = with_qe ? backbone.spec().qe_width() : 0;
  part.query_first = query.video_first;
  part.gallery_first = gallery.video_first;
  part.query_total = static_cast<int64_t>(query.videos.size());
  part.gallery_total = static_cast<int64_t>(gallery.videos.size());
  part.query_clips = static_cast<int64_t>(query.clips.size());
  part.batch_frames = options.batch_frames;

  TestExtractionResult result;
  result.num_clips = clips;
  io::ensure_output_directory(options.feats_dir);
  if (options.shard.sharded()) {
    result.features_path = test_shard_path(options.feats_dir, options.model, options.dataset, options.shard);
    write_part(result.features_path, options.shard, part);
    result.num_query = part.query.features.rows;
    result.num_gallery = part.gallery.features.rows;
    result.dim = part.dim;
    result.nan_query = nan_rows(part.query.features);
    result.nan_gallery = nan_rows(part.gallery.features);
  } else {
    write_final(options.feats_dir, options.model, options.dataset, part, result);
  }
  detail::write_run_config(result.features_path, "qme_test --eval_mode feat", options,
                           {{"feats_dir", "'" + options.feats_dir + "'"}});
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  spdlog::info("wrote {} ({} query x {}, {} gallery; {} + {} rows without a feature) in {:.1f} s",
               result.features_path, result.num_query, result.dim, result.num_gallery, result.nan_query,
               result.nan_gallery, result.seconds);
  return result;
}

TestExtractionResult merge_test_shards(const std::string& feats_dir, const std::string& model,
                                       const std::string& dataset, int64_t num_shards) {
  if (num_shards < 2) throw UsageError("--eval_mode merge needs --num_shards of at least 2");
  io::check_output_directory(feats_dir);  // the merged file goes there: checked before any work
  const auto start = std::chrono::steady_clock::now();
  TestPart merged;
  for (int64_t i = 0; i < num_shards; ++i) {
    const std::string path = test_shard_path(feats_dir, model, dataset, {num_shards, i});
    if (!std::filesystem::exists(path)) {
      throw InputError(path + " does not exist: run shard " + std::to_string(i) + " of " +
                       std::to_string(num_shards) + " first (--num_shards " + std::to_string(num_shards) +
                       " --shard_index " + std::to_string(i) + ")");
    }
    {
      io::H5Reader reader(path);
      detail::check_shard_identity(reader, i, num_shards);
    }
    const TestPart part = read_part(path);
    if (i == 0) {
      merged.query_total = part.query_total;
      merged.gallery_total = part.gallery_total;
      merged.query_clips = part.query_clips;
      merged.dim = part.dim;
      merged.qe_width = part.qe_width;
      merged.batch_frames = part.batch_frames;
      merged.query.features.cols = merged.gallery.features.cols = part.dim;
      merged.query.qe_stats.cols = part.qe_width;
    }
    const bool same_run = part.query_total == merged.query_total &&
                          part.gallery_total == merged.gallery_total &&
                          part.query_clips == merged.query_clips && part.dim == merged.dim &&
                          part.qe_width == merged.qe_width && part.batch_frames == merged.batch_frames;
    const bool contiguous =
        part.query_first == merged.query.features.rows && part.gallery_first == merged.gallery.features.rows;
    if (!same_run || !contiguous) {
      throw InputError(path +
                       ": this part does not continue the parts before it (another run, model, "
                       "--batch_frames or --num_shards?)");
    }
    append_set(merged.query, part.query);
    append_set(merged.gallery, part.gallery);
  }
  if (merged.query.features.rows != merged.query_total ||
      merged.gallery.features.rows != merged.gallery_total) {
    throw InputError(test_shard_path(feats_dir, model, dataset, {num_shards, num_shards - 1}) +
                     ": the parts hold fewer videos than the test set");
  }
  TestExtractionResult result;
  write_final(feats_dir, model, dataset, merged, result);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  spdlog::info("merged {} parts into {}", num_shards, result.features_path);
  return result;
}

}  // namespace qme::pipeline

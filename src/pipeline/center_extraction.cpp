// qme_precompute_center: training-set center features and the training-frames cache of one model
// (upstream's precompute_center.py, compute_mod_center_cc).
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <tuple>
#include <unordered_map>

#include "batch_source.hpp"
#include "extraction_common.hpp"
#include "qme/backbone/batch_plan.hpp"
#include "qme/core/error.hpp"
#include "qme/core/progress.hpp"
#include "qme/data/datasets.hpp"
#include "qme/formats/center_file.hpp"
#include "qme/formats/training_frames.hpp"
#include "qme/io/hdf5_file.hpp"
#include "qme/io/output_directory.hpp"
#include "qme/pipeline/extraction.hpp"

namespace qme::pipeline {

using backbone::Backbone;
using backbone::BackboneSpec;
using backbone::BatchFeatures;
using backbone::ClipPooling;
using backbone::item_seed;
using backbone::plan_batches;
using backbone::PlannedBatch;
using backbone::QeStatistics;
using backbone::shard_batches;

namespace {

constexpr int64_t kTrainSet = 2;

/// The dense training samples, planned into batches, and this run's share.
struct TrainWork {
  std::vector<data::Tracklet> samples;
  std::vector<int64_t> sample_video;  // the training tracklet of each sample
  std::vector<int64_t> weights;       // frames per sample
  std::vector<PlannedBatch> batches;
  std::array<int64_t, 2> shard{0, 0};
  int64_t sample_first = 0, sample_end = 0;
};

TrainWork plan_train(const data::DatasetSplits& splits, const CenterExtractionOptions& options) {
  TrainWork work;
  for (size_t v = 0; v < splits.train.size(); ++v) {
    const auto samples = splits.kind == data::DatasetKind::kVideo
                             ? data::dense_samples({splits.train[v]}, options.num_sample)
                             : std::vector<data::Tracklet>{splits.train[v]};
    for (const auto& sample : samples) {
      work.samples.push_back(sample);
      work.sample_video.push_back(static_cast<int64_t>(v));
      work.weights.push_back(static_cast<int64_t>(sample.frames.size()));
    }
  }
  work.batches = plan_batches(work.sample_video, work.weights, options.batch_frames);
  work.shard = shard_batches(work.batches, work.weights, options.shard.num_shards, options.shard.shard_index);
  if (work.shard[1] > work.shard[0]) {
    work.sample_first = work.batches[static_cast<size_t>(work.shard[0])].first;
    work.sample_end = work.batches[static_cast<size_t>(work.shard[1]) - 1].end;
  }
  return work;
}

/// Center rows: upstream's (n, d) rows per key before the mean, in sample order.
struct CenterRows {
  formats::FeatureMatrix feats;
  std::vector<int64_t> pids, camids, clothes_ids;
};

void add_center_rows(CenterRows& rows, const formats::FeatureMatrix& feats, const data::Tracklet& sample) {
  detail::append_rows(rows.feats, feats);
  rows.pids.insert(rows.pids.end(), static_cast<size_t>(feats.rows), sample.pid);
  rows.camids.insert(rows.camids.end(), static_cast<size_t>(feats.rows), sample.camid);
  rows.clothes_ids.insert(rows.clothes_ids.end(), static_cast<size_t>(feats.rows), sample.clothes_id);
}

/// Per-frame features of `frames` in chunks of at most `chunk` frames.
BatchFeatures frame_features(Backbone& backbone, const torch::Tensor& frames, int64_t chunk, bool with_qe) {
  std::vector<torch::Tensor> feats, stats;
  for (int64_t start = 0; start < frames.size(0); start += chunk) {
    auto out = backbone.frames(frames.narrow(0, start, std::min(chunk, frames.size(0) - start)), with_qe);
    feats.push_back(out.features);
    if (out.qe_stats.defined()) stats.push_back(out.qe_stats);
  }
  BatchFeatures out;
  if (!feats.empty()) out.features = torch::cat(feats, 0);
  if (!stats.empty()) out.qe_stats = torch::cat(stats, 0);
  return out;
}

/// What one run (or shard) computes.
struct TrainPart {
  formats::TrainingFrames frames;
  CenterRows centers;
};

/// Training-frames rows of one batch: `views` rows for every frame of every sample, in frame
/// order (face models: zero rows with has_face 0 where the frame has no face). `feats` and
/// `stats` hold one row per input frame of `batch`, whose frames come `views` at a time.
void add_frame_rows(formats::TrainingFrames& f, const BackboneSpec& spec, const TrainWork& work,
                    const PlannedBatch& planned, const detail::PreparedBatch& batch,
                    const formats::FeatureMatrix& feats, const formats::FeatureMatrix& stats, int64_t views) {
  const bool with_qe = spec.qe != QeStatistics::kNone;
  int64_t row = 0;  // first input row of the sample
  for (int64_t s = planned.first; s < planned.end; ++s) {
    const auto& sample = work.samples[static_cast<size_t>(s)];
    const int64_t length = batch.lengths[static_cast<size_t>(s - planned.first)];
    std::unordered_map<std::string, int64_t> input_row;  // body frame -> its first input row
    for (int64_t i = 0; i < length; ++i)
      input_row.emplace(batch.frame_keys[static_cast<size_t>(row + i)], row + i);
    for (const auto& key : sample.frames) {
      const auto found = input_row.find(key);
      const bool has = found != input_row.end();
      for (int64_t v = 0; v < views; ++v) {
        formats::FeatureMatrix one(1, feats.cols, 0.0f), one_stats(1, spec.qe_width(), 0.0f);
        if (has) {
          std::copy_n(feats.row(found->second + v), feats.cols, one.row(0));
          if (with_qe) std::copy_n(stats.row(found->second + v), stats.cols, one_stats.row(0));
        }
        detail::append_rows(f.feats, one);
        if (with_qe) detail::append_rows(*f.qe_stats, one_stats);
        if (spec.face_input()) f.has_face->push_back(has ? 1 : 0);
        f.pids.push_back(sample.pid);
        f.camids.push_back(sample.camid);
        f.clothes_ids.push_back(sample.clothes_id);
        f.sample_index.push_back(s);
        f.frame_keys.push_back(key);
      }
    }
    row += length;
  }
}

/// Center rows of one (unaugmented) batch: the frame rows of frame models, one row per sample
/// for clip models and biggait (its max over the sample, then fc_bin).
void add_center_batch(CenterRows& rows, Backbone& backbone, const TrainWork& work,
                      const PlannedBatch& planned, const detail::PreparedBatch& batch,
                      const formats::FeatureMatrix& feats) {
  const auto& spec = backbone.spec();
  const bool per_sample = spec.clip_model() || spec.pooling == ClipPooling::kMaxFcBin;
  const int64_t width = backbone.feature_width();
  const auto clip_rows =
      per_sample ? detail::to_matrix(backbone.clips(batch.frames, batch.lengths, false).features, width)
                 : formats::FeatureMatrix();
  int64_t row = 0;
  for (int64_t s = planned.first; s < planned.end; ++s) {
    const auto& sample = work.samples[static_cast<size_t>(s)];
    const int64_t length = batch.lengths[static_cast<size_t>(s - planned.first)];
    formats::FeatureMatrix mine(per_sample ? 1 : length, width);
    std::copy_n(per_sample ? clip_rows.row(s - planned.first) : feats.row(row), mine.rows * width,
                mine.values.begin());
    add_center_rows(rows, mine, sample);
    row += length;
  }
}

/// One pass over the shard's batches; `views` 0 reads the frames with the test transform,
/// > 0 gives that many augmented views of each.
template <typename OnBatch>
void run_pass(const data::DatasetSplits& splits, const BackboneSpec& spec, const TrainWork& work,
              const CenterExtractionOptions& options, int64_t views, ProgressReporter& progress,
              OnBatch&& on_batch) {
  std::vector<std::vector<detail::ClipRequest>> requests;
  for (int64_t b = work.shard[0]; b < work.shard[1]; ++b) {
    auto& clips = requests.emplace_back();
    const auto& batch = work.batches[static_cast<size_t>(b)];
    for (int64_t s = batch.first; s < batch.end; ++s) {
      clips.push_back({work.samples[static_cast<size_t>(s)].frames, item_seed(options.seed, kTrainSet, s)});
    }
  }
  detail::BatchSource source(splits, spec, std::move(requests), options.num_workers, 2, views);
  int64_t b = work.shard[0];
  while (auto batch = source.next()) {
    const auto& planned = work.batches[static_cast<size_t>(b++)];
    on_batch(planned, *batch);
    int64_t done = 0;
    for (int64_t s = planned.first; s < planned.end; ++s) done += work.weights[static_cast<size_t>(s)];
    progress.advance(done * std::max<int64_t>(views, 1));
  }
}

/// Keys in (pid, camid, clothes_id) order, each with its rows in sample order.
std::vector<formats::CenterFrames> group_centers(const CenterRows& rows) {
  std::map<std::tuple<int64_t, int64_t, int64_t>, std::vector<int64_t>> by_key;
  for (size_t i = 0; i < rows.pids.size(); ++i) {
    by_key[{rows.pids[i], rows.camids[i], rows.clothes_ids[i]}].push_back(static_cast<int64_t>(i));
  }
  std::vector<formats::CenterFrames> centers;
  for (const auto& [key, indices] : by_key) {
    formats::CenterFrames center;
    center.key = {std::get<0>(key), std::get<1>(key), std::get<2>(key)};
    center.frames = formats::FeatureMatrix(static_cast<int64_t>(indices.size()), rows.feats.cols);
    for (size_t r = 0; r < indices.size(); ++r) {
      std::copy_n(rows.feats.row(indices[r]), rows.feats.cols, center.frames.row(static_cast<int64_t>(r)));
    }
    centers.push_back(std::move(center));
  }
  return centers;
}

void write_final(const std::string& save_path, const std::string& model, const std::string& dataset,
                 int64_t num_sample, const TrainPart& part, CenterExtractionResult& result) {
  const auto centers = group_centers(part.centers);
  if (centers.empty()) {
    throw InputError("no training frame gave a " + model + " feature (a face model on a set without faces?)");
  }
  result.frames_path = formats::center_frames_path(save_path, model, dataset, num_sample);
  result.centers_path = formats::centers_path(save_path, model, dataset);
  result.training_frames_path = formats::training_frames_path(save_path, model, dataset);
  formats::write_center_frames(result.frames_path, centers);
  formats::write_centers(result.centers_path, centers);
  formats::write_training_frames(result.training_frames_path, part.frames);
  result.num_frames = part.frames.size();
  result.num_center_rows = part.centers.feats.rows;
  result.num_centers = static_cast<int64_t>(centers.size());
  result.dim = part.frames.feats.cols;
}

void write_center_part(const std::string& path, const ShardSpec& shard, const TrainWork& work,
                       const CenterRows& rows, const CenterExtractionOptions& options) {
  io::AtomicH5Writer writer(path);
  const std::pair<const char*, int64_t> attributes[] = {
      {"qme_format", 1},
      {"qme_shard_index", shard.shard_index},
      {"qme_num_shards", shard.num_shards},
      {"qme_sample_first", work.sample_first},
      {"qme_sample_end", work.sample_end},
      {"qme_sample_total", static_cast<int64_t>(work.samples.size())},
      {"qme_dim", rows.feats.cols},
      {"qme_batch_frames", options.batch_frames},
      {"qme_num_sample", options.num_sample},
  };
  for (const auto& [name, value] : attributes) writer.write_int_attribute(name, value);
  detail::write_rows(writer, "feats", rows.feats);
  detail::write_ids(writer, "pids", rows.pids);
  detail::write_ids(writer, "camids", rows.camids);
  detail::write_ids(writer, "clothes_ids", rows.clothes_ids);
  writer.commit();
}

}  // namespace

std::string center_shard_path(const std::string& save_path, const std::string& model,
                              const std::string& dataset, int64_t num_sample, const ShardSpec& shard) {
  return detail::shard_file(formats::center_frames_path(save_path, model, dataset, num_sample), shard);
}

std::string training_frames_shard_path(const std::string& save_path, const std::string& model,
                                       const std::string& dataset, const ShardSpec& shard) {
  return detail::shard_file(formats::training_frames_path(save_path, model, dataset), shard);
}

CenterExtractionResult extract_centers(const CenterExtractionOptions& options) {
  if (options.views < 1) throw UsageError("--views must be at least 1");
  if (options.num_sample < 1) throw UsageError("--num_sample must be at least 1");
  const auto start = std::chrono::steady_clock::now();
  io::check_output_directory(options.save_path);  // before any work
  auto backbone = detail::load_backbone(options);
  const auto& spec = backbone.spec();
  const auto splits = data::read_dataset(options.dataset, options.root);
  const auto work = plan_train(splits, options);
  int64_t frames = 0;
  for (int64_t s = work.sample_first; s < work.sample_end; ++s)
    frames += work.weights[static_cast<size_t>(s)];
  spdlog::info("{} centers on {}: {} training samples of up to {} frames{}", options.model, options.dataset,
               work.samples.size(), options.num_sample,
               options.shard.sharded() ? ", shard " + std::to_string(options.shard.shard_index) + " of " +
                                             std::to_string(options.shard.num_shards) + ": " +
                                             std::to_string(work.sample_end - work.sample_first) + " samples"
                                       : "");
  TrainPart part;
  if (spec.qe != QeStatistics::kNone) part.frames.qe_stats = formats::FeatureMatrix(0, spec.qe_width());
  if (spec.face_input()) part.frames.has_face = std::vector<uint8_t>();
  {
    // The centers come from the frames as the test transform gives them; the training-frames
    // cache too with one view, else from a second pass of augmented views.
    const bool with_qe = spec.qe != QeStatistics::kNone;
    const int64_t chunk = std::max<int64_t>(1, options.batch_frames / spec.frame_clip_length);
    const bool per_sample_centers = spec.clip_model() || spec.pooling == ClipPooling::kMaxFcBin;
    const int64_t passes = options.views > 1 ? 1 + options.views : 1;
    ProgressReporter progress(options.model + " training frames", frames * passes, ProgressOptions("frame"));
    run_pass(splits, spec, work, options, 0, progress,
             [&](const PlannedBatch& planned, const detail::PreparedBatch& batch) {
               BatchFeatures per_frame;
               if (options.views == 1 || !per_sample_centers) {
                 per_frame = frame_features(backbone, batch.frames, chunk, with_qe && options.views == 1);
               }
               const auto feats = detail::to_matrix(per_frame.features, backbone.feature_width());
               if (options.views == 1) {
                 const auto stats = detail::to_matrix(per_frame.qe_stats, spec.qe_width());
                 add_frame_rows(part.frames, spec, work, planned, batch, feats, stats, 1);
               }
               add_center_batch(part.centers, backbone, work, planned, batch, feats);
             });
    if (options.views > 1) {
      run_pass(splits, spec, work, options, options.views, progress,
               [&](const PlannedBatch& planned, const detail::PreparedBatch& batch) {
                 const auto per_frame = frame_features(backbone, batch.frames, chunk, with_qe);
                 const auto feats = detail::to_matrix(per_frame.features, backbone.feature_width());
                 const auto stats = detail::to_matrix(per_frame.qe_stats, spec.qe_width());
                 add_frame_rows(part.frames, spec, work, planned, batch, feats, stats, options.views);
               });
    }
    progress.finish();
  }
  CenterExtractionResult result;
  result.num_samples = work.sample_end - work.sample_first;
  io::ensure_output_directory(options.save_path);
  if (options.shard.sharded()) {
    result.frames_path = center_shard_path(options.save_path, options.model, options.dataset,
                                           options.num_sample, options.shard);
    result.training_frames_path =
        training_frames_shard_path(options.save_path, options.model, options.dataset, options.shard);
    formats::write_training_frames(result.training_frames_path, part.frames);
    write_center_part(result.frames_path, options.shard, work, part.centers, options);
    result.num_frames = part.frames.size();
    result.num_center_rows = part.centers.feats.rows;
    result.dim = part.frames.feats.cols;
  } else {
    write_final(options.save_path, options.model, options.dataset, options.num_sample, part, result);
  }
  detail::write_run_config(result.frames_path, "qme_precompute_center", options,
                           {{"save_path", "'" + options.save_path + "'"},
                            {"num_sample", std::to_string(options.num_sample)},
                            {"views", std::to_string(options.views)}});
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  spdlog::info("wrote {} ({} rows{}) and {} ({} frames x {}) in {:.1f} s", result.frames_path,
               result.num_center_rows,
               options.shard.sharded() ? "" : ", " + std::to_string(result.num_centers) + " centers",
               result.training_frames_path, result.num_frames, result.dim, result.seconds);
  return result;
}

CenterExtractionResult merge_center_shards(const std::string& save_path, const std::string& model,
                                           const std::string& dataset, int64_t num_sample,
                                           int64_t num_shards) {
  if (num_shards < 2) throw UsageError("--merge_shards needs --num_shards of at least 2");
  io::check_output_directory(save_path);  // the merged files go there: checked before any work
  const auto start = std::chrono::steady_clock::now();
  TrainPart merged;
  int64_t next_sample = 0, total = -1, dim = -1, batch_frames = -1;
  for (int64_t i = 0; i < num_shards; ++i) {
    const ShardSpec shard{num_shards, i};
    const std::string path = center_shard_path(save_path, model, dataset, num_sample, shard);
    const std::string frames_path = training_frames_shard_path(save_path, model, dataset, shard);
    for (const auto& p : {path, frames_path}) {
      if (!std::filesystem::exists(p)) {
        throw InputError(p + " does not exist: run shard " + std::to_string(i) + " of " +
                         std::to_string(num_shards) + " first (--num_shards " + std::to_string(num_shards) +
                         " --shard_index " + std::to_string(i) + ")");
      }
    }
    io::H5Reader reader(path);
    detail::check_shard_identity(reader, i, num_shards);
    const int64_t first = detail::required_attribute(reader, "qme_sample_first");
    const int64_t end = detail::required_attribute(reader, "qme_sample_end");
    const int64_t part_total = detail::required_attribute(reader, "qme_sample_total");
    const int64_t part_dim = detail::required_attribute(reader, "qme_dim");
    const int64_t part_batch = detail::required_attribute(reader, "qme_batch_frames");
    if (i == 0) std::tie(total, dim, batch_frames) = std::make_tuple(part_total, part_dim, part_batch);
    if (first != next_sample || part_total != total || part_dim != dim || part_batch != batch_frames) {
      throw InputError(path +
                       ": this part does not continue the parts before it (another run, model, "
                       "--batch_frames or --num_shards?)");
    }
    next_sample = end;
    CenterRows rows;
    rows.feats = detail::read_rows(reader, "feats", dim);
    rows.pids = detail::read_row_ids(reader, "pids", rows.feats.rows, "feats");
    rows.camids = detail::read_row_ids(reader, "camids", rows.feats.rows, "feats");
    rows.clothes_ids = detail::read_row_ids(reader, "clothes_ids", rows.feats.rows, "feats");
    detail::append_rows(merged.centers.feats, rows.feats);
    for (auto [into, from] :
         {std::pair{&merged.centers.pids, &rows.pids}, std::pair{&merged.centers.camids, &rows.camids},
          std::pair{&merged.centers.clothes_ids, &rows.clothes_ids}}) {
      into->insert(into->end(), from->begin(), from->end());
    }
    auto frames = formats::read_training_frames(frames_path);
    auto& f = merged.frames;
    if (i == 0) {
      f.feats.cols = frames.feats.cols;
      if (frames.qe_stats) f.qe_stats = formats::FeatureMatrix(0, frames.qe_stats->cols);
      if (frames.has_face) f.has_face = std::vector<uint8_t>();
    }
    if (frames.qe_stats.has_value() != f.qe_stats.has_value() ||
        frames.has_face.has_value() != f.has_face.has_value()) {
      throw InputError(frames_path + ": this part's datasets differ from the first part's");
    }
    detail::append_rows(f.feats, frames.feats);
    if (f.qe_stats) detail::append_rows(*f.qe_stats, *frames.qe_stats);
    if (f.has_face) f.has_face->insert(f.has_face->end(), frames.has_face->begin(), frames.has_face->end());
    for (auto [into, from] :
         {std::pair{&f.pids, &frames.pids}, std::pair{&f.camids, &frames.camids},
          std::pair{&f.clothes_ids, &frames.clothes_ids}, std::pair{&f.sample_index, &frames.sample_index}}) {
      into->insert(into->end(), from->begin(), from->end());
    }
    f.frame_keys.insert(f.frame_keys.end(), frames.frame_keys.begin(), frames.frame_keys.end());
  }
  if (next_sample != total) {
    throw InputError(center_shard_path(save_path, model, dataset, num_sample, {num_shards, num_shards - 1}) +
                     ": the parts hold fewer training samples than the training set");
  }
  CenterExtractionResult result;
  result.num_samples = total;
  write_final(save_path, model, dataset, num_sample, merged, result);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  spdlog::info("merged {} parts into {}, {} and {}", num_shards, result.frames_path, result.centers_path,
               result.training_frames_path);
  return result;
}

}  // namespace qme::pipeline

#include "qme/train/training_samples.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <utility>

#include "qme/core/error.hpp"
#include "qme/data/sampling.hpp"
#include "qme/scores/score_matrices.hpp"
#include "qme/scores/similarity.hpp"

namespace qme::train {

namespace {

using Positions = std::vector<int64_t>;  // positions in the aligned frame order

/// The aligned positions of every sample, ordered by sample_index.
std::map<int64_t, Positions> group_by_sample(const formats::TrainingFrames& first, const Positions& rows) {
  std::map<int64_t, Positions> out;
  for (size_t p = 0; p < rows.size(); ++p) {
    out[first.sample_index[static_cast<size_t>(rows[p])]].push_back(static_cast<int64_t>(p));
  }
  return out;
}

std::string folder_of(const std::string& key) {
  const auto slash = key.find_last_of('/');
  return slash == std::string::npos ? std::string() : key.substr(0, slash);
}

/// Upstream's training face padding, over one face model's aligned frames.
class FacePadding {
 public:
  FacePadding(const formats::TrainingFrames& frames, const Positions& rows, const std::string& dataset)
      : frames_(frames), rows_(rows), by_folder_(dataset != "ltcc"), by_pid_(dataset != "mevid") {
    for (size_t p = 0; p < rows.size(); ++p) {
      if (!has_face(static_cast<int64_t>(p))) continue;
      const auto r = static_cast<size_t>(rows[p]);
      if (by_folder_) folder_faces_[folder_of(frames.frame_keys[r])].push_back(rows[p]);
      if (by_pid_) pid_faces_[frames.pids[r]].push_back(rows[p]);
    }
  }

  bool has_face(int64_t position) const {
    return !frames_.has_face ||
           (*frames_.has_face)[static_cast<size_t>(rows_[static_cast<size_t>(position)])] != 0;
  }

  /// Cache rows of the slots: the slot's own row when it has a face, else a padding draw; -1
  /// when there is nothing to pad from.
  std::vector<int64_t> slot_rows(const Positions& sample, const Positions& slots,
                                 data::SampleRng& rng) const {
    std::vector<int64_t> own;
    for (const auto p : sample) {
      if (has_face(p)) own.push_back(rows_[static_cast<size_t>(p)]);
    }
    const auto& pool = own.empty() ? fallback_pool(sample.front()) : own;
    std::vector<int64_t> out;
    for (const auto s : slots) {
      const auto p = sample[static_cast<size_t>(s)];
      if (has_face(p)) {
        out.push_back(rows_[static_cast<size_t>(p)]);
      } else {
        out.push_back(pool.empty() ? -1 : pool[static_cast<size_t>(data::uniform_index(rng, pool.size()))]);
      }
    }
    return out;
  }

 private:
  const Positions& fallback_pool(int64_t position) const {
    static const Positions kNone;
    const auto r = static_cast<size_t>(rows_[static_cast<size_t>(position)]);
    if (by_folder_) {
      const auto it = folder_faces_.find(folder_of(frames_.frame_keys[r]));
      if (it != folder_faces_.end()) return it->second;
    }
    if (by_pid_) {
      const auto it = pid_faces_.find(frames_.pids[r]);
      if (it != pid_faces_.end()) return it->second;
    }
    return kNone;
  }

  const formats::TrainingFrames& frames_;
  const Positions& rows_;
  bool by_folder_;
  bool by_pid_;
  std::map<std::string, Positions> folder_faces_;
  std::map<int64_t, Positions> pid_faces_;
};

void check_cache(const ModelTrainingCache& c, const formats::Centers& reference) {
  const auto& source = c.frames.source.empty() ? c.model : c.frames.source;
  if (c.frames.feats.cols != c.centers.dim()) {
    throw InputError(source, "feats",
                     "has " + std::to_string(c.frames.feats.cols) + " columns but the centers of '" +
                         c.model + "' in " + c.centers.source + " have " + std::to_string(c.centers.dim()) +
                         ": the caches of model_list entry '" + c.model + "' come from different models");
  }
  scores::check_feature_dim(scores::similarity_for_model(c.model), c.frames.feats.cols, source, "feats");
  if (c.centers.keys != reference.keys) {
    throw UsageError("build_training_samples: the centers of '" + c.model +
                     "' are not aligned with the others'");
  }
}

/// Mean of the slot rows of every sample (-1 rows count as zero).
formats::FeatureMatrix sample_features(const formats::FeatureMatrix& feats,
                                       const std::vector<int64_t>& slot_rows, int64_t samples, int64_t t) {
  formats::FeatureMatrix out(samples, feats.cols);
  std::vector<double> sum(static_cast<size_t>(feats.cols));
  for (int64_t s = 0; s < samples; ++s) {
    std::fill(sum.begin(), sum.end(), 0.0);
    for (int64_t i = 0; i < t; ++i) {
      const auto r = slot_rows[static_cast<size_t>(s * t + i)];
      if (r < 0) continue;
      const float* row = feats.row(r);
      for (int64_t j = 0; j < feats.cols; ++j) sum[static_cast<size_t>(j)] += row[j];
    }
    float* dst = out.row(s);
    for (int64_t j = 0; j < feats.cols; ++j) dst[j] = static_cast<float>(sum[static_cast<size_t>(j)] / t);
  }
  return out;
}

void release(formats::FeatureMatrix& m) {
  m.values.clear();
  m.values.shrink_to_fit();
}

std::string join_models(const std::vector<ModelTrainingCache>& caches) {
  std::string out;
  for (const auto& c : caches) out += (out.empty() ? "" : ", ") + c.model;
  return out;
}

}  // namespace

int64_t TrainingSamples::model_index(const std::string& model) const {
  const auto it = std::find(models.begin(), models.end(), model);
  return it == models.end() ? -1 : static_cast<int64_t>(it - models.begin());
}

std::vector<int64_t> sample_slots(int64_t length, int64_t frames_per_sample) {
  if (length < 1 || frames_per_sample < 1) {
    throw UsageError("sample_slots: need length >= 1 and frames_per_sample >= 1, got " +
                     std::to_string(length) + " and " + std::to_string(frames_per_sample));
  }
  std::vector<int64_t> out;
  for (int64_t i = 0; i < frames_per_sample; ++i) {
    out.push_back(length >= frames_per_sample ? (2 * i + 1) * length / (2 * frames_per_sample) : i % length);
  }
  return out;
}

TrainingSamples build_training_samples(std::vector<ModelTrainingCache> caches,
                                       const std::string& quality_model,
                                       const TrainingSampleOptions& options) {
  if (caches.empty()) throw UsageError("build_training_samples: no model");
  if (options.frames_per_sample < 1)
    throw UsageError("build_training_samples: frames_per_sample must be >= 1");
  for (const auto& c : caches) check_cache(c, caches.front().centers);

  TrainingSamples out;
  out.frames_per_sample = options.frames_per_sample;
  out.center_labels = formats::center_labels(caches.front().centers);
  const auto quality = std::find_if(caches.begin(), caches.end(),
                                    [&](const ModelTrainingCache& c) { return c.model == quality_model; });
  if (!quality_model.empty() && quality == caches.end()) {
    throw UsageError("build_training_samples: the quality model '" + quality_model + "' is not among " +
                     join_models(caches));
  }
  if (quality != caches.end() && !quality->frames.qe_stats) {
    throw InputError(quality->frames.source, "qe_stats",
                     "is missing: the quality estimator of '" + quality_model +
                         "' needs its per-frame statistics (rewrite the cache with qme_precompute_center)");
  }

  std::vector<const formats::TrainingFrames*> ptrs;
  for (const auto& c : caches) ptrs.push_back(&c.frames);
  const auto rows = formats::align_by_frame_key(ptrs);
  const auto samples = group_by_sample(caches.front().frames, rows.front());
  const int64_t s_count = static_cast<int64_t>(samples.size());
  const int64_t t = options.frames_per_sample;

  std::vector<Positions> slots;  // per sample: positions of its T slots
  std::vector<Positions> members;
  for (const auto& [index, positions] : samples) {
    const auto r = static_cast<size_t>(rows.front()[static_cast<size_t>(positions.front())]);
    out.sample_index.push_back(index);
    out.pids.push_back(caches.front().frames.pids[r]);
    out.camids.push_back(caches.front().frames.camids[r]);
    out.clothes_ids.push_back(caches.front().frames.clothes_ids[r]);
    slots.push_back(sample_slots(static_cast<int64_t>(positions.size()), t));
    members.push_back(positions);
  }

  const int64_t m_count = static_cast<int64_t>(caches.size());
  const int64_t c_count = out.num_centers();
  out.scores.assign(static_cast<size_t>(s_count * m_count * c_count), 0.0f);
  data::SampleRng rng(options.seed);
  for (int64_t m = 0; m < m_count; ++m) {
    auto& c = caches[static_cast<size_t>(m)];
    const auto& model_rows = rows[static_cast<size_t>(m)];
    const FacePadding padding(c.frames, model_rows, options.dataset);
    std::vector<int64_t> slot_rows;
    int64_t faceless = 0, left = 0;
    for (int64_t s = 0; s < s_count; ++s) {
      const auto& sample = members[static_cast<size_t>(s)];
      const auto picked = padding.slot_rows(sample, slots[static_cast<size_t>(s)], rng);
      const bool own =
          std::any_of(sample.begin(), sample.end(), [&](int64_t p) { return padding.has_face(p); });
      faceless += own ? 0 : 1;
      left += picked.front() < 0 ? 1 : 0;
      slot_rows.insert(slot_rows.end(), picked.begin(), picked.end());
    }
    const auto feats = sample_features(c.frames.feats, slot_rows, s_count, t);
    release(c.frames.feats);
    const auto scored = scores::similarity_matrix(
        {feats.values.data(), feats.rows, feats.cols},
        {c.centers.features.values.data(), c_count, c.centers.dim()}, scores::similarity_for_model(c.model));
    for (int64_t s = 0; s < s_count; ++s) {
      std::copy_n(scored.row(s), c_count, out.scores.begin() + (s * m_count + m) * c_count);
    }
    out.models.push_back(c.model);
    if (c.model == quality_model) {
      out.quality_model = c.model;
      out.quality_stats = std::move(*c.frames.qe_stats);
      out.quality_rows = std::move(slot_rows);
      out.samples_without_face = faceless;
      out.samples_left_faceless = left;
    }
    if (c.frames.has_face && faceless > 0) {
      spdlog::info(
          "{}: {} of {} training samples have no face of their own; {} padded as upstream, {} left empty",
          c.model, faceless, s_count, faceless - left, left);
    }
  }
  return out;
}

namespace {

std::string centers_file(const std::string& dir, const std::string& model, const std::string& dataset,
                         int64_t num_sample) {
  const auto aggregated = formats::centers_path(dir, model, dataset);
  if (std::filesystem::exists(aggregated)) return aggregated;
  const auto frames = formats::center_frames_path(dir, model, dataset, num_sample);
  if (std::filesystem::exists(frames)) return frames;
  throw InputError(aggregated, "",
                   "does not exist (the centers of model '" + model +
                       "' in the backbone config's model_list; " +
                       "write them with qme_precompute_center --mode " + model + " --dataset " + dataset +
                       ", or point --center_dir at them)");
}

formats::TrainingFrames frames_file(const std::string& dir, const std::string& model,
                                    const std::string& dataset) {
  const auto path = formats::training_frames_path(dir, model, dataset);
  if (!std::filesystem::exists(path)) {
    throw InputError(path, "",
                     "does not exist (the training frames of model '" + model +
                         "' in the backbone config's model_list; qme_precompute_center --mode " + model +
                         " --dataset " + dataset + " writes it next to the centers)");
  }
  return formats::read_training_frames(path);
}

}  // namespace

TrainingSamples load_training_samples(const TrainingCacheRequest& request,
                                      const TrainingSampleOptions& options) {
  std::vector<formats::Centers> centers;
  for (const auto& model : request.center_models) {
    centers.push_back(formats::read_centers(
        centers_file(request.center_dir, model, request.dataset, options.frames_per_sample)));
  }
  auto aligned = formats::align_centers(centers);
  std::vector<ModelTrainingCache> caches;
  for (const auto& model : request.frame_models) {
    const auto it = std::find(request.center_models.begin(), request.center_models.end(), model);
    if (it == request.center_models.end()) {
      throw UsageError("load_training_samples: '" + model + "' has training frames but no centers requested");
    }
    ModelTrainingCache c;
    c.model = model;
    c.frames = frames_file(request.center_dir, model, request.dataset);
    c.centers = aligned[static_cast<size_t>(it - request.center_models.begin())];
    caches.push_back(std::move(c));
  }
  return build_training_samples(std::move(caches), request.quality_model, options);
}

BatchSchedule::BatchSchedule(std::vector<int64_t> sample_pids, int64_t batch_size, uint64_t seed)
    : sampler_(std::move(sample_pids), 1, seed), batch_size_(batch_size) {
  if (batch_size < 1) throw UsageError("train_batch must be >= 1, got " + std::to_string(batch_size));
  steps_per_epoch_ = sampler_.size() / batch_size;
  if (steps_per_epoch_ < 1) {
    throw UsageError("train_batch " + std::to_string(batch_size) + " is larger than the " +
                     std::to_string(sampler_.size()) + " training samples: an epoch would have no step");
  }
}

std::vector<int64_t> BatchSchedule::batch(int64_t step) {
  if (step < 0) throw UsageError("BatchSchedule: negative step");
  const int64_t epoch = step / steps_per_epoch_;
  if (epoch != epoch_) {
    order_ = sampler_.epoch_indices(epoch);
    epoch_ = epoch;
  }
  const auto first = order_.begin() + (step % steps_per_epoch_) * batch_size_;
  return std::vector<int64_t>(first, first + batch_size_);
}

}  // namespace qme::train

#include "qme/train/training_batches.hpp"

#include <torch/torch.h>

#include <algorithm>

#include "qme/core/error.hpp"

namespace qme::train {

namespace {

void check_indices(const TrainingSamples& samples, const std::vector<int64_t>& batch) {
  if (batch.empty()) throw UsageError("training batch: no sample");
  for (const auto s : batch) {
    if (s < 0 || s >= samples.size()) {
      throw UsageError("training batch: sample " + std::to_string(s) + " of " +
                       std::to_string(samples.size()));
    }
  }
}

torch::Tensor labels_of(const TrainingSamples& samples, const std::vector<int64_t>& batch) {
  auto out = torch::empty({static_cast<int64_t>(batch.size())}, torch::kInt64);
  auto* dst = out.data_ptr<int64_t>();
  for (size_t i = 0; i < batch.size(); ++i) dst[i] = samples.pids[static_cast<size_t>(batch[i])];
  return out;
}

/// (B, T, W): the quality model's statistics of each slot, zero for a slot without a row.
torch::Tensor stats_of(const TrainingSamples& samples, const std::vector<int64_t>& batch) {
  const int64_t t = samples.frames_per_sample;
  const int64_t w = samples.quality_width();
  auto out = torch::zeros({static_cast<int64_t>(batch.size()), t, w}, torch::kFloat32);
  float* dst = out.data_ptr<float>();
  for (size_t i = 0; i < batch.size(); ++i) {
    for (int64_t k = 0; k < t; ++k, dst += w) {
      const auto row = samples.quality_rows[static_cast<size_t>(batch[i] * t + k)];
      if (row >= 0) std::copy_n(samples.quality_stats.row(row), w, dst);
    }
  }
  return out;
}

}  // namespace

ScoreLossBatch score_loss_batch(const TrainingSamples& samples, const std::vector<int64_t>& batch,
                                bool with_quality_stats) {
  check_indices(samples, batch);
  const int64_t m = samples.num_models();
  const int64_t c = samples.num_centers();
  ScoreLossBatch out;
  out.scores = torch::empty({static_cast<int64_t>(batch.size()), m, c}, torch::kFloat32);
  float* dst = out.scores.data_ptr<float>();
  for (size_t i = 0; i < batch.size(); ++i) {
    std::copy_n(samples.scores.data() + batch[i] * m * c, m * c, dst + static_cast<int64_t>(i) * m * c);
  }
  out.labels = labels_of(samples, batch);
  if (with_quality_stats && !samples.quality_model.empty()) out.quality_stats = stats_of(samples, batch);
  return out;
}

QualityBatch quality_batch(const TrainingSamples& samples, const std::vector<int64_t>& batch) {
  check_indices(samples, batch);
  const int64_t q = samples.model_index(samples.quality_model);
  if (samples.quality_model.empty() || q < 0)
    throw UsageError("quality batch: the samples carry no QE statistics");
  const int64_t m = samples.num_models();
  const int64_t c = samples.num_centers();
  QualityBatch out;
  out.face_scores = torch::empty({static_cast<int64_t>(batch.size()), c}, torch::kFloat32);
  float* dst = out.face_scores.data_ptr<float>();
  for (size_t i = 0; i < batch.size(); ++i) {
    std::copy_n(samples.scores.data() + (batch[i] * m + q) * c, c, dst + static_cast<int64_t>(i) * c);
  }
  out.stats = stats_of(samples, batch);
  out.labels = labels_of(samples, batch);
  return out;
}

}  // namespace qme::train

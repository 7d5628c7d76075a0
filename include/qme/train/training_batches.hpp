#pragma once
/// A training step's tensors, gathered from the precomputed samples (training_samples.hpp).
#include <cstdint>
#include <vector>

#include "qme/train/quality_trainer.hpp"
#include "qme/train/score_loss_trainer.hpp"
#include "qme/train/training_samples.hpp"

namespace qme::train {

/// scores (B, M, C), labels (B,) and, when the samples carry QE statistics and
/// `with_quality_stats` is set, quality_stats (B, T, W) (zero rows where a slot has no face to
/// pad from). UsageError on a sample index out of range.
ScoreLossBatch score_loss_batch(const TrainingSamples& samples, const std::vector<int64_t>& batch,
                                bool with_quality_stats = true);

/// stats (B, T, W) of the quality model, its scores face_scores (B, C) and labels (B,).
/// UsageError when the samples carry no QE statistics.
QualityBatch quality_batch(const TrainingSamples& samples, const std::vector<int64_t>& batch);

}  // namespace qme::train

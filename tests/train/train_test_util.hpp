#pragma once
// Small synthetic training batches for the trainer tests.
#include <torch/torch.h>

#include <vector>

#include "qme/train/quality_trainer.hpp"
#include "qme/train/score_loss_trainer.hpp"

namespace qme::test {

constexpr int64_t kModels = 3;
constexpr int64_t kCenters = 12;
constexpr int64_t kBatch = 8;
constexpr int64_t kFrames = 2;
constexpr int64_t kFaceStats = 2048;

/// Center pids 0..5, two centers each.
inline torch::Tensor center_labels() {
  return torch::arange(kCenters, torch::kInt64).floor_divide(2);
}

/// `count` score-loss batches drawn from their own generator (independent of LibTorch's).
inline std::vector<train::ScoreLossBatch> score_batches(int count, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  std::vector<train::ScoreLossBatch> out;
  for (int i = 0; i < count; ++i) {
    train::ScoreLossBatch b;
    b.scores = torch::rand({kBatch, kModels, kCenters}, gen);
    b.labels = torch::randint(0, kCenters / 2 + 1, {kBatch}, gen, torch::kInt64);  // pid 6 has no center
    b.quality_stats = torch::rand({kBatch, kFrames, kFaceStats}, gen);
    out.push_back(b);
  }
  return out;
}

inline std::vector<train::QualityBatch> quality_batches(int count, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  std::vector<train::QualityBatch> out;
  for (int i = 0; i < count; ++i) {
    train::QualityBatch b;
    b.stats = torch::rand({kBatch, kFrames, kFaceStats}, gen);
    b.face_scores = torch::rand({kBatch, kCenters}, gen);
    b.labels = torch::randint(0, kCenters / 2, {kBatch}, gen, torch::kInt64);
    out.push_back(b);
  }
  return out;
}

/// True when both modules' state dicts hold the same names and bits.
inline bool same_state(const io::StateDict& a, const io::StateDict& b) {
  if (a.keys() != b.keys()) return false;
  for (const auto& item : a) {
    if (!torch::equal(item.value(), b[item.key()])) return false;
  }
  return true;
}

}  // namespace qme::test

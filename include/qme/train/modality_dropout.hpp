#pragma once
/// Modality dropout for QME training: each training step, each model's score matrix is zeroed
/// with a fixed probability, so the fusion head learns to cope with a missing modality.
/// Upstream zeroes a model when randn() < dropout_rate (a probability of Phi(dropout_rate));
/// qme takes the probability itself (TrainConfig::modality_dropout, default Phi(0.1) = 0.5398)
/// and draws from its own seeded generator, so a run is reproducible and resumable. Torch-free.
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace qme::train {

class ModalityDropout {
 public:
  /// Throws UsageError unless 0 <= probability <= 1.
  ModalityDropout(double probability, uint64_t seed);

  /// One uniform draw u in [0, 1) per model, in model order; model m is dropped when
  /// u < probability (never for 0, always for 1). Always draws num_models numbers, whatever
  /// the probability, so the stream stays aligned across configurations.
  std::vector<uint8_t> draw(int64_t num_models);

  double probability() const { return probability_; }

  /// The generator's state as text (std::mt19937_64's stream format), to resume exactly.
  std::string state() const;
  /// Restores a state() string; throws InputError when it does not parse.
  void restore(const std::string& state);

 private:
  double probability_;
  std::mt19937_64 engine_;
};

}  // namespace qme::train

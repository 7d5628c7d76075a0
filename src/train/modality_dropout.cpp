#include "qme/train/modality_dropout.hpp"

#include <cmath>
#include <sstream>

#include "qme/core/error.hpp"

namespace qme::train {

namespace {

/// Uniform double in [0, 1) from the top 53 bits: the same on every platform (unlike
/// std::uniform_real_distribution, whose algorithm the standard leaves open).
double uniform01(std::mt19937_64& engine) {
  return static_cast<double>(engine() >> 11) * (1.0 / 9007199254740992.0);
}

}  // namespace

ModalityDropout::ModalityDropout(double probability, uint64_t seed)
    : probability_(probability), engine_(seed) {
  if (!(probability >= 0.0 && probability <= 1.0)) {
    throw UsageError("modality dropout: the probability must be in [0, 1], got " +
                     std::to_string(probability));
  }
}

std::vector<uint8_t> ModalityDropout::draw(int64_t num_models) {
  std::vector<uint8_t> dropped(static_cast<size_t>(num_models > 0 ? num_models : 0));
  for (auto& d : dropped) d = uniform01(engine_) < probability_ ? 1 : 0;
  return dropped;
}

std::string ModalityDropout::state() const {
  std::ostringstream out;
  out << engine_;
  return out.str();
}

void ModalityDropout::restore(const std::string& state) {
  std::istringstream in(state);
  std::mt19937_64 engine;
  in >> engine;
  if (in.fail()) throw InputError("modality dropout: the saved generator state does not parse");
  engine_ = engine;
}

}  // namespace qme::train

// Modality dropout: explicit probability, seeded, resumable.
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "qme/core/error.hpp"
#include "qme/train/modality_dropout.hpp"

using qme::train::ModalityDropout;

TEST_CASE("modality dropout drops each model with the given probability", "[train]") {
  ModalityDropout never(0.0, 1), always(1.0, 1), half(0.5398, 42);
  int64_t dropped = 0;
  const int64_t steps = 20000;
  for (int64_t s = 0; s < steps; ++s) {
    CHECK(never.draw(3) == std::vector<uint8_t>{0, 0, 0});
    CHECK(always.draw(3) == std::vector<uint8_t>{1, 1, 1});
    for (auto d : half.draw(3)) dropped += d;
  }
  // 60000 Bernoulli(0.5398) draws: the share is within 5 standard deviations (~0.01).
  CHECK(static_cast<double>(dropped) / (3 * steps) == Approx(0.5398).margin(0.01));
  CHECK_THROWS_AS(ModalityDropout(1.5, 1), qme::UsageError);
  CHECK_THROWS_AS(ModalityDropout(-0.1, 1), qme::UsageError);
}

TEST_CASE("modality dropout is reproducible from its seed and its saved state", "[train]") {
  ModalityDropout a(0.5, 7), b(0.5, 7), c(0.5, 8);
  std::vector<uint8_t> da, db, dc;
  for (int s = 0; s < 50; ++s) {
    for (auto d : a.draw(3)) da.push_back(d);
    for (auto d : b.draw(3)) db.push_back(d);
    for (auto d : c.draw(3)) dc.push_back(d);
  }
  CHECK(da == db);
  CHECK(da != dc);
  const auto state = a.state();
  const auto next = a.draw(5);
  ModalityDropout resumed(0.5, 999);
  resumed.restore(state);
  CHECK(resumed.draw(5) == next);
  CHECK_THROWS_AS(resumed.restore("not a state"), qme::InputError);
}

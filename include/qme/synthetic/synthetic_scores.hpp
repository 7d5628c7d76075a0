#pragma once
/// Synthetic score-matrix files for the demo and the benchmarks: identities
/// seen by several cameras in several outfits, and per-model score
/// distributions that are deliberately misaligned (different ranges and
/// spreads) and whose reliability varies per probe: the face model fails on
/// low-quality probes, body models suffer from clothes changes.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "qme/core/identity_labels.hpp"
#include "qme/core/score_matrix.hpp"

namespace qme::synthetic {

/// How far the scores depart from the default demo distribution, for benchmarks and tests
/// that must hold on realistic files: narrow cosine bands, matches buried in the bulk, ties and
/// face-less probes. The defaults leave the generated files unchanged.
struct ScoreDistribution {
  double spread_scale = 1.0;       // impostor spread x this (a narrow cosine band: < 1)
  double gain_scale = 1.0;         // genuine gain x this (matches mixed into the bulk: < 1)
  double quantum = 0.0;            // round every score to a multiple of this (ties); 0: exact
  double faceless_fraction = 0.0;  // share of probes whose face-model rows are all 0 (no face)
};

struct SyntheticScoreSpec {
  int64_t num_subjects = 40;
  int64_t probes_per_subject = 5;
  int64_t gallery_per_subject = 20;
  int64_t num_cameras = 6;
  int64_t num_outfits = 3;
  int64_t probe_limit = 0;  // keep only the first N probes (0: all)
  std::vector<std::string> models = {"adaface", "biggait", "cal-ccvid"};
  uint32_t seed = 7;
  ScoreDistribution distribution;
};

struct SyntheticScores {
  TestLabels labels;
  std::vector<std::pair<std::string, ModelScores>> models;
};

/// Deterministic for a given spec (own normal sampler, not the standard
/// library's, so the file is the same with every compiler).
SyntheticScores make_synthetic_scores(const SyntheticScoreSpec& spec);

/// The size of LTCC's test split: 493 probes x 7050 gallery, 75 subjects.
SyntheticScoreSpec ltcc_sized_spec();

}  // namespace qme::synthetic

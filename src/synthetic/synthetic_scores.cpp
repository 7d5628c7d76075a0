#include "qme/synthetic/synthetic_scores.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include "qme/core/error.hpp"
#include "qme/core/random_mixing.hpp"
#include "qme/models/model_spec.hpp"

namespace qme::synthetic {

namespace {

/// Box-Muller over mt19937 words: the same numbers on every platform.
class NormalSampler {
 public:
  explicit NormalSampler(uint32_t seed) : engine_(seed) {}
  double uniform() { return (static_cast<double>(engine_()) + 0.5) / 4294967296.0; }
  double normal() {
    const double u1 = uniform(), u2 = uniform();
    return core::box_muller_normal(u1, u2);
  }

 private:
  std::mt19937 engine_;
};

/// How a model family scores: impostor centre and spread, genuine gain, and
/// how much probe quality (face) or outfit change (body) matters.
struct ModelBehaviour {
  double impostor_mean, spread, genuine_gain, quality_weight, clothes_penalty;
};

ModelBehaviour behaviour_of(const std::string& model, size_t index) {
  const models::ModelSpec* row = models::find_model_spec(model);
  const models::Modality modality = row ? row->modality : models::Modality::kBody;
  if (modality == models::Modality::kFace) {
    return {0.05, 0.08, 0.40, 1.0, 0.0};  // strong when the face is good, useless otherwise
  }
  if (modality == models::Modality::kGait) return {0.18, 0.015, 0.028, 0.0, 0.2};  // 1/(1+d): narrow range
  // body re-id: decent, hurt by outfit changes; offsets differ per model
  return {0.30 + 0.05 * static_cast<double>(index % 3), 0.06, 0.14, 0.0, 0.6};
}

IdentityLabels make_side(const SyntheticScoreSpec& spec, int64_t per_subject, int64_t camera_offset) {
  IdentityLabels side;
  for (int64_t s = 0; s < spec.num_subjects; ++s) {
    for (int64_t k = 0; k < per_subject; ++k) {
      side.pids.push_back(s + 1);
      side.camids.push_back((k + camera_offset) % spec.num_cameras);
      side.clothes_ids.push_back(s * spec.num_outfits + (k + camera_offset) % spec.num_outfits);
    }
  }
  return side;
}

ScoreMatrix subject_means(const ScoreMatrix& scores, const TestLabels& labels) {
  const auto& subjects = labels.unique_gallery_pids;
  ScoreMatrix merged(scores.rows, static_cast<int64_t>(subjects.size()));
  std::vector<int64_t> column(labels.gallery.size()), counts(subjects.size(), 0);
  for (size_t j = 0; j < labels.gallery.size(); ++j) {
    column[j] = std::lower_bound(subjects.begin(), subjects.end(), labels.gallery.pids[j]) - subjects.begin();
    ++counts[static_cast<size_t>(column[j])];
  }
  for (int64_t i = 0; i < scores.rows; ++i) {
    std::vector<double> sums(subjects.size(), 0.0);
    for (int64_t j = 0; j < scores.cols; ++j) sums[static_cast<size_t>(column[j])] += scores.at(i, j);
    for (size_t u = 0; u < subjects.size(); ++u) {
      merged.row(i)[u] = static_cast<float>(sums[u] / static_cast<double>(counts[u]));
    }
  }
  return merged;
}

ModelBehaviour scaled(ModelBehaviour b, const ScoreDistribution& d) {
  b.spread *= d.spread_scale;
  b.genuine_gain *= d.gain_scale;
  return b;
}

/// Probes without a face: their own stream, so the scores stay those of the default spec.
std::vector<uint8_t> faceless_probes(int64_t probes, const SyntheticScoreSpec& spec) {
  std::vector<uint8_t> faceless(static_cast<size_t>(probes), 0);
  if (spec.distribution.faceless_fraction <= 0) return faceless;
  NormalSampler rng(spec.seed ^ 0x9e3779b9u);
  for (auto& f : faceless) f = rng.uniform() < spec.distribution.faceless_fraction;
  return faceless;
}

float quantised(double s, double quantum) {
  return static_cast<float>(quantum > 0 ? std::round(s / quantum) * quantum : s);
}

}  // namespace

SyntheticScores make_synthetic_scores(const SyntheticScoreSpec& spec) {
  if (spec.num_subjects < 2 || spec.probes_per_subject < 1 || spec.gallery_per_subject < 1 ||
      spec.num_cameras < 2 || spec.num_outfits < 1 || spec.models.empty()) {
    throw UsageError("synthetic scores need >= 2 subjects, >= 2 cameras and at least one model");
  }
  SyntheticScores out;
  out.labels.query = make_side(spec, spec.probes_per_subject, 0);
  if (spec.probe_limit > 0 && spec.probe_limit < static_cast<int64_t>(out.labels.query.size())) {
    for (auto* ids : {&out.labels.query.pids, &out.labels.query.camids, &out.labels.query.clothes_ids}) {
      ids->resize(static_cast<size_t>(spec.probe_limit));
    }
  }
  out.labels.gallery = make_side(spec, spec.gallery_per_subject, 1);
  out.labels.unique_gallery_pids = unique_sorted(out.labels.gallery.pids);
  NormalSampler rng(spec.seed);
  const auto q = static_cast<int64_t>(out.labels.query.size());
  const auto g = static_cast<int64_t>(out.labels.gallery.size());
  std::vector<double> face_quality(static_cast<size_t>(q));
  for (auto& quality : face_quality) quality = rng.uniform() < 0.35 ? 0.05 * rng.uniform() : rng.uniform();
  const auto faceless = faceless_probes(q, spec);
  const double quantum = spec.distribution.quantum;
  for (size_t m = 0; m < spec.models.size(); ++m) {
    const auto b = scaled(behaviour_of(spec.models[m], m), spec.distribution);
    const bool face = models::is_face_model(spec.models[m]);
    ModelScores scores;
    scores.score_mat = ScoreMatrix(q, g);
    for (int64_t i = 0; i < q; ++i) {
      const double quality = b.quality_weight > 0 ? face_quality[static_cast<size_t>(i)] : 1.0;
      for (int64_t j = 0; j < g; ++j) {
        double s = b.impostor_mean + b.spread * rng.normal();
        if (out.labels.query.pids[i] == out.labels.gallery.pids[j]) {
          const bool changed = out.labels.query.clothes_ids[i] != out.labels.gallery.clothes_ids[j];
          s += b.genuine_gain * quality * (changed ? 1.0 - b.clothes_penalty : 1.0);
        }
        scores.score_mat.row(i)[j] = quantised(s, quantum);
      }
      // NaN features (no face found) become 0 scores when the matrix is built.
      if (face && faceless[static_cast<size_t>(i)]) std::fill_n(scores.score_mat.row(i), g, 0.0f);
    }
    scores.merge_score_mat = subject_means(scores.score_mat, out.labels);
    out.models.emplace_back(spec.models[m], std::move(scores));
  }
  return out;
}

SyntheticScoreSpec ltcc_sized_spec() {
  // 75 subjects; 493 = 75 * 6 + 43 probes and 7050 = 75 * 94 gallery entries.
  SyntheticScoreSpec spec;
  spec.num_subjects = 75;
  spec.probes_per_subject = 7;  // 525, trimmed to LTCC's 493
  spec.probe_limit = 493;
  spec.gallery_per_subject = 94;
  spec.num_cameras = 12;
  spec.num_outfits = 5;
  spec.models = {"adaface", "cal-ltcc", "aim"};
  return spec;
}

}  // namespace qme::synthetic

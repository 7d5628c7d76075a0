#include "qme/synthetic/synthetic_caches.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <random>
#include <set>
#include <utility>

#include "qme/config/backbone_config.hpp"
#include "qme/core/error.hpp"
#include "qme/core/random_mixing.hpp"
#include "qme/formats/center_file.hpp"
#include "qme/formats/features_file.hpp"
#include "qme/formats/probe_quality_stats.hpp"
#include "qme/formats/score_matrix_file.hpp"
#include "qme/formats/training_frames.hpp"
#include "qme/io/output_directory.hpp"
#include "qme/models/model_spec.hpp"

namespace qme::synthetic {

namespace {

/// Box-Muller over mt19937 words: the same numbers with every standard library.
class Sampler {
 public:
  explicit Sampler(uint32_t seed) : engine_(seed) {}
  double uniform() { return (static_cast<double>(engine_()) + 0.5) / 4294967296.0; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  double normal() {
    const double u1 = uniform(), u2 = uniform();
    return core::box_muller_normal(u1, u2);
  }
  /// N(0, I/d): norm about 1.
  std::vector<double> noise(int64_t d) {
    std::vector<double> v(static_cast<size_t>(d));
    const double scale = 1.0 / std::sqrt(static_cast<double>(d));
    for (auto& x : v) x = scale * normal();
    return v;
  }
  std::vector<double> unit(int64_t d) {
    auto v = noise(d);
    double norm = 0.0;
    for (double x : v) norm += x * x;
    norm = std::sqrt(norm);
    for (auto& x : v) x /= norm;
    return v;
  }

 private:
  std::mt19937 engine_;
};

/// A seed for stream `stream` derived from the spec's seed.
uint32_t stream_seed(uint32_t seed, uint32_t stream) {
  return seed * 2654435761u + stream * 40503u + 1u;
}

double clip01(double x) {
  return std::min(1.0, std::max(0.0, x));
}

double draw_quality(Sampler& rng) {
  return rng.uniform() < 0.35 ? rng.uniform(0.0, 0.15) : rng.uniform(0.3, 1.0);
}

struct Sample {  // a training sample or a probe clip or a gallery entry
  bool has_face = true;
  std::vector<double> frame_quality;
};

struct Subject {
  int64_t pid = 0, camid = 0, clothes_id = 0, outfit = 0;
  std::vector<Sample> clips;  // training: one; probe: clips_per_probe; gallery: one frame
};

struct Truth {
  std::vector<Subject> train, probes, gallery;
};

Sample draw_sample(Sampler& rng, int64_t frames, double quality, bool has_face) {
  Sample s;
  s.has_face = has_face;
  for (int64_t f = 0; f < frames; ++f) s.frame_quality.push_back(clip01(quality + 0.05 * rng.normal()));
  return s;
}

Truth make_truth(const SyntheticCacheSpec& spec) {
  Sampler rng(stream_seed(spec.seed, 0));
  Truth t;
  const auto P = spec.num_train_pids, O = spec.clothes_per_pid;
  for (int64_t p = 0; p < P; ++p) {
    for (int64_t o = 0; o < O; ++o) {
      const bool faceless_center = spec.face_missing_center && p == P - 1 && o == O - 1;
      for (int64_t s = 0; s < spec.samples_per_clothes; ++s) {
        const double q = draw_quality(rng);
        const bool face = rng.uniform() >= spec.no_face_rate && !faceless_center;
        t.train.push_back({p,
                           (p + o) % spec.num_cameras,
                           p * O + o,
                           o,
                           {draw_sample(rng, spec.frames_per_sample, q, face)}});
      }
    }
  }
  for (int64_t i = 0; i < spec.num_test_pids; ++i) {
    const int64_t pid = P + i;
    for (int64_t k = 0; k < spec.probes_per_pid; ++k) {
      Subject probe{pid, (k + 1) % spec.num_cameras, pid * O + k % O, k % O, {}};
      const double q = draw_quality(rng);
      for (int64_t c = 0; c < spec.clips_per_probe; ++c) {
        const bool face = rng.uniform() >= spec.no_face_rate;
        probe.clips.push_back(draw_sample(rng, spec.frames_per_sample, q, face));
      }
      t.probes.push_back(std::move(probe));
    }
    for (int64_t k = 0; k < spec.gallery_per_pid; ++k) {
      t.gallery.push_back({pid,
                           k % spec.num_cameras,
                           pid * O + k % O,
                           k % O,
                           {draw_sample(rng, 1, rng.uniform(0.6, 1.0), true)}});
    }
  }
  return t;
}

/// One model's feature generator: prototypes per identity and outfit.
class ModelFeatures {
 public:
  ModelFeatures(const SyntheticCacheSpec& spec, size_t index)
      : dim_(spec.models[index].dim),
        face_(models::is_face_model(spec.models[index].name)),
        rng_(stream_seed(spec.seed, 1 + static_cast<uint32_t>(index))) {
    const models::ModelSpec* row = models::find_model_spec(spec.models[index].name);
    const bool gait = row && row->modality == models::Modality::kGait;
    outfit_gain_ = gait ? 0.4 : 0.9;
    noise_gain_ = gait ? spec.gait_noise : spec.body_noise;
    const int64_t pids = spec.num_train_pids + spec.num_test_pids;
    for (int64_t p = 0; p < pids; ++p) {
      identity_.push_back(rng_.unit(dim_));
      for (int64_t o = 0; o < spec.clothes_per_pid; ++o) outfit_.push_back(rng_.unit(dim_));
    }
    outfits_ = spec.clothes_per_pid;
    train_pids_ = spec.num_train_pids;
  }

  bool face() const { return face_; }
  int64_t dim() const { return dim_; }
  Sampler& rng() { return rng_; }

  /// What a sample (training sample, probe clip, gallery entry) of `s` shares
  /// across its frames besides its identity: body models, a noise vector; face
  /// models, the prototype of a look-alike (another identity of the same split).
  std::vector<double> sample_noise(const Subject& s) {
    if (!face_) return rng_.noise(dim_);
    const bool train = s.pid < train_pids_;
    const int64_t first = train ? 0 : train_pids_;
    const int64_t count = train ? train_pids_ : static_cast<int64_t>(identity_.size()) - train_pids_;
    int64_t other = first + static_cast<int64_t>(rng_.uniform() * static_cast<double>(count - 1));
    if (other >= s.pid) ++other;  // any identity of the split but s.pid
    return identity_[static_cast<size_t>(other)];
  }

  /// One frame's feature (face models: of a frame with a face), given its
  /// sample's shared vector r (see sample_noise).
  std::vector<float> frame(const Subject& s, double quality, const std::vector<double>& r) {
    const auto& u = identity_[static_cast<size_t>(s.pid)];
    const auto& v = outfit_[static_cast<size_t>(s.pid * outfits_ + s.outfit)];
    const auto n = rng_.noise(dim_);
    std::vector<float> x(static_cast<size_t>(dim_));
    for (size_t j = 0; j < x.size(); ++j) {
      const double shared =
          face_ ? quality * u[j] + (1.0 - quality) * r[j] : u[j] + outfit_gain_ * v[j] + noise_gain_ * r[j];
      x[j] = static_cast<float>(shared + 0.1 * n[j]);
    }
    return x;
  }

 private:
  int64_t dim_;
  bool face_;
  Sampler rng_;
  double outfit_gain_ = 0.9, noise_gain_ = 1.2;
  int64_t outfits_ = 1;
  int64_t train_pids_ = 0;
  std::vector<std::vector<double>> identity_, outfit_;
};

/// Upstream's [block][stat][channel] statistics of a face frame of quality q.
void write_qe_stats(Sampler& rng, double q, int64_t width, float* out) {
  const int64_t channels = width / 4;
  for (int64_t seg = 0; seg < 4; ++seg) {
    const bool is_std = seg % 2 == 1;
    for (int64_t c = 0; c < channels; ++c) {
      double v = is_std ? 1.0 + 0.2 * std::fabs(rng.normal()) : 0.5 * rng.normal();
      if (c < 16) v = is_std ? v * (0.5 + q) : v + 2.0 * (q - 0.5) + 0.1 * rng.normal();
      out[seg * channels + c] = static_cast<float>(v);
    }
  }
}

formats::TrainingFrames training_frames(const SyntheticCacheSpec& spec, const Truth& truth,
                                        ModelFeatures& gen) {
  formats::TrainingFrames t;
  const int64_t frames = static_cast<int64_t>(truth.train.size()) * spec.frames_per_sample;
  t.feats = formats::FeatureMatrix(frames, gen.dim());
  if (gen.face()) {
    t.qe_stats = formats::FeatureMatrix(frames, spec.face_qe_width);
    t.has_face = std::vector<uint8_t>(static_cast<size_t>(frames), 0);
  }
  int64_t row = 0;
  for (size_t s = 0; s < truth.train.size(); ++s) {
    const auto& subject = truth.train[s];
    const auto& sample = subject.clips.front();
    const auto r = gen.sample_noise(subject);
    for (size_t f = 0; f < sample.frame_quality.size(); ++f, ++row) {
      t.pids.push_back(subject.pid);
      t.camids.push_back(subject.camid);
      t.clothes_ids.push_back(subject.clothes_id);
      t.sample_index.push_back(static_cast<int64_t>(s));
      t.frame_keys.push_back("p" + std::to_string(subject.pid) + "/c" + std::to_string(subject.outfit) +
                             "/s" + std::to_string(s) + "/f" + std::to_string(f));
      if (gen.face() && !sample.has_face) continue;  // zero feature and statistics
      const auto x = gen.frame(subject, sample.frame_quality[f], r);
      std::copy(x.begin(), x.end(), t.feats.row(row));
      if (gen.face()) {
        (*t.has_face)[static_cast<size_t>(row)] = 1;
        write_qe_stats(gen.rng(), sample.frame_quality[f], spec.face_qe_width, t.qe_stats->row(row));
      }
    }
  }
  return t;
}

/// The frames of each (pid, camid, clothes) key; face models skip faceless frames.
std::vector<formats::CenterFrames> center_frames(const formats::TrainingFrames& t) {
  std::vector<formats::CenterFrames> centers;
  for (int64_t i = 0; i < t.size(); ++i) {
    if (t.has_face && !(*t.has_face)[static_cast<size_t>(i)]) continue;
    const auto ui = static_cast<size_t>(i);
    const formats::CenterKey key{t.pids[ui], t.camids[ui], t.clothes_ids[ui]};
    auto it = std::find_if(centers.begin(), centers.end(),
                           [&](const formats::CenterFrames& c) { return c.key == key; });
    if (it == centers.end()) {
      centers.push_back({key, formats::FeatureMatrix(0, t.feats.cols)});
      it = centers.end() - 1;
    }
    it->frames.values.insert(it->frames.values.end(), t.feats.row(i), t.feats.row(i) + t.feats.cols);
    ++it->frames.rows;
  }
  return centers;
}

/// Mean of a probe's frame features (face: frames with a face; none -> NaN row).
std::vector<float> probe_feature(const Subject& probe, ModelFeatures& gen) {
  std::vector<double> sum(static_cast<size_t>(gen.dim()), 0.0);
  int64_t count = 0;
  for (const auto& clip : probe.clips) {
    if (gen.face() && !clip.has_face) continue;
    const auto r = gen.sample_noise(probe);
    for (double q : clip.frame_quality) {
      const auto x = gen.frame(probe, q, r);
      for (size_t j = 0; j < sum.size(); ++j) sum[j] += x[j];
      ++count;
    }
  }
  std::vector<float> out(sum.size(), std::numeric_limits<float>::quiet_NaN());
  if (count > 0) {
    for (size_t j = 0; j < sum.size(); ++j) out[j] = static_cast<float>(sum[j] / static_cast<double>(count));
  }
  return out;
}

/// Cosine similarity in double; a non-finite input scores 0 (np.nan_to_num).
float cosine(const float* a, const float* b, int64_t d) {
  double ab = 0.0, aa = 0.0, bb = 0.0;
  for (int64_t j = 0; j < d; ++j) {
    ab += static_cast<double>(a[j]) * b[j];
    aa += static_cast<double>(a[j]) * a[j];
    bb += static_cast<double>(b[j]) * b[j];
  }
  const double s = ab / std::sqrt(aa * bb);
  return std::isfinite(s) ? static_cast<float>(s) : 0.0f;
}

ModelScores test_scores(const Truth& truth, const TestLabels& labels, ModelFeatures& gen) {
  const auto q = static_cast<int64_t>(truth.probes.size()), g = static_cast<int64_t>(truth.gallery.size());
  const auto d = gen.dim();
  formats::FeatureMatrix probes(q, d), gallery(g, d);
  for (int64_t i = 0; i < q; ++i) {
    const auto x = probe_feature(truth.probes[static_cast<size_t>(i)], gen);
    std::copy(x.begin(), x.end(), probes.row(i));
  }
  for (int64_t j = 0; j < g; ++j) {
    const auto& entry = truth.gallery[static_cast<size_t>(j)];
    const auto x = gen.frame(entry, entry.clips.front().frame_quality.front(), gen.sample_noise(entry));
    std::copy(x.begin(), x.end(), gallery.row(j));
  }
  const auto& subjects = labels.unique_gallery_pids;
  formats::FeatureMatrix templates(static_cast<int64_t>(subjects.size()), d);
  for (size_t u = 0; u < subjects.size(); ++u) {
    std::vector<double> sum(static_cast<size_t>(d), 0.0);
    int64_t count = 0;
    for (int64_t j = 0; j < g; ++j) {
      if (labels.gallery.pids[static_cast<size_t>(j)] != subjects[u]) continue;
      for (int64_t k = 0; k < d; ++k) sum[static_cast<size_t>(k)] += gallery.at(j, k);
      ++count;
    }
    for (int64_t k = 0; k < d; ++k)
      templates.row(static_cast<int64_t>(u))[k] = static_cast<float>(sum[static_cast<size_t>(k)] / count);
  }
  ModelScores scores;
  scores.score_mat = ScoreMatrix(q, g);
  scores.merge_score_mat = ScoreMatrix(q, templates.rows);
  for (int64_t i = 0; i < q; ++i) {
    for (int64_t j = 0; j < g; ++j) scores.score_mat.row(i)[j] = cosine(probes.row(i), gallery.row(j), d);
    for (int64_t u = 0; u < templates.rows; ++u)
      scores.merge_score_mat.row(i)[u] = cosine(probes.row(i), templates.row(u), d);
  }
  return scores;
}

formats::ProbeQualityStats probe_quality_stats(const SyntheticCacheSpec& spec, const Truth& truth,
                                               ModelFeatures& gen) {
  formats::ProbeQualityStats s;
  s.qe_stats = formats::FeatureMatrix(0, spec.face_qe_width);
  for (size_t p = 0; p < truth.probes.size(); ++p) {
    for (const auto& clip : truth.probes[p].clips) {
      const auto c = static_cast<int64_t>(s.clip_query.size());
      s.clip_query.push_back(static_cast<int64_t>(p));
      if (!clip.has_face) continue;
      for (double q : clip.frame_quality) {
        s.qe_stats.values.resize(s.qe_stats.values.size() + static_cast<size_t>(spec.face_qe_width));
        write_qe_stats(gen.rng(), q, spec.face_qe_width, s.qe_stats.row(s.qe_stats.rows++));
        s.frame_clip.push_back(c);
      }
    }
  }
  return s;
}

IdentityLabels labels_of(const std::vector<Subject>& subjects) {
  IdentityLabels l;
  for (const auto& s : subjects) {
    l.pids.push_back(s.pid);
    l.camids.push_back(s.camid);
    l.clothes_ids.push_back(s.clothes_id);
  }
  return l;
}

std::vector<float> probe_quality(const Truth& truth) {
  std::vector<float> quality;
  for (const auto& probe : truth.probes) {
    double sum = 0.0;
    int64_t count = 0;
    for (const auto& clip : probe.clips) {
      if (!clip.has_face) continue;
      for (double q : clip.frame_quality) sum += q, ++count;
    }
    quality.push_back(count ? static_cast<float>(sum / static_cast<double>(count)) : 0.0f);
  }
  return quality;
}

void check_spec(const SyntheticCacheSpec& spec) {
  const auto bad = [](const std::string& what) { throw UsageError("synthetic caches: " + what); };
  if (spec.num_train_pids < 2 || spec.num_test_pids < 2) bad("need >= 2 training and >= 2 test identities");
  if (spec.num_cameras < 2) bad("need >= 2 cameras");
  if (spec.clothes_per_pid < 1 || spec.samples_per_clothes < 1 || spec.frames_per_sample < 1 ||
      spec.probes_per_pid < 1 || spec.gallery_per_pid < 1 || spec.clips_per_probe < 1) {
    bad("every count must be >= 1");
  }
  if (!(spec.no_face_rate >= 0.0 && spec.no_face_rate < 1.0)) bad("no_face_rate must be in [0, 1)");
  if (spec.face_qe_width < 64 || spec.face_qe_width % 4 != 0)
    bad("face_qe_width must be a multiple of 4, >= 64");
  if (spec.models.empty()) bad("need at least one model");
  if (!(spec.body_noise >= 0.0 && spec.gait_noise >= 0.0)) bad("body_noise and gait_noise must be >= 0");
  std::set<std::string> names;
  for (const auto& m : spec.models) {
    if (m.dim < 1) bad("model '" + m.name + "' needs dim >= 1");
    if (m.name.empty() || !names.insert(m.name).second) bad("model names must be non-empty and distinct");
  }
}

}  // namespace

SyntheticCacheFiles write_synthetic_caches(const std::string& dir, const SyntheticCacheSpec& spec) {
  check_spec(spec);
  const Truth truth = make_truth(spec);
  SyntheticCacheFiles out;
  out.center_dir = dir + "/mod_center_feat";
  out.test_dir = dir + "/test_feats";
  io::ensure_output_directory(out.center_dir);
  io::ensure_output_directory(out.test_dir);
  TestLabels labels;
  labels.query = labels_of(truth.probes);
  labels.gallery = labels_of(truth.gallery);
  labels.unique_gallery_pids = unique_sorted(labels.gallery.pids);
  std::vector<std::pair<std::string, ModelScores>> scores;
  for (size_t m = 0; m < spec.models.size(); ++m) {
    const auto& name = spec.models[m].name;
    ModelFeatures gen(spec, m);
    const auto frames = training_frames(spec, truth, gen);
    const auto centers = center_frames(frames);
    out.models.push_back(name);
    out.center_frames.push_back(
        formats::center_frames_path(out.center_dir, name, spec.dataset, spec.frames_per_sample));
    out.centers.push_back(formats::centers_path(out.center_dir, name, spec.dataset));
    out.training_frames.push_back(formats::training_frames_path(out.center_dir, name, spec.dataset));
    formats::write_center_frames(out.center_frames.back(), centers);
    formats::write_centers(out.centers.back(), centers);
    formats::write_training_frames(out.training_frames.back(), frames);
    scores.emplace_back(name, test_scores(truth, labels, gen));
    out.probe_quality_stats.emplace_back();
    if (gen.face()) {
      out.probe_quality_stats.back() = formats::probe_quality_stats_path(out.test_dir, name, spec.dataset);
      formats::write_probe_quality_stats(out.probe_quality_stats.back(),
                                         probe_quality_stats(spec, truth, gen));
    }
  }
  out.score_matrices = formats::score_matrix_path(out.test_dir, spec.dataset);
  formats::write_score_matrix_file(out.score_matrices, labels, scores);
  out.probe_quality = probe_quality(truth);
  return out;
}

}  // namespace qme::synthetic

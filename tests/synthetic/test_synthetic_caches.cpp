#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "qme/core/error.hpp"
#include "qme/formats/center_file.hpp"
#include "qme/formats/face_weights.hpp"
#include "qme/formats/probe_quality_stats.hpp"
#include "qme/formats/score_matrix_file.hpp"
#include "qme/formats/training_frames.hpp"
#include "qme/synthetic/synthetic_caches.hpp"
#include "support/test_support.hpp"

using qme::synthetic::SyntheticCacheSpec;
using qme::test::TempDir;

namespace {

/// Everything a written set of caches holds, decoded through qme's readers.
struct Decoded {
  std::vector<qme::formats::Centers> centers;
  std::vector<qme::formats::TrainingFrames> frames;
  std::vector<qme::ModelScores> scores;
  qme::formats::ProbeQualityStats stats;
};

Decoded decode(const qme::synthetic::SyntheticCacheFiles& files) {
  Decoded d;
  const qme::formats::ScoreMatrixFile scores(files.score_matrices);
  for (size_t m = 0; m < files.models.size(); ++m) {
    d.centers.push_back(qme::formats::read_centers(files.centers[m]));
    d.frames.push_back(qme::formats::read_training_frames(files.training_frames[m]));
    d.scores.push_back(scores.read_model(files.models[m]));
  }
  d.stats = qme::formats::read_probe_quality_stats(files.probe_quality_stats[0]);
  return d;
}

bool same(const Decoded& a, const Decoded& b) {
  for (size_t m = 0; m < a.centers.size(); ++m) {
    if (a.centers[m].features.values != b.centers[m].features.values) return false;
    if (a.frames[m].feats.values != b.frames[m].feats.values) return false;
    if (a.scores[m].score_mat.values != b.scores[m].score_mat.values) return false;
    if (a.scores[m].merge_score_mat.values != b.scores[m].merge_score_mat.values) return false;
  }
  return a.frames[0].qe_stats->values == b.frames[0].qe_stats->values &&
         a.stats.qe_stats.values == b.stats.qe_stats.values;
}

/// Rank-1 accuracy on the subject-level matrix.
double rank1(const qme::ScoreMatrix& merged, const qme::TestLabels& labels) {
  int64_t hits = 0;
  for (int64_t i = 0; i < merged.rows; ++i) {
    int64_t best = 0;
    for (int64_t u = 1; u < merged.cols; ++u) best = merged.at(i, u) > merged.at(i, best) ? u : best;
    hits +=
        labels.unique_gallery_pids[static_cast<size_t>(best)] == labels.query.pids[static_cast<size_t>(i)];
  }
  return static_cast<double>(hits) / static_cast<double>(merged.rows);
}

}  // namespace

TEST_CASE("synthetic caches are deterministic by seed and read back through the cache readers",
          "[synthetic]") {
  TempDir dir;
  SyntheticCacheSpec spec;
  const auto a = qme::synthetic::write_synthetic_caches(dir.path("a"), spec);
  const auto b = qme::synthetic::write_synthetic_caches(dir.path("b"), spec);
  spec.seed = 8;
  const auto c = qme::synthetic::write_synthetic_caches(dir.path("c"), spec);
  const auto da = decode(a), db = decode(b), dc = decode(c);
  CHECK(same(da, db));
  CHECK_FALSE(same(da, dc));
  CHECK(a.probe_quality == b.probe_quality);

  REQUIRE(a.models == std::vector<std::string>{"adaface", "biggait", "cal-ccvid"});
  CHECK(a.center_frames[0] == dir.path("a") + "/mod_center_feat/adaface_center_n4_synthetic_CC.h5");
  CHECK(a.probe_quality_stats[1].empty());
  CHECK(a.score_matrices == dir.path("a") + "/test_feats/scoremats_synthetic.h5");

  // 8 pids x 2 outfits = 16 centers for body models; the face model lacks the
  // last one (no face at all), and alignment fills it with a zero row.
  CHECK(da.centers[1].size() == 16);
  CHECK(da.centers[2].size() == 16);
  REQUIRE(da.centers[0].size() == 15);
  CHECK(da.centers[0].dim() == 32);
  const auto aligned = qme::formats::align_centers(da.centers);
  CHECK(aligned[0].keys == da.centers[1].keys);
  // pid 7, outfit 1: camera (7 + 1) % 4 = 0, clothes 7 * 2 + 1; "0_15" sorts before "3_14"
  const auto& keys = aligned[0].keys;
  const auto missing = std::find(keys.begin(), keys.end(), qme::formats::CenterKey{7, 0, 15}) - keys.begin();
  REQUIRE(missing == 14);
  const auto zero = aligned[0].features.row(missing);
  CHECK(std::vector<float>(zero, zero + 32) == std::vector<float>(32, 0.0f));
  const auto kept = aligned[0].features.row(15);
  CHECK(std::vector<float>(kept, kept + 32) ==
        std::vector<float>(da.centers[0].features.row(14), da.centers[0].features.row(15)));
  CHECK(qme::formats::center_labels(aligned[0]).back() == 7);

  // training frames: 8 x 2 x 2 samples x 4 frames, the same keys in every model
  const auto& face = da.frames[0];
  CHECK(face.size() == 128);
  REQUIRE(face.qe_stats);
  CHECK(face.qe_stats->cols == 2048);
  REQUIRE(face.has_face);
  CHECK_FALSE(da.frames[1].qe_stats);
  CHECK(qme::formats::align_by_frame_key({&da.frames[0], &da.frames[1], &da.frames[2]})[2].size() == 128);

  // test side: 10 pids x 3 probes, 2 clips each of 4 frames with a face or none
  CHECK(da.scores[0].score_mat.rows == 30);
  CHECK(da.scores[0].score_mat.cols == 40);
  CHECK(da.stats.num_clips() == 60);
  CHECK(da.stats.num_frames() % 4 == 0);
  CHECK(a.probe_quality.size() == 30);
}

TEST_CASE("synthetic face statistics carry the hidden quality and guided fusion beats the mean",
          "[synthetic]") {
  TempDir dir;
  SyntheticCacheSpec spec;
  spec.num_test_pids = 30;
  spec.probes_per_pid = 4;
  const auto files = qme::synthetic::write_synthetic_caches(dir.path("s"), spec);
  const auto stats = qme::formats::read_probe_quality_stats(files.probe_quality_stats[0]);
  // A trivial "QE": the first 16 mean channels of block 0 shift by 2(q - 0.5).
  std::vector<float> frame_weight;
  for (int64_t i = 0; i < stats.num_frames(); ++i) {
    double sum = 0.0;
    for (int k = 0; k < 16; ++k) sum += stats.qe_stats.at(i, k);
    frame_weight.push_back(static_cast<float>(sum / 16.0 / 2.0 + 0.5));
  }
  const qme::formats::ScoreMatrixFile file(files.score_matrices);
  const auto& labels = file.labels();
  const auto q = static_cast<int64_t>(labels.query.size());
  const auto weights = qme::formats::query_quality_weights(stats, frame_weight, q);
  double err = 0.0;
  for (int64_t i = 0; i < q; ++i)
    err = std::max(err, std::fabs(double(weights[size_t(i)]) - files.probe_quality[size_t(i)]));
  CHECK(err < 0.2);

  std::vector<qme::ModelScores> models;
  for (const auto& m : files.models) models.push_back(file.read_model(m));
  const auto u = models[0].merge_score_mat.cols;
  qme::ScoreMatrix mean(q, u), guided(q, u);
  for (int64_t i = 0; i < q; ++i) {
    const float w = files.probe_quality[size_t(i)];
    for (int64_t k = 0; k < u; ++k) {
      const float f = models[0].merge_score_mat.at(i, k);
      const float body = (models[1].merge_score_mat.at(i, k) + models[2].merge_score_mat.at(i, k)) / 2;
      mean.row(i)[k] = (f + 2 * body) / 3;
      guided.row(i)[k] = w * f + (1 - w) * body;
    }
  }
  const double r_mean = rank1(mean, labels), r_guided = rank1(guided, labels);
  const double r_face = rank1(models[0].merge_score_mat, labels),
               r_body = rank1(models[2].merge_score_mat, labels);
  INFO("rank-1 face " << r_face << ", cal " << r_body << ", mean " << r_mean << ", guided " << r_guided);
  CHECK(r_guided > r_mean + 0.05);
  CHECK(r_face < 0.8);  // the face model alone fails on poor faces
  CHECK(r_body < 0.9);  // the body model alone is not enough
  CHECK(r_body > 0.4);  // but it is informative
}

TEST_CASE("synthetic cache specs that cannot be honoured are refused", "[synthetic]") {
  TempDir dir;
  SyntheticCacheSpec spec;
  spec.num_train_pids = 1;
  CHECK_THROWS_AS(qme::synthetic::write_synthetic_caches(dir.path("x"), spec), qme::UsageError);
  spec = SyntheticCacheSpec();
  spec.models.push_back({"adaface", 8});
  CHECK_THROWS_AS(qme::synthetic::write_synthetic_caches(dir.path("x"), spec), qme::UsageError);
  spec = SyntheticCacheSpec();
  spec.face_qe_width = 30;
  CHECK_THROWS_AS(qme::synthetic::write_synthetic_caches(dir.path("x"), spec), qme::UsageError);
  CHECK(dir.entries() == 0);
}

TEST_CASE("h5py reads every cache file in the documented layout", "[synthetic]") {
  if (std::system("/usr/bin/python3 -c 'import h5py, numpy' >/dev/null 2>&1") != 0) {
    WARN("skipped: /usr/bin/python3 with h5py is not available");
    return;
  }
  TempDir dir;
  SyntheticCacheSpec spec;
  spec.models = {{"adaface", 16}, {"cal-ccvid", 8}};
  const auto files = qme::synthetic::write_synthetic_caches(dir.path("s"), spec);
  const auto weights = dir.path("w.h5");
  qme::formats::write_face_weights(weights, {0.5f, 0.25f});
  const auto script = dir.write("check.py", R"PY(
import sys, h5py, numpy as np
frames, centers, train, qe, scores, weights = sys.argv[1:7]
with h5py.File(frames, 'r') as f, h5py.File(centers, 'r') as c:
    pids = sorted(f.keys(), key=int)
    assert pids == [str(p) for p in range(8)], pids
    for p in pids:
        for k in sorted(f[p].keys()):
            cam, clo = (int(x) for x in k.split('_'))
            d = f[p][k]
            assert d.dtype == np.float32 and d.ndim == 2 and d.shape[1] == 16
            m = c[p][k]
            assert m.shape == (1, 16) and m.dtype == np.float32
            assert np.array_equal(m[:], d[:].mean(axis=0, keepdims=True)), (p, k)
    assert '0_15' not in c['7']  # last outfit of the last pid has no face
with h5py.File(train, 'r') as t:
    assert t.attrs['qme_format'] == 1
    n = t['feats'].shape[0]
    assert t['feats'].dtype == np.float32 and t['qe_stats'].shape == (n, 2048)
    assert t['has_face'].dtype == np.uint8 and t['pids'].dtype == np.int64
    keys = t['frame_keys'].asstr()[:]
    assert len(keys) == n and keys[0] == 'p0/c0/s0/f0', keys[0]
    assert not np.any(t['qe_stats'][:][t['has_face'][:] == 0])
with h5py.File(qe, 'r') as q:
    assert q.attrs['qme_format'] == 1
    assert q['qe_stats'].shape == (q['frame_clip'].shape[0], 2048)
    assert q['frame_clip'][:].max() < q['clip_query'].shape[0]
with h5py.File(scores, 'r') as s:
    assert s['adaface']['score_mat'].shape == (30, 40) and s['cal-ccvid']['merge_score_mat'].shape == (30, 10)
with h5py.File(weights, 'r') as w:
    assert w['face_weights'].shape == (2, 1) and w['face_weights'].dtype == np.float32
print('ok')
)PY");
  const std::string command = "/usr/bin/python3 " + script + " " + files.center_frames[0] + " " +
                              files.centers[0] + " " + files.training_frames[0] + " " +
                              files.probe_quality_stats[0] + " " + files.score_matrices + " " + weights +
                              " > " + dir.path("out.txt") + " 2>&1";
  const int rc = std::system(command.c_str());
  std::ifstream out(dir.path("out.txt"));
  const std::string text((std::istreambuf_iterator<char>(out)), std::istreambuf_iterator<char>());
  INFO(text);
  CHECK(rc == 0);
}

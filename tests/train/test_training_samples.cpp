// Training samples from the caches, the batch order and the run log (qme::train, [trainrun]).
#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include "qme/core/error.hpp"
#include "qme/train/run_log.hpp"
#include "qme/train/training_batches.hpp"
#include "qme/train/training_samples.hpp"
#include "support/test_support.hpp"

using qme::formats::CenterKey;
using qme::formats::FeatureMatrix;
using qme::train::ModelTrainingCache;
using qme::train::TrainingSamples;

namespace {

FeatureMatrix matrix(int64_t rows, int64_t cols, std::vector<float> values) {
  FeatureMatrix m(rows, cols);
  m.values = std::move(values);
  return m;
}

qme::formats::Centers two_centers(std::vector<float> values) {
  qme::formats::Centers c;
  c.keys = {CenterKey{0, 0, 0}, CenterKey{1, 1, 1}};
  c.features = matrix(2, 2, std::move(values));
  c.source = "centers.h5";
  return c;
}

/// Four samples of two frames (the third has one): sample 0 has one face of two; sample 1 none
/// (its tracklet neither, its pid has); sample 2 one frame with a face; sample 3 (pid 1) none at
/// all. Face rows: a = [1, 0], e = [0, 1].
ModelTrainingCache face_cache() {
  ModelTrainingCache c;
  c.model = "adaface";
  auto& f = c.frames;
  f.source = "adaface_train_x.h5";
  f.frame_keys = {"t0/a", "t0/b", "t1/c", "t1/d", "t2/e", "t3/g"};
  f.pids = {0, 0, 0, 0, 0, 1};
  f.camids = {0, 0, 0, 0, 0, 1};
  f.clothes_ids = {0, 0, 0, 0, 0, 1};
  f.sample_index = {0, 0, 1, 1, 2, 3};
  f.feats = matrix(6, 2, {1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0});
  f.has_face = std::vector<uint8_t>{1, 0, 0, 0, 1, 0};
  FeatureMatrix stats(6, 4);
  for (int64_t r = 0; r < 6; ++r) std::fill(stats.row(r), stats.row(r) + 4, static_cast<float>(r + 1));
  f.qe_stats = stats;
  c.centers = two_centers({1, 0, 0, 1});
  return c;
}

/// The same frames in reverse row order, every feature [1, 0].
ModelTrainingCache body_cache() {
  const auto face = face_cache();
  ModelTrainingCache c;
  c.model = "cal-ccvid";
  auto& f = c.frames;
  f.source = "cal_train_x.h5";
  for (int64_t r = 5; r >= 0; --r) {
    const auto i = static_cast<size_t>(r);
    f.frame_keys.push_back(face.frames.frame_keys[i]);
    f.pids.push_back(face.frames.pids[i]);
    f.camids.push_back(face.frames.camids[i]);
    f.clothes_ids.push_back(face.frames.clothes_ids[i]);
    f.sample_index.push_back(face.frames.sample_index[i]);
  }
  f.feats = matrix(6, 2, {1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0});
  c.centers = two_centers({1, 0, 1, 1});
  return c;
}

TrainingSamples build(const std::string& dataset, const std::string& quality = "adaface") {
  qme::train::TrainingSampleOptions options;
  options.frames_per_sample = 2;
  options.dataset = dataset;
  options.seed = 3;
  return qme::train::build_training_samples({face_cache(), body_cache()}, quality, options);
}

float score(const TrainingSamples& s, int64_t sample, int64_t model, int64_t center) {
  return s.scores[static_cast<size_t>((sample * s.num_models() + model) * s.num_centers() + center)];
}

int64_t slot(const TrainingSamples& s, int64_t sample, int64_t k) {
  return s.quality_rows[static_cast<size_t>(sample * s.frames_per_sample + k)];
}

}  // namespace

TEST_CASE("sample slots take the middle frame of equal parts, or cycle through a short chunk", "[trainrun]") {
  CHECK(qme::train::sample_slots(1, 1) == std::vector<int64_t>{0});
  CHECK(qme::train::sample_slots(4, 4) == std::vector<int64_t>{0, 1, 2, 3});
  CHECK(qme::train::sample_slots(7, 4) == std::vector<int64_t>{0, 2, 4, 6});  // the last dense chunk
  CHECK(qme::train::sample_slots(5, 1) == std::vector<int64_t>{2});
  CHECK(qme::train::sample_slots(2, 5) == std::vector<int64_t>{0, 1, 0, 1, 0});
  CHECK_THROWS_AS(qme::train::sample_slots(0, 2), qme::UsageError);
}

TEST_CASE("training samples average their slots and pad faceless frames as upstream's face sampler",
          "[trainrun]") {
  const auto s = build("ccvid");
  REQUIRE(s.size() == 4);
  CHECK(s.models == std::vector<std::string>{"adaface", "cal-ccvid"});
  CHECK(s.pids == std::vector<int64_t>{0, 0, 0, 1});
  CHECK(s.sample_index == std::vector<int64_t>{0, 1, 2, 3});
  CHECK(s.center_labels == std::vector<int64_t>{0, 1});
  CHECK(s.quality_model == "adaface");
  CHECK(s.quality_width() == 4);
  CHECK(s.samples_without_face == 2);
  CHECK(s.samples_left_faceless == 1);

  // sample 0: frame b has no face and is padded with the sample's own face a
  CHECK(slot(s, 0, 0) == 0);
  CHECK(slot(s, 0, 1) == 0);
  CHECK(score(s, 0, 0, 0) == Approx(1.0f));
  CHECK(score(s, 0, 0, 1) == Approx(0.0f).margin(1e-7));
  // sample 1: nothing in the sample or its tracklet; faces of pid 0 (a or e)
  for (int k = 0; k < 2; ++k) CHECK((slot(s, 1, k) == 0 || slot(s, 1, k) == 4));
  // sample 2: one frame, both slots
  CHECK(slot(s, 2, 0) == 4);
  CHECK(slot(s, 2, 1) == 4);
  CHECK(score(s, 2, 0, 1) == Approx(1.0f));
  // sample 3: pid 1 has no face at all: zero rows, a zero feature scoring 0
  CHECK(slot(s, 3, 0) == -1);
  CHECK(score(s, 3, 0, 0) == 0.0f);
  CHECK(score(s, 3, 0, 1) == 0.0f);
  // the body model: aligned by key despite its reversed rows, never padded
  CHECK(score(s, 3, 1, 0) == Approx(1.0f));
  CHECK(score(s, 3, 1, 1) == Approx(std::sqrt(0.5f)));
}

TEST_CASE("face padding follows each dataset's upstream rule", "[trainrun]") {
  // MEVID: no identity-level padding: sample 1 stays empty
  const auto mevid = build("mevid");
  CHECK(slot(mevid, 1, 0) == -1);
  CHECK(mevid.samples_left_faceless == 2);
  // LTCC: an image set, padded from the identity
  const auto ltcc = build("ltcc");
  CHECK(slot(ltcc, 1, 0) >= 0);
  CHECK(ltcc.samples_left_faceless == 1);
  // the draws come from the seed
  CHECK(build("ccvid").quality_rows == build("ccvid").quality_rows);
}

TEST_CASE("training samples refuse caches that do not fit their centers or lack QE statistics",
          "[trainrun]") {
  using qme::test::message_of;
  qme::train::TrainingSampleOptions options;
  auto narrow = body_cache();
  narrow.centers.features = matrix(2, 1, {1, 1});
  CHECK_THAT(message_of<qme::InputError>([&] {
               qme::train::build_training_samples({face_cache(), narrow}, "", options);
             }),
             Catch::Contains("cal_train_x.h5: 'feats' has 2 columns but the centers of 'cal-ccvid'"));
  auto no_stats = face_cache();
  no_stats.frames.qe_stats.reset();
  CHECK_THAT(message_of<qme::InputError>(
                 [&] { qme::train::build_training_samples({no_stats}, "adaface", options); }),
             Catch::Contains("adaface_train_x.h5: 'qe_stats' is missing"));
}

TEST_CASE("batches gather the samples' scores, labels and slot statistics", "[trainrun]") {
  const auto s = build("ccvid");
  const auto b = qme::train::score_loss_batch(s, {3, 0});
  REQUIRE(b.scores.sizes() == torch::IntArrayRef({2, 2, 2}));
  CHECK(b.scores[1][0][0].item<float>() == Approx(1.0f));
  CHECK(b.labels[0].item<int64_t>() == 1);
  REQUIRE(b.quality_stats.sizes() == torch::IntArrayRef({2, 2, 4}));
  CHECK(b.quality_stats[0].abs().sum().item<float>() == 0.0f);  // no face to pad from
  CHECK(b.quality_stats[1][1][3].item<float>() == 1.0f);        // row 0 = frame a
  const auto q = qme::train::quality_batch(s, {2});
  CHECK(q.face_scores.sizes() == torch::IntArrayRef({1, 2}));
  CHECK(q.face_scores[0][1].item<float>() == Approx(1.0f));
  CHECK(q.stats[0][0][0].item<float>() == 5.0f);  // row 4 = frame e
  CHECK_THROWS_AS(qme::train::score_loss_batch(s, {4}), qme::UsageError);
  const auto plain = build("ccvid", "");
  CHECK_FALSE(qme::train::score_loss_batch(plain, {0}).quality_stats.defined());
  CHECK_THROWS_AS(qme::train::quality_batch(plain, {0}), qme::UsageError);
}

TEST_CASE("the batch schedule visits every sample once an epoch and is a function of the step",
          "[trainrun]") {
  std::vector<int64_t> pids;
  for (int i = 0; i < 23; ++i) pids.push_back(i % 5);
  qme::train::BatchSchedule schedule(pids, 4, 9);
  CHECK(schedule.steps_per_epoch() == 5);  // 23 / 4, the last incomplete batch dropped
  std::set<int64_t> seen;
  for (int step = 0; step < 5; ++step) {
    for (const auto s : schedule.batch(step)) seen.insert(s);
  }
  CHECK(seen.size() == 20);
  const auto epoch1 = schedule.batch(5);
  CHECK(epoch1 != schedule.batch(0));
  qme::train::BatchSchedule fresh(pids, 4, 9);
  CHECK(fresh.batch(7) == schedule.batch(7));  // a resumed run continues mid-epoch
  CHECK_THROWS_AS(qme::train::BatchSchedule(pids, 24, 9), qme::UsageError);
}

TEST_CASE("the run log is cut back to its checkpoint on resume; the run state reads back", "[trainrun]") {
  qme::test::TempDir dir;
  const auto path = dir.path("log.jsonl");
  int64_t kept = 0;
  {
    qme::train::RunLog log(path, -1);
    log.write({{"event", "step"}, {"step", 1}});
    kept = log.flush();
    log.write({{"event", "step"}, {"step", 2}});
    log.flush();
  }
  {
    qme::train::RunLog log(path, kept);
    log.write({{"event", "step"}, {"step", 2}, {"loss", 0.5}});
  }
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  CHECK(text.str() == "{\"event\":\"step\",\"step\":1}\n{\"event\":\"step\",\"loss\":0.5,\"step\":2}\n");
  CHECK_THROWS_AS(qme::train::RunLog(path, 1 << 20), qme::InputError);

  qme::train::RunState state;
  state.steps_done = 30;
  state.has_best = true;
  state.best_overall = 123.456789012345678;
  state.best_model = "best-step30.pth";
  state.settings = {{"mode", "score_loss"}, {"seed", 42}};
  qme::train::write_run_state(dir.path("state.json"), state);
  const auto back = qme::train::read_run_state(dir.path("state.json"));
  CHECK(back.steps_done == 30);
  CHECK(back.best_overall == state.best_overall);
  CHECK(back.best_model == "best-step30.pth");
  CHECK(qme::train::describe_settings_change(back.settings, state.settings).empty());
  CHECK(qme::train::describe_settings_change(back.settings, {{"mode", "score_loss"}, {"seed", 7}}) ==
        "seed: was 42, now 7");
  CHECK_THROWS_AS(qme::train::read_run_state(dir.path("missing.json")), qme::InputError);
}

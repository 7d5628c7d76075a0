// QME fusion-head training steps on in-memory batches: frozen QE, modality dropout, resume
// bit for bit, upstream-format checkpoints.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include "qme/core/error.hpp"
#include "qme/fusion/qme_mixture.hpp"
#include "qme/io/checkpoint.hpp"
#include "qme/train/score_loss_trainer.hpp"
#include "support/test_support.hpp"
#include "train/train_test_util.hpp"

using qme::train::ScoreLossTrainer;
using qme::train::ScoreLossTrainerOptions;

namespace {

ScoreLossTrainerOptions small_options(double modality_dropout) {
  ScoreLossTrainerOptions o;
  o.optimisation.lr = 1e-2;
  o.optimisation.weight_decay = 0.01;
  o.optimisation.steps_per_epoch = 3;
  o.optimisation.schedule.t_0 = 2;
  o.modality_dropout = modality_dropout;
  o.seed = 11;
  return o;
}

/// A head with MLP dropout 0.1 (so LibTorch's generator matters), initialised from `seed`.
ScoreLossTrainer make_trainer(uint64_t init_seed, double modality_dropout = 0.5) {
  torch::manual_seed(init_seed);
  qme::fusion::QmeMixture head(qme::fusion::QmeMixtureOptions(qme::test::kModels).dropout(0.1));
  return ScoreLossTrainer(head, qme::test::center_labels(), small_options(modality_dropout));
}

}  // namespace

TEST_CASE("N training steps equal k steps, save, restore into a fresh trainer, N - k steps", "[train]") {
  const auto batches = qme::test::score_batches(7, 5);
  auto whole = make_trainer(1);
  std::vector<qme::train::StepResult> expected;
  for (const auto& b : batches) expected.push_back(whole.step(b));

  qme::test::TempDir dir;
  const auto path = dir.path("resume.pt");
  {
    auto first = make_trainer(1);
    for (int i = 0; i < 3; ++i) first.step(batches[static_cast<size_t>(i)]);
    first.save_resume_state(path);
  }
  auto resumed = make_trainer(77);  // other weights, other LibTorch generator state
  torch::manual_seed(12345);
  resumed.load_resume_state(path);
  CHECK(resumed.steps_done() == 3);
  for (size_t i = 3; i < batches.size(); ++i) {
    const auto r = resumed.step(batches[i]);
    INFO("step " << i);
    CHECK(r.loss == expected[i].loss);
    CHECK(r.lr == expected[i].lr);
    CHECK(r.step == expected[i].step);
    CHECK(r.dropped == expected[i].dropped);
  }
  CHECK(qme::test::same_state(resumed.model_snapshot(), whole.model_snapshot()));
  CHECK(dir.entries() == 1);  // no temporary file left behind
}

TEST_CASE("the QE is frozen while the experts learn", "[train]") {
  auto trainer = make_trainer(2, 0.0);
  const auto before = trainer.model_snapshot();
  const auto batches = qme::test::score_batches(2, 6);
  for (const auto& b : batches) trainer.step(b);
  const auto after = trainer.model_snapshot();
  for (const auto& item : before) {
    INFO(item.key());
    if (item.key().rfind("qe.", 0) == 0) {
      CHECK(torch::equal(item.value(), after[item.key()]));
    } else if (item.key().find("running_") == std::string::npos &&
               item.key().find("num_batches") == std::string::npos) {
      CHECK_FALSE(torch::equal(item.value(), after[item.key()]));
    }
  }
  CHECK(after["experts.0.bn.num_batches_tracked"].item<int64_t>() == 2);
  CHECK(trainer.model()->face_quality_estimator()->is_training() == false);
  CHECK(trainer.model()->is_training());
}

TEST_CASE("modality dropout zeroes the dropped models' scores, not the caller's batch", "[train]") {
  auto all = make_trainer(3, 1.0);
  auto batch = qme::test::score_batches(1, 7).front();
  const auto original = batch.scores.clone();
  const auto r = all.step(batch);
  CHECK(r.dropped == std::vector<uint8_t>{1, 1, 1});
  CHECK(torch::equal(batch.scores, original));
  // With every score zeroed the loss is that of all-zero scores, whatever their values were.
  auto zero = make_trainer(3, 0.0);
  auto zeroed = batch;
  zeroed.scores = torch::zeros_like(batch.scores);
  CHECK(zero.step(zeroed).loss == r.loss);
}

TEST_CASE("precomputed frame qualities give the same step as cached statistics", "[train]") {
  auto from_stats = make_trainer(4, 0.0);
  auto from_quality = make_trainer(4, 0.0);
  auto batch = qme::test::score_batches(1, 8).front();
  const auto frames = batch.quality_stats.reshape({-1, qme::test::kFaceStats});
  auto precomputed = batch;
  precomputed.quality =
      from_quality.frame_quality(frames).reshape({qme::test::kBatch, qme::test::kFrames}).mean(1, true);
  precomputed.quality_stats = torch::Tensor();
  torch::manual_seed(100);  // the same MLP dropout masks for both
  const double a = from_stats.step(batch).loss;
  torch::manual_seed(100);
  const double b = from_quality.step(precomputed).loss;
  CHECK(b == Approx(a).epsilon(1e-6));
}

TEST_CASE("the trained head is written as an upstream checkpoint", "[train]") {
  auto trainer = make_trainer(5, 0.0);
  trainer.step(qme::test::score_batches(1, 9).front());
  qme::test::TempDir dir;
  const auto path = dir.path("head.pth");
  trainer.write_checkpoint(path);
  const auto checkpoint = qme::io::read_checkpoint(path);
  const auto& state = checkpoint.model_state_dict;
  CHECK(state.keys() == qme::io::state_dict(*trainer.model()).keys());
  CHECK(state.contains("experts.1.score_mlp.fc2.weight"));
  CHECK(state.contains("qe.weight_assigner.0.bias"));
  CHECK(state["experts.0.bn.num_batches_tracked"].item<int64_t>() == 1);
  qme::fusion::QmeMixture reloaded(qme::fusion::qme_options_from_state(state, path));
  qme::io::load_state_dict(*reloaded, state, path);
  CHECK(qme::test::same_state(qme::io::state_dict(*reloaded), trainer.model_snapshot()));
}

TEST_CASE("the score-loss trainer rejects bad batches and foreign resume files", "[train]") {
  auto trainer = make_trainer(6, 0.0);
  auto batch = qme::test::score_batches(1, 10).front();
  auto wrong = batch;
  wrong.scores = torch::zeros({qme::test::kBatch, 2, qme::test::kCenters});
  CHECK_THROWS_AS(trainer.step(wrong), qme::UsageError);
  wrong = batch;
  wrong.labels = torch::zeros({3}, torch::kInt64);
  CHECK_THROWS_AS(trainer.step(wrong), qme::UsageError);
  wrong = batch;
  wrong.quality_stats = torch::Tensor();
  CHECK_THROWS_AS(trainer.step(wrong), qme::UsageError);
  qme::test::TempDir dir;
  CHECK_THROWS_AS(trainer.load_resume_state(dir.path("missing.pt")), qme::InputError);
  const auto junk = dir.write("junk.pt", "not an archive");
  CHECK_THROWS_AS(trainer.load_resume_state(junk), qme::InputError);
  CHECK(trainer.steps_done() == 0);
}

TEST_CASE("the fused CPU step equals the modules with autograd", "[train]") {
  const auto batches = qme::test::score_batches(6, 12);
  const auto make = [](bool fused) {
    torch::manual_seed(21);
    qme::fusion::QmeMixture head(qme::fusion::QmeMixtureOptions(qme::test::kModels).mlp_ratio(2).out_dim(3));
    auto options = small_options(0.3);
    options.fused_step = fused;
    return std::make_unique<ScoreLossTrainer>(head, qme::test::center_labels(), options);
  };
  const auto with_fused = make(true), with_modules = make(false);
  for (const auto& b : batches) {
    const auto a = with_fused->step(b);
    const auto m = with_modules->step(b);
    CHECK(a.dropped == m.dropped);
    CHECK(a.loss == Approx(m.loss).epsilon(1e-6));
    CHECK(a.lr == m.lr);
  }
  const auto fused = with_fused->model_snapshot();
  const auto modules = with_modules->model_snapshot();
  for (const auto& item : modules) {
    INFO(item.key());
    if (item.value().scalar_type() == torch::kInt64) {
      CHECK(torch::equal(item.value(), fused[item.key()]));
    } else {
      CHECK((item.value() - fused[item.key()]).abs().max().item<double>() <= 1e-5);
    }
  }
}

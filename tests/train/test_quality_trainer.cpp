// Quality-estimator training on cached statistics: the pseudo-quality step, resume bit for
// bit (the QE's dropout included), upstream-format checkpoints.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include "qme/core/error.hpp"
#include "qme/fusion/quality_estimator.hpp"
#include "qme/io/checkpoint.hpp"
#include "qme/loss/pseudo_quality_loss.hpp"
#include "qme/train/quality_trainer.hpp"
#include "support/test_support.hpp"
#include "train/train_test_util.hpp"

using qme::train::QualityTrainer;
using qme::train::QualityTrainerOptions;

namespace {

QualityTrainer make_quality_trainer(uint64_t init_seed, double dropout) {
  torch::manual_seed(init_seed);
  qme::fusion::FaceQualityEstimator qe(qme::fusion::FaceQualityEstimatorOptions().dropout(dropout));
  QualityTrainerOptions o;
  o.optimisation.lr = 1e-3;
  o.optimisation.steps_per_epoch = 2;
  o.rank_threshold = 3;
  return QualityTrainer(qe, qme::test::center_labels(), o);
}

}  // namespace

TEST_CASE("a QE step's loss is the pseudo-quality loss of the weights before the update", "[train]") {
  auto trainer = make_quality_trainer(1, 0.0);
  const auto batch = qme::test::quality_batches(1, 3).front();
  torch::Tensor expected;
  {
    torch::NoGradGuard no_grad;
    const auto w = trainer.face_model()->forward_statistics(batch.stats);
    expected =
        qme::loss::pseudo_quality_loss(w, batch.face_scores, batch.labels, qme::test::center_labels(), 3);
  }
  const auto before = trainer.model_snapshot();
  const auto r = trainer.step(batch);
  CHECK(r.loss == expected.item<double>());
  CHECK(r.dropped.empty());
  CHECK(r.step == 1);
  CHECK_FALSE(qme::test::same_state(before, trainer.model_snapshot()));
}

TEST_CASE("QE training resumes bit for bit, dropout masks included", "[train]") {
  const auto batches = qme::test::quality_batches(5, 4);
  auto whole = make_quality_trainer(2, 0.1);
  std::vector<double> losses;
  for (const auto& b : batches) losses.push_back(whole.step(b).loss);
  qme::test::TempDir dir;
  const auto path = dir.path("qe_resume.pt");
  {
    auto first = make_quality_trainer(2, 0.1);
    for (int i = 0; i < 2; ++i) first.step(batches[static_cast<size_t>(i)]);
    first.save_resume_state(path);
  }
  auto resumed = make_quality_trainer(9, 0.1);
  resumed.load_resume_state(path);
  for (size_t i = 2; i < batches.size(); ++i) CHECK(resumed.step(batches[i]).loss == losses[i]);
  CHECK(qme::test::same_state(resumed.model_snapshot(), whole.model_snapshot()));
  CHECK(resumed.learning_rate() == whole.learning_rate());
}

TEST_CASE("the same run writes the same resume file, byte for byte", "[train]") {
  // LibTorch's own Optimizer::save keys Adam's moments by tensor address; qme keys them by position.
  // (LibTorch names the archive's folder after the file, so both runs write the same name.)
  const auto batches = qme::test::quality_batches(2, 4);
  std::vector<std::string> bytes;
  for (int run = 0; run < 2; ++run) {
    qme::test::TempDir dir;
    auto trainer = make_quality_trainer(4, 0.1);
    for (const auto& b : batches) trainer.step(b);
    trainer.save_resume_state(dir.path("qe_resume.pt"));
    bytes.push_back(qme::test::file_bytes(dir.path("qe_resume.pt")));
  }
  REQUIRE(bytes[0].size() > 1000);
  CHECK(bytes[0] == bytes[1]);
}

TEST_CASE("the trained QE is written as upstream's QE checkpoint", "[train]") {
  auto trainer = make_quality_trainer(3, 0.0);
  trainer.step(qme::test::quality_batches(1, 5).front());
  qme::test::TempDir dir;
  const auto path = dir.path("qe.pth");
  trainer.write_checkpoint(path);
  const auto state = qme::io::read_checkpoint(path).model_state_dict;
  CHECK(state.keys() == std::vector<std::string>{"f_style_mlp.fc1.weight", "f_style_mlp.fc1.bias",
                                                 "f_style_mlp.fc2.weight", "f_style_mlp.fc2.bias",
                                                 "weight_assigner.0.weight", "weight_assigner.0.bias"});
  qme::fusion::FaceQualityEstimator reloaded;
  qme::io::load_state_dict(*reloaded, state, path);
  CHECK(qme::test::same_state(qme::io::state_dict(*reloaded), trainer.model_snapshot()));
}

TEST_CASE("the QE trainer rejects bad batches and score-loss resume files", "[train]") {
  auto trainer = make_quality_trainer(4, 0.0);
  auto batch = qme::test::quality_batches(1, 6).front();
  auto wrong = batch;
  wrong.stats = torch::zeros({qme::test::kBatch, 2, 3072});
  CHECK_THROWS_AS(trainer.step(wrong), qme::UsageError);
  wrong = batch;
  wrong.face_scores = torch::zeros({qme::test::kBatch, 5});
  CHECK_THROWS_AS(trainer.step(wrong), qme::UsageError);
  // A score-loss run's resume file is refused by name.
  qme::fusion::QmeMixture head(qme::fusion::QmeMixtureOptions(qme::test::kModels));
  qme::train::ScoreLossTrainer other(head, qme::test::center_labels(), {});
  qme::test::TempDir dir;
  const auto path = dir.path("score.pt");
  other.save_resume_state(path);
  const auto message = qme::test::message_of<qme::InputError>([&] { trainer.load_resume_state(path); });
  CHECK(message.find("score_loss") != std::string::npos);
  CHECK(message.find(path) != std::string::npos);
}

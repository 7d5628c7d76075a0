// Six QME training steps against upstream's (PyTorch 1.13) on the fixture
// model_expected.h5 train/*: from train/init/* with the frozen QE of model/qe_ckpt.pth, center
// labels loss/center_labels, lr 1e-3, weight decay 0.01 (upstream's train_cfg), MLP dropout 0
// and modality dropout off; per-step losses and learning rates, and every final tensor (BatchNorm
// running statistics and num_batches_tracked included).
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include "qme/fusion/qme_mixture.hpp"
#include "qme/fusion/quality_estimator.hpp"
#include "qme/io/checkpoint.hpp"
#include "qme/io/hdf5_file.hpp"
#include "qme/train/score_loss_trainer.hpp"
#include "support/test_support.hpp"
#include "support/torch_fixtures.hpp"

namespace {

using qme::test::kFixtures;
using qme::test::kModelFixtures;

using qme::test::read_tensor;

qme::fusion::QmeMixture initial_head(const qme::io::H5Reader& fixtures) {
  qme::io::StateDict state;
  for (const auto& name : fixtures.list_group("train/init"))
    state.insert(name, read_tensor(fixtures, "train/init/" + name));
  const auto qe_path = kFixtures + "/model/qe_ckpt.pth";
  for (const auto& item : qme::io::read_checkpoint(qe_path).model_state_dict)
    state.insert("qe." + item.key(), item.value());
  qme::fusion::QmeMixture head(qme::fusion::QmeMixtureOptions(3).dropout(0.0));
  qme::io::load_state_dict(*head, state, kModelFixtures + ":train/init + " + qe_path);  // strict
  return head;
}

}  // namespace

TEST_CASE("six QME training steps reproduce upstream's losses, learning rates and weights",
          "[train][parity]") {
  // Both step implementations: the hand-differentiated CPU pass and the modules with autograd.
  const bool fused = GENERATE(true, false);
  INFO((fused ? "fused step" : "modules + autograd"));
  const qme::io::H5Reader fixtures(kModelFixtures);
  qme::train::ScoreLossTrainerOptions options;
  options.optimisation.lr = fixtures.read_float64("train/lr").at(0);
  options.optimisation.weight_decay = 0.01;
  options.optimisation.steps_per_epoch = fixtures.read_int64("train/steps_per_epoch").at(0);
  options.margin = 1.0;
  options.modality_dropout = 0.0;
  options.fused_step = fused;
  const auto centers = torch::tensor(fixtures.read_int64("loss/center_labels"), torch::kInt64);
  qme::train::ScoreLossTrainer trainer(initial_head(fixtures), centers, options);

  const auto losses = fixtures.read_float32("train/losses");
  const auto lrs = fixtures.read_float64("train/lrs");
  REQUIRE(losses.size() == 6);
  for (size_t i = 0; i < losses.size(); ++i) {
    const std::string step = "train/step" + std::to_string(i);
    qme::train::ScoreLossBatch batch;
    std::vector<torch::Tensor> scores;
    for (const char* m : {"adaface", "biggait", "cal-ccvid"})
      scores.push_back(read_tensor(fixtures, step + "/scores/" + m));
    batch.scores = torch::stack(scores, 1);
    batch.labels = torch::tensor(fixtures.read_int64(step + "/labels"), torch::kInt64);
    batch.quality_stats =
        qme::fusion::FaceQualityEstimatorImpl::statistics(read_tensor(fixtures, step + "/interm"));
    const auto r = trainer.step(batch);
    INFO("step " << i << ": loss " << r.loss << " vs " << losses[i] << ", lr " << r.lr << " vs " << lrs[i]);
    CHECK(std::abs(r.loss - losses[i]) <= 1e-5);
    CHECK(std::abs(r.lr - lrs[i]) <= 1e-5 * lrs[i]);
  }
  const auto state = qme::io::state_dict(*trainer.model());
  double worst = 0.0;
  for (const auto& name : fixtures.list_group("train/final")) {
    const auto expected = read_tensor(fixtures, "train/final/" + name);
    REQUIRE(state.contains(name));
    const auto& actual = state[name];
    INFO(name);
    REQUIRE(actual.sizes() == expected.sizes());
    if (expected.scalar_type() == torch::kInt64) {
      CHECK(actual.item<int64_t>() == expected.item<int64_t>());
    } else {
      worst = std::max(worst,
                       (actual.to(torch::kDouble) - expected.to(torch::kDouble)).abs().max().item<double>());
    }
  }
  INFO("largest |difference| of a final weight or running statistic: " << worst);
  CHECK(worst <= 1e-5);
}

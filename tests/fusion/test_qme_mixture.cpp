// The QME head: upstream's key layout, the q / (1 - q) mixture, the fixed 0.5 without QE,
// and a save -> load round trip that reproduces the outputs.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include "qme/core/error.hpp"
#include "qme/fusion/qme_mixture.hpp"
#include "qme/io/checkpoint.hpp"
#include "support/test_support.hpp"

using qme::fusion::QmeMixture;
using qme::fusion::QmeMixtureOptions;
using qme::fusion::QualityEstimatorKind;

namespace {

std::vector<std::string> expert_keys(int i) {
  const std::string p = "experts." + std::to_string(i) + ".";
  return {p + "bn.weight",
          p + "bn.bias",
          p + "bn.running_mean",
          p + "bn.running_var",
          p + "bn.num_batches_tracked",
          p + "score_mlp.fc1.weight",
          p + "score_mlp.fc1.bias",
          p + "score_mlp.fc2.weight",
          p + "score_mlp.fc2.bias"};
}

}  // namespace

TEST_CASE("QmeMixture's state dict is upstream MoNormQE_dev's, key for key and in order", "[fusion]") {
  QmeMixture head(QmeMixtureOptions(3));
  auto expected = expert_keys(0);
  const auto second = expert_keys(1);
  expected.insert(expected.end(), second.begin(), second.end());
  for (const char* k :
       {"qe.f_style_mlp.fc1.weight", "qe.f_style_mlp.fc1.bias", "qe.f_style_mlp.fc2.weight",
        "qe.f_style_mlp.fc2.bias", "qe.weight_assigner.0.weight", "qe.weight_assigner.0.bias"}) {
    expected.push_back(k);
  }
  CHECK(qme::io::state_dict(*head).keys() == expected);

  QmeMixture body(QmeMixtureOptions(2).quality_estimator(QualityEstimatorKind::kBody));
  CHECK(qme::io::state_dict(*body)["qe.style_mlp.fc1.weight"].sizes() == torch::IntArrayRef({1536, 3072}));
  QmeMixture none(QmeMixtureOptions(2).quality_estimator(QualityEstimatorKind::kNone));
  CHECK(qme::io::state_dict(*none).size() == 18);
  CHECK_FALSE(none->face_quality_estimator());
}

TEST_CASE("QmeMixture mixes the experts by q and 1 - q, or 0.5 each without QE", "[fusion]") {
  torch::manual_seed(5);
  QmeMixture head(QmeMixtureOptions(3).quality_estimator(QualityEstimatorKind::kNone));
  head->eval();
  const auto scores = torch::rand({4, 3, 6});
  const auto q = torch::tensor({0.f, 1.f, 0.25f, 0.5f}).reshape({4, 1});
  const auto e0 = head->expert(0, scores);
  const auto e1 = head->expert(1, scores);
  const auto fused = head(scores, q);
  CHECK(torch::equal(fused[0], e1[0]));
  CHECK(torch::equal(fused[1], e0[1]));
  CHECK(torch::allclose(fused[2], 0.25 * e0[2] + 0.75 * e1[2]));
  CHECK_THROWS_AS(head(scores), qme::UsageError);  // use_qe needs weights

  QmeMixture fixed(QmeMixtureOptions(3).use_qe(false).quality_estimator(QualityEstimatorKind::kNone));
  fixed->eval();
  qme::io::load_state_dict(*fixed, qme::io::state_dict(*head), "head");
  CHECK(torch::allclose(fixed(scores), 0.5 * e0 + 0.5 * e1));
}

TEST_CASE("the head's width comes from the backbone config's model_list", "[fusion]") {
  qme::config::BackboneConfig backbone;
  backbone.model_list = {"adaface", "cal-mevid", "agrl"};
  qme::config::TrainConfig train;
  train.mlp_ratio = 2;
  train.dropout_rate = 0.25;
  const auto options = qme::fusion::qme_options_from_config(backbone, train, /*use_qe=*/false);
  CHECK(options.num_models() == 3);
  CHECK(options.mlp_ratio() == 2);
  CHECK(options.dropout() == 0.25);
  CHECK_FALSE(options.use_qe());
  QmeMixture head(options);
  CHECK(qme::io::state_dict(*head)["experts.1.score_mlp.fc1.weight"].sizes() == torch::IntArrayRef({6, 3}));
}

TEST_CASE("QmeMixture options are validated", "[fusion]") {
  CHECK_THROWS_WITH(QmeMixture(QmeMixtureOptions(3).num_experts(3)), Catch::Contains("exactly 2 experts"));
  CHECK_THROWS_AS(QmeMixture(QmeMixtureOptions(0)), qme::UsageError);
  CHECK_THROWS_AS(QmeMixture(QmeMixtureOptions(3))(torch::rand({2, 2, 5}), torch::rand({2, 1})),
                  qme::UsageError);
}

TEST_CASE("a saved QmeMixture loads back into a fresh one with identical outputs", "[fusion]") {
  qme::test::TempDir dir;
  torch::manual_seed(6);
  QmeMixture trained(QmeMixtureOptions(3).mlp_ratio(2).out_dim(2));
  trained->train();
  trained(torch::rand({8, 3, 10}), torch::rand({8, 1}));  // moves the BatchNorm statistics
  trained->eval();
  qme::io::Checkpoint checkpoint;
  checkpoint.model_state_dict = qme::io::state_dict(*trained);
  checkpoint.set("step", int64_t{12});
  qme::io::write_checkpoint(dir.path("head.pth"), checkpoint);

  const auto back = qme::io::read_checkpoint(dir.path("head.pth"));
  const auto options = qme::fusion::qme_options_from_state(back.model_state_dict, "head.pth");
  CHECK(options.num_models() == 3);
  CHECK(options.mlp_ratio() == 2);
  CHECK(options.out_dim() == 2);
  CHECK(options.quality_estimator() == QualityEstimatorKind::kFace);
  QmeMixture fresh(options);
  qme::io::load_state_dict(*fresh, back.model_state_dict, "head.pth");
  fresh->eval();
  const auto scores = torch::rand({5, 3, 7});
  const auto q = torch::rand({5, 1});
  CHECK(torch::equal(fresh(scores, q), trained(scores, q)));
  const auto frames = torch::randn({2, 3, 2, 4, 512});
  CHECK(torch::equal(fresh->face_quality_estimator()(frames), trained->face_quality_estimator()(frames)));
}

TEST_CASE("a quality-estimator state dict is not taken for a QME head", "[fusion]") {
  qme::fusion::FaceQualityEstimator qe;
  const auto message = qme::test::message_of<qme::InputError>(
      [&] { qme::fusion::qme_options_from_state(qme::io::state_dict(*qe), "qe_ckpt.pth"); });
  CHECK(message ==
        "qe_ckpt.pth: 'model_state_dict' is not a QME fusion head: it has no 'experts.0.bn.weight' (it is "
        "a quality-estimator checkpoint, not a QME fusion head)");
}

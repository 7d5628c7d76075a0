// Parity with the upstream Python code (PyTorch 1.13) on ../shared/fixtures/model and the QME
// report of ../shared/fixtures/eval: upstream checkpoints loaded by qme give upstream's outputs.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

#include "qme/fusion/qme_inference.hpp"
#include "qme/fusion/qme_mixture.hpp"
#include "qme/fusion/quality_estimator.hpp"
#include "qme/io/checkpoint.hpp"
#include "qme/io/hdf5_file.hpp"
#include "qme/pipeline/tables_job.hpp"
#include "support/report_parity.hpp"
#include "support/test_support.hpp"
#include "support/torch_fixtures.hpp"

namespace {

using qme::test::kFixtures;
using qme::test::kModelFixtures;

using qme::test::read_tensor;

/// Largest |a - b|, reported with the test so parity margins stay visible.
double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  REQUIRE(a.sizes() == b.sizes());
  return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
}

qme::fusion::QmeMixture load_upstream_head() {
  const auto path = kFixtures + "/model/qme_ckpt.pth";
  const auto checkpoint = qme::io::read_checkpoint(path);
  const auto options = qme::fusion::qme_options_from_state(checkpoint.model_state_dict, path);
  qme::fusion::QmeMixture head(options);
  qme::io::load_state_dict(*head, checkpoint.model_state_dict, path);  // strict: every key matches
  head->eval();
  return head;
}

}  // namespace

TEST_CASE("the upstream QME checkpoint reproduces upstream's experts and fused scores", "[parity][fusion]") {
  const qme::io::H5Reader fixtures(kModelFixtures);
  auto head = load_upstream_head();
  CHECK(head->options().num_models() == 3);
  CHECK(head->options().mlp_ratio() == 3);
  CHECK(head->options().out_dim() == 1);
  std::vector<torch::Tensor> parts;
  for (const char* m : {"adaface", "biggait", "cal-ccvid"}) {
    parts.push_back(read_tensor(fixtures, std::string("inference/scores/") + m));
  }
  const auto scores = torch::stack(parts, 1);
  const auto q = read_tensor(fixtures, "inference/face_weights");
  torch::NoGradGuard no_grad;
  const double d0 = max_abs_diff(head->expert(0, scores), read_tensor(fixtures, "inference/expert0"));
  const double d1 = max_abs_diff(head->expert(1, scores), read_tensor(fixtures, "inference/expert1"));
  const auto expected = read_tensor(fixtures, "inference/fuse_scores");
  const double df = max_abs_diff(head(scores, q), expected);
  INFO("max |diff|: expert0 " << d0 << ", expert1 " << d1 << ", fused " << df);
  CHECK(d0 <= 1e-6);
  CHECK(d1 <= 1e-6);
  CHECK(df <= 1e-6);

  // The file-level path (score matrices + weights, in blocks) gives the same numbers.
  std::vector<qme::ScoreMatrix> matrices;
  for (const auto& p : parts) {
    qme::ScoreMatrix m(p.size(0), p.size(1));
    std::memcpy(m.values.data(), p.data_ptr<float>(), m.size() * sizeof(float));
    matrices.push_back(std::move(m));
  }
  std::vector<float> weights(q.data_ptr<float>(), q.data_ptr<float>() + q.numel());
  qme::fusion::QmeInferenceOptions options;
  options.block_rows = 4;
  const auto fused = qme::fusion::QmeInference(kFixtures + "/model/qme_ckpt.pth", options)
                         .fuse({&matrices[0], &matrices[1], &matrices[2]}, weights);
  const auto fused_t =
      torch::from_blob(const_cast<float*>(fused.values.data()), {fused.rows, fused.cols}, torch::kFloat32);
  const double dblock = max_abs_diff(fused_t, expected);
  INFO("max |diff| in blocks of 4 rows: " << dblock);
  CHECK(dblock <= 1e-6);
}

TEST_CASE("the upstream face QE checkpoint reproduces upstream's weights for 5-D and 4-D input",
          "[parity][fusion]") {
  const qme::io::H5Reader fixtures(kModelFixtures);
  const auto path = kFixtures + "/model/qe_ckpt.pth";
  qme::fusion::FaceQualityEstimator qe;
  qme::io::load_state_dict(*qe, qme::io::read_checkpoint(path).model_state_dict, path);
  qe->eval();
  torch::NoGradGuard no_grad;
  const double d5 =
      max_abs_diff(qe(read_tensor(fixtures, "fqe/interm")), read_tensor(fixtures, "fqe/face_weights"));
  const double d4 =
      max_abs_diff(qe(read_tensor(fixtures, "fqe/interm4")), read_tensor(fixtures, "fqe/face_weights4"));
  INFO("max |diff|: 5-D " << d5 << ", 4-D " << d4);
  CHECK(d5 <= 1e-6);
  CHECK(d4 <= 1e-6);
  // The QME checkpoint's "qe" is the same estimator.
  auto head = load_upstream_head();
  CHECK(torch::equal(head->face_quality_estimator()(read_tensor(fixtures, "fqe/interm")),
                     qe(read_tensor(fixtures, "fqe/interm"))));
}

TEST_CASE("the body QE with upstream's weights reproduces upstream's weights", "[parity][fusion]") {
  const qme::io::H5Reader fixtures(kModelFixtures);
  qme::io::StateDict state;
  for (const auto& name : fixtures.list_group("bqe/state"))
    state.insert(name, read_tensor(fixtures, "bqe/state/" + name));
  qme::fusion::BodyQualityEstimator qe;
  qme::io::load_state_dict(*qe, state, kModelFixtures + ":bqe/state");
  qe->eval();
  torch::NoGradGuard no_grad;
  const auto weights =
      qe->forward({read_tensor(fixtures, "bqe/layer2"), read_tensor(fixtures, "bqe/layer3")});
  const double d = max_abs_diff(weights, read_tensor(fixtures, "bqe/weights"));
  INFO("max |diff|: " << d);
  CHECK(d <= 1e-6);
}

TEST_CASE("the qme report of the upstream checkpoint matches upstream on the small and medium sets",
          "[parity][fusion][eval]") {
  for (const std::string name : {"small", "medium"}) {
    const auto expected = qme::test::load_json(kFixtures + "/eval/" + name + "_expected.json");
    qme::pipeline::TablesOptions options;
    options.scoremats = kFixtures + "/eval/scoremats_" + name + ".h5";
    options.models = expected.at("models").get<std::vector<std::string>>();
    options.learned.push_back(qme::fusion::make_qme_table_fusion(
        kFixtures + "/model/qme_ckpt.pth", kFixtures + "/eval/face_weights_" + name + ".h5", true));
    const auto result = qme::pipeline::run_tables(options);
    REQUIRE(result.learned.size() == 1);
    const auto& ours = result.learned[0].named.report;
    const auto& theirs = expected.at("qme");
    const double worst = qme::test::check_report_matches(ours, theirs, name + " qme", 1e-9);
    INFO(name << ": largest |diff| over " << theirs.size() << " metrics: " << worst);
    CHECK(worst <= 1e-9);
  }
}

// The model registry (qme/models/model_spec.hpp) is the one place that knows a model: a family
// registered there and nowhere else is accepted by the backbone config, loaded as a TorchScript
// backbone, extracted on a fixture dataset, scored with its similarity and evaluated.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>

#include "qme/backbone/backbone.hpp"
#include "qme/config/backbone_config.hpp"
#include "qme/core/error.hpp"
#include "qme/data/augment.hpp"
#include "qme/data/transforms.hpp"
#include "qme/eval/evaluation_report.hpp"
#include "qme/formats/features_file.hpp"
#include "qme/models/model_spec.hpp"
#include "qme/pipeline/extraction.hpp"
#include "qme/scores/score_matrices.hpp"
#include "qme/scores/similarity.hpp"
#include "support/test_support.hpp"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

constexpr const char* kToy = "toy-body";
constexpr int64_t kToyDim = 16;

/// The test-only family: its one row, registered once per process. This is all a new family
/// needs when its pooling is one of the known ones.
void register_toy_family() {
  if (qme::models::find_model_spec(kToy)) return;
  qme::models::ModelSpec row;
  row.name = kToy;
  row.family = "toy-cnn";
  row.modality = qme::models::Modality::kBody;
  row.similarity = qme::models::Similarity::kCosine;
  row.layout = qme::models::InputLayout::kFrames;
  row.height = 64;
  row.width = 32;
  row.filter = qme::models::ResizeFilter::kBicubic;
  row.normalization = {{0.5, 0.5, 0.5}, {0.25, 0.25, 0.25}, qme::models::NormalizePrecision::kFloat32};
  row.augmentation.flip_probability = 0.5;
  row.pooling = qme::models::ClipPooling::kMean;
  qme::models::register_model(row);
}

/// A TorchScript module obeying the backbone contract for the toy family: 4x2 average pooling
/// of the 64x32 frame, a fixed projection to 16 values.
std::string save_toy_backbone(const std::string& path) {
  torch::jit::Module module("ToyBackbone");
  module.register_attribute(qme::backbone::kFamilyAttribute, c10::StringType::get(), std::string("toy-cnn"));
  module.register_attribute(qme::backbone::kInputAttribute, c10::StringType::get(), std::string("N,3,64,32"));
  module.register_buffer("w", torch::linspace(-1.0, 1.0, 24 * kToyDim).reshape({24, kToyDim}).sin());
  module.define(R"(
def forward(self, x: Tensor) -> Dict[str, Tensor]:
    p = torch.avg_pool2d(x, [16, 16]).flatten(1)
    return {"embedding": torch.tanh(torch.matmul(p, self.w))}
)");
  module.eval();
  module.save(path);
  return path;
}

double cosine(const float* a, const float* b, int64_t dim) {
  double ab = 0.0, aa = 0.0, bb = 0.0;
  for (int64_t d = 0; d < dim; ++d) {
    ab += double{a[d]} * b[d];
    aa += double{a[d]} * a[d];
    bb += double{b[d]} * b[d];
  }
  return ab / std::sqrt(aa * bb);
}

}  // namespace

TEST_CASE("a family registered in one place is known to every area", "[backbone]") {
  register_toy_family();
  const auto& names = qme::config::known_models();
  CHECK(std::find(names.begin(), names.end(), kToy) != names.end());
  CHECK(qme::backbone::backbone_spec(kToy).input_attribute() == "N,3,64,32");
  CHECK(qme::scores::similarity_for_model(kToy) == qme::scores::Similarity::kCosine);
  CHECK_FALSE(qme::models::is_face_model(kToy));
  const auto transform = qme::data::test_transform(kToy);
  CHECK(transform.height == 64);
  CHECK(transform.filter == qme::data::ResizeFilter::kBicubic);
  CHECK(transform.std_dev[1] == 0.25);
  CHECK(qme::data::train_transform(kToy).augment.flip_probability == 0.5);
  CHECK_NOTHROW(
      qme::config::parse_backbone_config("model_list: [toy-body]\ntoy-body_torchscript_path: x.pt\n", "c"));
  // A second row of the same name, or an incomplete one, is refused.
  CHECK_THROWS_WITH(qme::models::register_model(qme::models::model_spec(kToy)),
                    Contains("registered already"));
  qme::models::ModelSpec nameless;
  CHECK_THROWS_AS(qme::models::register_model(nameless), qme::InputError);
}

TEST_CASE("a registered family extracts, scores and evaluates end to end", "[backbone]") {
  const std::string root = std::string(QME_FIXTURES_DIR) + "/data/root";
  if (!fs::exists(root)) {
    WARN("no synthetic datasets at " << root << ": registry end-to-end test skipped");
    return;
  }
  register_toy_family();
  qme::test::TempDir dir;
  qme::pipeline::TestExtractionOptions options;
  options.model = kToy;
  options.dataset = "ccvid";
  options.root = root;
  options.backbone =
      qme::config::parse_backbone_config(std::string("model_list: [toy-body]\ntoy-body_torchscript_path: '") +
                                             save_toy_backbone(dir.path("toy.pt")) + "'\n",
                                         dir.path("backbone_cfg.yaml"));
  options.feats_dir = dir.path("feats");
  options.batch_frames = 16;
  options.optimize = false;
  const auto result = qme::pipeline::extract_test_features(options);
  CHECK(result.features_path == qme::formats::test_features_path(options.feats_dir, kToy, "ccvid"));
  CHECK(result.qe_path.empty());  // the row asks for no QE statistics

  const auto features = qme::formats::read_test_features(result.features_path);
  REQUIRE(features.dim == kToyDim);
  REQUIRE(features.num_query() > 0);
  const auto scores = qme::scores::build_model_scores(features, qme::scores::similarity_for_model(kToy));
  REQUIRE(scores.score_mat.rows == features.num_query());
  REQUIRE(scores.score_mat.cols == features.num_gallery());
  for (int64_t i = 0; i < scores.score_mat.rows; i += 3) {
    for (int64_t j = 0; j < scores.score_mat.cols; j += 5) {
      const double expected =
          cosine(features.query.data() + i * kToyDim, features.gallery.data() + j * kToyDim, kToyDim);
      CHECK(scores.score_mat.at(i, j) == Approx(expected).margin(1e-5));
    }
  }
  const auto report =
      qme::eval::evaluate(scores.score_mat, scores.merge_score_mat, qme::scores::test_labels(features));
  const double top1 = report.at("GR_top1");
  CHECK(top1 >= 0.0);
  CHECK(top1 <= 1.0);
  CHECK(report.at("GR_mAP") > 0.0);
}

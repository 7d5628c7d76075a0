#include "qme/pipeline/score_jobs.hpp"

#include <H5Cpp.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "qme/core/error.hpp"
#include "qme/eval/evaluation_report.hpp"
#include "qme/formats/features_file.hpp"
#include "qme/formats/score_matrix_file.hpp"
#include "scores/scores_test_util.hpp"
#include "support/test_support.hpp"

using Catch::Matchers::Contains;
using qme::pipeline::GatherOptions;
using qme::test::TempDir;

namespace {

/// The features folder inside a test's temporary folder.
std::string feats(const TempDir& dir) {
  return dir.path("feats");
}

/// adaface (32-d), biggait (64-d) and cal-ltcc (16-d) features with the same ids.
void write_models(const TempDir& dir, const std::string& dataset) {
  qme::formats::write_test_features(qme::formats::test_features_path(feats(dir), "adaface", dataset),
                                    qme_test::small_features(32, 1.0f));
  qme::formats::write_test_features(qme::formats::test_features_path(feats(dir), "biggait", dataset),
                                    qme_test::small_features(64, 0.5f));
  qme::formats::write_test_features(qme::formats::test_features_path(feats(dir), "cal-ltcc", dataset),
                                    qme_test::small_features(16, 2.0f));
}

GatherOptions gather_options(const TempDir& dir) {
  GatherOptions options;
  options.models = {"adaface", "biggait", "cal-ltcc"};
  options.dataset = "ltcc";
  options.feats_dir = feats(dir);
  return options;
}

/// True when the features folder holds nothing but the inputs (no output, no temporary file).
bool only_inputs_left(const TempDir& dir) {
  for (const auto& entry : std::filesystem::directory_iterator(feats(dir))) {
    if (entry.path().filename().string().find("_ltcc_test.h5") == std::string::npos) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("gather writes both matrices of every model and the ids in upstream's layout", "[pipeline]") {
  TempDir dir;
  write_models(dir, "ltcc");
  const auto result = qme::pipeline::run_gather(gather_options(dir));
  CHECK(result.path == dir.path("feats/scoremats_ltcc.h5"));

  const qme::formats::ScoreMatrixFile file(result.path);
  CHECK(file.models() == std::vector<std::string>{"adaface", "biggait", "cal-ltcc"});
  const auto features = qme_test::small_features(64, 0.5f);
  CHECK(file.labels().query.pids == features.query_labels.pids);
  CHECK(file.labels().gallery.clothes_ids == features.gallery_labels.clothes_ids);
  CHECK(file.labels().unique_gallery_pids == std::vector<int64_t>{2, 5, 9});
  const auto expected = qme::scores::build_model_scores(features, qme::scores::Similarity::kBigGaitParts);
  const auto biggait = file.read_model("biggait");
  CHECK(biggait.score_mat.values == expected.score_mat.values);
  CHECK(biggait.merge_score_mat.values == expected.merge_score_mat.values);

  // What h5py sees: float32 matrices (Q, G) and (Q, U), float32 id arrays.
  H5::H5File h5(result.path, H5F_ACC_RDONLY);
  for (const std::string name : {"adaface/score_mat", "cal-ltcc/merge_score_mat", "q_pids", "g_camids",
                                 "g_clothes_ids", "unique_g_pids"}) {
    INFO(name);
    CHECK(h5.openDataSet(name).getDataType() == H5::PredType::IEEE_F32LE);
  }
  hsize_t dims[2] = {0, 0};
  h5.openDataSet("adaface/merge_score_mat").getSpace().getSimpleExtentDims(dims);
  CHECK(dims[0] == 4);
  CHECK(dims[1] == 3);
}

TEST_CASE("gather names the file, array, index and values of the first mismatching id", "[pipeline]") {
  TempDir dir;
  write_models(dir, "ltcc");
  auto other = qme_test::small_features(64, 0.5f);
  other.gallery_labels.camids[4] = 7;
  qme::formats::write_test_features(qme::formats::test_features_path(feats(dir), "biggait", "ltcc"), other);
  CHECK_THROWS_WITH(qme::pipeline::run_gather(gather_options(dir)),
                    Contains("biggait_ltcc_test.h5: 'g_camids' differs from") &&
                        Contains("adaface_ltcc_test.h5 at index 4: 7 here, 0 there"));
  CHECK(only_inputs_left(dir));

  other = qme_test::small_features(64, 0.5f);
  other.query_labels = {{2, 5, 9}, {0, 1, 0}, {20, 50, 90}};
  other.query.resize(3 * 64);
  qme::formats::write_test_features(qme::formats::test_features_path(feats(dir), "biggait", "ltcc"), other);
  CHECK_THROWS_WITH(qme::pipeline::run_gather(gather_options(dir)),
                    Contains("'q_pids' has 3 entries but") && Contains("has 4"));
  CHECK(only_inputs_left(dir));
}

TEST_CASE("gather reports a missing features file and writes nothing", "[pipeline]") {
  TempDir dir;
  write_models(dir, "ltcc");
  auto options = gather_options(dir);
  options.models.push_back("aim");
  CHECK_THROWS_WITH(qme::pipeline::run_gather(options), Contains("aim_ltcc_test.h5 does not exist"));
  CHECK(only_inputs_left(dir));
}

TEST_CASE("gather refuses biggait features that do not split into 16 parts", "[pipeline]") {
  TempDir dir;
  write_models(dir, "ltcc");
  qme::formats::write_test_features(qme::formats::test_features_path(feats(dir), "biggait", "ltcc"),
                                    qme_test::small_features(100));
  CHECK_THROWS_WITH(
      qme::pipeline::run_gather(gather_options(dir)),
      Contains("biggait_ltcc_test.h5: 'qf' has 100 feature columns") && Contains("multiple of 16"));
  CHECK(only_inputs_left(dir));
}

TEST_CASE("gather refuses unknown and repeated models before reading anything", "[pipeline]") {
  TempDir dir;
  auto options = gather_options(dir);
  options.models = {"adaface", "resnet"};
  CHECK_THROWS_WITH(qme::pipeline::run_gather(options), Contains("model 'resnet'"));
  options.models = {"adaface", "aim", "adaface"};
  CHECK_THROWS_AS(qme::pipeline::run_gather(options), qme::UsageError);
  options.models = {};
  CHECK_THROWS_AS(qme::pipeline::run_gather(options), qme::UsageError);
}

TEST_CASE("score evaluates one model's matrices like qme_tables", "[pipeline]") {
  TempDir dir;
  write_models(dir, "ltcc");
  qme::pipeline::ScoreJobOptions options;
  options.model = "cal-ltcc";
  options.dataset = "ltcc";
  options.feats_dir = feats(dir);
  const auto result = qme::pipeline::run_score(options);
  REQUIRE(result.models == std::vector<std::string>{"cal-ltcc"});
  REQUIRE(result.single.size() == 1);
  CHECK(result.fusion.empty());

  const auto features = qme_test::small_features(16, 2.0f);
  const auto scores = qme::scores::build_model_scores(features, qme::scores::Similarity::kCosine);
  const auto expected =
      qme::eval::evaluate(scores.score_mat, scores.merge_score_mat, qme::scores::test_labels(features));
  const auto& report = result.single.front().report;
  REQUIRE(report.size() == expected.size());
  for (const auto& [name, value] : expected.entries()) {
    INFO(name);
    const double ours = report.at(name);
    CHECK(((std::isnan(ours) && std::isnan(value)) || ours == value));
  }
  const auto json = qme::pipeline::tables_to_json(result);
  CHECK(json.at("single").contains("cal-ltcc"));

  options.model = "agrl";
  CHECK_THROWS_WITH(qme::pipeline::run_score(options), Contains("agrl_ltcc_test.h5 does not exist"));
}

// qme_tables' library entry point: bad input gives one clear error naming the
// file and the field; degenerate data gives NaN with a warning, never a crash.
#include <catch2/catch.hpp>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "qme/core/error.hpp"
#include "qme/formats/score_matrix_file.hpp"
#include "qme/io/hdf5_file.hpp"
#include "qme/pipeline/tables_job.hpp"
#include "qme/synthetic/synthetic_scores.hpp"
#include "support/tables_support.hpp"
#include "support/test_support.hpp"

using qme::test::TempDir;

namespace {

qme::synthetic::SyntheticScores small_scores(int64_t subjects = 6, int64_t gallery_per_subject = 4) {
  qme::synthetic::SyntheticScoreSpec spec;
  spec.num_subjects = subjects;
  spec.probes_per_subject = 2;
  spec.gallery_per_subject = gallery_per_subject;
  spec.num_cameras = 3;
  spec.models = {"adaface", "cal-ccvid"};
  return qme::synthetic::make_synthetic_scores(spec);
}

/// Writes `labels` and `models` to a score-matrix file in `dir` and returns options that read it.
qme::pipeline::TablesOptions options_for(
    const TempDir& dir, const qme::TestLabels& labels,
    const std::vector<std::pair<std::string, qme::ModelScores>>& models) {
  const auto path = dir.path("s.h5");
  qme::formats::write_score_matrix_file(path, labels, models);
  qme::pipeline::TablesOptions options;
  options.scoremats = path;
  return options;
}

std::string error_of(const qme::pipeline::TablesOptions& options) {
  return qme::test::message_of<qme::InputError>([&] { qme::pipeline::run_tables(options); });
}

}  // namespace

TEST_CASE("run_tables evaluates every model and baseline of a file", "[pipeline]") {
  TempDir dir;
  const auto synthetic = small_scores(30, 5);
  auto options = options_for(dir, synthetic.labels, synthetic.models);
  options.baselines = qme::eval::all_fusion_methods();
  const auto result = qme::pipeline::run_tables(options);
  REQUIRE(result.models == std::vector<std::string>{"adaface", "cal-ccvid"});
  REQUIRE(result.single.size() == 2);
  REQUIRE(result.fusion.size() == 6);
  const auto json = qme::pipeline::tables_to_json(result);
  CHECK(json.at("single").at("adaface").contains("FNIR@1.00%FPIR_std"));
  CHECK(json.at("fusion").contains("rhe"));
  CHECK(json.at("timing_s").contains("fusion/max"));
  const auto csv = qme::pipeline::tables_to_csv(result);
  CHECK(csv.rfind("metric,adaface,cal-ccvid,zscore,minmax,rhe,min,mean,max\n", 0) == 0);
}

TEST_CASE("a missing score file is reported with its path", "[pipeline]") {
  qme::pipeline::TablesOptions options;
  options.scoremats = "/nonexistent/scoremats_x.h5";
  const auto message = error_of(options);
  CHECK(message.find("/nonexistent/scoremats_x.h5") != std::string::npos);
  CHECK(message.find("does not exist") != std::string::npos);
}

TEST_CASE("an unknown model is reported with the models the file has", "[pipeline]") {
  TempDir dir;
  const auto synthetic = small_scores();
  auto options = options_for(dir, synthetic.labels, synthetic.models);
  options.models = {"adaface", "arcface"};
  const auto message = error_of(options);
  CHECK(message.find("arcface/score_mat") != std::string::npos);
  CHECK(message.find("adaface, cal-ccvid") != std::string::npos);
}

TEST_CASE("id arrays that disagree with the matrix are reported", "[pipeline]") {
  TempDir dir;
  const auto synthetic = small_scores();
  auto labels = synthetic.labels;
  // one gallery entry fewer in the ids than columns in the matrices
  labels.gallery.pids.pop_back();
  labels.gallery.camids.pop_back();
  labels.gallery.clothes_ids.pop_back();
  auto options = options_for(dir, labels, synthetic.models);
  CHECK(error_of(options) == options.scoremats + ": 'g_pids' has " + std::to_string(labels.gallery.size()) +
                                 " entries but adaface/score_mat has " +
                                 std::to_string(synthetic.labels.gallery.size()) + " columns");
}

TEST_CASE("files without probes, gallery or subjects give NaN reports under every baseline", "[pipeline]") {
  // Regression: minmax once dereferenced the extremes of an empty range here.
  const auto synthetic = small_scores();
  const auto empty_side = [](qme::IdentityLabels& side) { side = qme::IdentityLabels{}; };
  for (int variant = 0; variant < 3; ++variant) {
    TempDir dir;
    auto labels = synthetic.labels;
    if (variant == 0) empty_side(labels.query);
    if (variant >= 1) {
      empty_side(labels.gallery);
      labels.unique_gallery_pids.clear();
    }
    if (variant == 2) empty_side(labels.query);
    const auto q = static_cast<int64_t>(labels.query.size());
    const auto g = static_cast<int64_t>(labels.gallery.size());
    const auto u = static_cast<int64_t>(labels.unique_gallery_pids.size());
    std::vector<std::pair<std::string, qme::ModelScores>> models;
    for (const auto& [name, scores] : synthetic.models) {
      models.push_back({name, {qme::ScoreMatrix(q, g), qme::ScoreMatrix(q, u)}});
    }
    auto options = options_for(dir, labels, models);
    options.baselines = qme::eval::all_fusion_methods();
    const auto result = qme::pipeline::run_tables(options);
    REQUIRE(result.fusion.size() == 6);
    for (const auto& column : result.fusion) CHECK(std::isnan(column.report.at("GR_top1")));
  }
}

TEST_CASE("camids of another length than pids are reported", "[pipeline]") {
  TempDir dir;
  const auto synthetic = small_scores();
  auto labels = synthetic.labels;
  labels.query.camids.push_back(0);
  REQUIRE_THROWS_AS(qme::formats::write_score_matrix_file(dir.path("s.h5"), labels, synthetic.models),
                    qme::InputError);
}

TEST_CASE("a matrix full of NaN evaluates to NaN metrics, not a crash", "[pipeline]") {
  TempDir dir;
  auto synthetic = small_scores();
  for (auto& [name, scores] : synthetic.models) {
    std::fill(scores.score_mat.values.begin(), scores.score_mat.values.end(), NAN);
    std::fill(scores.merge_score_mat.values.begin(), scores.merge_score_mat.values.end(), NAN);
  }
  auto options = options_for(dir, synthetic.labels, synthetic.models);
  options.baselines = {qme::eval::FusionMethod::kZScore, qme::eval::FusionMethod::kMin};
  const auto result = qme::pipeline::run_tables(options);
  const auto& report = result.single.front().report;
  REQUIRE(report.size() == 41);
  // NaN scores count as the lowest score (0 when all are NaN): one threshold
  // accepts every pair.
  CHECK(report.at("TAR@1.00%FAR") == 1.0);
  CHECK(report.at("Threshold@1.00%FAR") == 0.0);
  // a NaN among the enrolled scores means no identification; the non-mated
  // maxima are NaN, so are the thresholds
  CHECK(report.at("TPIR@1.00%FPIR") == 0.0);
  CHECK(report.at("FNIR@1.00%FPIR") == 1.0);
  CHECK(std::isnan(report.at("FNIR@1.00%FPIR_threshold")));
  // nan_to_num then z-score: every fused score is 0, still evaluable
  CHECK(result.fusion.front().report.at("TAR@1.00%FAR") == 1.0);
}

TEST_CASE("a gallery of fewer than 20 entries leaves the deep ranks undefined", "[pipeline]") {
  TempDir dir;
  const auto synthetic = small_scores(4, 3);  // 12 gallery entries
  auto options = options_for(dir, synthetic.labels, synthetic.models);
  const auto report = qme::pipeline::run_tables(options).single.front().report;
  CHECK(std::isnan(report.at("GR_top20")));
  CHECK(std::isnan(report.at("CC_top20")));
  CHECK_FALSE(std::isnan(report.at("GR_top10")));
  CHECK_FALSE(std::isnan(report.at("GR_mAP")));
}

namespace {

/// A learned column that refuses every input: run_tables must ask before any work.
class RefusingFusion : public qme::eval::ScoreFusion {
 public:
  qme::eval::TableColumnId column() const override {
    return {"picky", "Picky", qme::eval::ColumnKind::kLearned};
  }
  void check(const std::vector<std::string>& models, const qme::TestLabels&) const override {
    throw qme::InputError("picky.ckpt", "experts", "fuses 5 models, not " + std::to_string(models.size()));
  }
  void fuse(const std::vector<std::string>&, const std::vector<const qme::ModelScores*>&,
            const qme::TestLabels&, qme::ModelScores&) override {
    FAIL("fuse() ran although check() refused");
  }
};

}  // namespace

TEST_CASE("every fused column goes through one interface: checked before any work, shown by kind",
          "[pipeline]") {
  TempDir dir;
  const auto synthetic = small_scores();
  auto options = options_for(dir, synthetic.labels, synthetic.models);
  options.baselines = {qme::eval::FusionMethod::kRhe, qme::eval::FusionMethod::kMax};
  options.learned.push_back(qme::test::stand_in_learned_fusion(qme::eval::FusionMethod::kMean));
  std::vector<std::string> seen;
  options.observers.push_back([&](const qme::eval::TableColumnId& c, const qme::ModelScores&,
                                  const qme::TestLabels&) { seen.push_back(c.key + "/" + c.label); });
  const auto result = qme::pipeline::run_tables(options);
  CHECK(seen ==
        std::vector<std::string>{"adaface/adaface", "cal-ccvid/cal-ccvid", "rhe/rhe", "max/max", "qme/QME"});
  // The classic columns of the interface are fuse_scores', bit for bit.
  std::vector<const qme::ModelScores*> inputs;
  for (const auto& m : synthetic.models) inputs.push_back(&m.second);
  auto classic = qme::eval::classic_score_fusions({qme::eval::FusionMethod::kRhe});
  qme::ModelScores fused;
  classic[0]->fuse({"adaface", "cal-ccvid"}, inputs, synthetic.labels, fused);
  CHECK(fused.score_mat.values ==
        qme::eval::fuse_scores(qme::eval::FusionMethod::kRhe, inputs, synthetic.labels).score_mat.values);
  REQUIRE(result.learned.size() == 1);
  CHECK(result.learned[0].column == "QME");
  CHECK(result.learned[0].named.report.at("GR_top1") ==
        qme::eval::evaluate(
            qme::eval::fuse_scores(qme::eval::FusionMethod::kMean, inputs, synthetic.labels).score_mat,
            qme::eval::fuse_scores(qme::eval::FusionMethod::kMean, inputs, synthetic.labels).merge_score_mat,
            synthetic.labels)
            .at("GR_top1"));

  options.learned.push_back(std::make_shared<RefusingFusion>());
  seen.clear();
  CHECK_THROWS_WITH(qme::pipeline::run_tables(options), Catch::Contains("fuses 5 models, not 2"));
  CHECK(seen.empty());  // nothing was evaluated
}

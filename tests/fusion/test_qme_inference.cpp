// QME inference on score matrices: blocks do not change the result, mismatches are explained,
// face-weight files are validated, and qme_tables' "qme" report comes out of run_tables.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include <cmath>
#include <nlohmann/json.hpp>

#include "qme/core/error.hpp"
#include "qme/eval/synthetic_scores.hpp"
#include "qme/eval/tables_job.hpp"
#include "qme/fusion/qme_inference.hpp"
#include "qme/fusion/qme_mixture.hpp"
#include "qme/io/checkpoint.hpp"
#include "qme/io/hdf5_file.hpp"
#include "qme/io/score_matrix_file.hpp"
#include "support/test_support.hpp"

using qme::fusion::QmeInference;
using qme::fusion::QmeInferenceOptions;
using qme::test::TempDir;

namespace {

/// Saves a freshly initialised head over `models` models (with a face QE, like upstream's).
std::string write_head(const TempDir& dir, int64_t models) {
  torch::manual_seed(11);
  qme::fusion::QmeMixture head{qme::fusion::QmeMixtureOptions(models)};
  {
    // Non-trivial normalisation, so the experts differ from an affine map of the mean.
    torch::NoGradGuard no_grad;
    auto sd = qme::io::state_dict(*head);
    sd["experts.0.bn.running_mean"].fill_(0.3);
    sd["experts.1.bn.running_var"].fill_(0.04);
  }
  qme::io::Checkpoint checkpoint;
  checkpoint.model_state_dict = qme::io::state_dict(*head);
  const auto path = dir.path("qme_" + std::to_string(models) + ".pth");
  qme::io::write_checkpoint(path, checkpoint);
  return path;
}

qme::eval::SyntheticScores synthetic(int64_t subjects = 8) {
  qme::eval::SyntheticScoreSpec spec;
  spec.num_subjects = subjects;
  spec.probes_per_subject = 3;
  spec.gallery_per_subject = 4;
  spec.num_cameras = 3;
  return qme::eval::make_synthetic_scores(spec);  // adaface, biggait, cal-ccvid
}

std::vector<const qme::ModelScores*> pointers(const qme::eval::SyntheticScores& s) {
  std::vector<const qme::ModelScores*> out;
  for (const auto& [name, scores] : s.models) out.push_back(&scores);
  return out;
}

std::vector<float> weights_for(int64_t probes) {
  std::vector<float> w(static_cast<size_t>(probes));
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i % 7) / 6.0f;
  return w;
}

void write_weights(const std::string& path, const std::vector<float>& w, qme::io::Shape shape) {
  qme::io::AtomicH5Writer writer(path);
  writer.write_float32("face_weights", w.data(), shape);
  writer.commit();
}

double max_abs_diff(const qme::ScoreMatrix& a, const qme::ScoreMatrix& b) {
  REQUIRE(a.rows == b.rows);
  REQUIRE(a.cols == b.cols);
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(double(a.values[i]) - b.values[i]));
  return worst;
}

}  // namespace

TEST_CASE("QME inference gives the same matrices whatever the block size, to float32 round-off", "[fusion]") {
  TempDir dir;
  const auto path = write_head(dir, 3);
  const auto s = synthetic();
  const auto q = weights_for(static_cast<int64_t>(s.labels.query.size()));
  const QmeInference whole(path);
  QmeInferenceOptions one_row;
  one_row.block_rows = 1;
  QmeInferenceOptions five_rows;
  five_rows.block_rows = 5;
  const auto reference = whole.fuse(pointers(s), q);
  for (const auto& options : {one_row, five_rows}) {
    // Row tiling inside the matrix kernels follows the batch size: the last bit may differ.
    const auto blocked = QmeInference(path, options).fuse(pointers(s), q);
    CHECK(max_abs_diff(blocked.score_mat, reference.score_mat) <= 1e-6);
    CHECK(max_abs_diff(blocked.merge_score_mat, reference.merge_score_mat) <= 1e-6);
  }
  CHECK(reference.score_mat.rows == s.models[0].second.score_mat.rows);
  CHECK(reference.merge_score_mat.cols == s.models[0].second.merge_score_mat.cols);
}

TEST_CASE("QME inference equals the head's forward pass on the stacked matrices", "[fusion]") {
  TempDir dir;
  const auto path = write_head(dir, 3);
  const auto s = synthetic();
  const auto q = weights_for(static_cast<int64_t>(s.labels.query.size()));
  const auto fused = QmeInference(path).fuse(pointers(s), q);

  auto checkpoint = qme::io::read_checkpoint(path);
  qme::fusion::QmeMixture head(qme::fusion::qme_options_from_state(checkpoint.model_state_dict, path));
  qme::io::load_state_dict(*head, checkpoint.model_state_dict, path);
  head->eval();
  std::vector<torch::Tensor> parts;
  for (const auto& [name, m] : s.models) {
    parts.push_back(torch::from_blob(const_cast<float*>(m.score_mat.values.data()),
                                     {m.score_mat.rows, m.score_mat.cols}));
  }
  const auto expected = head(torch::stack(parts, 1), torch::tensor(q).reshape({-1, 1})).contiguous();
  CHECK(torch::equal(torch::from_blob(const_cast<float*>(fused.score_mat.values.data()),
                                      {fused.score_mat.rows, fused.score_mat.cols}),
                     expected));

  // Without the QE every probe mixes the experts half and half: the weights are not read.
  QmeInferenceOptions no_qe;
  no_qe.use_qe = false;
  const auto half = QmeInference(path, no_qe).fuse(pointers(s), {});
  const auto all_half = QmeInference(path).fuse(pointers(s), std::vector<float>(q.size(), 0.5f));
  CHECK(half.score_mat.values == all_half.score_mat.values);
}

TEST_CASE("a model list that does not fit the experts is explained", "[fusion]") {
  TempDir dir;
  const QmeInference model(write_head(dir, 3));
  CHECK(model.num_models() == 3);
  CHECK_NOTHROW(model.check_models({"adaface", "biggait", "cal-ccvid"}));
  const auto message = qme::test::message_of<qme::InputError>([&] {
    model.check_models({"adaface", "biggait"});
  });
  CHECK(message ==
        model.checkpoint_path() +
            ": 'experts.0.bn.weight' has 3 entries: the QME experts were trained on 3 models, but 2 are "
            "given (adaface, biggait); use the model list the checkpoint was trained with (the backbone "
            "config's model_list), in the same order");
}

TEST_CASE("face-weight files are validated where they enter", "[fusion]") {
  TempDir dir;
  const auto good = dir.path("w.h5");
  write_weights(good, {0.5f, 0.25f, 1.0f}, {3, 1});
  CHECK(qme::fusion::read_face_weights(good, 3) == std::vector<float>{0.5f, 0.25f, 1.0f});
  const auto flat = dir.path("flat.h5");
  write_weights(flat, {0.5f, 0.25f}, {2});
  CHECK(qme::fusion::read_face_weights(flat).size() == 2);

  const auto error = [](const std::string& path, int64_t rows = -1) {
    return qme::test::message_of<qme::InputError>([&] { qme::fusion::read_face_weights(path, rows); });
  };
  CHECK(error(good, 4) == good + ": 'face_weights' has 3 rows but the score matrices have 4 probes");
  const auto wide = dir.path("wide.h5");
  write_weights(wide, {0.5f, 0.25f}, {1, 2});
  CHECK(error(wide) == wide + ": 'face_weights' must be (Q, 1) or (Q,): one weight per probe");
  const auto nan = dir.path("nan.h5");
  write_weights(nan, {0.5f, NAN}, {2, 1});
  CHECK(error(nan) == nan + ": 'face_weights' holds a non-finite weight at row 1");
  const auto other = dir.path("other.h5");
  {
    qme::io::AtomicH5Writer writer(other);
    const float v = 1;
    writer.write_float32("weights", &v, {1});
    writer.commit();
  }
  CHECK(error(other) ==
        other + ": 'face_weights' is missing (QME inference needs one quality weight per probe)");
}

TEST_CASE("run_tables adds the qme report, its timing and a QME column", "[fusion][eval]") {
  TempDir dir;
  const auto s = synthetic(12);
  const auto scoremats = dir.path("scoremats.h5");
  qme::io::write_score_matrix_file(scoremats, s.labels, s.models);
  const auto weights = dir.path("weights.h5");
  write_weights(weights, weights_for(static_cast<int64_t>(s.labels.query.size())),
                {s.labels.query.size(), 1});

  qme::eval::TablesOptions options;
  options.scoremats = scoremats;
  options.learned.push_back(qme::fusion::make_qme_table_fusion(write_head(dir, 3), weights, true));
  const auto result = qme::eval::run_tables(options);
  REQUIRE(result.learned.size() == 1);
  CHECK(result.learned[0].column == "QME");
  const auto json = qme::eval::tables_to_json(result);
  CHECK(json.at("qme").contains("GR_top1"));
  CHECK(json.at("timing_s").contains("qme"));
  CHECK_THAT(qme::eval::tables_to_csv(result), Catch::StartsWith("metric,adaface,biggait,cal-ccvid,QME\n"));
  const auto columns = qme::eval::table_columns(result);
  CHECK(columns.back().name == "QME");

  // The same report as evaluating the fused matrices directly.
  const qme::io::ScoreMatrixFile file(scoremats);
  std::vector<qme::ModelScores> read;
  for (const auto& m : file.models()) read.push_back(file.read_model(m));
  std::vector<const qme::ModelScores*> inputs;
  for (const auto& m : read) inputs.push_back(&m);
  const auto fused = QmeInference(dir.path("qme_3.pth"))
                         .fuse(inputs, qme::fusion::read_face_weights(
                                           weights, static_cast<int64_t>(inputs[0]->score_mat.rows)));
  qme::eval::EvalOptions eval_options;
  const auto direct =
      qme::eval::evaluate(fused.score_mat, fused.merge_score_mat, file.labels(), eval_options);
  const auto& via_tables = result.learned[0].named.report.entries();
  REQUIRE(direct.entries().size() == via_tables.size());
  for (size_t i = 0; i < via_tables.size(); ++i) {
    INFO(via_tables[i].first);
    const double a = direct.entries()[i].second;
    const double b = via_tables[i].second;
    CHECK((a == b || (std::isnan(a) && std::isnan(b))));
  }

  // Two models for a three-model head: explained, not evaluated.
  options.models = {"adaface", "biggait"};
  CHECK_THROWS_WITH(qme::eval::run_tables(options), Catch::Contains("trained on 3 models, but 2 are given"));
}

TEST_CASE("the qme table fusion checks its inputs before any evaluation", "[fusion]") {
  TempDir dir;
  const auto head = write_head(dir, 3);
  CHECK_THROWS_WITH(qme::fusion::make_qme_table_fusion(head, "", true),
                    "--qme_ckpt needs --face_weights (one quality weight per probe), or --use_qe false");
  CHECK_NOTHROW(qme::fusion::make_qme_table_fusion(head, "", false));
  CHECK_THROWS_WITH(qme::fusion::make_qme_table_fusion(dir.path("none.pth"), "", false),
                    dir.path("none.pth") + " does not exist");
  CHECK_THROWS_WITH(qme::fusion::make_qme_table_fusion(head, dir.path("none.h5"), true),
                    Catch::Contains(dir.path("none.h5")));
}

// QME inference on score matrices: blocks do not change the result, mismatches are explained,
// face-weight files are validated, and qme_tables' "qme" report comes out of run_tables.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>

#include "qme/core/error.hpp"
#include "qme/formats/score_matrix_file.hpp"
#include "qme/fusion/qme_inference.hpp"
#include "qme/fusion/qme_mixture.hpp"
#include "qme/fusion/qme_table_column.hpp"
#include "qme/io/checkpoint.hpp"
#include "qme/io/hdf5_file.hpp"
#include "qme/pipeline/tables_job.hpp"
#include "qme/synthetic/synthetic_scores.hpp"
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

qme::synthetic::SyntheticScores synthetic(int64_t subjects = 8) {
  qme::synthetic::SyntheticScoreSpec spec;
  spec.num_subjects = subjects;
  spec.probes_per_subject = 3;
  spec.gallery_per_subject = 4;
  spec.num_cameras = 3;
  return qme::synthetic::make_synthetic_scores(spec);  // adaface, biggait, cal-ccvid
}

std::vector<const qme::ModelScores*> pointers(const qme::synthetic::SyntheticScores& s) {
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

using qme::test::max_abs_diff;

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

namespace {

/// A head whose BatchNorms and weights are far from the identity, over `models` models.
qme::fusion::QmeMixture calibrated_head(int64_t models, int64_t seed) {
  torch::manual_seed(seed);
  qme::fusion::QmeMixture head{qme::fusion::QmeMixtureOptions(models)};
  torch::NoGradGuard no_grad;
  for (auto& item : qme::io::state_dict(*head)) {
    const auto& name = item.key();
    auto& t = item.value();
    if (name.find("running_var") != std::string::npos) {
      t.uniform_(0.001, 0.05);  // cosine-band variances
    } else if (name.find("running_mean") != std::string::npos) {
      t.uniform_(0.2, 0.6);
    } else if (name.find("num_batches") == std::string::npos) {
      t.normal_(0.0, 0.7);
    }
  }
  head->eval();
  return head;
}

/// Scores in a narrow cosine band (std 0.045), some rows all zero (probes without a face).
qme::ScoreMatrix narrow_band(int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.45f, 0.045f);
  qme::ScoreMatrix m(rows, cols);
  for (int64_t i = 0; i < rows; ++i) {
    if (i % 9 == 4) continue;  // no face: the builder's NaN -> 0
    for (int64_t j = 0; j < cols; ++j) m.row(i)[j] = normal(rng);
  }
  return m;
}

size_t count_differences(const qme::ScoreMatrix& a, const qme::ScoreMatrix& b) {
  REQUIRE(a.values.size() == b.values.size());
  size_t n = 0;
  for (size_t i = 0; i < a.values.size(); ++i)
    n += std::memcmp(&a.values[i], &b.values[i], sizeof(float)) != 0;
  return n;
}

}  // namespace

TEST_CASE("QME's CPU kernel gives LibTorch's fused scores bit for bit", "[fusion]") {
  // One LibTorch thread and a hidden layer whose size is a multiple of 32: then LibTorch's SELU
  // runs every element through its vector path (Sleef's exp), as the kernel does. Elsewhere its
  // scalar tail (std::exp) can move a score by one ulp, which the second case bounds.
  const int previous_threads = torch::get_num_threads();
  torch::set_num_threads(1);
  for (int64_t models : {3, 2, 5}) {
    INFO(models << " models");
    auto head = calibrated_head(models, 20 + models);
    std::vector<qme::ScoreMatrix> matrices;
    std::vector<const qme::ScoreMatrix*> inputs;
    for (int64_t m = 0; m < models; ++m)
      matrices.push_back(narrow_band(37, 704, static_cast<uint32_t>(m + 1)));
    for (const auto& m : matrices) inputs.push_back(&m);
    std::vector<float> q(37);
    for (size_t i = 0; i < q.size(); ++i) q[i] = static_cast<float>(i) / 36.0f;
    const auto kernel = qme::fusion::fuse_score_matrices(head, inputs, q);
    const auto reference = qme::fusion::fuse_score_matrices(head, inputs, q, 0, torch::kCPU, false);
    CHECK(count_differences(kernel, reference) == 0);

    // 7050 columns: the scalar tail of LibTorch's SELU covers a few pairs at most.
    std::vector<qme::ScoreMatrix> wide;
    std::vector<const qme::ScoreMatrix*> wide_inputs;
    for (int64_t m = 0; m < models; ++m) wide.push_back(narrow_band(37, 7050, static_cast<uint32_t>(m + 9)));
    for (const auto& m : wide) wide_inputs.push_back(&m);
    const auto wide_kernel = qme::fusion::fuse_score_matrices(head, wide_inputs, q);
    const auto wide_reference = qme::fusion::fuse_score_matrices(head, wide_inputs, q, 0, torch::kCPU, false);
    CHECK(count_differences(wide_kernel, wide_reference) <= 32);
    CHECK(max_abs_diff(wide_kernel, wide_reference) <= 1e-6);
  }
  torch::set_num_threads(previous_threads);
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
  CHECK(error(wide) == wide + ": 'face_weights' is 1x2; it must be (Q, 1) or (Q,): one weight per probe");
  const auto nan = dir.path("nan.h5");
  write_weights(nan, {0.5f, NAN}, {2, 1});
  CHECK(error(nan) == nan + ": 'face_weights' holds nan at row 1; quality weights lie in [0, 1]");
  // Upstream's QE ends in a sigmoid: a weight outside [0, 1] would extrapolate the experts.
  for (const float outside : {5.0f, -1.0f, INFINITY}) {
    const auto path = dir.path("outside.h5");
    write_weights(path, {0.5f, 0.25f, outside}, {3, 1});
    CHECK_THAT(error(path, 3), Catch::Matchers::EndsWith("at row 2; quality weights lie in [0, 1]"));
  }
  // The declared rows are checked before the weights are read.
  CHECK(error(good, 2) == good + ": 'face_weights' has 3 rows but the score matrices have 2 probes");
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
  qme::formats::write_score_matrix_file(scoremats, s.labels, s.models);
  const auto weights = dir.path("weights.h5");
  write_weights(weights, weights_for(static_cast<int64_t>(s.labels.query.size())),
                {s.labels.query.size(), 1});

  qme::pipeline::TablesOptions options;
  options.scoremats = scoremats;
  options.learned.push_back(qme::fusion::make_qme_table_fusion(write_head(dir, 3), weights, true));
  const auto result = qme::pipeline::run_tables(options);
  REQUIRE(result.learned.size() == 1);
  CHECK(result.learned[0].column == "QME");
  const auto json = qme::pipeline::tables_to_json(result);
  CHECK(json.at("qme").contains("GR_top1"));
  CHECK(json.at("timing_s").contains("qme"));
  CHECK_THAT(qme::pipeline::tables_to_csv(result),
             Catch::StartsWith("metric,adaface,biggait,cal-ccvid,QME\n"));
  const auto columns = qme::pipeline::table_columns(result);
  CHECK(columns.back().name == "QME");

  // The same report as evaluating the fused matrices directly.
  const qme::formats::ScoreMatrixFile file(scoremats);
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
  CHECK_THROWS_WITH(qme::pipeline::run_tables(options),
                    Catch::Contains("trained on 3 models, but 2 are given"));
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

namespace {

/// Saves `head`'s state, changed by `edit`, as a checkpoint in `dir`.
std::string save_state(const TempDir& dir, const std::string& name, qme::fusion::QmeMixture head,
                       const std::function<void(qme::io::StateDict&)>& edit = {}) {
  qme::io::Checkpoint checkpoint;
  checkpoint.model_state_dict = qme::io::state_dict(*head);
  if (edit) edit(checkpoint.model_state_dict);
  const auto path = dir.path(name);
  qme::io::write_checkpoint(path, checkpoint);
  return path;
}

/// Fuses `s`'s models, cycled to `models` inputs, through `fusion`.
qme::ModelScores fuse_with(qme::eval::ScoreFusion& fusion, const qme::synthetic::SyntheticScores& s,
                           int64_t models) {
  std::vector<std::string> names;
  std::vector<const qme::ModelScores*> inputs;
  for (int64_t m = 0; m < models; ++m) {
    names.push_back("model" + std::to_string(m));
    inputs.push_back(&s.models[static_cast<size_t>(m) % s.models.size()].second);
  }
  fusion.check(names, s.labels);
  qme::ModelScores out;
  fusion.fuse(names, inputs, s.labels, out);
  return out;
}

/// The torch-free column's fused matrices are LibTorch's column's, bit for bit, with and
/// without quality weights.
void check_kernel_column_matches_torch(const std::string& head, int64_t models, const TempDir& dir) {
  INFO(head);
  const auto s = synthetic(10);
  const auto weights = dir.path("weights_" + std::to_string(models) + ".h5");
  write_weights(weights, weights_for(static_cast<int64_t>(s.labels.query.size())),
                {s.labels.query.size(), 1});
  for (const bool use_qe : {true, false}) {
    INFO("use_qe " << use_qe);
    std::string why_not;
    auto kernel = qme::fusion::make_kernel_qme_column(head, weights, use_qe, &why_not);
    INFO(why_not);
    REQUIRE(kernel);
    CHECK(kernel->column().label == "QME");
    auto torch_column = qme::fusion::make_qme_table_fusion(head, weights, use_qe);
    const auto a = fuse_with(*kernel, s, models), b = fuse_with(*torch_column, s, models);
    CHECK(count_differences(a.score_mat, b.score_mat) == 0);
    CHECK(count_differences(a.merge_score_mat, b.merge_score_mat) == 0);
  }
}

}  // namespace

TEST_CASE("qme_tables' torch-free QME column fuses upstream's head as LibTorch's column does",
          "[parity][fusion]") {
  TempDir dir;
  const auto path = std::string(QME_FIXTURES_DIR) + "/model/qme_ckpt.pth";
  const auto models = qme::io::read_checkpoint(path).model_state_dict["experts.0.bn.weight"].numel();
  check_kernel_column_matches_torch(path, models, dir);
}

TEST_CASE("qme_tables' torch-free QME column fuses every head it accepts as LibTorch's column does",
          "[fusion]") {
  TempDir dir;
  for (const int64_t models : {3, 2, 5}) {
    INFO(models << " models");
    check_kernel_column_matches_torch(
        save_state(dir, "h" + std::to_string(models) + ".pth", calibrated_head(models, 40 + models)), models,
        dir);
  }
  // A wider hidden layer, and a head saved with its face quality estimator (skipped).
  torch::manual_seed(3);
  qme::fusion::QmeMixture wide{qme::fusion::QmeMixtureOptions(3).mlp_ratio(5)};
  check_kernel_column_matches_torch(save_state(dir, "wide.pth", wide), 3, dir);
  qme::fusion::QmeMixture with_qe{qme::fusion::QmeMixtureOptions(3)};
  check_kernel_column_matches_torch(save_state(dir, "with_qe.pth", with_qe), 3, dir);
}

TEST_CASE("heads the torch-free QME column cannot run are left to LibTorch, with the reason", "[fusion]") {
  TempDir dir;
  const auto why_not = [](const std::string& path) {
    std::string why;
    const auto column = qme::fusion::make_kernel_qme_column(path, "", false, &why);
    CHECK_FALSE(column);
    return why;
  };
  // float64 weights and a two-output head: LibTorch's column runs them.
  const auto doubles = save_state(dir, "double.pth", calibrated_head(3, 7), [](qme::io::StateDict& state) {
    for (auto& item : state) {
      if (item.value().is_floating_point()) item.value() = item.value().to(torch::kDouble);
    }
  });
  CHECK_THAT(why_not(doubles), Catch::Contains("not float32"));
  CHECK_NOTHROW(qme::fusion::make_qme_table_fusion(doubles, "", false));

  qme::fusion::QmeMixture two_outputs{qme::fusion::QmeMixtureOptions(3).out_dim(2)};
  const auto two = save_state(dir, "two_outputs.pth", two_outputs);
  CHECK_FALSE(why_not(two).empty());

  // An entry no QME head has: LibTorch's column gives the error.
  const auto foreign = save_state(dir, "foreign.pth", calibrated_head(3, 8), [](qme::io::StateDict& state) {
    state.insert("gate.weight", torch::ones({2}));
  });
  CHECK_FALSE(why_not(foreign).empty());
  CHECK_THROWS_WITH(qme::fusion::make_qme_table_fusion(foreign, "", false),
                    Catch::Contains("does not match a QME head"));

  // A missing file is read_checkpoint's to explain.
  CHECK_THAT(why_not(dir.path("none.pth")), Catch::Contains("does not exist"));
}

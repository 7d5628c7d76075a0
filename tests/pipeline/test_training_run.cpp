// Whole training runs (qme::pipeline::run_training) on synthetic caches, [trainrun]: the QE run
// writes probe weights and its checkpoint; the QME run selects, early-stops, writes an
// upstream-loadable checkpoint that beats every classic baseline; interrupted-then-resumed
// runs equal uninterrupted ones; bad inputs give one clear error.
#include <hdf5.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>

#include "qme/config/backbone_config.hpp"
#include "qme/config/train_config.hpp"
#include "qme/core/error.hpp"
#include "qme/formats/face_weights.hpp"
#include "qme/formats/score_matrix_file.hpp"
#include "qme/formats/training_frames.hpp"
#include "qme/fusion/qme_inference.hpp"
#include "qme/io/checkpoint.hpp"
#include "qme/pipeline/tables_job.hpp"
#include "qme/pipeline/training_run.hpp"
#include "qme/synthetic/synthetic_caches.hpp"
#include "support/test_support.hpp"

namespace fs = std::filesystem;
using qme::pipeline::RunStatus;
using qme::pipeline::TrainingRunOptions;
using qme::test::message_of;
using qme::test::TempDir;

namespace {

// The QE trains at upstream's lr 1e-4 (its 2048-wide input saturates the sigmoid at 1e-3); the
// fusion head, small, at 1e-3 so that a short run gets somewhere.
constexpr const char* kTrainCfg = R"(seed: 42
lr_rate: 0.0001
weight_decay: 0.0001
train_batch: 8
num_sample: 2
triplet_margin: 1
num_experts: 2
mlp_ratio: 3
out_dim: 1
dropout_rate: 0.1
)";

/// Synthetic caches (written once per test process) and the configs that fit them.
struct Synthetic {
  TempDir dir;
  qme::synthetic::SyntheticCacheSpec spec;
  qme::synthetic::SyntheticCacheFiles files;
  qme::config::BackboneConfig backbone;
  qme::config::TrainConfig train;

  Synthetic() {
    spec.num_train_pids = 12;
    spec.samples_per_clothes = 3;
    spec.frames_per_sample = 2;
    spec.num_test_pids = 20;
    spec.probes_per_pid = 4;
    // Less per-sample body noise than the default 2.0: the body models' scores against the
    // training centers then differ less from their test scores, which the fusion head, trained
    // on the former, is evaluated on.
    spec.body_noise = 1.3;
    spec.gait_noise = 1.3;
    files = qme::synthetic::write_synthetic_caches(dir.path("data"), spec);
    backbone =
        qme::config::parse_backbone_config("model_list: [adaface, biggait, cal-ccvid]\n", "backbone.yaml");
    train = qme::config::parse_train_config(kTrainCfg, "train.yaml");
  }
};

Synthetic& training_world() {
  static Synthetic s;
  return s;
}

/// A run of `mode` whose outputs go to `out` (a folder of its own).
TrainingRunOptions options_for(const std::string& mode, const std::string& out) {
  const auto& s = training_world();
  TrainingRunOptions o;
  o.mode = mode;
  o.dataset = s.spec.dataset;
  o.backbone = s.backbone;
  o.train = s.train;
  o.device = "cpu";
  o.center_dir = s.files.center_dir;
  o.feats_dir = s.files.test_dir;
  o.ckpt_dir = out + "/checkpoints";
  o.run_dir = out + "/run";
  o.run_name = fs::path(out).filename().string();
  o.handle_sigint = false;
  o.show_progress = false;
  return o;
}

TrainingRunOptions qe_options(const std::string& out) {
  auto o = options_for("mod_qe", out);
  o.max_step = 80;
  o.test_per_step = 40;
  o.epoch = 100;
  return o;
}

/// The QE run, once: its QE feeds the QME runs.
const qme::pipeline::TrainingRunResult& qe_run() {
  static const auto result = [] {
    spdlog::set_level(spdlog::level::warn);
    return qme::pipeline::run_training(qe_options(training_world().dir.path("qe")));
  }();
  return result;
}

TrainingRunOptions qme_options(const std::string& out) {
  auto o = options_for("score_loss", out);
  o.train.lr_rate = 1e-3;
  o.qe_ckpt = qe_run().qe_checkpoints.back();
  o.max_step = 3000;
  o.epoch = 1000;
  o.test_per_step = 20;
  o.early_stop_patience = 4;
  return o;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<nlohmann::json> read_log(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

double overall_of(const qme::eval::EvaluationReport& r) {
  return qme::pipeline::selection_overall(r.at("GR_top1"), r.at("GR_mAP"), r.at("TAR@1.00%FAR"),
                                          r.at("FNIR@1.00%FPIR"));
}

double pearson(const std::vector<double>& a, const std::vector<double>& b) {
  double ma = 0, mb = 0;
  for (size_t i = 0; i < a.size(); ++i) ma += a[i], mb += b[i];
  ma /= static_cast<double>(a.size());
  mb /= static_cast<double>(b.size());
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return sab / std::sqrt(saa * sbb);
}

/// Sets a file's qme_format attribute (the cache readers refuse anything but 1).
void set_qme_format(const std::string& path, int64_t value) {
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  REQUIRE(file >= 0);
  const hid_t attr = H5Aopen(file, "qme_format", H5P_DEFAULT);
  REQUIRE(attr >= 0);
  REQUIRE(H5Awrite(attr, H5T_NATIVE_INT64, &value) >= 0);
  H5Aclose(attr);
  H5Fclose(file);
}

}  // namespace

TEST_CASE("a mod_qe run writes the probes' quality weights and an upstream-layout QE checkpoint",
          "[trainrun]") {
  const auto& r = qe_run();
  const auto& s = training_world();
  CHECK(r.status == RunStatus::kFinished);
  CHECK(r.stop_reason == "max_step");
  CHECK(r.steps_done == 80);
  REQUIRE(r.face_weights_files.size() == 2);  // steps 40, 80
  CHECK(r.face_weights_files.back() == s.files.test_dir + "/mod_qe_qe_synthetic_80.h5");
  REQUIRE(r.qe_checkpoints.size() == 2);
  CHECK(r.qe_checkpoints.back() == s.dir.path("qe/checkpoints/MEME/lsf-qe-synthetic-80.pth"));

  const auto ckpt = qme::io::read_checkpoint(r.qe_checkpoints.back());
  CHECK(ckpt.model_state_dict.contains("f_style_mlp.fc1.weight"));
  CHECK(ckpt.model_state_dict.contains("weight_assigner.0.bias"));
  CHECK(ckpt.model_state_dict.size() == 6);

  // The QE recovers the hidden face quality of the probes that have a face.
  const auto weights = qme::formats::read_face_weights(r.face_weights_files.back());
  REQUIRE(weights.size() == s.files.probe_quality.size());
  std::vector<double> w, q;
  for (size_t i = 0; i < weights.size(); ++i) {
    if (s.files.probe_quality[i] <= 0.0f) continue;
    w.push_back(weights[i]);
    q.push_back(s.files.probe_quality[i]);
  }
  const double corr = pearson(w, q);
  WARN("correlation of the QE's probe weights with the hidden face quality: " << corr);
  CHECK(corr > 0.8);

  // The run folder: resolved configs, the log of every step and evaluation.
  CHECK(fs::exists(r.run_dir + "/backbone_cfg.yaml"));
  CHECK(qme::config::load_train_config(r.run_dir + "/train_cfg.yaml").num_sample == 2);
  const auto log = read_log(r.log_path);
  REQUIRE(log.size() == 1 + 80 + 2 + 1);
  CHECK(log.front()["event"] == "start");
  CHECK(log[1]["event"] == "step");
  CHECK(log[1]["step"] == 1);
  CHECK(log[1]["lr"].get<double>() > 0.0);
  CHECK(log[41]["event"] == "eval");
  CHECK(log.back()["event"] == "end");
  CHECK(log.back()["reason"] == "max_step");
}

TEST_CASE("a score_loss run selects, early-stops and writes a checkpoint that beats every classic baseline",
          "[trainrun]") {
  TempDir out;
  const auto o = qme_options(out.path("qme"));
  const auto r = qme::pipeline::run_training(o);
  REQUIRE(r.status == RunStatus::kFinished);
  CHECK(r.stop_reason == "early_stop");
  REQUIRE(r.has_best);
  CHECK(r.steps_done == r.best_step + o.early_stop_patience * o.test_per_step);
  const auto name = fs::path(r.best_checkpoint).filename().string();
  CHECK(fs::path(r.best_checkpoint).parent_path() == fs::path(o.ckpt_dir) / "QME");
  CHECK(name == qme::pipeline::qme_checkpoint_name("lsf", "synthetic", 8, 2, r.best_overall, r.best_step));
  CHECK(std::regex_match(name, std::regex(R"(lsf-synthetic-bs8-seq2-[0-9]+\.[0-9]{2}-[0-9]+\.pth)")));

  // Upstream's layout: experts.* and the frozen qe.* under model_state_dict.
  const auto ckpt = qme::io::read_checkpoint(r.best_checkpoint);
  CHECK(ckpt.model_state_dict.contains("experts.1.score_mlp.fc2.weight"));
  CHECK(ckpt.model_state_dict.contains("experts.0.bn.running_mean"));
  CHECK(ckpt.model_state_dict.contains("qe.f_style_mlp.fc1.weight"));

  // What qme_tables --qme_ckpt computes from it reproduces the selection figure and beats every
  // classic fusion baseline on it.
  qme::pipeline::TablesOptions tables;
  tables.scoremats = training_world().files.score_matrices;
  tables.models = {"adaface", "biggait", "cal-ccvid"};
  tables.baselines = qme::eval::all_fusion_methods();
  REQUIRE(fs::exists(r.test_face_weights));
  tables.learned.push_back(qme::fusion::make_qme_table_fusion(r.best_checkpoint, r.test_face_weights, true));
  const auto result = qme::pipeline::run_tables(tables);
  REQUIRE(result.learned.size() == 1);
  const double qme_overall = overall_of(result.learned.front().named.report);
  CHECK(qme_overall == Approx(r.best_overall).epsilon(1e-12));
  double best_baseline = -1e300;
  std::string best_name;
  for (const auto& b : result.fusion) {
    if (overall_of(b.report) > best_baseline) best_baseline = overall_of(b.report), best_name = b.name;
  }
  for (const auto& m : result.single) best_baseline = std::max(best_baseline, overall_of(m.report));
  WARN("QME overall " << qme_overall << " at step " << r.best_step << " of " << r.steps_done
                      << "; best classic baseline " << best_name << " " << best_baseline);
  CHECK(qme_overall > best_baseline);

  // The log holds every evaluation's report and the selection state.
  const auto log = read_log(r.log_path);
  int evals = 0;
  for (const auto& rec : log) {
    if (rec["event"] != "eval") continue;
    ++evals;
    CHECK(rec["metrics"].contains("FNIR@1.00%FPIR_std"));
    CHECK(rec.contains("early_stop_counter"));
  }
  CHECK(evals == r.steps_done / o.test_per_step);
  CHECK(log.back()["checkpoint"] == r.best_checkpoint);
}

TEST_CASE("an interrupted then resumed score_loss run equals an uninterrupted one, bit for bit",
          "[trainrun]") {
  TempDir out;
  auto whole = qme_options(out.path("whole"));
  whole.max_step = 70;  // evaluations at 20, 40, 60; stops at max_step
  whole.early_stop_patience = 10;
  const auto a = qme::pipeline::run_training(whole);
  REQUIRE(a.stop_reason == "max_step");

  // Stopped (as by Ctrl-C) after step 27, between two evaluations.
  auto parts = qme_options(out.path("parts"));
  parts.max_step = whole.max_step;
  parts.early_stop_patience = whole.early_stop_patience;
  parts.ckpt_dir = out.path("parts/checkpoints");
  parts.stop_requested = [](int64_t step) { return step == 27; };
  const auto b1 = qme::pipeline::run_training(parts);
  CHECK(b1.status == RunStatus::kInterrupted);
  CHECK(b1.steps_done == 27);
  // A fresh run into the same folder is refused; --resume continues it.
  CHECK_THAT(message_of<qme::UsageError>([&] { qme::pipeline::run_training(parts); }),
             Catch::Contains("already holds a run") && Catch::Contains("--resume"));
  parts.stop_requested = nullptr;
  parts.resume = true;
  // A crash (no checkpoint) after step 52: the resumed run restarts from step 40.
  parts.stop_requested = [](int64_t step) -> bool {
    if (step == 52) throw std::runtime_error("simulated crash");
    return false;
  };
  CHECK_THROWS_WITH(qme::pipeline::run_training(parts), "simulated crash");
  parts.stop_requested = nullptr;
  const auto b2 = qme::pipeline::run_training(parts);
  REQUIRE(b2.status == RunStatus::kFinished);
  CHECK(b2.best_step == a.best_step);
  CHECK(b2.best_overall == a.best_overall);
  REQUIRE(fs::path(b2.best_checkpoint).filename() == fs::path(a.best_checkpoint).filename());
  CHECK(read_bytes(b2.best_checkpoint) == read_bytes(a.best_checkpoint));
  // The logs differ only in the paths, which carry the runs' folder names.
  CHECK(std::regex_replace(read_bytes(b2.log_path), std::regex("parts"), "whole") == read_bytes(a.log_path));
  // A finished run is not resumed again.
  CHECK_THAT(message_of<qme::UsageError>([&] { qme::pipeline::run_training(parts); }),
             Catch::Contains("has finished"));
}

TEST_CASE("an interrupted then resumed mod_qe run writes the same QE and weights", "[trainrun]") {
  TempDir out;
  auto whole = qe_options(out.path("qa"));
  whole.max_step = 16;
  whole.test_per_step = 10;  // evaluations at 10 and (the last step) 16
  const auto a = qme::pipeline::run_training(whole);
  auto parts = qe_options(out.path("qb"));
  parts.max_step = whole.max_step;
  parts.test_per_step = whole.test_per_step;
  parts.stop_requested = [](int64_t step) { return step == 7; };
  REQUIRE(qme::pipeline::run_training(parts).status == RunStatus::kInterrupted);
  parts.stop_requested = nullptr;
  parts.resume = true;
  const auto b = qme::pipeline::run_training(parts);
  REQUIRE(a.qe_checkpoints.size() == 2);
  REQUIRE(b.qe_checkpoints.size() == 2);
  CHECK(read_bytes(b.qe_checkpoints.back()) == read_bytes(a.qe_checkpoints.back()));
  // qme writes HDF5 objects without creation times, so the weights files are equal byte for byte.
  CHECK(read_bytes(b.face_weights_files.back()) == read_bytes(a.face_weights_files.back()));
  auto log_a = read_bytes(a.log_path), log_b = read_bytes(b.log_path);
  // The logs differ only in the file names, which carry the run names.
  log_b = std::regex_replace(log_b, std::regex("qb"), "qa");
  CHECK(log_a == log_b);
}

TEST_CASE("training runs refuse bad inputs with one message naming the file and the field", "[trainrun]") {
  TempDir out;
  const auto& s = training_world();
  // A model of model_list without caches.
  auto o = qme_options(out.path("a"));
  o.backbone.model_list = {"adaface", "biggait", "aim"};
  CHECK_THAT(message_of<qme::InputError>([&] { qme::pipeline::run_training(o); }),
             Catch::Contains("aim_center_synthetic_CC.h5 does not exist") &&
                 Catch::Contains("model 'aim' in the backbone config's model_list"));
  CHECK_FALSE(fs::exists(o.run_dir));  // nothing written

  // A missing training-frames cache.
  const auto data = out.path("data");
  fs::create_directories(data);
  fs::copy(s.files.center_dir, data + "/mod_center_feat", fs::copy_options::recursive);
  fs::copy(s.files.test_dir, data + "/test_feats", fs::copy_options::recursive);
  const auto body = qme::formats::training_frames_path(data + "/mod_center_feat", "cal-ccvid", "synthetic");
  fs::remove(body);
  o = qme_options(out.path("b"));
  o.center_dir = data + "/mod_center_feat";
  o.feats_dir = data + "/test_feats";
  CHECK_THAT(message_of<qme::InputError>([&] { qme::pipeline::run_training(o); }),
             Catch::StartsWith(body + " does not exist (the training frames of model 'cal-ccvid'"));

  // model_list in another order than the caches were written for fits (models are named);
  // a cache written for another model does not: biggait's file holding adaface's features.
  fs::copy_file(qme::formats::training_frames_path(s.files.center_dir, "cal-ccvid", "synthetic"), body);
  const auto gait = qme::formats::training_frames_path(data + "/mod_center_feat", "biggait", "synthetic");
  auto frames = qme::formats::read_training_frames(gait);
  frames.feats = qme::formats::FeatureMatrix(frames.feats.rows, 48, 0.5f);
  qme::formats::write_training_frames(gait, frames);
  CHECK_THAT(message_of<qme::InputError>([&] { qme::pipeline::run_training(o); }),
             Catch::Contains(gait + ": 'feats' has 48 columns but the centers of 'biggait'"));

  // A cache of another format version.
  fs::copy_file(qme::formats::training_frames_path(s.files.center_dir, "biggait", "synthetic"), gait,
                fs::copy_options::overwrite_existing);
  const auto face = qme::formats::training_frames_path(data + "/mod_center_feat", "adaface", "synthetic");
  set_qme_format(face, 2);
  CHECK_THAT(message_of<qme::InputError>([&] { qme::pipeline::run_training(o); }),
             Catch::Contains(face) && Catch::Contains("qme_format"));

  // --use_qe true without a trained QE.
  o = qme_options(out.path("c"));
  o.qe_ckpt = out.path("missing_qe.pth");
  CHECK_THAT(message_of<qme::InputError>([&] { qme::pipeline::run_training(o); }),
             Catch::Contains("missing_qe.pth, which does not exist"));

  // --resume without a run, and a resume whose settings changed.
  o = qme_options(out.path("d"));
  o.resume = true;
  CHECK_THAT(message_of<qme::UsageError>([&] { qme::pipeline::run_training(o); }),
             Catch::Contains("holds no checkpoint to resume from"));
  o.resume = false;
  o.max_step = 20;
  qme::pipeline::run_training(o);
  o.resume = true;
  o.train.seed = 7;
  CHECK_THAT(message_of<qme::InputError>([&] { qme::pipeline::run_training(o); }),
             Catch::Contains("state.json: 'settings' differ") && Catch::Contains("seed: 7"));
}

#include "training_stages.hpp"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <set>

#include "qme/core/error.hpp"
#include "qme/eval/evaluation_report.hpp"
#include "qme/formats/face_weights.hpp"
#include "qme/formats/features_file.hpp"
#include "qme/formats/probe_quality_stats.hpp"
#include "qme/formats/score_matrix_file.hpp"
#include "qme/fusion/init.hpp"
#include "qme/fusion/qme_mixture.hpp"
#include "qme/io/checkpoint.hpp"
#include "qme/io/output_directory.hpp"
#include "qme/train/quality_trainer.hpp"
#include "qme/train/score_loss_trainer.hpp"
#include "qme/train/training_batches.hpp"
#include "qme/train/training_samples.hpp"

namespace qme::pipeline::detail {

using train::BatchSchedule;
using train::load_training_samples;
using train::quality_trainer_options;
using train::QualityTrainer;
using train::score_loss_trainer_options;
using train::ScoreLossTrainer;
using train::StepResult;
using train::TrainingCacheRequest;
using train::TrainingSampleOptions;
using train::TrainingSamples;

namespace fs = std::filesystem;

namespace {

std::string join_path(const std::string& dir, const std::string& name) {
  return (fs::path(dir) / name).string();
}

torch::Tensor labels_tensor(const std::vector<int64_t>& labels) {
  return torch::tensor(at::ArrayRef<int64_t>(labels), torch::kInt64);
}

/// The face model whose QE statistics the run reads; InputError naming the backbone config
/// when model_list has none.
std::string face_model_of(const TrainingRunOptions& o) {
  const auto face = config::quality_face_model(o.backbone);
  if (!face) {
    throw InputError(o.backbone.source, "model_list",
                     "needs adaface or kprpe for the face quality estimator (--mode " + o.mode +
                         (o.mode == "mod_qe" ? "" : " with --use_qe true") + ")");
  }
  return *face;
}

TrainingSamples load_samples(const TrainingRunOptions& o, const std::vector<std::string>& frame_models,
                             const std::string& quality_model) {
  TrainingCacheRequest request;
  request.center_dir = o.center_dir;
  request.dataset = o.dataset;
  request.center_models = o.backbone.model_list;
  request.frame_models = frame_models;
  request.quality_model = quality_model;
  TrainingSampleOptions options;
  options.frames_per_sample = o.train.num_sample;
  options.dataset = o.dataset;
  options.seed = static_cast<uint64_t>(o.train.seed);
  auto samples = load_training_samples(request, options);
  if (!quality_model.empty() && samples.quality_width() != formats::kFaceQeStatsWidth) {
    throw InputError(formats::training_frames_path(o.center_dir, quality_model, o.dataset), "qe_stats",
                     "has " + std::to_string(samples.quality_width()) +
                         " columns; the face quality estimator reads " +
                         std::to_string(formats::kFaceQeStatsWidth));
  }
  spdlog::info("{} training samples ({} frames each) of {} identities; {} centers", samples.size(),
               samples.frames_per_sample, std::set<int64_t>(samples.pids.begin(), samples.pids.end()).size(),
               samples.num_centers());
  return samples;
}

/// The QE's weight of every row of `stats`, in chunks (eval mode, no gradients).
template <typename FrameQuality>
std::vector<float> frame_weights(const formats::FeatureMatrix& stats, FrameQuality&& frame_quality) {
  constexpr int64_t kChunk = 4096;
  std::vector<float> out(static_cast<size_t>(stats.rows));
  for (int64_t r0 = 0; r0 < stats.rows; r0 += kChunk) {
    const int64_t n = std::min(kChunk, stats.rows - r0);
    const auto rows = torch::from_blob(const_cast<float*>(stats.row(r0)), {n, stats.cols}, torch::kFloat32);
    const auto w = frame_quality(rows).to(torch::kCPU, torch::kFloat32).contiguous();
    std::memcpy(out.data() + r0, w.template data_ptr<float>(), static_cast<size_t>(n) * sizeof(float));
  }
  return out;
}

formats::ProbeQualityStats read_test_stats(const TrainingRunOptions& o, const std::string& face) {
  const auto path = formats::probe_quality_stats_path(o.feats_dir, face, o.dataset);
  if (!fs::exists(path)) {
    throw InputError(
        path, "",
        "does not exist (the test probes' face QE statistics; qme_test --eval_mode feat --mode " + face +
            " --dataset " + o.dataset + " writes it)");
  }
  auto stats = formats::read_probe_quality_stats(path);
  if (stats.qe_stats.cols != formats::kFaceQeStatsWidth && stats.num_frames() > 0) {
    throw InputError(path, "qe_stats",
                     "has " + std::to_string(stats.qe_stats.cols) +
                         " columns; the face quality estimator reads " +
                         std::to_string(formats::kFaceQeStatsWidth));
  }
  return stats;
}

std::string scoremats_path(const TrainingRunOptions& o) {
  return formats::score_matrix_path(o.feats_dir, o.dataset);
}

/// Probes of the test split: the score matrices' when the file exists (so the weights line up
/// with what QME evaluation reads), else one past the largest clip_query.
int64_t count_queries(const TrainingRunOptions& o, const formats::ProbeQualityStats& stats) {
  const auto path = scoremats_path(o);
  if (fs::exists(path)) return static_cast<int64_t>(formats::ScoreMatrixFile(path).labels().query.size());
  int64_t q = 0;
  for (const auto c : stats.clip_query) q = std::max(q, c + 1);
  spdlog::warn("{} does not exist: assuming {} probes (one past the largest clip_query of {})", path, q,
               stats.source);
  return q;
}

// --------------------------------------------------------------------------------------------
// --mode mod_qe

class QualityStage : public Stage {
 public:
  QualityStage(const TrainingRunOptions& o, const torch::Device& device)
      : o_(o),
        face_(face_model_of(o)),
        samples_(load_samples(o, {face_}, face_)),
        schedule_(samples_.pids, o.train.train_batch, static_cast<uint64_t>(o.train.seed)),
        test_(read_test_stats(o, face_)),
        num_queries_(count_queries(o, test_)) {
    formats::check_clip_queries(test_, num_queries_);  // the first evaluation would fail otherwise
    torch::manual_seed(static_cast<uint64_t>(o.train.seed));
    fusion::FaceQualityEstimator qe(fusion::FaceQualityEstimatorOptions().dropout(o.train.dropout_rate));
    fusion::init_linear_weights(*qe);  // upstream's Face_Quality_Estimator._init_weights
    auto options = quality_trainer_options(o.train, schedule_.steps_per_epoch(), o.rank_threshold);
    options.device = device;
    trainer_ = std::make_unique<QualityTrainer>(qe, labels_tensor(samples_.center_labels), options);
  }

  int64_t steps_per_epoch() const override { return schedule_.steps_per_epoch(); }
  int64_t num_samples() const override { return samples_.size(); }
  int64_t steps_done() const override { return trainer_->steps_done(); }
  const std::vector<std::string>& scored_models() const override { return none_; }

  StepResult step() override {
    return trainer_->step(quality_batch(samples_, schedule_.batch(trainer_->steps_done())));
  }

  Evaluation evaluate(int64_t step) override {
    const auto frames = frame_weights(
        test_.qe_stats, [&](const torch::Tensor& rows) { return trainer_->frame_quality(rows); });
    const auto weights = formats::query_quality_weights(test_, frames, num_queries_);
    Evaluation ev;
    const auto weights_path = formats::face_weights_path(o_.feats_dir, o_.run_name, o_.dataset, step);
    const auto ckpt =
        join_path(join_path(o_.ckpt_dir, "MEME"),
                  o_.log_prefix + "-" + o_.run_name + "-" + o_.dataset + "-" + std::to_string(step) + ".pth");
    io::ensure_output_directory(fs::path(weights_path).parent_path().string());
    io::ensure_output_directory(fs::path(ckpt).parent_path().string());
    formats::write_face_weights(weights_path, weights);
    trainer_->write_checkpoint(ckpt);
    ev.outputs = {weights_path, ckpt};
    ev.record = weights_record(weights);
    ev.record["face_weights"] = weights_path;
    ev.record["checkpoint"] = ckpt;
    ev.summary = "probe weights " + weights_path + " (mean " +
                 std::to_string(ev.record["mean_weight"].get<double>()) + "), QE " + ckpt;
    return ev;
  }

  void save_resume(const std::string& path) const override { trainer_->save_resume_state(path); }
  void load_resume(const std::string& path) override { trainer_->load_resume_state(path); }
  void write_model(const std::string& path) const override { trainer_->write_checkpoint(path); }

 private:
  nlohmann::json weights_record(const std::vector<float>& weights) const {
    std::vector<char> has_face(weights.size(), 0);
    for (const auto q : test_.clip_query) has_face[static_cast<size_t>(q)] = 1;
    double sum = 0.0;
    int64_t with_face = 0;
    for (size_t i = 0; i < weights.size(); ++i) {
      if (!has_face[i]) continue;
      sum += weights[i];
      ++with_face;
    }
    nlohmann::json r;
    r["num_probes"] = weights.size();
    r["probes_with_face"] = with_face;
    r["mean_weight"] = with_face ? sum / static_cast<double>(with_face) : 0.0;
    return r;
  }

  const TrainingRunOptions& o_;
  std::string face_;
  TrainingSamples samples_;
  BatchSchedule schedule_;
  formats::ProbeQualityStats test_;
  int64_t num_queries_;
  std::unique_ptr<QualityTrainer> trainer_;
  std::vector<std::string> none_;
};

// --------------------------------------------------------------------------------------------
// --mode score_loss

class ScoreLossStage : public Stage {
 public:
  ScoreLossStage(const TrainingRunOptions& o, const torch::Device& device)
      : o_(o),
        device_(device),
        face_(o.use_qe ? face_model_of(o) : std::string()),
        samples_(load_samples(o, o.backbone.model_list, face_)),
        schedule_(samples_.pids, o.train.train_batch, static_cast<uint64_t>(o.train.seed)),
        test_file_(open_scoremats(o)) {
    for (const auto& m : o.backbone.model_list) test_scores_.push_back(test_file_.read_model(m));
    torch::manual_seed(static_cast<uint64_t>(o.train.seed));
    fusion::QmeMixture model(fusion::qme_options_from_config(o.backbone, o.train, o.use_qe));
    load_quality_estimator(model);
    auto options = score_loss_trainer_options(o.train, schedule_.steps_per_epoch());
    options.device = device;
    trainer_ = std::make_unique<ScoreLossTrainer>(model, labels_tensor(samples_.center_labels), options);
    if (o.use_qe) {
      resolve_test_quality();
      sample_quality_ = precompute_sample_quality();
    }
  }

  void prepare_run_dir(const std::string& dir) override {
    if (!computed_quality_) return;
    quality_path_ = join_path(dir, "face_weights_test.h5");
    formats::write_face_weights(quality_path_, quality_);
    spdlog::info("test quality weights: {}", quality_path_);
  }

  int64_t steps_per_epoch() const override { return schedule_.steps_per_epoch(); }
  int64_t num_samples() const override { return samples_.size(); }
  int64_t steps_done() const override { return trainer_->steps_done(); }
  const std::vector<std::string>& scored_models() const override { return o_.backbone.model_list; }
  std::string test_face_weights() const override { return quality_path_; }

  StepResult step() override {
    const auto rows = schedule_.batch(trainer_->steps_done());
    auto batch = score_loss_batch(samples_, rows, /*with_quality_stats=*/!sample_quality_.defined());
    if (sample_quality_.defined()) {
      const auto index = torch::tensor(rows, torch::kInt64).to(sample_quality_.device());
      batch.quality = sample_quality_.index_select(0, index);
    }
    return trainer_->step(batch);
  }

  Evaluation evaluate(int64_t /*step*/) override {
    std::vector<const ScoreMatrix*> entries, subjects;
    for (const auto& s : test_scores_) {
      entries.push_back(&s.score_mat);
      subjects.push_back(&s.merge_score_mat);
    }
    auto& model = trainer_->model();
    const auto fused_entries = fusion::fuse_score_matrices(model, entries, quality_, 0, device_);
    const auto fused_subjects = fusion::fuse_score_matrices(model, subjects, quality_, 0, device_);
    eval::EvalOptions options;
    options.context = "qme";
    const auto report = eval::evaluate(fused_entries, fused_subjects, test_file_.labels(), options);
    Evaluation ev;
    ev.has_overall = true;
    ev.overall = selection_overall(report.at("GR_top1"), report.at("GR_mAP"), report.at("TAR@1.00%FAR"),
                                   report.at("FNIR@1.00%FPIR"));
    const double cc = (report.at("CC_top1") + report.at("CC_mAP")) * 100.0;
    ev.record["overall"] = std::isfinite(ev.overall) ? nlohmann::json(ev.overall) : nlohmann::json();
    ev.record["CC_overall"] = std::isfinite(cc) ? nlohmann::json(cc) : nlohmann::json();
    ev.record["metrics"] = eval::report_json(report);
    if (!std::isfinite(ev.overall)) ev.overall = -std::numeric_limits<double>::infinity();
    ev.summary = fmt::format(
        "GR_overall {:.2f}, CC_overall {:.2f} (GR_top1 {:.4f}, GR_mAP {:.4f}, TAR@1%FAR {:.4f}, "
        "FNIR@1%FPIR {:.4f})",
        ev.overall, cc, report.at("GR_top1"), report.at("GR_mAP"), report.at("TAR@1.00%FAR"),
        report.at("FNIR@1.00%FPIR"));
    return ev;
  }

  void save_resume(const std::string& path) const override { trainer_->save_resume_state(path); }
  void load_resume(const std::string& path) override { trainer_->load_resume_state(path); }
  void write_model(const std::string& path) const override { trainer_->write_checkpoint(path); }

 private:
  /// (N, 1): every training sample's quality weight, the mean of the frozen QE's weights of its
  /// slots (a slot without a face: the weight of zero statistics), as step() would compute it
  /// from quality_stats each time (up to float32 round-off). The QE never changes in this mode
  /// and the slots are fixed, so once per run is enough; per step it costs more than the rest.
  torch::Tensor precompute_sample_quality() {
    const auto& stats = samples_.quality_stats;
    const int64_t t = samples_.frames_per_sample;
    const int64_t chunk = 4096;
    std::vector<torch::Tensor> parts;
    for (int64_t r0 = 0; r0 < stats.rows; r0 += chunk) {
      const int64_t n = std::min(chunk, stats.rows - r0);
      const auto rows = torch::from_blob(const_cast<float*>(stats.row(r0)), {n, stats.cols}, torch::kFloat32);
      parts.push_back(trainer_->frame_quality(rows).to(torch::kCPU));
    }
    parts.push_back(trainer_->frame_quality(torch::zeros({1, stats.cols})).to(torch::kCPU));
    const auto frame = torch::cat(parts);  // (R + 1,): the last one is the zero-statistics weight
    auto slots = torch::tensor(samples_.quality_rows, torch::kInt64);
    slots = torch::where(slots >= 0, slots, torch::full_like(slots, stats.rows));
    const auto per_slot = frame.index_select(0, slots).reshape({samples_.size(), t, 1});
    return per_slot.mean(1).to(device_);
  }

  static formats::ScoreMatrixFile open_scoremats(const TrainingRunOptions& o) {
    const auto path = scoremats_path(o);
    if (!fs::exists(path)) {
      throw InputError(
          path, "",
          "does not exist (the test score matrices that QME evaluation fuses; qme_test --eval_mode "
          "gather --dataset " +
              o.dataset + " writes it)");
    }
    return formats::ScoreMatrixFile(path);
  }

  /// Loads the trained QE into the head's "qe" (frozen by the trainer), as upstream's
  /// MoNormQE_dev does whether or not it uses it; with use_qe it is required.
  void load_quality_estimator(fusion::QmeMixture& model) {
    const auto path = o_.qe_ckpt.empty() ? o_.backbone.qe_ckpt_path : o_.qe_ckpt;
    const auto field = o_.qe_ckpt.empty() ? "qe_ckpt_path" : "";
    const auto source = o_.qe_ckpt.empty() ? o_.backbone.source : std::string("--qe_ckpt");
    if (path.empty() || !fs::exists(path)) {
      if (!o_.use_qe) {
        spdlog::info("no trained QE ({}); --use_qe false: the head mixes its experts half and half",
                     path.empty() ? "qe_ckpt_path unset" : path + " does not exist");
        return;
      }
      throw InputError(source, field,
                       path.empty()
                           ? "is not set: --use_qe true needs the trained face QE (--mode mod_qe writes it)"
                           : "names " + path + ", which does not exist (--mode mod_qe writes the QE)");
    }
    const auto checkpoint = io::read_checkpoint(path);
    io::load_state_dict(*model->face_quality_estimator(), checkpoint.model_state_dict, path, /*strict=*/true);
    spdlog::info("quality estimator from {}", path);
  }

  /// The test probes' quality weights: --face_weights, else computed with the frozen QE from the
  /// face model's test statistics (written to the run folder), else the backbone config's.
  void resolve_test_quality() {
    const int64_t q = static_cast<int64_t>(test_file_.labels().query.size());
    const auto stats_path = formats::probe_quality_stats_path(o_.feats_dir, face_, o_.dataset);
    if (!o_.face_weights.empty()) {
      quality_path_ = o_.face_weights;
      quality_ = formats::read_face_weights(quality_path_, q);
    } else if (fs::exists(stats_path)) {
      const auto stats = read_test_stats(o_, face_);
      const auto frames = frame_weights(
          stats.qe_stats, [&](const torch::Tensor& rows) { return trainer_->frame_quality(rows); });
      quality_ = formats::query_quality_weights(stats, frames, q);
      computed_quality_ = true;
      spdlog::info("test quality weights computed with the QE from {}", stats_path);
      return;
    } else if (o_.backbone.face_weights && !o_.backbone.face_weights->empty()) {
      quality_path_ = *o_.backbone.face_weights;
      if (!fs::exists(quality_path_)) {
        throw InputError(o_.backbone.source, "face_weights",
                         "names " + quality_path_ +
                             ", which does not exist, and there are no test QE statistics (" + stats_path +
                             ") to compute the weights from; give --face_weights");
      }
      quality_ = formats::read_face_weights(quality_path_, q);
    } else {
      throw InputError(
          stats_path, "",
          "does not exist, and neither --face_weights nor the backbone config's face_weights is set: "
          "QME evaluation with --use_qe true needs one quality weight per probe");
    }
    spdlog::info("test quality weights: {}", quality_path_);
  }

  const TrainingRunOptions& o_;
  torch::Device device_;
  std::string face_;
  TrainingSamples samples_;
  BatchSchedule schedule_;
  formats::ScoreMatrixFile test_file_;
  std::vector<ModelScores> test_scores_;
  std::vector<float> quality_;
  std::string quality_path_;
  bool computed_quality_ = false;
  std::unique_ptr<ScoreLossTrainer> trainer_;
  torch::Tensor sample_quality_;  ///< (N, 1) on the device; undefined without the QE
};

/// Every folder the run writes to, checked before anything is read or created: the run folder,
/// the checkpoints' and (mod_qe) the probe weights'.
void check_output_folders(const TrainingRunOptions& o) {
  io::check_output_directory(o.run_dir.empty() ? default_run_dir(o.log_prefix, o.mode, o.dataset, o.run_name)
                                               : o.run_dir);
  io::check_output_directory(join_path(o.ckpt_dir, o.mode == "mod_qe" ? "MEME" : "QME"));
  if (o.mode == "mod_qe") io::check_output_directory(o.feats_dir);
}

}  // namespace

std::unique_ptr<Stage> make_stage(const TrainingRunOptions& options, const torch::Device& device) {
  check_output_folders(options);
  if (options.mode == "mod_qe") return std::make_unique<QualityStage>(options, device);
  if (options.mode == "score_loss") return std::make_unique<ScoreLossStage>(options, device);
  throw UsageError("--mode must be mod_qe or score_loss, got '" + options.mode + "'");
}

}  // namespace qme::pipeline::detail

// QME training steps per second from in-memory caches (docs/architecture.md §5): batch 8, 300 centers,
// 3 models (512-d cosine, 4096-d BigGait, 4096-d cosine), 8 frames per sample. Per step:
// gather the batch's cached frame features and average them per sample, score them against
// every model's centers with qme's similarity rules (CenterScorer), modality dropout, the
// frozen face QE on the cached per-frame statistics (8 frames x 2048), mixture forward and
// backward, Adam, warm-restart schedule. Upstream's Python: ~465 ms per step (QE on raw
// tokens). A second variant precomputes each cached frame's QE weight once (the QE is frozen
// in this mode, so the weights never change) and averages them per step; a third also
// precomputes every sample's scores (valid when a sample's frames are fixed; qme_main does this:
// its samples draw their frame slots once per run). Besides
// wall-clock rates it reports steps per CPU second of the (single) working thread, which stay
// meaningful on a shared, busy machine.
#include <torch/torch.h>

#include <time.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "qme/fusion/qme_mixture.hpp"
#include "qme/train/center_scorer.hpp"
#include "qme/train/score_loss_trainer.hpp"

namespace {

struct Sizes {
  int64_t batch = 8;
  int64_t centers = 300;
  int64_t frames = 8;     // per sample
  int64_t samples = 512;  // cached training samples the batches are drawn from
};

struct ModelCache {
  std::string name;
  torch::Tensor frames;  // (samples, T, d)
  qme::train::CenterScorer scorer;
};

/// CPU seconds of the calling thread: with one LibTorch thread all the work runs on it, so on
/// a busy machine this is close to what the steps would take alone.
double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

struct Timing {
  double wall_rate = 0.0;      ///< steps per wall-clock second
  double cpu_rate = 0.0;       ///< steps per CPU second of the calling thread
  double cpu_inputs_ms = 0.0;  ///< per step: gather, average, score, quality
  double cpu_step_ms = 0.0;    ///< per step: trainer.step()
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::vector<ModelCache> make_models(const Sizes& sizes) {
  const std::vector<std::tuple<std::string, int64_t, qme::scores::Similarity>> specs = {
      {"adaface", 512, qme::scores::Similarity::kCosine},
      {"biggait", 4096, qme::scores::Similarity::kBigGaitParts},
      {"cal-ccvid", 4096, qme::scores::Similarity::kCosine}};
  std::vector<ModelCache> out;
  for (const auto& [name, dim, similarity] : specs) {
    const auto centers = torch::randn({sizes.centers, dim});
    // Samples near their identity's center, so the scores look like a real model's.
    const auto ids = torch::randint(0, sizes.centers, {sizes.samples}, torch::kInt64);
    const auto frames =
        centers.index_select(0, ids).unsqueeze(1) + torch::randn({sizes.samples, sizes.frames, dim});
    out.push_back({name, frames, qme::train::CenterScorer(centers, similarity)});
  }
  return out;
}

/// What a variant computes once before training instead of every step.
struct Precomputed {
  torch::Tensor frame_quality;  ///< (samples, T) frozen-QE weight of every cached frame
  torch::Tensor sample_scores;  ///< (samples, M, C) scores of every sample (fixed frame sets)
};

/// Times `steps` training steps.
Timing run(qme::train::ScoreLossTrainer& trainer, const std::vector<ModelCache>& models,
           const torch::Tensor& stats, const Precomputed& pre, const torch::Tensor& labels,
           const Sizes& sizes, int steps, std::mt19937& rng) {
  std::uniform_int_distribution<int64_t> pick(0, sizes.samples - 1);
  std::vector<int64_t> rows(static_cast<size_t>(sizes.batch));
  double inputs_cpu = 0.0, step_cpu = 0.0;
  const auto start = std::chrono::steady_clock::now();
  for (int s = 0; s < steps; ++s) {
    const double t0 = thread_cpu_seconds();
    for (auto& r : rows) r = pick(rng);
    const auto index = torch::from_blob(rows.data(), {sizes.batch}, torch::kInt64);
    qme::train::ScoreLossBatch batch;
    if (pre.sample_scores.defined()) {
      batch.scores = pre.sample_scores.index_select(0, index);
    } else {
      std::vector<torch::Tensor> scores;
      for (const auto& m : models) {
        scores.push_back(m.scorer.score(qme::train::sample_features(m.frames.index_select(0, index))));
      }
      batch.scores = torch::stack(scores, 1);
    }
    batch.labels = labels.index_select(0, index);
    if (pre.frame_quality.defined()) {
      batch.quality = pre.frame_quality.index_select(0, index).mean(1, true);
    } else {
      batch.quality_stats = stats.index_select(0, index);
    }
    const double t1 = thread_cpu_seconds();
    trainer.step(batch);
    const double t2 = thread_cpu_seconds();
    inputs_cpu += t1 - t0;
    step_cpu += t2 - t1;
  }
  Timing t;
  t.wall_rate = steps / std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  t.cpu_rate = steps / (inputs_cpu + step_cpu);
  t.cpu_inputs_ms = 1e3 * inputs_cpu / steps;
  t.cpu_step_ms = 1e3 * step_cpu / steps;
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_train: QME training steps per second from in-memory caches", "bench_train"};
  Sizes sizes;
  int repeats = 5;
  int steps = 200;
  int threads = 1;
  bool modules = false;
  app.add_option("--batch", sizes.batch, "samples per step")->capture_default_str();
  app.add_option("--centers", sizes.centers, "training centers")->capture_default_str();
  app.add_option("--frames", sizes.frames, "frames per sample")->capture_default_str();
  app.add_option("--samples", sizes.samples, "cached samples to draw batches from")->capture_default_str();
  app.add_option("--steps", steps, "steps per timed run")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--repeats", repeats, "timed runs")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--threads", threads, "LibTorch intra-op threads")->capture_default_str();
  app.add_flag("--modules", modules, "the LibTorch modules + autograd instead of the fused CPU step");
  CLI11_PARSE(app, argc, argv);
  torch::set_num_threads(threads);
  torch::manual_seed(1);

  const auto models = make_models(sizes);
  const auto stats = torch::rand({sizes.samples, sizes.frames, 2048});
  const auto labels = torch::randint(0, sizes.centers / 2, {sizes.samples}, torch::kInt64);
  const auto center_labels = torch::arange(sizes.centers, torch::kInt64).floor_divide(2);
  std::printf(
      "train step: batch %lld, %lld centers, models adaface (512-d cosine), biggait (4096-d parts), "
      "cal-ccvid (4096-d cosine), %lld frames x 2048 QE statistics per sample, %lld cached samples; "
      "%d LibTorch thread(s), %s\n",
      static_cast<long long>(sizes.batch), static_cast<long long>(sizes.centers),
      static_cast<long long>(sizes.frames), static_cast<long long>(sizes.samples), threads,
      modules ? "modules + autograd" : "fused CPU step");

  const char* titles[] = {"per step: score the averaged features, QE on the cached statistics",
                          "per step: score the averaged features; QE weights precomputed once per cached "
                          "frame (the QE is frozen)",
                          "per step: nothing but the step; sample scores and QE weights precomputed (fixed "
                          "frame sets per sample: what qme_main --mode score_loss does)"};
  for (int variant = 0; variant < 3; ++variant) {
    qme::train::ScoreLossTrainerOptions options;  // upstream's: Adam, T_0 300, T_mult 2
    options.optimisation.steps_per_epoch = 100;
    options.fused_step = !modules;
    qme::fusion::QmeMixture head(qme::fusion::QmeMixtureOptions(3).dropout(0.1));
    qme::train::ScoreLossTrainer trainer(head, center_labels, options);
    Precomputed pre;
    const auto t0 = std::chrono::steady_clock::now();
    if (variant >= 1) {
      pre.frame_quality =
          trainer.frame_quality(stats.reshape({-1, 2048})).reshape({sizes.samples, sizes.frames});
    }
    if (variant == 2) {
      std::vector<torch::Tensor> scores;
      for (const auto& m : models) scores.push_back(m.scorer.score(qme::train::sample_features(m.frames)));
      pre.sample_scores = torch::stack(scores, 1);
    }
    const double setup_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::mt19937 rng(3);
    run(trainer, models, stats, pre, labels, sizes, std::max(steps / 10, 1), rng);  // warm-up
    std::vector<Timing> timings;
    for (int r = 0; r < repeats; ++r)
      timings.push_back(run(trainer, models, stats, pre, labels, sizes, steps, rng));
    const auto pick = [&](double Timing::*field) {
      std::vector<double> v;
      for (const auto& t : timings) v.push_back(t.*field);
      return median(v);
    };
    const double wall = pick(&Timing::wall_rate), cpu = pick(&Timing::cpu_rate);
    std::printf("%s\n", titles[variant]);
    std::printf(
        "  median over %d runs of %d steps: %.1f steps/s wall-clock (%.3f ms/step); %.1f steps per CPU "
        "second (%.3f ms/step: inputs %.3f ms + trainer.step %.3f ms)\n",
        repeats, steps, wall, 1e3 / wall, cpu, 1e3 / cpu, pick(&Timing::cpu_inputs_ms),
        pick(&Timing::cpu_step_ms));
    if (variant >= 1) std::printf("  precomputing took %.1f ms\n", setup_ms);
    std::printf("  upstream Python reference ~465 ms/step -> %.0fx faster (wall-clock)\n",
                465.0 * wall / 1e3);
  }
  return 0;
}

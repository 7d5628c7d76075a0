// Score-matrix building at LTCC's test size: writes three test-features files
// (adaface 512-d with faceless NaN rows, biggait 4096-d, cal-ltcc 256-d) to a
// temporary folder, then times the whole gather (read the three files, build
// six matrices, write scoremats_{ds}.h5), as `qme_test --eval_mode gather` runs
// it. Upstream's Python takes ~74 s for this on a 2-core machine.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "qme/formats/features_file.hpp"
#include "qme/pipeline/score_jobs.hpp"
#include "qme/scores/device_scores.hpp"

namespace fs = std::filesystem;

namespace {

struct Sizes {
  int64_t queries = 493;
  int64_t gallery = 7050;
  int64_t subjects = 75;
};

qme::IdentityLabels make_labels(int64_t n, int64_t subjects, std::mt19937& rng) {
  qme::IdentityLabels labels;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t pid = static_cast<int64_t>(rng() % static_cast<uint32_t>(subjects));
    labels.pids.push_back(pid);
    labels.camids.push_back(static_cast<int64_t>(rng() % 12));
    labels.clothes_ids.push_back(pid * 4 + static_cast<int64_t>(rng() % 4));
  }
  return labels;
}

/// Subject centres plus noise: features whose scores look like a real model's.
std::vector<float> make_features(const std::vector<int64_t>& pids, const std::vector<float>& centres,
                                 int64_t dim, double nan_share, std::mt19937& rng) {
  std::normal_distribution<float> noise(0.0f, 1.0f);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  std::vector<float> out(pids.size() * static_cast<size_t>(dim));
  for (size_t i = 0; i < pids.size(); ++i) {
    float* row = out.data() + i * static_cast<size_t>(dim);
    if (uniform(rng) < nan_share) {
      std::fill(row, row + dim, std::numeric_limits<float>::quiet_NaN());
      continue;
    }
    const float* centre = centres.data() + static_cast<size_t>(pids[i] * dim);
    for (int64_t k = 0; k < dim; ++k) row[k] = centre[k] + noise(rng);
  }
  return out;
}

void write_model(const std::string& dir, const std::string& model, const std::string& dataset, int64_t dim,
                 double nan_share, const Sizes& sizes, const qme::IdentityLabels& query,
                 const qme::IdentityLabels& gallery, std::mt19937& rng) {
  std::normal_distribution<float> centre_noise(0.0f, 0.8f);
  std::vector<float> centres(static_cast<size_t>(sizes.subjects * dim));
  for (auto& c : centres) c = centre_noise(rng);
  qme::formats::TestFeatures f;
  f.dim = dim;
  f.query_labels = query;
  f.gallery_labels = gallery;
  f.query = make_features(query.pids, centres, dim, nan_share, rng);
  f.gallery = make_features(gallery.pids, centres, dim, nan_share, rng);
  qme::formats::write_test_features(qme::formats::test_features_path(dir, model, dataset), f);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_scores: qme_test --eval_mode gather at LTCC's test size", "bench_scores"};
  qme::scores::enable_device_scores();  // --device cuda, --generic
  Sizes sizes;
  int repeats = 5;
  int threads = 0;
  std::string device = "cpu";
  std::string dir;
  bool verbose = false;
  bool generic = false;
  app.add_option("--queries", sizes.queries, "probes")->capture_default_str();
  app.add_option("--gallery", sizes.gallery, "gallery entries")->capture_default_str();
  app.add_option("--subjects", sizes.subjects, "subjects")->capture_default_str();
  app.add_option("--repeats", repeats, "timed runs")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--threads", threads, "threads (0: QME_NUM_THREADS or all cores)");
  app.add_option("--device", device, "cpu or cuda[:N]")->capture_default_str();
  app.add_option("--dir", dir, "where the feature files go (default: a temporary folder, removed after)");
  app.add_flag("--verbose", verbose, "log each model's and each step's time");
  app.add_flag("--generic", generic,
               "CPU: the tensor-operation path (what CUDA runs) instead of the fused kernels");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(verbose ? spdlog::level::debug : spdlog::level::warn);

  const bool temporary = dir.empty();
  if (temporary)
    dir = (fs::temp_directory_path() / ("qme_bench_scores_" + std::to_string(::getpid()))).string();
  fs::create_directories(dir);
  const std::string dataset = "ltcc";
  const std::vector<std::pair<std::string, int64_t>> models = {
      {"adaface", 512}, {"biggait", 4096}, {"cal-ltcc", 256}};

  std::mt19937 rng(7);
  const auto query = make_labels(sizes.queries, sizes.subjects, rng);
  const auto gallery = make_labels(sizes.gallery, sizes.subjects, rng);
  for (const auto& [model, dim] : models) {
    // The face model finds no face in ~10% of the samples: NaN rows.
    write_model(dir, model, dataset, dim, model == "adaface" ? 0.1 : 0.0, sizes, query, gallery, rng);
  }

  qme::pipeline::GatherOptions options;
  for (const auto& m : models) options.models.push_back(m.first);
  options.dataset = dataset;
  options.feats_dir = dir;
  options.scores.device = device;
  options.scores.num_threads = threads;
  options.scores.generic_kernels = generic;

  std::printf("gather: %lld probes x %lld gallery entries, %lld subjects; models",
              static_cast<long long>(sizes.queries), static_cast<long long>(sizes.gallery),
              static_cast<long long>(sizes.subjects));
  for (const auto& [model, dim] : models)
    std::printf(" %s (%lld-d)", model.c_str(), static_cast<long long>(dim));
  std::printf("; device %s\n", device.c_str());
  std::vector<double> seconds;
  qme::pipeline::run_gather(options);  // warm-up: page cache, oneDNN kernels
  for (int r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    qme::pipeline::run_gather(options);
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::printf("gather (read 3 files, 6 matrices, write): median %.3f s, min %.3f s over %d runs\n",
              median(seconds), *std::min_element(seconds.begin(), seconds.end()), repeats);
  std::printf("upstream Python reference: ~74 s -> %.0fx faster\n", 74.0 / median(seconds));

  if (temporary) {
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  }
  return 0;
}

// Frames per second of test-feature extraction (qme_test --eval_mode feat) with a ResNet-50-sized
// TorchScript backbone, end to end: HDF5 frames -> Pillow-exact resize and normalisation -> CAL's
// ResNet-50 (layer2/layer3 QE statistics included) -> the features file. Compare with
// bench/bench_backbone_upstream.py on the same inputs (bench/make_backbone_bench.py writes them):
//
//   python3 bench/make_backbone_bench.py /tmp/qme_bench_backbone
//   ./build/bench/bench_backbone --data /tmp/qme_bench_backbone
//   python3 bench/bench_backbone_upstream.py /tmp/qme_bench_backbone
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "qme/config/backbone_config.hpp"
#include "qme/pipeline/extraction.hpp"

namespace {

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Test-feature extraction throughput with a ResNet-50-sized TorchScript backbone",
               "bench_backbone"};
  std::string data = "/tmp/qme_bench_backbone";
  int repeats = 3;
  std::vector<int64_t> batches = {8, 32};
  int workers = 1;
  bool unoptimised = false;
  app.add_option("--data", data, "what bench/make_backbone_bench.py wrote")->capture_default_str();
  app.add_option("--repeats", repeats, "runs per setting (median reported)")->capture_default_str();
  app.add_option("--batch_frames", batches, "frames per forward pass, one setting each")
      ->capture_default_str();
  app.add_option("--num_workers", workers, "threads reading and resizing frames")->capture_default_str();
  app.add_flag("--unoptimised", unoptimised,
               "also time the module as exported (no optimize_for_inference; about 20x slower on a CPU "
               "LibTorch linked with the reference BLAS)");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // one line per setting, as it is measured

  qme::pipeline::TestExtractionOptions options;
  options.model = "cal-ltcc";
  options.dataset = "ltcc";
  options.root = data + "/root";
  options.backbone = qme::config::load_backbone_config(data + "/backbone_cfg.yaml");
  options.feats_dir = data + "/bench_feats";
  options.num_workers = workers;
  std::printf("bench_backbone: cal-ltcc (ResNet-50, 384x192) on %s, %d torch threads, %d reader thread(s)\n",
              data.c_str(), torch::get_num_threads(), workers);
  for (const bool optimize : {false, true}) {
    if (!optimize && !unoptimised) continue;
    for (const int64_t batch : batches) {
      options.optimize = optimize;
      options.batch_frames = batch;
      std::vector<double> rates;
      int64_t frames = 0;
      for (int r = 0; r < repeats; ++r) {
        const auto result = qme::pipeline::extract_test_features(options);
        frames = result.num_query + result.num_gallery;
        rates.push_back(static_cast<double>(frames) / result.seconds);
      }
      std::printf(
          "  batch %3lld frames, optimize_for_inference %-3s: median %.2f frames/s over %d runs of %lld "
          "frames (whole run: model load, reading, resizing, network, writing)\n",
          static_cast<long long>(batch), optimize ? "on" : "off", median(rates), repeats,
          static_cast<long long>(frames));
    }
  }
  std::filesystem::remove_all(options.feats_dir);
  return 0;
}

// qme_synth_caches: a synthetic set of everything qme_main reads (centers, training-frames
// caches, test score matrices, test QE statistics) in upstream's folder layout, for demos and
// tests without a dataset or a backbone (qme::synthetic::write_synthetic_caches).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <sstream>

#include "common_flags.hpp"
#include "qme/config/backbone_config.hpp"
#include "qme/core/error.hpp"
#include "qme/core/logging.hpp"
#include "qme/synthetic/synthetic_caches.hpp"
#include "tool_main.hpp"

int main(int argc, char** argv) {
  CLI::App app{"qme_synth_caches: synthetic training caches and test files for qme_main", "qme_synth_caches"};
  std::string out_dir = ".", dataset = "ccvid", models = "adaface,biggait,cal-ccvid";
  qme::synthetic::SyntheticCacheSpec spec;
  spec.frames_per_sample = 1;  // the shipped training configs' num_sample
  // A little more data and less body noise than the library's defaults: the body models' test
  // scores then look like their scores against the training centers, which QME learns from.
  spec.num_train_pids = 16;
  spec.samples_per_clothes = 4;
  spec.num_test_pids = 20;
  spec.body_noise = 1.3;
  spec.gait_noise = 1.3;
  app.add_option("--out_dir", out_dir, "writes {out_dir}/mod_center_feat/ and {out_dir}/test_feats/")
      ->capture_default_str();
  qme::tools::add_dataset_flag(app, dataset);
  app.add_option("--models", models, "comma-separated model_list (a backbone config's, same order)")
      ->capture_default_str();
  app.add_option("--train_pids", spec.num_train_pids, "training identities")->capture_default_str();
  app.add_option("--test_pids", spec.num_test_pids, "test identities")->capture_default_str();
  app.add_option("--samples_per_clothes", spec.samples_per_clothes,
                 "training samples per identity and outfit")
      ->capture_default_str();
  app.add_option("--num_sample", spec.frames_per_sample,
                 "frames per training sample: the training config's num_sample")
      ->capture_default_str();
  app.add_option("--body_noise", spec.body_noise, "per-sample noise of the body models (cal-*, aim, agrl)")
      ->capture_default_str();
  app.add_option("--gait_noise", spec.gait_noise, "per-sample noise of biggait")->capture_default_str();
  app.add_option("--no_face_rate", spec.no_face_rate,
                 "share of training samples and probe clips without a face")
      ->capture_default_str();
  app.add_option("--seed", spec.seed, "generator seed")->capture_default_str();
  return qme::tools::run_tool(app, argc, argv, [&] {
    qme::setup_logging("info");
    spec.dataset = dataset;
    spec.models.clear();
    std::stringstream list(models);
    for (std::string name; std::getline(list, name, ',');) {
      try {
        qme::config::check_model_name(name, "--models", "");
      } catch (const qme::InputError& e) {
        throw qme::UsageError(e.what());  // a flag's value: exit 2
      }
      spec.models.push_back({name, 32});
    }
    const auto files = qme::synthetic::write_synthetic_caches(out_dir, spec);
    std::printf("%s\n%s\n", files.center_dir.c_str(), files.test_dir.c_str());
    return qme::kExitOk;
  });
}

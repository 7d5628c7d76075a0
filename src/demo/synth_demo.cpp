#include "qme/demo/synth_demo.hpp"

#include <filesystem>
#include <sstream>

#include "qme/demo/synth_backbones.hpp"
#include "qme/io/output_directory.hpp"
#include "qme/io/text_file.hpp"

namespace qme::demo {

std::string demo_backbone_config(const std::map<std::string, std::string>& backbones) {
  std::ostringstream out;
  out << "# qme backbone config of the synthetic demo dataset (written by qme_synth).\n"
         "# Same keys as configs/backbone_cfg-ccvid.yaml; the weights are the demo's TorchScript "
         "backbones.\n\n"
         "# Models whose scores are fused, in score-matrix order (part of a trained QME checkpoint).\n"
         "model_list:\n";
  for (const std::string model : kDemoModels) out << "  - " << model << "\n";
  out << "\n# qme extension: the TorchScript backbones that qme_test --eval_mode feat and\n"
         "# qme_precompute_center run.\n";
  for (const auto& [model, path] : backbones) out << model << "_torchscript_path: " << path << "\n";
  out << "\n# The trained face quality estimator is given to qme_main --mode score_loss with --qe_ckpt\n"
         "# (demo/run_demo.sh passes the one --mode mod_qe wrote).\n";
  return out.str();
}

std::string demo_train_config(uint64_t seed) {
  std::ostringstream out;
  out << "# qme training config of the synthetic demo (written by qme_synth); keys as\n"
         "# configs/train_cfg-ccvid.yaml. A larger learning rate than upstream's 1e-4, so that the\n"
         "# demo's few hundred steps converge.\n"
      << "seed: " << seed << "\n"
      << "lr_rate: 0.001\n"
         "weight_decay: 0.01\n"
         "train_batch: 8\n"
         "num_sample: 1\n\n"
         "triplet_margin: 1\n\n"
         "num_experts: 2\n"
         "mlp_ratio: 3\n"
         "out_dim: 1\n\n"
         "norm_method: \"none\"\n"
         "proj_dim: 512\n"
         "head_dim: 1536\n"
         "dropout_rate: 0.1\n"
         "drop_path: 0.\n"
         "tmax: 10\n\n"
         "# Probability that a model's score matrix is zeroed for a training step (upstream's\n"
         "# randn() < dropout_rate, i.e. Phi(0.1)).\n"
         "modality_dropout: 0.5398\n";
  return out.str();
}

SynthDemoFiles write_synth_demo(const std::string& out, const SynthSpec& spec, int threads) {
  io::ensure_output_directory(out);
  SynthDemoFiles files;
  files.root = out;
  files.backbones = write_demo_backbones(out + "/backbones");
  files.backbone_cfg = out + "/backbone_cfg-ccvid.yaml";
  files.train_cfg = out + "/train_cfg-ccvid.yaml";
  io::write_text_file(files.backbone_cfg, demo_backbone_config(files.backbones));
  io::write_text_file(files.train_cfg, demo_train_config(spec.seed));
  files.dataset = write_synth_dataset(build_world(spec), out, threads);
  return files;
}

}  // namespace qme::demo

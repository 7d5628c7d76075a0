// Writes tiny TorchScript backbones (tests/support/tiny_backbones.hpp) and a backbone config
// naming them, for the command-line tests of qme_test --eval_mode feat and
// qme_precompute_center: make_tiny_backbones OUT_DIR MODEL... writes OUT_DIR/MODEL.pt and
// OUT_DIR/backbone_cfg.yaml, plus OUT_DIR/swapped_cfg.yaml giving the first model the second
// model's file (a family mismatch).
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include "support/tiny_backbones.hpp"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: make_tiny_backbones OUT_DIR MODEL...\n";
    return 2;
  }
  const std::filesystem::path out = argv[1];
  std::filesystem::create_directories(out);
  std::string config = "model_list: [" + std::string(argv[2]) + "]\n";
  for (int i = 2; i < argc; ++i) {
    const std::string model = argv[i];
    const auto path = (out / (model + ".pt")).string();
    qme::test::save_tiny_backbone(path, model);
    config += model + "_torchscript_path: '" + path + "'\n";
  }
  std::ofstream(out / "backbone_cfg.yaml") << config;
  if (argc > 3) {
    std::ofstream(out / "swapped_cfg.yaml")
        << "model_list: [" << argv[2] << "]\n"
        << argv[2] << "_torchscript_path: '" << (out / (std::string(argv[3]) + ".pt")).string() << "'\n";
  }
  std::cout << (out / "backbone_cfg.yaml").string() << "\n";
  return 0;
}

#include "qme/demo/synth_backbones.hpp"

#include <torch/script.h>
#include <torch/torch.h>

#include <unistd.h>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "qme/backbone/backbone_spec.hpp"
#include "qme/core/error.hpp"
#include "qme/demo/synth_world.hpp"
#include "qme/io/output_directory.hpp"

namespace qme::demo {

namespace {

namespace fs = std::filesystem;

constexpr uint64_t kWeightSeed = 20250601;  // the "pretrained" weights: the same for every dataset

/// (shape) float32 N(0, scale^2), from the model's own stream.
torch::Tensor normal(SynthRng& rng, std::vector<int64_t> shape, double scale) {
  int64_t n = 1;
  for (const auto s : shape) n *= s;
  std::vector<float> values(static_cast<size_t>(n));
  for (auto& v : values) v = static_cast<float>(scale * rng.normal());
  return torch::from_blob(values.data(), shape, torch::kFloat32).clone();
}

torch::Tensor scalar(double value) {
  return torch::full({1}, value, torch::kFloat32);
}

torch::jit::Module contract_module(const std::string& model) {
  const auto& spec = backbone::backbone_spec(model);
  torch::jit::Module module("QmeDemoBackbone");
  module.register_attribute(backbone::kFamilyAttribute, c10::StringType::get(), spec.family);
  module.register_attribute(backbone::kInputAttribute, c10::StringType::get(), spec.input_attribute());
  module.register_attribute(backbone::kSourceAttribute, c10::StringType::get(),
                            std::string("qme_synth demo backbone (fixed filters, no training)"));
  return module;
}

// ---- adaface

constexpr const char* kFaceSource = R"(
def forward(self, x: Tensor) -> Dict[str, Tensor]:
    texture = torch.conv2d(x, self.texture_filters, None, [8, 8]).flatten(2).transpose(1, 2)
    detail = torch.conv2d(x, self.detail_filters, None, [8, 8]).flatten(2).transpose(1, 2)
    block8 = torch.layer_norm(torch.tanh(texture * self.texture_gain + self.texture_offset), [512], None, None, 1e-6)
    block16 = torch.layer_norm(torch.tanh(detail * self.detail_gain + self.detail_offset), [512], None, None, 1e-6)
    embedding = (texture * self.token_weights).sum(1)
    return {"embedding": embedding, "intermediates": torch.stack([block8, block16], 1)}
)";

/// (512, 3, 8, 8) filters whose mean over every `cell` x `cell` block of the patch is zero,
/// made of `grain` x `grain` constant squares (grain 2: blind to pixel-level detail).
torch::Tensor zero_mean_filters(SynthRng& rng, int64_t cell, int64_t grain) {
  const int64_t n = 8 / grain;
  auto w = normal(rng, {512, 3, n, n}, 1.0 / std::sqrt(192.0));
  w = w.repeat_interleave(grain, 2).repeat_interleave(grain, 3);
  const auto blocks = w.reshape({512, 3, 8 / cell, cell, 8 / cell, cell});
  return (blocks - blocks.mean({3, 5}, true)).reshape({512, 3, 8, 8}).contiguous();
}

/// (196, 512) random weights of the tokens inside the inner face (the identity texture), zero
/// elsewhere.
torch::Tensor token_weights(SynthRng& rng) {
  auto w = normal(rng, {196, 512}, 1.0);
  auto a = w.accessor<float, 2>();
  for (int64_t t = 0; t < 196; ++t) {
    const double cy = 8.0 * static_cast<double>(t / 14) + 4.0, cx = 8.0 * static_cast<double>(t % 14) + 4.0;
    const double dy = (cy - 60.0) / 40.0, dx = (cx - 56.0) / 31.0;
    if (dy * dy + dx * dx > 0.85) {
      for (int64_t c = 0; c < 512; ++c) a[t][c] = 0.0f;
    }
  }
  return w;
}

torch::jit::Module face_backbone() {
  SynthRng rng(derive_seed(kWeightSeed, 1));
  auto m = contract_module("adaface");
  m.register_buffer("texture_filters", zero_mean_filters(rng, 8, 4));
  m.register_buffer("detail_filters", zero_mean_filters(rng, 2, 1));
  m.register_buffer("texture_offset", normal(rng, {512}, 0.8));
  m.register_buffer("detail_offset", normal(rng, {512}, 0.8));
  m.register_buffer("texture_gain", scalar(6.0));
  m.register_buffer("detail_gain", scalar(8.0));
  m.register_buffer("token_weights", token_weights(rng));
  m.define(kFaceSource);
  return m;
}

// ---- biggait

constexpr const char* kGaitSource = R"(
def forward(self, x: Tensor) -> Dict[str, Tensor]:
    edges = (x[:, :, :, 1:] - x[:, :, :, :-1]).abs().sum(1, keepdim=True)
    edges = torch.constant_pad_nd(edges, [0, 1])
    profile = torch.avg_pool2d(edges, [16, 4]).squeeze(1)
    profile = profile / (profile.sum(2, keepdim=True) + 1e-6) - 1.0 / 32.0
    parts = torch.tanh(torch.matmul(profile, self.part_weights) * self.part_gain)
    tokens = torch.adaptive_avg_pool2d(x, [18, 9]).flatten(2).transpose(1, 2)
    block5 = torch.layer_norm(torch.tanh(torch.matmul(tokens, self.token_weights5)), [384], None, None, 1e-6)
    block8 = torch.layer_norm(torch.tanh(torch.matmul(tokens, self.token_weights8)), [384], None, None, 1e-6)
    return {"embedding": parts.transpose(1, 2).contiguous(), "intermediates": torch.stack([block5, block8], 1)}
)";

torch::jit::Module gait_backbone() {
  SynthRng rng(derive_seed(kWeightSeed, 2));
  auto m = contract_module("biggait");
  m.register_buffer("part_weights", normal(rng, {32, 512}, 1.0 / std::sqrt(32.0)));
  m.register_buffer("part_gain", scalar(25.0));
  m.register_buffer("token_weights5", normal(rng, {3, 384}, 1.0));
  m.register_buffer("token_weights8", normal(rng, {3, 384}, 1.0));
  m.register_buffer(backbone::kFcBinAttribute, normal(rng, {16, 512, 256}, 1.0 / std::sqrt(512.0)));
  m.define(kGaitSource);
  return m;
}

// ---- cal-ccvid

constexpr const char* kBodySource = R"(
def forward(self, x: Tensor) -> Dict[str, Tensor]:
    cells = torch.avg_pool2d(x, [16, 16])
    mean = (cells * self.person_mask).sum([2, 3], keepdim=True) / self.person_mask.sum()
    colours = ((cells - mean) * self.person_mask).flatten(1)
    embedding = torch.matmul(colours, self.projection)
    layer2 = torch.relu(torch.conv2d(torch.avg_pool2d(x, [8, 8]), self.layer2_filters))
    layer3 = torch.relu(torch.conv2d(cells, self.layer3_filters))
    return {"embedding": embedding, "layer2": layer2, "layer3": layer3}
)";

/// (1, 1, 24, 12): 1 in the middle columns, fading towards the sides (background).
torch::Tensor person_mask() {
  auto mask = torch::empty({1, 1, 24, 12}, torch::kFloat32);
  auto a = mask.accessor<float, 4>();
  for (int64_t y = 0; y < 24; ++y) {
    for (int64_t x = 0; x < 12; ++x) {
      const double d = (static_cast<double>(x) - 5.5) / 2.6;
      a[0][0][y][x] = static_cast<float>(std::exp(-0.5 * d * d));
    }
  }
  return mask;
}

torch::jit::Module body_backbone() {
  SynthRng rng(derive_seed(kWeightSeed, 3));
  auto m = contract_module("cal-ccvid");
  m.register_buffer("person_mask", person_mask());
  m.register_buffer("projection", normal(rng, {3 * 24 * 12, 4096}, 1.0 / std::sqrt(864.0)));
  m.register_buffer("layer2_filters", normal(rng, {512, 3, 1, 1}, 1.0));
  m.register_buffer("layer3_filters", normal(rng, {1024, 3, 1, 1}, 1.0));
  m.define(kBodySource);
  return m;
}

void save_atomically(torch::jit::Module module, const std::string& path) {
  module.eval();
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  try {
    module.save(tmp);
  } catch (const c10::Error& e) {
    std::remove(tmp.c_str());
    throw Error(path + ": cannot write the TorchScript backbone (" + e.what_without_backtrace() + ")");
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) throw Error(path + ": cannot be moved into place: " + ec.message());
}

}  // namespace

std::map<std::string, std::string> write_demo_backbones(const std::string& dir) {
  io::ensure_output_directory(dir);
  std::map<std::string, std::string> paths;
  for (const std::string model : kDemoModels) {
    const auto module = model == "adaface"   ? face_backbone()
                        : model == "biggait" ? gait_backbone()
                                             : body_backbone();
    paths[model] = dir + "/" + model + ".pt";
    save_atomically(module, paths[model]);
  }
  return paths;
}

}  // namespace qme::demo

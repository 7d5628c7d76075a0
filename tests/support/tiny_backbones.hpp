#pragma once
/// Tiny deterministic TorchScript backbones that obey qme's backbone contract (docs/architecture.md §8,
/// backbone_spec.hpp) with the real input sizes and the real intermediate widths (face tokens
/// 512, CAL maps 512 and 1024), built in C++ with torch::jit::Module::define so the tests need no
/// Python. Pooling and fixed projections only: fast on the CPU, and every output depends on the
/// pixels.
#include <torch/script.h>
#include <torch/torch.h>

#include <string>

#include "qme/backbone/backbone_spec.hpp"

namespace qme::test {

/// Fixed weights: sin of a ramp, so no generator is involved.
inline torch::Tensor fixed_weights(torch::IntArrayRef shape, double phase = 0.0) {
  int64_t n = 1;
  for (const auto s : shape) n *= s;
  return torch::sin(torch::arange(n, torch::kFloat64) * 0.37 + phase).to(torch::kFloat32).reshape(shape);
}

inline const char* tiny_source(const std::string& family) {
  if (family == "adaface" || family == "kprpe" || family == "arcface") {
    return R"(
def forward(self, x: Tensor) -> Dict[str, Tensor]:
    p = torch.avg_pool2d(x, [8, 8])
    tokens = torch.matmul(p.flatten(2).transpose(1, 2), self.proj)
    b8 = torch.layer_norm(torch.tanh(tokens), [512], None, None, 1e-6)
    b16 = torch.layer_norm(torch.sin(tokens * 2.0), [512], None, None, 1e-6)
    return {"embedding": tokens.mean(1) + 0.5, "intermediates": torch.stack([b8, b16], 1)}
)";
  }
  if (family == "cal-image" || family == "aim") {
    return R"(
def forward(self, x: Tensor) -> Dict[str, Tensor]:
    layer2 = torch.conv2d(torch.avg_pool2d(x, [8, 8]), self.w2)
    layer3 = torch.relu(torch.conv2d(torch.avg_pool2d(x, [16, 16]), self.w3))
    embedding = torch.matmul(torch.avg_pool2d(x, [32, 32]).flatten(1), self.we)
    return {"embedding": embedding, "layer2": layer2, "layer3": layer3}
)";
  }
  if (family == "cal-video") {
    return R"(
def forward(self, x: Tensor) -> Dict[str, Tensor]:
    layer2 = torch.conv3d(torch.avg_pool3d(x, [1, 8, 8]), self.w2)
    layer3 = torch.relu(torch.conv3d(torch.avg_pool3d(x, [1, 16, 16]), self.w3))
    embedding = torch.matmul(torch.avg_pool3d(x, [1, 32, 32]).mean(2).flatten(1), self.we)
    return {"embedding": embedding, "layer2": layer2, "layer3": layer3}
)";
  }
  if (family == "agrl") {
    return R"(
def forward(self, x: Tensor) -> Dict[str, Tensor]:
    b = x.size(0)
    t = x.size(1)
    frames = torch.avg_pool2d(x.flatten(0, 1), [32, 32]).reshape([b, t, -1])
    return {"embedding": torch.matmul(frames.amax(1), self.we)}
)";
  }
  // biggait: (N, C = 8, P = 16) per frame; fc_bin (16, 8, 4) -> 64-d clip features.
  return R"(
def forward(self, x: Tensor) -> Dict[str, Tensor]:
    p = torch.avg_pool2d(x, [16, 128]).squeeze(3)
    return {"embedding": torch.tanh(torch.matmul(self.w, p))}
)";
}

/// A tiny backbone for `model`'s family and input, or with `family` / `input` overridden (to
/// test refusals). Attributes as the export scripts write them.
inline torch::jit::Module tiny_backbone(const std::string& model, std::string family = "",
                                        std::string input = "") {
  const auto& spec = backbone::backbone_spec(model);
  if (family.empty()) family = spec.family;
  if (input.empty()) input = spec.input_attribute();
  torch::jit::Module module("TinyBackbone");
  module.register_attribute(backbone::kFamilyAttribute, c10::StringType::get(), family);
  module.register_attribute(backbone::kInputAttribute, c10::StringType::get(), input);
  module.register_attribute(backbone::kSourceAttribute, c10::StringType::get(),
                            std::string("tiny test backbone"));
  const std::string arch = spec.family;
  if (arch == "adaface" || arch == "kprpe" || arch == "arcface") {
    module.register_buffer("proj", fixed_weights({3, 512}));
  } else if (arch == "cal-image" || arch == "aim") {
    module.register_buffer("w2", fixed_weights({512, 3, 1, 1}, 0.1));
    module.register_buffer("w3", fixed_weights({1024, 3, 1, 1}, 0.2));
    module.register_buffer("we", fixed_weights({3 * 12 * 6, 48}, 0.3));
  } else if (arch == "cal-video") {
    module.register_buffer("w2", fixed_weights({512, 3, 1, 1, 1}, 0.1));
    module.register_buffer("w3", fixed_weights({1024, 3, 1, 1, 1}, 0.2));
    module.register_buffer("we", fixed_weights({3 * 8 * 4, 32}, 0.3));
  } else if (arch == "agrl") {
    module.register_buffer("we", fixed_weights({3 * 8 * 4, 40}, 0.4));
  } else {  // biggait
    module.register_buffer("w", fixed_weights({8, 3}, 0.5));
    module.register_buffer(backbone::kFcBinAttribute, fixed_weights({16, 8, 4}, 0.6));
  }
  module.define(tiny_source(arch));
  module.eval();
  return module;
}

/// Saves tiny_backbone(model, ...) to `path` and returns the path.
inline std::string save_tiny_backbone(const std::string& path, const std::string& model,
                                      std::string family = "", std::string input = "") {
  tiny_backbone(model, std::move(family), std::move(input)).save(path);
  return path;
}

}  // namespace qme::test

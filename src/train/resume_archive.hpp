#pragma once
// Pieces of qme's resume-state file (internal to src/train): a torch::serialize archive that
// holds everything a training run needs to continue bit for bit. qme-internal format, versioned
// by "qme_resume_format"; not meant for torch.load.
#include <torch/nn/module.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <string>

namespace qme::train::resume {

constexpr int64_t kFormat = 1;

/// Format version and trainer kind ("score_loss", "quality").
void write_header(torch::serialize::OutputArchive& archive, const std::string& kind);
/// Throws InputError naming `source` unless the header has this format and kind.
void check_header(torch::serialize::InputArchive& archive, const std::string& kind,
                  const std::string& source);

/// Every parameter and buffer of `module` by its state-dict name, bit for bit.
void write_module(torch::serialize::OutputArchive& archive, const std::string& key,
                  const torch::nn::Module& module);
/// Copies what write_module saved into `module`; throws InputError naming `source` when names
/// or shapes differ from the module's.
void read_module(torch::serialize::InputArchive& archive, const std::string& key, torch::nn::Module& module,
                 const std::string& source);

/// LibTorch's default generator of `device` (the CPU's, plus CUDA's for a CUDA device): what
/// nn::Dropout draws from.
void write_torch_rng(torch::serialize::OutputArchive& archive, const torch::Device& device);
void read_torch_rng(torch::serialize::InputArchive& archive, const torch::Device& device,
                    const std::string& source);

/// Saves to `<path>.tmp-<pid>`, then renames it to `path`. Throws Error on failure.
void save_atomically(torch::serialize::OutputArchive& archive, const std::string& path);
/// Loads a resume file; throws InputError naming the path when it is missing or unreadable.
void load(torch::serialize::InputArchive& archive, const std::string& path);

/// Reads a string / integer field or throws InputError naming `source` and `key`.
std::string read_string(torch::serialize::InputArchive& archive, const std::string& key,
                        const std::string& source);
int64_t read_int(torch::serialize::InputArchive& archive, const std::string& key, const std::string& source);

}  // namespace qme::train::resume

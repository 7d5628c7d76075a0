#pragma once
/// The QME column for programs that do not link LibTorch (qme_tables). Loading LibTorch costs a
/// process several hundred milliseconds, so an upstream head (two experts, one output, float32
/// weights, up to 8 models) on a CPU with AVX2 and FMA runs on the torch-free CPU kernel, its
/// weights read by the torch-free checkpoint reader (fusion/qme_table_column.hpp). Any other
/// head or file goes to a module library (qme_tables_qme, built with LibTorch next to the
/// executables), opened at run time on a background thread while the file is read and the
/// other columns are evaluated; its reader gives the authoritative error for a bad file.
#include <string>

#include "qme/eval/score_fusion.hpp"

namespace qme::pipeline {

/// The "qme" report / "QME" column: checks now that the checkpoint exists; reads it without
/// LibTorch when the kernel can run it, else starts loading the module and the checkpoint in
/// the background, and its check() and fuse() wait for them and rethrow their errors (an
/// unreadable or unsafe checkpoint, a module that is not there). The face weights are read by
/// check(), against the number of probes. Throws UsageError when use_qe is set without a
/// weights file.
std::unique_ptr<eval::ScoreFusion> load_qme_column(const std::string& checkpoint_path,
                                                   const std::string& face_weights_path, bool use_qe);

/// Where the module is looked for: next to the running executable, then in ../lib/qme.
std::string qme_module_path();

}  // namespace qme::pipeline

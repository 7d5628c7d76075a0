#pragma once
/// The QME column for programs that do not link LibTorch (qme_tables): the fusion lives in a
/// module library (qme_tables_qme, built with LibTorch next to the executables) that is opened
/// at run time, only when a run asks for QME. Loading LibTorch costs a process several hundred
/// milliseconds, so runs without QME never pay it, and runs with QME load it on a background
/// thread while the file is read and the other columns are evaluated.
#include <string>

#include "qme/eval/score_fusion.hpp"

namespace qme::pipeline {

/// The "qme" report / "QME" column: checks now that the checkpoint exists and, with use_qe,
/// reads and validates the face weights (the number of probes is checked when fusing); starts
/// loading the module and the checkpoint in the background; its fuse() waits for them and
/// rethrows their errors (an unreadable or unsafe checkpoint, a module that is not there).
/// Throws UsageError when use_qe is set without a weights file.
std::unique_ptr<eval::ScoreFusion> load_qme_column(const std::string& checkpoint_path,
                                                   const std::string& face_weights_path, bool use_qe);

/// Where the module is looked for: next to the running executable, then in ../lib/qme.
std::string qme_module_path();

}  // namespace qme::pipeline

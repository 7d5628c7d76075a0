#pragma once
/// qme's LibTorch modules, opened at run time by the executables that do not link LibTorch
/// (qme_tables for a QME column, qme_test for feature extraction and CUDA scores): loading
/// LibTorch costs a process ~0.8 s here, so only the runs that need it pay.
#include <string>

namespace qme::io {

/// Where module `file_name` is looked for: next to the running executable, then in ../lib/qme.
std::string module_path(const std::string& file_name);

/// Opens the module (kept open: code of its stays in use) and returns its entry point `symbol`.
/// Throws UsageError when the module is not there (`why`: what needs it), Error when it cannot
/// be loaded or lacks the symbol.
void* open_module_entry(const std::string& file_name, const std::string& symbol, const std::string& why);

}  // namespace qme::io

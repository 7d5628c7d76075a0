#pragma once
/// What both extension modules (qme._core, qme._torch) share: numpy <-> library conversions,
/// the translation of qme's exceptions into Python's, and the tables job as a Python dict.
/// Torch-free: neither module compiles a LibTorch header.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "qme/core/identity_labels.hpp"
#include "qme/core/score_matrix.hpp"
#include "qme/eval/evaluation_report.hpp"
#include "qme/pipeline/tables_analysis.hpp"
#include "qme/pipeline/tables_job.hpp"

namespace qme::python {

namespace py = pybind11;

// ---------------------------------------------------------------------------------------------
// numpy -> library. Every function validates what it converts and raises qme.InputError
// (a ValueError) naming the argument; none of them can crash the interpreter.

/// A float32 copy of a 2-D real-valued array (any int/uint/float dtype, any strides; lists
/// too). Float32 C-contiguous input is copied with one memcpy; float64 is rounded to float32
/// with a qme.QmeWarning when a value changes (upstream would compute in float64). Empty
/// matrices are refused.
ScoreMatrix to_score_matrix(py::handle array, const std::string& name);

/// A 1-D id array (any integer dtype, or floats holding whole numbers as upstream's files do).
std::vector<int64_t> to_ids(py::handle array, const std::string& name);

/// One finite weight per probe: (Q,) or (Q, 1), any real dtype.
std::vector<float> to_weights(py::handle array, const std::string& name);

/// The seven id arrays of upstream's test_score, validated together (lengths agree,
/// unique_g_pids strictly ascending); `source` names the caller in messages.
TestLabels to_labels(py::handle q_pids, py::handle q_camids, py::handle q_clothes_ids, py::handle g_pids,
                     py::handle g_camids, py::handle g_clothes_ids, py::handle unique_g_pids,
                     const std::string& source);

/// A borrowed or owned (rows, dim) float32 matrix: `data` points into the caller's numpy array
/// when it is float32 and C-contiguous (no copy), else into `storage`.
struct FloatRows {
  py::object keep_alive;
  std::vector<float> storage;
  const float* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
};
FloatRows to_float_rows(py::handle array, const std::string& name);

/// Raises qme.InputError (ValueError) with `message`.
[[noreturn]] void raise_input_error(const std::string& message);

// ---------------------------------------------------------------------------------------------
// library -> numpy: results are handed over without a copy (numpy owns the vector).

py::array_t<float> to_numpy(ScoreMatrix&& matrix);
py::array_t<float> to_numpy(std::vector<float>&& values, std::vector<py::ssize_t> shape);
py::array_t<int64_t> to_numpy(std::vector<int64_t>&& values);
py::array_t<int64_t> to_numpy(const std::vector<int64_t>& values);

/// Metric name -> float in upstream's order; NaN stays NaN.
py::dict report_dict(const eval::EvaluationReport& report);

/// A report back from such a dict (what format_paper_table needs); None reads as NaN.
eval::EvaluationReport report_from_dict(py::handle report, const std::string& column);

/// JSON -> dict / list / float / int / str / None, object keys in the JSON's order.
py::object json_to_python(const nlohmann::json& value);

// ---------------------------------------------------------------------------------------------
// Errors. qme's exceptions become the classes of qme/_errors.py: UsageError and bad arguments
// -> InputError (ValueError); anything a file caused -> FileError (OSError), MissingFileError
// (also FileNotFoundError) when the file does not exist; other std::exceptions -> qme.Error
// with "internal error: ". The messages are the library's, as the tools print them.

/// Who is to blame when the library throws qme::Error: the arguments, or the file at `path`.
enum class Blame { kArguments, kReadFile, kWriteFile };

/// Call from inside a catch block: raises the Python exception for the active C++ exception.
[[noreturn]] void rethrow_as_python(Blame blame, const std::string& path);

/// Hands the library's log messages collected during a call to Python: warnings (undefined
/// metrics, ...) as qme.QmeWarning, the rest to logging.getLogger("qme"). Needs the GIL.
void flush_library_log();

/// Runs `body` (which may release the GIL inside), then forwards the library's messages; a
/// C++ exception becomes the Python exception `blame` calls for.
template <typename Body>
auto guarded(Blame blame, const std::string& path, Body&& body) -> decltype(body()) {
  try {
    if constexpr (std::is_void_v<decltype(body())>) {
      body();
      flush_library_log();
    } else {
      auto result = body();
      flush_library_log();
      return result;
    }
  } catch (py::error_already_set&) {
    throw;
  } catch (...) {
    try {
      flush_library_log();
    } catch (py::error_already_set& e) {
      e.discard_as_unraisable(__func__);
    }
    rethrow_as_python(blame, path);
  }
}

// ---------------------------------------------------------------------------------------------
// The tables job (qme_tables' library call) as the dict `qme_tables --json` writes.

/// Runs pipeline::run_tables with the GIL held (it reads HDF5, which Debian builds without thread
/// safety, and h5py in another Python thread may be using it) with the analyses asked for, and
/// returns tables_to_json() with their "bootstrap" and "quality_bins" parts.
py::object run_tables_as_dict(pipeline::TablesOptions options,
                              const pipeline::TablesAnalysisOptions& analyses);

/// The analyses' options from qme.tables' keyword arguments (0 / None: not asked for).
pipeline::TablesAnalysisOptions analysis_options(int bootstrap, double ci, long long bootstrap_seed,
                                                 int quality_bins,
                                                 const std::optional<std::string>& rank_lists, int top_k,
                                                 const std::optional<std::string>& face_weights);

/// Baseline names -> methods (unknown names raise qme.InputError listing the known ones).
std::vector<eval::FusionMethod> parse_baselines(const std::vector<std::string>& names);

}  // namespace qme::python

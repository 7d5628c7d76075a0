// numpy arrays in and out of the library's value types (ScoreMatrix, id vectors, weights).
#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>

#include "binding.hpp"

namespace qme::python {

namespace {

std::string shape_text(const py::array& a) {
  std::ostringstream out;
  out << '(';
  for (py::ssize_t d = 0; d < a.ndim(); ++d) out << (d ? ", " : "") << a.shape(d);
  out << (a.ndim() == 1 ? ",)" : ")");
  return out.str();
}

std::string dtype_text(const py::array& a) {
  return py::str(a.dtype()).cast<std::string>();
}

/// The argument as a numpy array of real numbers (int, uint or float kinds). Lists and other
/// sequences are converted by numpy; bool, complex, object, string arrays are refused.
py::array real_array(py::handle object, const std::string& name) {
  if (object.is_none()) raise_input_error(name + " is None; expected a numeric array");
  py::array array;
  try {
    array = py::array::ensure(object);
  } catch (py::error_already_set&) {
    array = py::array();
  }
  if (!array) {
    PyErr_Clear();
    raise_input_error(name + " cannot be converted to a numpy array (got " +
                      py::str(py::type::of(object)).cast<std::string>() + ")");
  }
  const char kind = array.dtype().kind();
  if (kind != 'i' && kind != 'u' && kind != 'f') {
    raise_input_error(name + " must hold real numbers (an int, uint or float dtype), got dtype " +
                      dtype_text(array));
  }
  return array;
}

bool is_c_contiguous(const py::array& a) {
  return (a.flags() & py::array::c_style) != 0;
}

/// The array's values as float32 in C order, in `out` (resized to the array's size).
void copy_as_float32(const py::array& array, const std::string& name, std::vector<float>& out) {
  const auto n = static_cast<size_t>(array.size());
  const auto dtype = array.dtype();
  if (dtype.is(py::dtype::of<float>()) && is_c_contiguous(array)) {
    const auto* p = static_cast<const float*>(array.data());
    out.assign(p, p + n);
    return;
  }
  if (dtype.kind() == 'f' && dtype.itemsize() == 8) {
    // Scores are float32 everywhere in qme (and in upstream's files); say so when rounding
    // changes a value, since upstream would then compute in float64.
    const auto doubles = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(array);
    const double* p = doubles.data();
    out.assign(p, p + n);
    for (size_t i = 0; i < n; ++i) {
      if (static_cast<double>(out[i]) != p[i] && !std::isnan(p[i])) {
        const std::string message = name +
                                    " is float64 and is rounded to float32 (qme evaluates float32 "
                                    "scores, as upstream's score-matrix files hold); upstream's numpy "
                                    "code would use the float64 values, so results can differ at "
                                    "float32 precision";
        auto warning = py::module_::import("qme._errors").attr("QmeWarning");
        if (PyErr_WarnEx(warning.ptr(), message.c_str(), 1) < 0) throw py::error_already_set();
        break;
      }
    }
    return;
  }
  const auto floats = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(array);
  if (!floats) throw py::error_already_set();
  out.assign(floats.data(), floats.data() + n);
}

template <typename T>
py::capsule owner_of(std::vector<T>* values) {
  return py::capsule(values, [](void* p) { delete static_cast<std::vector<T>*>(p); });
}

}  // namespace

void raise_input_error(const std::string& message) {
  auto cls = py::module_::import("qme._errors").attr("InputError");
  PyErr_SetString(cls.ptr(), message.c_str());
  throw py::error_already_set();
}

ScoreMatrix to_score_matrix(py::handle object, const std::string& name) {
  const auto array = real_array(object, name);
  if (array.ndim() != 2) {
    raise_input_error(name + " must be a 2-D (probes x gallery) array, got shape " + shape_text(array));
  }
  if (array.shape(0) == 0 || array.shape(1) == 0) {
    raise_input_error(name + " is empty (shape " + shape_text(array) + ")");
  }
  ScoreMatrix matrix;
  matrix.rows = array.shape(0);
  matrix.cols = array.shape(1);
  copy_as_float32(array, name, matrix.values);
  return matrix;
}

std::vector<int64_t> to_ids(py::handle object, const std::string& name) {
  const auto array = real_array(object, name);
  if (array.ndim() != 1) {
    raise_input_error(name + " must be a 1-D array of ids, got shape " + shape_text(array));
  }
  const auto n = static_cast<size_t>(array.size());
  if (array.dtype().kind() != 'f') {
    const auto ints = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(array);
    return std::vector<int64_t>(ints.data(), ints.data() + n);
  }
  // upstream stores ids as float32; they must still be whole numbers.
  const auto doubles = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(array);
  std::vector<int64_t> ids(n);
  for (size_t i = 0; i < n; ++i) {
    const double v = doubles.data()[i];
    if (!std::isfinite(v) || v != std::trunc(v) || std::abs(v) > 9.0e15) {
      std::ostringstream message;
      message << name << "[" << i << "] is " << v << ": ids must be whole numbers";
      raise_input_error(message.str());
    }
    ids[i] = static_cast<int64_t>(v);
  }
  return ids;
}

std::vector<float> to_weights(py::handle object, const std::string& name) {
  const auto array = real_array(object, name);
  if (!(array.ndim() == 1 || (array.ndim() == 2 && array.shape(1) == 1))) {
    raise_input_error(name + " must hold one weight per probe, shape (Q,) or (Q, 1), got shape " +
                      shape_text(array));
  }
  std::vector<float> weights;
  copy_as_float32(array, name, weights);
  for (size_t i = 0; i < weights.size(); ++i) {
    if (!(weights[i] >= 0.0f && weights[i] <= 1.0f)) {  // a QE's sigmoid output; NaN fails too
      std::ostringstream message;
      message << name << "[" << i << "] is " << weights[i] << ": quality weights lie in [0, 1]";
      raise_input_error(message.str());
    }
  }
  return weights;
}

TestLabels to_labels(py::handle q_pids, py::handle q_camids, py::handle q_clothes_ids, py::handle g_pids,
                     py::handle g_camids, py::handle g_clothes_ids, py::handle unique_g_pids,
                     const std::string& source) {
  TestLabels labels;
  labels.query.pids = to_ids(q_pids, "q_pids");
  labels.query.camids = to_ids(q_camids, "q_camids");
  labels.query.clothes_ids = to_ids(q_clothes_ids, "q_clothes_ids");
  labels.gallery.pids = to_ids(g_pids, "g_pids");
  labels.gallery.camids = to_ids(g_camids, "g_camids");
  labels.gallery.clothes_ids = to_ids(g_clothes_ids, "g_clothes_ids");
  labels.unique_gallery_pids = to_ids(unique_g_pids, "unique_g_pids");
  try {
    validate_labels(labels, source);
  } catch (const std::exception& e) {
    raise_input_error(e.what());
  }
  return labels;
}

FloatRows to_float_rows(py::handle object, const std::string& name) {
  const auto array = real_array(object, name);
  if (array.ndim() != 2) {
    raise_input_error(name + " must be a 2-D (samples x feature dimension) array, got shape " +
                      shape_text(array));
  }
  FloatRows rows;
  rows.rows = array.shape(0);
  rows.cols = array.shape(1);
  if (array.dtype().is(py::dtype::of<float>()) && is_c_contiguous(array)) {
    rows.keep_alive = array;
    rows.data = static_cast<const float*>(array.data());
  } else {
    copy_as_float32(array, name, rows.storage);
    rows.data = rows.storage.data();
  }
  return rows;
}

py::array_t<float> to_numpy(ScoreMatrix&& matrix) {
  const auto rows = static_cast<py::ssize_t>(matrix.rows);
  const auto cols = static_cast<py::ssize_t>(matrix.cols);
  return to_numpy(std::move(matrix.values), {rows, cols});
}

py::array_t<float> to_numpy(std::vector<float>&& values, std::vector<py::ssize_t> shape) {
  auto* owned = new std::vector<float>(std::move(values));
  const auto owner = owner_of(owned);
  return py::array_t<float>(shape, owned->data(), owner);
}

py::array_t<int64_t> to_numpy(std::vector<int64_t>&& values) {
  auto* owned = new std::vector<int64_t>(std::move(values));
  const auto owner = owner_of(owned);
  return py::array_t<int64_t>({static_cast<py::ssize_t>(owned->size())}, owned->data(), owner);
}

py::array_t<int64_t> to_numpy(const std::vector<int64_t>& values) {
  return to_numpy(std::vector<int64_t>(values));
}

py::dict report_dict(const eval::EvaluationReport& report) {
  py::dict out;
  for (const auto& [name, value] : report.entries()) out[py::str(name)] = py::float_(value);
  return out;
}

eval::EvaluationReport report_from_dict(py::handle object, const std::string& column) {
  eval::EvaluationReport report;
  py::object items;
  try {
    items = py::reinterpret_borrow<py::object>(object).attr("items")();
  } catch (py::error_already_set&) {
    PyErr_Clear();
    raise_input_error("report '" + column + "' must be a mapping of metric name -> value");
  }
  for (auto item : items) {
    const auto pair = item.cast<py::tuple>();
    const auto name = py::str(pair[0]).cast<std::string>();
    double value = std::numeric_limits<double>::quiet_NaN();
    if (!pair[1].is_none()) {
      try {
        value = py::float_(pair[1]).cast<double>();
      } catch (py::error_already_set&) {
        PyErr_Clear();
        raise_input_error("report '" + column + "': metric '" + name + "' is not a number");
      }
    }
    report.set(name, value);
  }
  return report;
}

}  // namespace qme::python

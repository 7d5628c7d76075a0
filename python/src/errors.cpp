// qme's C++ exceptions as the Python exceptions of qme/_errors.py.
#include <filesystem>
#include <new>

#include "binding.hpp"
#include "qme/core/error.hpp"

namespace qme::python {

namespace {

[[noreturn]] void raise(const char* python_class, const std::string& message) {
  auto cls = py::module_::import("qme._errors").attr(python_class);
  PyErr_SetString(cls.ptr(), message.c_str());
  throw py::error_already_set();
}

bool path_exists(const std::string& path) {
  std::error_code ec;
  return !path.empty() && std::filesystem::exists(path, ec);
}

}  // namespace

void rethrow_as_python(Blame blame, const std::string& path) {
  try {
    throw;
  } catch (py::error_already_set&) {
    throw;
  } catch (const py::builtin_exception&) {
    throw;  // pybind11's own (cast errors, ...): it translates them
  } catch (const UsageError& e) {
    raise("InputError", e.what());
  } catch (const Error& e) {
    switch (blame) {
      case Blame::kArguments:
        raise("InputError", e.what());
      case Blame::kReadFile:
        raise(path_exists(path) ? "FileError" : "MissingFileError", e.what());
      case Blame::kWriteFile:
        raise("FileError", e.what());
    }
    raise("Error", e.what());
  } catch (const std::bad_alloc&) {
    throw;  // MemoryError
  } catch (const std::exception& e) {
    raise("Error", std::string("internal error: ") + e.what());
  }
}

void flush_library_log() {
  py::module_::import("qme._core").attr("_flush_log")();
}

}  // namespace qme::python

# Included by the top-level CMakeLists.txt before the option QME_BUILD_PYTHON is declared:
# chooses the Python interpreter the package is built and tested for, and looks for pybind11
# (Debian: pybind11-dev), so that the option can default to ON exactly when pybind11 is there.
#
# The interpreter: QME_PYTHON_EXECUTABLE when given, else the first of Debian's /usr/bin/python3
# and the python3 on PATH that imports numpy (a pyenv or venv python3 earlier on PATH usually has
# no python3-numpy). The extension is built for that interpreter's version and ABI.
if(DEFINED QME_BUILD_PYTHON AND NOT QME_BUILD_PYTHON)
  return()
endif()

if(NOT QME_PYTHON_EXECUTABLE)
  find_program(QME_DEBIAN_PYTHON3 python3 PATHS /usr/bin NO_DEFAULT_PATH)
  find_program(QME_PATH_PYTHON3 python3)
  set(qme_python_choice "")
  foreach(candidate "${QME_DEBIAN_PYTHON3}" "${QME_PATH_PYTHON3}")
    if(candidate AND NOT qme_python_choice)
      execute_process(COMMAND "${candidate}" -c "import numpy" RESULT_VARIABLE qme_numpy_rc
                      OUTPUT_QUIET ERROR_QUIET)
      if(qme_numpy_rc EQUAL 0)
        set(qme_python_choice "${candidate}")
      endif()
    endif()
  endforeach()
  if(NOT qme_python_choice)
    set(qme_python_choice "${QME_DEBIAN_PYTHON3}")
    if(NOT qme_python_choice)
      set(qme_python_choice "${QME_PATH_PYTHON3}")
    endif()
  endif()
  set(QME_PYTHON_EXECUTABLE "${qme_python_choice}" CACHE FILEPATH
      "Python interpreter the qme package is built and tested for (needs numpy)")
endif()

if(QME_PYTHON_EXECUTABLE)
  set(Python_EXECUTABLE "${QME_PYTHON_EXECUTABLE}")
  find_package(Python 3.7 COMPONENTS Interpreter Development.Module QUIET)
  if(Python_FOUND)
    find_package(pybind11 2.6 CONFIG QUIET)
  endif()
endif()

# Sanitizer and fuzzer builds (README "Sanitizers and fuzzers").
#
#   -DQME_SANITIZE=address,undefined   ASan + UBSan on every qme target and test
#   -DQME_SANITIZE=thread              TSan (the loader and the threaded evaluation)
#   -DQME_BUILD_FUZZERS=ON             libFuzzer targets in tests/fuzz (clang only)
#
# The flags go on every target of this project (add_compile_options), not on LibTorch or the
# other Debian libraries, which are not rebuilt: their own defects are out of our reach, and
# lsan.supp in tests/fuzz names the known leaks there.
set(QME_SANITIZE "" CACHE STRING "Sanitizers for every qme target: address,undefined or thread")
option(QME_BUILD_FUZZERS "Build the libFuzzer targets in tests/fuzz (clang)" OFF)

if(QME_SANITIZE)
  if(QME_SANITIZE MATCHES "thread" AND QME_SANITIZE MATCHES "address")
    message(FATAL_ERROR "qme: QME_SANITIZE: thread cannot be combined with address")
  endif()
  # Stop at the first report, so that ctest fails on it; -g1 gives reports with line numbers.
  add_compile_options(-fsanitize=${QME_SANITIZE} -fno-sanitize-recover=all -fno-omit-frame-pointer -g1)
  add_link_options(-fsanitize=${QME_SANITIZE})
  if(QME_SANITIZE MATCHES "undefined")
    # LibTorch is built without RTTI checks in mind: vptr checks on its types report its own
    # downcasts, not ours.
    add_compile_options(-fno-sanitize=vptr)
  endif()
  if(QME_SANITIZE MATCHES "thread")
    # TSan cannot run ifunc resolvers (target_clones) that it intercepts before it is set up.
    add_compile_definitions(QME_NO_TARGET_CLONES=1)
  endif()
  message(STATUS "qme: sanitizers ${QME_SANITIZE}")
endif()

# qme_sanitizer_test_environment(): call at the end of a folder's tests. Under the sanitizers,
# every test of the folder (Catch2 programs and the cli/demo scripts' tools alike) reads
# tests/fuzz/lsan.supp, which names the leaks inside the Debian libraries qme calls, and gets
# four times its time limit: instrumented code runs two to four times slower (the CI-sized demo
# took 414 s under ASan on two cores shared with a build, against its 300 s limit).
function(qme_sanitizer_test_environment)
  if(NOT QME_SANITIZE)
    return()
  endif()
  get_property(tests DIRECTORY PROPERTY TESTS)
  foreach(test ${tests})
    get_test_property(${test} TIMEOUT limit)
    if(limit)
      math(EXPR limit "${limit} * 4")
      set_tests_properties(${test} PROPERTIES TIMEOUT ${limit})
    endif()
  endforeach()
  if(tests AND QME_SANITIZE MATCHES "address")
    set_property(TEST ${tests} APPEND PROPERTY ENVIRONMENT
                 "LSAN_OPTIONS=suppressions=${PROJECT_SOURCE_DIR}/tests/fuzz/lsan.supp")
  endif()
endfunction()

if(QME_BUILD_FUZZERS)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "qme: QME_BUILD_FUZZERS needs clang (libFuzzer): "
                        "cmake -DCMAKE_CXX_COMPILER=clang++-14 -DQME_BUILD_FUZZERS=ON ...")
  endif()
  # Coverage instrumentation in every qme library; the fuzzer targets add -fsanitize=fuzzer.
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()

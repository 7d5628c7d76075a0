# qme_set_warnings(target): the warning set every qme target compiles with.
function(qme_set_warnings target)
  target_compile_options(${target} PRIVATE
    $<$<CXX_COMPILER_ID:GNU,Clang>:-Wall -Wextra -Wpedantic -Wno-unused-parameter>)
endfunction()

// The one source of qme_program_pch (src/CMakeLists.txt): a target must compile something to
// own a precompiled header. Nothing links it.

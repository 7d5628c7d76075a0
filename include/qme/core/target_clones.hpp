#pragma once
/// QME_TARGET_CLONES(...): GCC function multiversioning for the hot kernels. x86-64 builds
/// target the 2003 baseline (SSE2); these loops are worth AVX2 / AVX-512 copies, one picked when
/// the program loads. Empty elsewhere, and under ThreadSanitizer (CMake QME_SANITIZE=thread),
/// whose runtime is not yet set up when the loader runs the ifunc resolvers.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && \
    !defined(QME_NO_TARGET_CLONES)
#define QME_TARGET_CLONES(...) __attribute__((target_clones(__VA_ARGS__)))
#else
#define QME_TARGET_CLONES(...)
#endif

#include "qme/core/key_select.hpp"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define QME_X86_DISPATCH 1
#endif

namespace qme {

namespace detail {

/// Branch-free: every index is written, and kept by advancing past it.
int64_t indices_at_or_above_portable(const uint32_t* keys, int64_t n, uint32_t threshold, uint32_t* out) {
  int64_t count = 0;
  for (int64_t j = 0; j < n; ++j) {
    out[count] = static_cast<uint32_t>(j);
    count += keys[j] >= threshold;
  }
  return count;
}

}  // namespace detail

namespace {

#ifdef QME_X86_DISPATCH
__attribute__((target("avx512f,popcnt"))) int64_t indices_at_or_above_avx512(const uint32_t* keys, int64_t n,
                                                                             uint32_t threshold,
                                                                             uint32_t* out) {
  const __m512i bound = _mm512_set1_epi32(static_cast<int>(threshold));
  const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  int64_t count = 0;
  for (int64_t j = 0; j < n; j += 16) {
    const int64_t rest = n - j;
    const auto valid = static_cast<__mmask16>(rest >= 16 ? 0xffffu : (1u << rest) - 1);
    const __m512i v = _mm512_maskz_loadu_epi32(valid, keys + j);
    const __mmask16 hit = _mm512_mask_cmpge_epu32_mask(valid, v, bound);
    // Stored even when nothing is kept: a branch on it would mispredict (a tail of 3 % leaves
    // 6 of 10 blocks empty).
    const __m512i indices = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(j)), lanes);
    _mm512_storeu_si512(out + count, _mm512_maskz_compress_epi32(hit, indices));
    count += __builtin_popcount(hit);
  }
  return count;
}
#endif

}  // namespace

int64_t indices_at_or_above(const uint32_t* keys, int64_t n, uint32_t threshold, uint32_t* out) {
#ifdef QME_X86_DISPATCH
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  if (avx512) return indices_at_or_above_avx512(keys, n, threshold, out);
#endif
  return detail::indices_at_or_above_portable(keys, n, threshold, out);
}

}  // namespace qme

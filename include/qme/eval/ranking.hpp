#pragma once
/// Total order used by the ranking metrics' fast paths: descending score, NaN
/// below every number, ties broken by the lower gallery index. Where a tie
/// touches an entry that matters (a same-identity entry in CMC/mAP, the mate
/// at rank 1 in open-set search) the metrics fall back to numpy's own argsort
/// order (qme/core/numpy_sort.hpp), so tied scores rank as upstream ranks them.
#include <cmath>
#include <cstdint>
#include <cstring>

namespace qme::eval {

/// Monotone map float -> uint32: larger score, larger key; NaN -> 0; -0 == +0.
/// Branch-free so that loops over a row vectorise: it runs for every score
/// of every matrix.
inline uint32_t score_key(float s) {
  const float canonical = s + 0.0f;  // -0.0 + 0.0 == +0.0: ties with +0.0, as in numpy
  uint32_t bits;
  std::memcpy(&bits, &canonical, sizeof bits);
  const uint32_t flip = static_cast<uint32_t>(static_cast<int32_t>(bits) >> 31) | 0x80000000u;
  const uint32_t is_number = 0u - static_cast<uint32_t>(s == s);
  return (bits ^ flip) & is_number;
}

/// score_key of a whole row, in a loop the compiler vectorises.
inline void score_keys(const float* __restrict row, int64_t n, uint32_t* __restrict keys) {
  for (int64_t j = 0; j < n; ++j) keys[j] = score_key(row[j]);
}

/// Inverse of score_key for keys of real numbers.
inline float key_score(uint32_t key) {
  const uint32_t bits = (key & 0x80000000u) ? (key & 0x7fffffffu) : ~key;
  float s;
  std::memcpy(&s, &bits, sizeof s);
  return s;
}

/// Unique key of (score, index): a > b  <=>  a ranks before b.
inline uint64_t rank_key(float s, int64_t index) {
  return (uint64_t{score_key(s)} << 32) | (0xffffffffu - static_cast<uint32_t>(index));
}

}  // namespace qme::eval

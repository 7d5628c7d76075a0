#pragma once
/// The few keys of a row at or above a threshold (a score tail: ~1-3 % of a row), found sixteen
/// at a time with AVX-512 where the CPU has it: a per-key branch that is rarely taken costs
/// more than the test itself, and a row has thousands of keys.
#include <cstdint>

namespace qme {

/// Writes the indices j < n with keys[j] >= threshold to `out`, ascending, and returns their
/// number. `out` must have room for n + 16 indices (whole vectors are stored).
int64_t indices_at_or_above(const uint32_t* keys, int64_t n, uint32_t threshold, uint32_t* out);

namespace detail {
/// The portable path of indices_at_or_above (what CPUs without AVX-512 run), for tests.
int64_t indices_at_or_above_portable(const uint32_t* keys, int64_t n, uint32_t threshold, uint32_t* out);
}  // namespace detail

}  // namespace qme

#include "qme/core/numpy_sort.hpp"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <numeric>
#include <unordered_map>
#include <utility>

namespace qme::numpy {

namespace {

constexpr int64_t kSmallQuicksort = 15;
constexpr int kStackSize = 128;

// The sort runs on packed elements (key << 32 | index): the comparisons numpy makes on the
// float values are made on 32-bit keys with the same order, and moving an element moves its
// index with it, so the result is numpy's without an indirection per comparison.
using Packed = uint64_t;

/// Monotone float -> uint32 in numpy's order: -0 == +0, NaN after every number, NaNs equal.
inline uint32_t ascending_key(float v) {
  if (v != v) return 0xffffffffu;
  const float canonical = v + 0.0f;
  uint32_t bits;
  std::memcpy(&bits, &canonical, sizeof bits);
  return (bits & 0x80000000u) ? ~bits : bits | 0x80000000u;
}

inline uint32_t key(Packed p) {
  return static_cast<uint32_t>(p >> 32);
}

/// numpy's LT on the values: the keys' order.
inline bool less(Packed a, Packed b) {
  return key(a) < key(b);
}

int most_significant_bit(uint64_t n) {
  int depth = 0;
  while (n >>= 1) ++depth;
  return depth;
}

/// Moves `value` down from slot i of the 1-based heap a[1..n].
void sift_down(Packed* a, int64_t i, int64_t n, Packed value) {
  for (int64_t j = i << 1; j <= n;) {
    if (j < n && less(a[j], a[j + 1])) ++j;
    if (!less(value, a[j])) break;
    a[i] = a[j];
    i = j;
    j += j;
  }
  a[i] = value;
}

void heapsort(Packed* tosort, int64_t n) {
  Packed* a = tosort - 1;  // 1-based heap indexing
  for (int64_t l = n >> 1; l > 0; --l) sift_down(a, l, n, a[l]);
  for (; n > 1;) {
    const Packed tmp = a[n];
    a[n] = a[1];
    n -= 1;
    sift_down(a, 1, n, tmp);
  }
}

/// Median-of-three partition of [pl, pr]; returns the pivot's final place.
Packed* partition(Packed* pl, Packed* pr) {
  Packed* pm = pl + ((pr - pl) >> 1);
  if (less(*pm, *pl)) std::swap(*pm, *pl);
  if (less(*pr, *pm)) std::swap(*pr, *pm);
  if (less(*pm, *pl)) std::swap(*pm, *pl);
  const uint32_t vp = key(*pm);
  Packed* pi = pl;
  Packed* pj = pr - 1;
  std::swap(*pm, *pj);
  for (;;) {
    do ++pi;
    while (key(*pi) < vp);
    do --pj;
    while (vp < key(*pj));
    if (pi >= pj) break;
    std::swap(*pi, *pj);
  }
  std::swap(*pi, *(pr - 1));
  return pi;
}

void insertion_sort(Packed* pl, Packed* pr) {
  for (Packed* pi = pl + 1; pi <= pr; ++pi) {
    const Packed vi = *pi;
    Packed* pj = pi;
    Packed* pk = pi - 1;
    while (pj > pl && less(vi, *pk)) *pj-- = *pk--;
    *pj = vi;
  }
}

/// Inclusive key bounds of a range.
struct Bounds {
  uint32_t lo, hi;
  bool unbounded_lo, unbounded_hi;
};

bool contains_focus(const Bounds& b, const std::vector<uint32_t>& focus) {
  if (focus.empty()) return true;  // plain argsort: every range matters
  for (uint32_t f : focus) {
    if ((b.unbounded_lo || f >= b.lo) && (b.unbounded_hi || f <= b.hi)) return true;
  }
  return false;
}

/// numpy's introsort loop. Ranges whose value bounds exclude every focus
/// value are left unsorted: partitioning is exact, so every other range ends
/// up exactly where numpy puts it.
void introsort(Packed* order, int64_t n, const std::vector<uint32_t>& focus) {
  if (n < 2) return;
  Packed* pl = order;
  Packed* pr = pl + n - 1;
  Packed* stack[kStackSize];
  Bounds bounds_stack[kStackSize];
  Packed** sptr = stack;
  Bounds* bptr = bounds_stack;
  int depth[kStackSize];
  int* psdepth = depth;
  int cdepth = most_significant_bit(static_cast<uint64_t>(n)) * 2;
  Bounds bounds{0, 0, true, true};
  for (;;) {
    if (!contains_focus(bounds, focus)) {
      // skipped: numpy sorts this range, but nothing in it can be a focus value
    } else if (cdepth < 0) {
      heapsort(pl, pr - pl + 1);
    } else {
      while ((pr - pl) > kSmallQuicksort) {
        Packed* pi = partition(pl, pr);
        const uint32_t pivot = key(*pi);
        // The larger side waits on the stack; the smaller one is sorted next.
        if (pi - pl < pr - pi) {
          *sptr++ = pi + 1;
          *sptr++ = pr;
          *bptr++ = {pivot, bounds.hi, false, bounds.unbounded_hi};
          pr = pi - 1;
          bounds = {bounds.lo, pivot, bounds.unbounded_lo, false};
        } else {
          *sptr++ = pl;
          *sptr++ = pi - 1;
          *bptr++ = {bounds.lo, pivot, bounds.unbounded_lo, false};
          pl = pi + 1;
          bounds = {pivot, bounds.hi, false, bounds.unbounded_hi};
        }
        *psdepth++ = --cdepth;
        if (!contains_focus(bounds, focus)) break;
      }
      if (contains_focus(bounds, focus)) insertion_sort(pl, pr);
    }
    if (sptr == stack) break;
    pr = *(--sptr);
    pl = *(--sptr);
    bounds = *(--bptr);
    cdepth = *(--psdepth);
  }
}

/// numpy's order of n equal values depends on n alone: computed once per n and thread (rows
/// of a face model for probes without a face are all 0).
const std::vector<int64_t>& equal_values_order(int64_t n) {
  thread_local std::unordered_map<int64_t, std::vector<int64_t>> cache;
  auto& order = cache[n];
  if (order.empty() && n > 0) {
    std::vector<Packed> packed(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) packed[static_cast<size_t>(i)] = static_cast<Packed>(i);
    introsort(packed.data(), n, {});
    order.resize(static_cast<size_t>(n));
    for (int64_t t = 0; t < n; ++t)
      order[static_cast<size_t>(t)] = static_cast<int64_t>(packed[t] & 0xffffffffu);
  }
  return order;
}

void sort_into(const float* v, int64_t n, const std::vector<uint32_t>& focus, std::vector<int64_t>& order) {
  order.resize(static_cast<size_t>(n));
  if (n == 0) return;
  thread_local std::vector<Packed> packed;
  packed.resize(static_cast<size_t>(n));
  uint32_t lo = 0xffffffffu, hi = 0;
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t k = ascending_key(v[i]);
    lo = std::min(lo, k);
    hi = std::max(hi, k);
    packed[static_cast<size_t>(i)] = (Packed{k} << 32) | static_cast<uint32_t>(i);
  }
  if (lo == hi) {
    order = equal_values_order(n);
    return;
  }
  introsort(packed.data(), n, focus);
  for (int64_t t = 0; t < n; ++t)
    order[static_cast<size_t>(t)] = static_cast<int64_t>(packed[t] & 0xffffffffu);
}

}  // namespace

void argsort(const float* v, int64_t n, std::vector<int64_t>& order) {
  sort_into(v, n, {}, order);
}

void argsort_focused(const float* v, int64_t n, const std::vector<float>& focus,
                     std::vector<int64_t>& order) {
  if (focus.empty()) {
    order.resize(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), int64_t{0});
    return;
  }
  std::vector<uint32_t> keys;
  for (float f : focus) keys.push_back(ascending_key(f));
  sort_into(v, n, keys, order);
}

}  // namespace qme::numpy

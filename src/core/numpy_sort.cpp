#include "qme/core/numpy_sort.hpp"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <numeric>
#include <unordered_map>
#include <utility>
#include <vector>

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
///
/// numpy's loop scans from the left for elements >= pivot and from the right for elements
/// <= pivot and swaps each pair of stops until the scans cross. Its branches follow the data
/// and mispredict about every other element, so the same result is computed from the stops
/// themselves: the k-th left stop is swapped with the k-th right stop while the two have not
/// crossed, because until then each scan only passes elements the other has not touched.
Packed* partition(Packed* pl, Packed* pr) {
  Packed* pm = pl + ((pr - pl) >> 1);
  if (less(*pm, *pl)) std::swap(*pm, *pl);
  if (less(*pr, *pm)) std::swap(*pr, *pm);
  if (less(*pm, *pl)) std::swap(*pm, *pl);
  const uint32_t vp = key(*pm);
  std::swap(*pm, *(pr - 1));
  const auto last = static_cast<uint32_t>(pr - pl);  // offsets 0..last; the pivot sits at last - 1
  thread_local std::vector<uint32_t> left, right;
  left.resize(last);
  right.resize(last);
  // Left stops among offsets 1..last-1 (the pivot stops the scan at last - 1 at the latest),
  // right stops among last-2..0 (pl holds an element <= pivot), both in scan order.
  uint32_t num_left = 0, num_right = 0;
  for (uint32_t i = 1; i < last; ++i) {
    left[num_left] = i;
    num_left += key(pl[i]) >= vp ? 1u : 0u;
  }
  for (uint32_t i = last - 1; i-- > 0;) {
    right[num_right] = i;
    num_right += key(pl[i]) <= vp ? 1u : 0u;
  }
  uint32_t k = 0;
  for (; k < num_left && k < num_right && left[k] < right[k]; ++k) std::swap(pl[left[k]], pl[right[k]]);
  // Where the left scan stopped for good: its next stop, or the last right stop it swapped
  // (which now holds an element >= pivot), whichever comes first.
  uint32_t stop = left[k < num_left ? k : num_left - 1];
  if (k > 0 && (k >= num_left || left[k] > right[k - 1])) stop = right[k - 1];
  std::swap(pl[stop], *(pr - 1));
  return pl + stop;
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

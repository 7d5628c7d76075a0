#include "qme/core/numpy_sort.hpp"

#include <cstddef>
#include <numeric>
#include <utility>

namespace qme::numpy {

namespace {

constexpr int64_t kSmallQuicksort = 15;
constexpr int kStackSize = 128;

/// numpy's float ordering: NaN after every number.
inline bool less(float a, float b) {
  return a < b || (b != b && a == a);
}

int most_significant_bit(uint64_t n) {
  int depth = 0;
  while (n >>= 1) ++depth;
  return depth;
}

/// Moves `value` down from slot i of the 1-based heap a[1..n].
void sift_down(const float* v, int64_t* a, int64_t i, int64_t n, int64_t value) {
  for (int64_t j = i << 1; j <= n;) {
    if (j < n && less(v[a[j]], v[a[j + 1]])) ++j;
    if (!less(v[value], v[a[j]])) break;
    a[i] = a[j];
    i = j;
    j += j;
  }
  a[i] = value;
}

void heapsort(const float* v, int64_t* tosort, int64_t n) {
  int64_t* a = tosort - 1;  // 1-based heap indexing
  for (int64_t l = n >> 1; l > 0; --l) sift_down(v, a, l, n, a[l]);
  for (; n > 1;) {
    const int64_t tmp = a[n];
    a[n] = a[1];
    n -= 1;
    sift_down(v, a, 1, n, tmp);
  }
}

/// Median-of-three partition of [pl, pr]; returns the pivot's final place.
int64_t* partition(const float* v, int64_t* pl, int64_t* pr) {
  int64_t* pm = pl + ((pr - pl) >> 1);
  if (less(v[*pm], v[*pl])) std::swap(*pm, *pl);
  if (less(v[*pr], v[*pm])) std::swap(*pr, *pm);
  if (less(v[*pm], v[*pl])) std::swap(*pm, *pl);
  const float vp = v[*pm];
  int64_t* pi = pl;
  int64_t* pj = pr - 1;
  std::swap(*pm, *pj);
  for (;;) {
    do ++pi;
    while (less(v[*pi], vp));
    do --pj;
    while (less(vp, v[*pj]));
    if (pi >= pj) break;
    std::swap(*pi, *pj);
  }
  std::swap(*pi, *(pr - 1));
  return pi;
}

void insertion_sort(const float* v, int64_t* pl, int64_t* pr) {
  for (int64_t* pi = pl + 1; pi <= pr; ++pi) {
    const int64_t vi = *pi;
    const float vp = v[vi];
    int64_t* pj = pi;
    int64_t* pk = pi - 1;
    while (pj > pl && less(vp, v[*pk])) *pj-- = *pk--;
    *pj = vi;
  }
}

/// Inclusive value bounds of a range, in numpy's order (NaN greatest).
struct Bounds {
  float lo, hi;
  bool unbounded_lo, unbounded_hi;
};

bool contains_focus(const Bounds& b, const std::vector<float>& focus) {
  if (focus.empty()) return true;  // plain argsort: every range matters
  for (float f : focus) {
    const bool above_lo = b.unbounded_lo || !less(f, b.lo);
    const bool below_hi = b.unbounded_hi || !less(b.hi, f);
    if (above_lo && below_hi) return true;
  }
  return false;
}

/// numpy's introsort loop. Ranges whose value bounds exclude every focus
/// value are left unsorted: partitioning is exact, so every other range ends
/// up exactly where numpy puts it.
void introsort(const float* v, int64_t n, std::vector<int64_t>& order, const std::vector<float>& focus) {
  order.resize(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t{0});
  if (n < 2) return;
  int64_t* pl = order.data();
  int64_t* pr = pl + n - 1;
  int64_t* stack[kStackSize];
  Bounds bounds_stack[kStackSize];
  int64_t** sptr = stack;
  Bounds* bptr = bounds_stack;
  int depth[kStackSize];
  int* psdepth = depth;
  int cdepth = most_significant_bit(static_cast<uint64_t>(n)) * 2;
  Bounds bounds{0, 0, true, true};
  for (;;) {
    if (!contains_focus(bounds, focus)) {
      // skipped: numpy sorts this range, but nothing in it can be a focus value
    } else if (cdepth < 0) {
      heapsort(v, pl, pr - pl + 1);
    } else {
      while ((pr - pl) > kSmallQuicksort) {
        int64_t* pi = partition(v, pl, pr);
        const float pivot = v[*pi];
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
      if (contains_focus(bounds, focus)) insertion_sort(v, pl, pr);
    }
    if (sptr == stack) break;
    pr = *(--sptr);
    pl = *(--sptr);
    bounds = *(--bptr);
    cdepth = *(--psdepth);
  }
}

}  // namespace

void argsort(const float* v, int64_t n, std::vector<int64_t>& order) {
  introsort(v, n, order, {});
}

void argsort_focused(const float* v, int64_t n, const std::vector<float>& focus,
                     std::vector<int64_t>& order) {
  if (focus.empty()) {
    order.resize(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), int64_t{0});
    return;
  }
  introsort(v, n, order, focus);
}

}  // namespace qme::numpy

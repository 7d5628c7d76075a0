#include "qme/core/numpy_sort.hpp"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <numeric>
#include <stdexcept>
#include <unordered_map>
#include <utility>
#include <vector>

#include "qme/core/prefault.hpp"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define QME_X86_DISPATCH 1
#endif

namespace qme::numpy {

namespace {

constexpr int64_t kSmallQuicksort = 15;
constexpr int kStackSize = 128;

// The sort runs on packed elements (key << 32 | index): the comparisons numpy makes on the
// float values are made on 32-bit keys with the same order, and moving an element moves its
// index with it, so the result is numpy's without an indirection per comparison.
using Packed = uint64_t;

/// Monotone float -> uint32 in numpy's order: -0 == +0, NaN after every number, NaNs equal.
/// Branch-free, so that loops over a row vectorise.
inline uint32_t ascending_key(float v) {
  const float canonical = v + 0.0f;
  uint32_t bits;
  std::memcpy(&bits, &canonical, sizeof bits);
  const uint32_t flip = static_cast<uint32_t>(static_cast<int32_t>(bits) >> 31) | 0x80000000u;
  const uint32_t nan = 0u - static_cast<uint32_t>(v != v);
  return (bits ^ flip) | nan;
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

/// The stop bits of keys [begin, end) of one 64-bit word, from bit `begin % 64` on.
inline void scalar_stops(const Packed* pl, uint32_t begin, uint32_t end, uint32_t vp, uint64_t& below,
                         uint64_t& above) {
  for (uint32_t i = begin; i < end; ++i) {
    below |= static_cast<uint64_t>(key(pl[i]) < vp) << (i % 64);
    above |= static_cast<uint64_t>(key(pl[i]) > vp) << (i % 64);
  }
}

inline uint64_t valid_bits(uint32_t begin, uint32_t end) {
  return end - begin == 64 ? ~uint64_t{0} : (uint64_t{1} << (end - begin)) - 1;
}

PartitionKernel best_partition_kernel() {
#ifdef QME_X86_DISPATCH
  if (__builtin_cpu_supports("avx512f")) return PartitionKernel::kAvx512;
  if (__builtin_cpu_supports("avx2")) return PartitionKernel::kAvx2;
#endif
  return PartitionKernel::kPortable;
}

/// Bit i of ge[i / 64] (le[i / 64]) is set when key(pl[i]) >= vp (<= vp), for i in [0, count);
/// the bits past count are clear. Portable version.
void stop_masks_generic(const Packed* pl, uint32_t count, uint32_t vp, uint64_t* ge, uint64_t* le) {
  for (uint32_t begin = 0; begin < count; begin += 64) {
    const uint32_t end = std::min(count, begin + 64);
    uint64_t below = 0, above = 0;
    scalar_stops(pl, begin, end, vp, below, above);
    ge[begin / 64] = ~below & valid_bits(begin, end);
    le[begin / 64] = ~above & valid_bits(begin, end);
  }
}

#ifdef QME_X86_DISPATCH
/// The same with AVX2: four packed elements per compare, on the whole 64-bit element (key(p) < vp
/// <=> p < vp << 32; key(p) > vp <=> p > (vp << 32 | 0xffffffff)), signed compares on values with
/// the sign bit flipped.
__attribute__((target("avx2"))) void stop_masks_avx2(const Packed* pl, uint32_t count, uint32_t vp,
                                                     uint64_t* ge, uint64_t* le) {
  const __m256i bias = _mm256_set1_epi64x(static_cast<long long>(uint64_t{1} << 63));
  const __m256i low = _mm256_xor_si256(_mm256_set1_epi64x(static_cast<long long>(uint64_t{vp} << 32)), bias);
  const __m256i high =
      _mm256_xor_si256(_mm256_set1_epi64x(static_cast<long long>(uint64_t{vp} << 32 | 0xffffffffu)), bias);
  for (uint32_t begin = 0; begin < count; begin += 64) {
    const uint32_t end = std::min(count, begin + 64);
    uint64_t below = 0, above = 0;
    uint32_t i = begin;
    for (; i + 4 <= end; i += 4) {
      const __m256i p = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(pl + i)), bias);
      const auto lt =
          static_cast<uint64_t>(_mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpgt_epi64(low, p))));
      const auto gt =
          static_cast<uint64_t>(_mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpgt_epi64(p, high))));
      below |= lt << (i % 64);
      above |= gt << (i % 64);
    }
    scalar_stops(pl, i, end, vp, below, above);
    ge[begin / 64] = ~below & valid_bits(begin, end);
    le[begin / 64] = ~above & valid_bits(begin, end);
  }
}
#endif

/// The partition kernel the CPU allows, or the one tests ask for (detail::use_partition_kernel).
PartitionKernel& kernel_in_use() {
  static PartitionKernel kernel = best_partition_kernel();
  return kernel;
}

void stop_masks(const Packed* pl, uint32_t count, uint32_t vp, uint64_t* ge, uint64_t* le) {
#ifdef QME_X86_DISPATCH
  if (kernel_in_use() == PartitionKernel::kAvx2) return stop_masks_avx2(pl, count, vp, ge, le);
#endif
  stop_masks_generic(pl, count, vp, ge, le);
}

/// Set bits of a bit array in ascending (Up) or descending order.
class BitScan {
 public:
  BitScan(const uint64_t* words, uint32_t first_word, uint64_t first_bits)
      : words_(words), word_(first_word), bits_(first_bits) {}
  uint32_t next_up() {
    while (bits_ == 0) bits_ = words_[++word_];
    const auto bit = static_cast<uint32_t>(__builtin_ctzll(bits_));
    bits_ &= bits_ - 1;
    return word_ * 64 + bit;
  }
  uint32_t next_down() {
    while (bits_ == 0) bits_ = words_[--word_];
    const auto bit = static_cast<uint32_t>(63 - __builtin_clzll(bits_));
    bits_ &= ~(uint64_t{1} << bit);
    return word_ * 64 + bit;
  }

 private:
  const uint64_t* words_;
  uint32_t word_;
  uint64_t bits_;
};

#ifdef QME_X86_DISPATCH
/// The stops of a partition of offsets 0..last (pivot key vp at last - 1) in one pass, sixteen
/// elements at a time: `lefts` receives the offsets the left scan stops at (1..last-1: key >=
/// vp), `rights` those the right scan stops at (0..last-2: key <= vp), both ascending. Each
/// list has room for 16 more than it receives. Returns the number of right stops.
__attribute__((target("avx512f,popcnt"))) uint32_t list_stops_avx512(const Packed* pl, uint32_t last,
                                                                     uint32_t vp, uint32_t* lefts,
                                                                     uint32_t* rights) {
  const __m512i low = _mm512_set1_epi64(static_cast<long long>(uint64_t{vp} << 32));
  const __m512i high = _mm512_set1_epi64(static_cast<long long>(uint64_t{vp} << 32 | 0xffffffffu));
  const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  uint32_t num_left = 0, num_right = 0;
  for (uint32_t c = 0; c < last; c += 16) {
    const uint32_t rest = last - c;
    const auto valid = static_cast<__mmask16>(rest >= 16 ? 0xffffu : (1u << rest) - 1);
    const __m512i a = _mm512_maskz_loadu_epi64(static_cast<__mmask8>(valid), pl + c);
    const __m512i b = _mm512_maskz_loadu_epi64(static_cast<__mmask8>(valid >> 8), pl + c + 8);
    const auto below = static_cast<__mmask16>(_mm512_cmplt_epu64_mask(a, low) |
                                              (static_cast<uint32_t>(_mm512_cmplt_epu64_mask(b, low)) << 8));
    const auto above = static_cast<__mmask16>(_mm512_cmpgt_epu64_mask(a, high) |
                                              (static_cast<uint32_t>(_mm512_cmpgt_epu64_mask(b, high)) << 8));
    const auto ge = static_cast<__mmask16>(~below & valid), le = static_cast<__mmask16>(~above & valid);
    const __m512i offsets = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(c)), lanes);
    _mm512_storeu_si512(lefts + num_left, _mm512_maskz_compress_epi32(ge, offsets));
    _mm512_storeu_si512(rights + num_right, _mm512_maskz_compress_epi32(le, offsets));
    num_left += static_cast<uint32_t>(__builtin_popcount(ge));
    num_right += static_cast<uint32_t>(__builtin_popcount(le));
  }
  return num_right;
}

/// The partition's swaps from the stop lists: the scans swap the k-th left stop with the k-th
/// right stop (counted from the top) while the two have not crossed, a loop without a data
/// dependent branch but its end. Returns where the left scan stopped for good.
uint32_t swap_listed_stops(Packed* pl, uint32_t last, uint32_t vp) {
  thread_local std::vector<uint32_t> lefts, rights;
  if (lefts.size() < last + 16) {  // grown only: every partition of a row is smaller than the first
    resize_prefaulted(lefts, last + 16);
    resize_prefaulted(rights, last + 16);
  }
  uint32_t num_right = list_stops_avx512(pl, last, vp, lefts.data(), rights.data());
  // Offset 0 is no left stop (the scan starts at 1), the pivot's no right stop.
  const uint32_t* left = lefts.data() + (lefts[0] == 0 ? 1 : 0);
  if (rights[num_right - 1] == last - 1) --num_right;
  // The pivot's offset is a left stop past every right stop, offset 0 a right stop before
  // every left stop: the scans cross at the latest at the last of the shorter list.
  const uint32_t* top = rights.data() + num_right - 1;
  auto right = [top](uint32_t k) { return top[-static_cast<int64_t>(k)]; };  // the k-th from the top
  uint32_t k = 0;
  for (; left[k] < right(k); ++k) std::swap(pl[left[k]], pl[right(k)]);
  // The left scan's next stop, or the last right stop swapped (it now holds an element >= the
  // pivot), whichever comes first.
  return k == 0 ? left[0] : std::min(left[k], right(k - 1));
}
#endif

/// The partition's swaps one by one from the stops' bit masks (`left`: offsets 1..top + 1,
/// `right`: top..0), as numpy's scans meet them; returns where the left scan stopped for good.
uint32_t swap_masked_stops(Packed* pl, const uint64_t* left, const uint64_t* right, uint32_t top) {
  BitScan lefts(left, 0, left[0]);
  BitScan rights(right, top / 64, right[top / 64]);
  uint32_t l = lefts.next_up(), r = rights.next_down();
  bool swapped = false;
  uint32_t last_right = 0;  // the last right stop swapped: it now holds an element >= pivot
  while (l < r) {
    std::swap(pl[l], pl[r]);
    swapped = true;
    last_right = r;
    l = lefts.next_up();
    r = rights.next_down();
  }
  // Where the left scan stopped for good: its next stop, or the last right stop it swapped,
  // whichever comes first.
  return swapped && l > last_right ? last_right : l;
}

/// Partitions offsets 0..last around the pivot key vp (at last - 1) with numpy's swaps; returns
/// where the left scan stopped for good. With AVX-512 the stops are listed sixteen elements at a
/// time, elsewhere found as bits of two masks (four compares at a time with AVX2).
uint32_t swap_stops(Packed* pl, uint32_t last, uint32_t vp) {
#ifdef QME_X86_DISPATCH
  if (kernel_in_use() == PartitionKernel::kAvx512) return swap_listed_stops(pl, last, vp);
#endif
  thread_local std::vector<uint64_t> ge, le;
  const uint32_t words = (last + 63) / 64;
  resize_prefaulted(ge, words);
  resize_prefaulted(le, words);
  stop_masks(pl, last, vp, ge.data(), le.data());
  // Left stops among offsets 1..last-1 (the pivot stops the scan at last - 1 at the latest),
  // right stops among last-2..0 (pl holds an element <= pivot), both in scan order.
  const uint32_t top = last - 2;  // the right scan's first offset
  ge[0] &= ~uint64_t{1};
  le[top / 64] &= top % 64 == 63 ? ~uint64_t{0} : (uint64_t{2} << (top % 64)) - 1;
  for (uint32_t w = top / 64 + 1; w < words; ++w) le[w] = 0;
  return swap_masked_stops(pl, ge.data(), le.data(), top);
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
  const uint32_t stop = swap_stops(pl, last, vp);
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

bool is_focus(uint32_t k, const std::vector<uint32_t>& focus) {
  return std::find(focus.begin(), focus.end(), k) != focus.end();
}

/// Inclusive ranges of the sorted array that hold every focus value once introsort is done.
using SettledRanges = std::vector<std::pair<int64_t, int64_t>>;

/// numpy's introsort loop. Ranges whose value bounds exclude every focus
/// value are left unsorted: partitioning is exact, so every other range ends
/// up exactly where numpy puts it. `settled`, when given, receives the ranges
/// sorted to the end that hold focus values (leaves and pivots).
void introsort(Packed* order, int64_t n, const std::vector<uint32_t>& focus,
               SettledRanges* settled = nullptr) {
  if (settled && n == 1) settled->emplace_back(0, 0);
  if (n < 2) return;
  auto settle = [&](const Packed* a, const Packed* b) {
    if (settled) settled->emplace_back(a - order, b - order);
  };
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
      settle(pl, pr);
    } else {
      while ((pr - pl) > kSmallQuicksort) {
        Packed* pi = partition(pl, pr);
        const uint32_t pivot = key(*pi);
        if (is_focus(pivot, focus)) settle(pi, pi);
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
      if (contains_focus(bounds, focus)) {
        insertion_sort(pl, pr);
        settle(pl, pr);
      }
    }
    if (sptr == stack) break;
    pr = *(--sptr);
    pl = *(--sptr);
    bounds = *(--bptr);
    cdepth = *(--psdepth);
  }
}

/// numpy's order of n equal values depends on n alone: computed once per n and thread (rows
/// of a face model for probes without a face are all 0), with each element's place in it.
struct EqualValuesOrder {
  std::vector<int64_t> order, position;
};

const EqualValuesOrder& equal_values_order(int64_t n) {
  thread_local std::unordered_map<int64_t, EqualValuesOrder> cache;
  auto& cached = cache[n];
  if (cached.order.empty() && n > 0) {
    std::vector<Packed> packed(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) packed[static_cast<size_t>(i)] = static_cast<Packed>(i);
    introsort(packed.data(), n, {});
    cached.order.resize(static_cast<size_t>(n));
    cached.position.resize(static_cast<size_t>(n));
    for (int64_t t = 0; t < n; ++t) {
      const auto i = static_cast<int64_t>(packed[static_cast<size_t>(t)] & 0xffffffffu);
      cached.order[static_cast<size_t>(t)] = i;
      cached.position[static_cast<size_t>(i)] = t;
    }
  }
  return cached;
}

/// ascending_key of v with its sign bit xor `sign` (0x80000000: of -v, NaN staying NaN).
inline uint32_t sort_key(float v, uint32_t sign) {
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  bits ^= sign;
  float x;
  std::memcpy(&x, &bits, sizeof x);
  return ascending_key(x);
}

inline uint32_t sign_mask(bool negated) {
  return negated ? 0x80000000u : 0u;
}

/// packed = (key << 32 | index) of v, or of -v when `negated`; false when every key is equal.
/// Branch-free, so that the compiler vectorises it: it runs over every row with a tie.
bool pack(const float* __restrict v, int64_t n, bool negated, std::vector<Packed>& out) {
  resize_prefaulted(out, static_cast<size_t>(n));
  Packed* __restrict packed = out.data();
  const uint32_t sign = sign_mask(negated);
  const uint32_t first = sort_key(v[0], sign);
  uint32_t differ = 0;
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t k = sort_key(v[i], sign);
    differ |= k ^ first;
    packed[i] = (Packed{k} << 32) | static_cast<uint32_t>(i);
  }
  return differ != 0;
}

void sort_into(const float* v, int64_t n, const std::vector<uint32_t>& focus, std::vector<int64_t>& order) {
  order.resize(static_cast<size_t>(n));
  if (n == 0) return;
  thread_local std::vector<Packed> packed;
  if (!pack(v, n, false, packed)) {
    order = equal_values_order(n).order;
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

void argsort_positions(const float* v, int64_t n, bool negated, const std::vector<int64_t>& elements,
                       std::vector<int64_t>& positions) {
  positions.assign(elements.size(), -1);
  if (elements.empty()) return;
  std::vector<uint32_t> focus;
  for (auto e : elements) {
    if (e < 0 || e >= n) throw std::out_of_range("argsort_positions: element index out of range");
    focus.push_back(sort_key(v[e], sign_mask(negated)));
  }
  thread_local std::vector<Packed> packed;
  if (!pack(v, n, negated, packed)) {
    const auto& position = equal_values_order(n).position;
    for (size_t k = 0; k < elements.size(); ++k) positions[k] = position[static_cast<size_t>(elements[k])];
    return;
  }
  thread_local SettledRanges settled;
  settled.clear();
  introsort(packed.data(), n, focus, &settled);
  // Only the settled ranges can hold a focus value: look for the elements there alone.
  for (const auto& [first, last] : settled) {
    for (int64_t t = first; t <= last; ++t) {
      const Packed p = packed[static_cast<size_t>(t)];
      if (!is_focus(key(p), focus)) continue;
      const auto index = static_cast<int64_t>(p & 0xffffffffu);
      for (size_t k = 0; k < elements.size(); ++k) {
        if (elements[k] == index) positions[k] = t;
      }
    }
  }
}

namespace detail {

bool use_partition_kernel(PartitionKernel kernel) {
  const bool available =
      kernel == PartitionKernel::kPortable ||
      (kernel == PartitionKernel::kAvx2 && best_partition_kernel() != PartitionKernel::kPortable) ||
      (kernel == PartitionKernel::kAvx512 && best_partition_kernel() == PartitionKernel::kAvx512);
  if (available) kernel_in_use() = kernel;
  return available;
}

void use_best_partition_kernel() {
  kernel_in_use() = best_partition_kernel();
}

}  // namespace detail

}  // namespace qme::numpy

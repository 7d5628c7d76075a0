// numpy 1.24's default argsort (introsort). Long-row expectations come from a
// line-by-line Python transcription of numpy's aquicksort_ (npysort/
// quicksort.cpp), independent of qme's C++ one.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "qme/core/numpy_sort.hpp"
#include "support/test_support.hpp"

namespace {

using qme::test::kNaN;

/// numpy's float order: NaN after every number, NaNs equal.
bool numpy_less(float a, float b) {
  return a < b || (std::isnan(b) && !std::isnan(a));
}

std::vector<int64_t> argsort(const std::vector<float>& v) {
  std::vector<int64_t> order;
  qme::numpy::argsort(v.data(), static_cast<int64_t>(v.size()), order);
  return order;
}

std::vector<int64_t> stable_argsort(const std::vector<float>& v) {
  std::vector<int64_t> order(v.size());
  std::iota(order.begin(), order.end(), int64_t{0});
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return numpy_less(v[a], v[b]); });
  return order;
}

std::vector<float> random_ties(std::mt19937& gen, size_t n, int levels, double nan_share) {
  std::uniform_int_distribution<int> level(0, levels - 1);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<float> v(n);
  for (auto& x : v) x = u(gen) < nan_share ? kNaN : static_cast<float>(level(gen)) * 0.25f - 1.0f;
  return v;
}

}  // namespace

TEST_CASE("argsort of up to 16 elements is a stable insertion sort", "[core]") {
  std::mt19937 gen(11);
  for (size_t n = 0; n <= 16; ++n) {
    for (int trial = 0; trial < 50; ++trial) {
      const auto v = random_ties(gen, n, 3, 0.1);
      INFO("n " << n << " trial " << trial);
      REQUIRE(argsort(v) == stable_argsort(v));
    }
  }
}

TEST_CASE("argsort of 17 equal values is not index order", "[core]") {
  // np.argsort(np.zeros(17, np.float32)): one median-of-3 partition, then
  // insertion sorts.
  const std::vector<float> v(17, 0.0f);
  CHECK(argsort(v) == std::vector<int64_t>{0, 14, 13, 12, 11, 10, 9, 15, 8, 6, 5, 4, 3, 2, 1, 7, 16});
}

TEST_CASE("argsort of a tied 40-element row matches numpy's introsort", "[core]") {
  // v[i] = (7 i) mod 5
  std::vector<float> v(40);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>((7 * i) % 5);
  CHECK(argsort(v) == std::vector<int64_t>{0,  20, 15, 30, 10, 25, 35, 5,  23, 8,  33, 28, 13, 3,
                                           38, 18, 6,  21, 1,  36, 16, 26, 11, 31, 34, 29, 19, 14,
                                           9,  4,  24, 39, 27, 22, 17, 12, 32, 7,  2,  37});
}

TEST_CASE("argsort falls back to numpy's heapsort past the depth limit", "[core]") {
  // A McIlroy "killer adversary" input for numpy's median-of-3 quicksort
  // (n = 100, values halved to create ties): the introsort depth limit
  // 2 * floor(log2 100) = 12 is exceeded and numpy heapsorts the rest, which
  // orders ties differently from both insertion sort and a stable sort.
  const std::vector<float> v = {
      0,  37, 1,  37, 2,  36, 3,  36, 4,  35, 5,  35, 6,  34, 7,  34, 8,  33, 9,  33, 10, 32, 11, 32, 12,
      13, 49, 48, 49, 48, 47, 47, 46, 46, 45, 45, 44, 44, 43, 43, 42, 42, 41, 41, 40, 40, 39, 39, 38, 0,
      1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 31, 31, 30, 30, 29, 29, 28, 28, 27, 27, 26, 26, 25,
      25, 24, 24, 23, 23, 22, 22, 21, 21, 20, 20, 19, 19, 18, 18, 17, 17, 16, 16, 15, 15, 14, 14, 38, 13};
  CHECK(argsort(v) == std::vector<int64_t>{0,  49, 2,  50, 4,  51, 6,  52, 8,  53, 10, 54, 12, 55, 14, 56, 16,
                                           57, 18, 58, 20, 59, 22, 60, 24, 61, 99, 25, 96, 97, 95, 94, 92, 93,
                                           90, 91, 88, 89, 86, 87, 85, 84, 83, 82, 81, 80, 79, 78, 77, 76, 75,
                                           74, 72, 73, 71, 70, 69, 68, 67, 66, 65, 64, 63, 62, 23, 21, 19, 17,
                                           13, 15, 11, 9,  7,  5,  3,  1,  98, 48, 47, 46, 45, 44, 43, 42, 40,
                                           41, 39, 38, 37, 36, 35, 34, 32, 33, 31, 30, 29, 27, 28, 26});
  CHECK(argsort(v) != stable_argsort(v));
}

TEST_CASE("argsort puts NaN last in numpy's order", "[core]") {
  // w[i] = (3 i) mod 4, NaN at 5, 11, 17.
  std::vector<float> w(24);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>((3 * i) % 4);
  w[5] = w[11] = w[17] = kNaN;
  CHECK(argsort(w) == std::vector<int64_t>{0,  20, 16, 4,  12, 8, 19, 15, 23, 3, 7,  10,
                                           22, 6,  14, 18, 2,  9, 13, 1,  21, 5, 17, 11});
}

TEST_CASE("argsort of 1000 tied values with NaN sorts by value, NaN last", "[core]") {
  std::mt19937 gen(5);
  const auto v = random_ties(gen, 1000, 9, 0.05);
  const auto order = argsort(v);
  REQUIRE(order.size() == v.size());
  auto sorted = order;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> identity(v.size());
  std::iota(identity.begin(), identity.end(), int64_t{0});
  CHECK(sorted == identity);  // a permutation
  for (size_t i = 1; i < order.size(); ++i) {
    INFO("position " << i);
    REQUIRE_FALSE(numpy_less(v[order[i]], v[order[i - 1]]));
  }
  CHECK(std::isnan(v[order.back()]));
}

TEST_CASE("argsort of a row of all NaN or one element is well defined", "[core]") {
  CHECK(argsort({}).empty());
  CHECK(argsort({3.0f}) == std::vector<int64_t>{0});
  const std::vector<float> nans(5, kNaN);
  CHECK(argsort(nans) == std::vector<int64_t>{0, 1, 2, 3, 4});
}

TEST_CASE("argsort_focused places focus values exactly where argsort does", "[core]") {
  std::mt19937 gen(23);
  for (size_t n : {size_t{10}, size_t{17}, size_t{100}, size_t{2000}}) {
    for (int trial = 0; trial < 20; ++trial) {
      const auto v = random_ties(gen, n, 12, 0.02);
      const auto full = argsort(v);
      std::vector<float> focus = {v[gen() % n]};
      if (trial % 2) focus.push_back(v[gen() % n]);
      std::vector<int64_t> focused;
      qme::numpy::argsort_focused(v.data(), static_cast<int64_t>(n), focus, focused);
      REQUIRE(focused.size() == n);
      for (size_t t = 0; t < n; ++t) {
        const float value = v[full[t]];
        const bool is_focus = std::any_of(focus.begin(), focus.end(), [&](float f) {
          return f == value || (std::isnan(f) && std::isnan(value));
        });
        if (!is_focus) continue;
        INFO("n " << n << " trial " << trial << " position " << t);
        REQUIRE(focused[t] == full[t]);
      }
    }
  }
}

namespace {

/// numpy 1.24's aquicksort_ for float32, transcribed loop for loop with its data-dependent
/// scans (the reference for qme's branch-free partition); NaN sorts last.
std::vector<int64_t> reference_argsort(const std::vector<float>& v) {
  const auto lt = [&](int64_t a, int64_t b) { return numpy_less(v[a], v[b]); };
  const auto n = static_cast<int64_t>(v.size());
  std::vector<int64_t> order(v.size());
  std::iota(order.begin(), order.end(), int64_t{0});
  if (n < 2) return order;
  int64_t* pl = order.data();
  int64_t* pr = pl + n - 1;
  std::vector<int64_t*> stack;
  std::vector<int> depths;
  int cdepth = 0;
  for (auto m = static_cast<uint64_t>(n); m >>= 1;) cdepth += 2;
  for (;;) {
    if (cdepth < 0) {
      // heapsort fallback: std::sort_heap is not numpy's; the cases below stay within depth
      FAIL("the reference does not transcribe numpy's heapsort");
    }
    while (pr - pl > 15) {
      int64_t* pm = pl + ((pr - pl) >> 1);
      if (lt(*pm, *pl)) std::swap(*pm, *pl);
      if (lt(*pr, *pm)) std::swap(*pr, *pm);
      if (lt(*pm, *pl)) std::swap(*pm, *pl);
      const int64_t vp = *pm;
      int64_t* pi = pl;
      int64_t* pj = pr - 1;
      std::swap(*pm, *pj);
      for (;;) {
        do ++pi;
        while (lt(*pi, vp));
        do --pj;
        while (lt(vp, *pj));
        if (pi >= pj) break;
        std::swap(*pi, *pj);
      }
      int64_t* pk = pr - 1;
      std::swap(*pi, *pk);
      if (pi - pl < pr - pi) {
        stack.push_back(pi + 1);
        stack.push_back(pr);
        pr = pi - 1;
      } else {
        stack.push_back(pl);
        stack.push_back(pi - 1);
        pl = pi + 1;
      }
      depths.push_back(--cdepth);
    }
    for (int64_t* pi = pl + 1; pi <= pr; ++pi) {
      const int64_t vi = *pi;
      int64_t* pj = pi;
      int64_t* pk = pi - 1;
      while (pj > pl && lt(vi, *pk)) *pj-- = *pk--;
      *pj = vi;
    }
    if (stack.empty()) break;
    pr = stack.back();
    stack.pop_back();
    pl = stack.back();
    stack.pop_back();
    cdepth = depths.back();
    depths.pop_back();
  }
  return order;
}

}  // namespace

TEST_CASE("argsort matches numpy's loop, transcribed, on rows of every tie density", "[core]") {
  // From all-distinct rows to a handful of values, with NaN, at row lengths around the
  // insertion-sort cut-off and up to a gallery's size; with every partition kernel this CPU has.
  using qme::numpy::PartitionKernel;
  for (auto kernel : {PartitionKernel::kAvx512, PartitionKernel::kAvx2, PartitionKernel::kPortable}) {
    if (!qme::numpy::detail::use_partition_kernel(kernel)) continue;  // not on this CPU
    std::mt19937 gen(61);
    for (size_t n :
         {size_t{16}, size_t{17}, size_t{18}, size_t{33}, size_t{250}, size_t{1001}, size_t{7050}}) {
      for (int levels : {2, 7, 100, 5000, 1 << 20}) {
        for (double nan_share : {0.0, 0.03}) {
          const auto v = random_ties(gen, n, levels, nan_share);
          INFO("kernel " << static_cast<int>(kernel) << " n " << n << " levels " << levels << " nan "
                         << nan_share);
          CHECK(argsort(v) == reference_argsort(v));
        }
      }
    }
  }
  qme::numpy::detail::use_best_partition_kernel();
  CHECK(qme::numpy::detail::use_partition_kernel(PartitionKernel::kPortable));  // every CPU has it
  qme::numpy::detail::use_best_partition_kernel();
}

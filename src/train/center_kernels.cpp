#include "center_kernels.hpp"

#include "qme/core/target_clones.hpp"

namespace qme::train::kernels {

namespace {

constexpr int kLanes = 16;
// 16 floats as one value (GCC's vector extension): one zmm register in the AVX-512 build, two
// ymm or four xmm in the others. Unaligned loads.
typedef float Vec __attribute__((vector_size(kLanes * sizeof(float)), aligned(4)));

/// R probe rows against every center: R vector accumulators stay in registers while the center
/// row streams through once.
template <int R>
__attribute__((always_inline)) inline void block(const float* a, const float* b, int64_t cols, int64_t dim,
                                                 float* out, int64_t out_stride) {
  for (int64_t j = 0; j < cols; ++j) {
    const float* bj = b + j * dim;
    Vec acc[R];
    for (int i = 0; i < R; ++i) acc[i] = Vec{};
    int64_t k = 0;
    for (; k + kLanes <= dim; k += kLanes) {
      const Vec x = *reinterpret_cast<const Vec*>(bj + k);
      for (int i = 0; i < R; ++i) acc[i] += *reinterpret_cast<const Vec*>(a + i * dim + k) * x;
    }
    for (int i = 0; i < R; ++i) {
      float sum = 0.0f;
      for (int l = 0; l < kLanes; ++l) sum += acc[i][l];
      for (int64_t t = k; t < dim; ++t) sum += a[i * dim + t] * bj[t];
      out[i * out_stride + j] = sum;
    }
  }
}

}  // namespace

QME_TARGET_CLONES("avx512f", "arch=haswell", "default")
void dot_products(const float* a, int64_t rows, const float* b, int64_t cols, int64_t dim, float* out,
                  int64_t out_stride) {
  int64_t i = 0;
  for (; i + 8 <= rows; i += 8) block<8>(a + i * dim, b, cols, dim, out + i * out_stride, out_stride);
  switch (rows - i) {
    case 7:
      block<7>(a + i * dim, b, cols, dim, out + i * out_stride, out_stride);
      break;
    case 6:
      block<6>(a + i * dim, b, cols, dim, out + i * out_stride, out_stride);
      break;
    case 5:
      block<5>(a + i * dim, b, cols, dim, out + i * out_stride, out_stride);
      break;
    case 4:
      block<4>(a + i * dim, b, cols, dim, out + i * out_stride, out_stride);
      break;
    case 3:
      block<3>(a + i * dim, b, cols, dim, out + i * out_stride, out_stride);
      break;
    case 2:
      block<2>(a + i * dim, b, cols, dim, out + i * out_stride, out_stride);
      break;
    case 1:
      block<1>(a + i * dim, b, cols, dim, out + i * out_stride, out_stride);
      break;
    default:
      break;
  }
}

}  // namespace qme::train::kernels

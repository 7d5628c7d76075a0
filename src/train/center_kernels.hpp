#pragma once
// Dot products of a few probe rows with many center rows (internal to src/train): the inner
// loop of CenterScorer on the CPU. Torch-free; built for several instruction sets (AVX-512,
// AVX2 + FMA, baseline SSE2) and picked at load time, so one binary runs everywhere and uses
// the widest vectors the machine has. For 8 probes x 300 centers x 4096 values (a training
// step) it streams the centers once at memory speed, as fast as a oneDNN inner product, and
// for BigGait's 16 small per-part products ~3x faster (no per-call packing). LibTorch's own
// CPU products go through the system BLAS (the slow reference one on Debian).
#include <cstdint>

namespace qme::train::kernels {

/// out[i * out_stride + j] = sum_k a[i * dim + k] * b[j * dim + k], for i < rows, j < cols;
/// each sum in float, in 16 interleaved partial sums added at the end.
void dot_products(const float* a, int64_t rows, const float* b, int64_t cols, int64_t dim, float* out,
                  int64_t out_stride);

}  // namespace qme::train::kernels

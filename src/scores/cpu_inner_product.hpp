#pragma once
// The score matrices' CPU products (internal to src/scores), straight through oneDNN, torch-free.
#include <cstdint>

namespace qme::scores::kernels {

/// out (m, n) = a (m, k) times b (n, k) transposed, float32 row-major: oneDNN's inner product
/// with `a` as the source and `b` as the weights, in the layout oneDNN picks for them. That is
/// how LibTorch's mkldnn_linear runs it (qme/kernels/inner_product.hpp), so the products are bit
/// for bit those of qme's LibTorch path, whose oneDNN is the same library.
void times_transposed(const float* a, int64_t m, const float* b, int64_t n, int64_t k, float* out);

/// oneDNN's threads (OpenMP's) for the lifetime of the object; the setting before is restored.
class OneDnnThreads {
 public:
  explicit OneDnnThreads(int wanted);
  ~OneDnnThreads();
  OneDnnThreads(const OneDnnThreads&) = delete;
  OneDnnThreads& operator=(const OneDnnThreads&) = delete;

 private:
  int saved_;
};

}  // namespace qme::scores::kernels

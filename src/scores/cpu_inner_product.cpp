#include "cpu_inner_product.hpp"

#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>

namespace qme::scores::kernels {

namespace {

using dnnl::memory;

const dnnl::engine& cpu_engine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

memory::desc plain(int64_t rows, int64_t cols) {
  return memory::desc({rows, cols}, memory::data_type::f32, memory::format_tag::ab);
}

}  // namespace

void times_transposed(const float* a, int64_t m, const float* b, int64_t n, int64_t k, float* out) {
  const auto& engine = cpu_engine();
  dnnl::stream stream(engine);
  // The weights in the layout oneDNN prefers (format "any"), reordered from the plain rows.
  const memory::desc weights_any({n, k}, memory::data_type::f32, memory::format_tag::any);
  const dnnl::inner_product_forward::primitive_desc pd(
      dnnl::inner_product_forward::desc(dnnl::prop_kind::forward, plain(m, k), weights_any, plain(m, n)),
      engine);
  memory source(plain(m, k), engine, const_cast<float*>(a));
  memory weights_plain(plain(n, k), engine, const_cast<float*>(b));
  memory weights = weights_plain;
  if (pd.weights_desc() != weights_plain.get_desc()) {
    weights = memory(pd.weights_desc(), engine);
    dnnl::reorder(weights_plain, weights).execute(stream, weights_plain, weights);
  }
  memory destination(plain(m, n), engine, out);
  dnnl::inner_product_forward(pd).execute(
      stream, {{DNNL_ARG_SRC, source}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, destination}});
  stream.wait();
}

OneDnnThreads::OneDnnThreads(int wanted) : saved_(omp_get_max_threads()) {
  if (wanted > 0 && wanted != saved_) omp_set_num_threads(wanted);
}

OneDnnThreads::~OneDnnThreads() {
  if (omp_get_max_threads() != saved_) omp_set_num_threads(saved_);
}

}  // namespace qme::scores::kernels

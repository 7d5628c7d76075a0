#include "qme/core/prefault.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>

namespace qme {

namespace {

#ifndef MADV_POPULATE_WRITE
constexpr int kPopulateWrite = 23;  // Linux 5.14's value; older kernels answer EINVAL
#else
constexpr int kPopulateWrite = MADV_POPULATE_WRITE;
#endif

constexpr size_t kMinBytes = size_t{1} << 20;

}  // namespace

void prefault(void* data, size_t bytes) {
  if (data == nullptr || bytes < kMinBytes) return;
  static const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto begin = (reinterpret_cast<uintptr_t>(data) + page - 1) & ~(page - 1);
  const auto end = (reinterpret_cast<uintptr_t>(data) + bytes) & ~(page - 1);
  if (end <= begin) return;
  // Failure (an old kernel, a range the kernel will not populate) leaves the pages to fault
  // one by one, as without the call.
  (void)::madvise(reinterpret_cast<void*>(begin), end - begin, kPopulateWrite);
}

}  // namespace qme

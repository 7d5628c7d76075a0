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

constexpr size_t kMinBytes = size_t{8} << 10;        // holds a whole page, whatever its alignment
constexpr uintptr_t kHugePage = uintptr_t{2} << 20;  // x86-64's and arm64's (4 KiB base pages)

// Where transparent huge pages are given on request (/sys/kernel/mm/transparent_hugepage/enabled
// = madvise, Debian's default), the 2 MiB-aligned part of the range asks for them: one fault
// and one zeroing per 2 MiB instead of 512 faults. Elsewhere (always, never) the call changes
// nothing or fails, harmlessly.
void advise_huge_pages(uintptr_t begin, uintptr_t end) {
  const auto huge_begin = (begin + kHugePage - 1) & ~(kHugePage - 1);
  const auto huge_end = end & ~(kHugePage - 1);
  if (huge_end > huge_begin) {
    (void)::madvise(reinterpret_cast<void*>(huge_begin), huge_end - huge_begin, MADV_HUGEPAGE);
  }
}

}  // namespace

void prefault(void* data, size_t bytes) {
  if (data == nullptr || bytes < kMinBytes) return;
  static const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto begin = (reinterpret_cast<uintptr_t>(data) + page - 1) & ~(page - 1);
  const auto end = (reinterpret_cast<uintptr_t>(data) + bytes) & ~(page - 1);
  if (end <= begin) return;
  advise_huge_pages(begin, end);
  // Failure (an old kernel, a range the kernel will not populate) leaves the pages to fault
  // one by one, as without the call.
  (void)::madvise(reinterpret_cast<void*>(begin), end - begin, kPopulateWrite);
}

}  // namespace qme

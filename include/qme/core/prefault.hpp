#pragma once
/// Fresh buffers: first touch in one system call. Each 4 KiB page a process touches for the
/// first time costs a page fault, and on the virtual machines qme runs on that is ~9 us (a 42 MB
/// score-matrix file: ~120 ms of faults against ~7 ms of copying; the first report of a process:
/// ~280 faults, 2.5 ms of its 18). Populating the range in one madvise(MADV_POPULATE_WRITE)
/// call (Linux 5.14+) costs ~2 us plus ~0.35 us a page, and asking for transparent huge pages
/// (MADV_HUGEPAGE) on its 2 MiB-aligned part, where the system gives them on request, leaves
/// one fault per 2 MiB. On pages already there the call costs ~2 us: use it where a buffer grows.
/// A hint only: where the kernel lacks it nothing changes but the speed.
#include <cstddef>
#include <vector>

namespace qme {

/// Populates the whole pages of [data, data + bytes) when the range spans at least two pages.
void prefault(void* data, size_t bytes);

/// v.resize(n), with the new capacity populated first.
template <class T>
void resize_prefaulted(std::vector<T>& v, size_t n) {
  if (v.capacity() < n) {
    v.reserve(n);
    prefault(v.data() + v.size(), (n - v.size()) * sizeof(T));
  }
  v.resize(n);
}

/// v.assign(n, value), with the new capacity populated first.
template <class T>
void assign_prefaulted(std::vector<T>& v, size_t n, const T& value) {
  if (v.capacity() < n) {
    v.clear();
    v.reserve(n);
    prefault(v.data(), n * sizeof(T));
  }
  v.assign(n, value);
}

}  // namespace qme

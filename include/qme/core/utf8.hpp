#pragma once
/// Text widths in characters, not bytes: tables and plot labels hold "±" and "μ" (UTF-8).
#include <algorithm>
#include <cstddef>
#include <string_view>

namespace qme {

/// Whether byte `c` begins a code point (continuation bytes are 10xxxxxx).
inline bool utf8_starts_code_point(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
}

/// The code points in UTF-8 `text`.
inline size_t utf8_length(std::string_view text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), utf8_starts_code_point));
}

}  // namespace qme

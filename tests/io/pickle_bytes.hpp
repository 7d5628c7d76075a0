#pragma once
/// Pickle opcodes written by hand, for tests that craft checkpoint streams (valid ones and
/// ones a restricted unpickler must refuse).
#include <cstdint>
#include <string>

namespace qme::test::pickle {

inline std::string proto() {
  return std::string("\x80\x02", 2);
}
/// BINUNICODE: 'X', 4-byte little-endian length, UTF-8 bytes.
inline std::string unicode(const std::string& s) {
  std::string out = "X";
  for (int i = 0; i < 4; ++i) out += static_cast<char>((s.size() >> (8 * i)) & 0xff);
  return out + s;
}
/// GLOBAL: 'c' module '\n' name '\n'.
inline std::string global(const std::string& module, const std::string& name) {
  return "c" + module + "\n" + name + "\n";
}
/// BININT1 (0..255).
inline std::string int1(int v) {
  return std::string("K") + static_cast<char>(v);
}
inline const std::string kTuple1 = "\x85";
inline const std::string kTuple2 = "\x86";
inline const std::string kNewFalse = "\x89";

/// _rebuild_tensor_v2(('storage', torch.FloatStorage, key, 'cpu', numel), offset, size, stride,
/// False, OrderedDict()), with size and stride given as pickled tuples.
inline std::string float_tensor(const std::string& key, int numel, int offset, const std::string& size_tuple,
                                const std::string& stride_tuple) {
  return global("torch._utils", "_rebuild_tensor_v2") + "((" + unicode("storage") +
         global("torch", "FloatStorage") + unicode(key) + unicode("cpu") + int1(numel) + "tQ" + int1(offset) +
         size_tuple + stride_tuple + kNewFalse + global("collections", "OrderedDict") + ")RtR";
}

}  // namespace qme::test::pickle

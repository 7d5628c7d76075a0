// libFuzzer target: the checkpoint reader (zip container, CRCs, record sizes, the restricted
// unpickler, the state-dict conversion). An accepted file must also survive qme's own writer:
// written back and read again, it gives the same state dict. The torch-free reader
// (qme_tables' QME weights) runs on every input too: whatever it reads, read_checkpoint must
// read to the same names, shapes and float32 bits.
#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "fuzz_input.hpp"
#include "qme/io/checkpoint.hpp"
#include "qme/io/plain_checkpoint.hpp"

namespace {

// Bitwise, so that NaN weights compare equal to themselves.
bool same_bytes(const torch::Tensor& a, const torch::Tensor& b) {
  const torch::Tensor ca = a.contiguous(), cb = b.contiguous();
  return ca.nbytes() == cb.nbytes() && std::memcmp(ca.data_ptr(), cb.data_ptr(), ca.nbytes()) == 0;
}

void check_round_trip(const qme::io::Checkpoint& checkpoint) {
  const qme::fuzz::MemoryFile copy(nullptr, 0, "_copy.pth");
  qme::io::write_checkpoint(copy.path(), checkpoint);
  const qme::io::Checkpoint again = qme::io::read_checkpoint(copy.path());
  const auto& before = checkpoint.model_state_dict;
  const auto& after = again.model_state_dict;
  bool same = before.size() == after.size();
  for (size_t i = 0; same && i < before.size(); ++i) {
    same = before[i].key() == after[i].key() && before[i].value().sizes() == after[i].value().sizes() &&
           before[i].value().dtype() == after[i].value().dtype() &&
           same_bytes(before[i].value(), after[i].value());
  }
  if (!same) {
    std::fprintf(stderr, "checkpoint: the state dict changed in a write and read back\n");
    std::abort();
  }
}

[[noreturn]] void differs(const char* what) {
  std::fprintf(stderr, "checkpoint: the torch-free reader %s\n", what);
  std::abort();
}

/// read_plain_state_dict's result (or nothing, when it refused) against read_checkpoint's.
void check_plain_reader(const std::optional<qme::io::PlainStateDict>& plain,
                        const qme::io::Checkpoint* reference) {
  if (!plain) return;  // it may refuse more (deflated records): LibTorch's path reads those
  if (!reference) differs("read a file read_checkpoint refuses");
  const auto& state = reference->model_state_dict;
  if (plain->size() != state.size()) differs("read another number of entries");
  for (size_t i = 0; i < plain->size(); ++i) {
    const auto& [name, tensor] = (*plain)[i];
    const auto& expected = state[i].value();
    if (name != state[i].key() || tensor.sizes != expected.sizes().vec())
      differs("read another name or shape");
    if ((tensor.element == qme::io::StorageElement::kFloat) != (expected.scalar_type() == torch::kFloat)) {
      differs("read another element type");
    }
    if (!tensor.values.empty() && !same_bytes(torch::from_blob(const_cast<float*>(tensor.values.data()),
                                                               expected.sizes(), torch::kFloat),
                                              expected)) {
      differs("read other values");
    }
  }
}

void check_shapes_only(const std::optional<qme::io::PlainStateDict>& shapes,
                       const std::optional<qme::io::PlainStateDict>& plain) {
  if (shapes.has_value() != plain.has_value()) differs("refuses another file when it keeps no values");
  if (!shapes) return;
  if (shapes->size() != plain->size()) differs("read another number of entries when it keeps no values");
  for (size_t i = 0; i < shapes->size(); ++i) {
    const auto& [name, tensor] = (*shapes)[i];
    if (name != (*plain)[i].first || tensor.sizes != (*plain)[i].second.sizes || !tensor.values.empty()) {
      differs("read other entries when it keeps no values");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const qme::fuzz::MemoryFile file(data, size, ".pth");
  std::optional<qme::io::PlainStateDict> plain;
  qme::fuzz::expect_read_or_refusal("checkpoint (torch-free)",
                                    [&] { plain = qme::io::read_plain_state_dict(file.path()); });
  // Wanting no values reads the same names and shapes, or refuses the same file: the records
  // it does not keep are checked all the same.
  std::optional<qme::io::PlainStateDict> shapes;
  qme::fuzz::expect_read_or_refusal("checkpoint (torch-free, shapes)", [&] {
    shapes = qme::io::read_plain_state_dict(file.path(), [](const std::string&) { return false; });
  });
  check_shapes_only(shapes, plain);
  bool read = false;
  qme::fuzz::expect_read_or_refusal("checkpoint", [&] {
    const qme::io::Checkpoint checkpoint = qme::io::read_checkpoint(file.path());
    read = true;
    check_plain_reader(plain, &checkpoint);
    check_round_trip(checkpoint);
  });
  if (!read) check_plain_reader(plain, nullptr);
  return 0;
}

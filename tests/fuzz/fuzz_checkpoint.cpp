// libFuzzer target: the checkpoint reader (zip container, CRCs, record sizes, the restricted
// unpickler, the state-dict conversion). An accepted file must also survive qme's own writer:
// written back and read again, it gives the same state dict.
#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "fuzz_input.hpp"
#include "qme/io/checkpoint.hpp"

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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const qme::fuzz::MemoryFile file(data, size, ".pth");
  qme::fuzz::expect_read_or_refusal("checkpoint", [&] {
    const qme::io::Checkpoint checkpoint = qme::io::read_checkpoint(file.path());
    check_round_trip(checkpoint);
  });
  return 0;
}

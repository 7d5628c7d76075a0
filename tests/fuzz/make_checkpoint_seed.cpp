// Writes a small checkpoint with qme's own writer, for the checkpoint fuzzer's seed corpus
// (make_corpus.sh): the layout qme_main saves (model_state_dict, optimizer state, step).
// Usage: qme_make_checkpoint_seed OUT.pth
#include <torch/torch.h>

#include <cstdio>

#include "qme/io/checkpoint.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT.pth\n", argv[0]);
    return 2;
  }
  torch::manual_seed(0);
  qme::io::Checkpoint checkpoint;
  checkpoint.model_state_dict.insert("mlp.0.weight", torch::randn({4, 3}));
  checkpoint.model_state_dict.insert("mlp.0.bias", torch::randn({4}));
  checkpoint.model_state_dict.insert("bn.num_batches_tracked", torch::tensor(int64_t{5}));
  c10::impl::GenericDict optimizer(c10::StringType::get(), c10::AnyType::get());
  optimizer.insert("lr", 0.001);
  checkpoint.set("optimizer_state_dict", optimizer);
  checkpoint.set("step", int64_t{40});
  qme::io::write_checkpoint(argv[1], checkpoint);
  return 0;
}

#pragma once
/// The score matrices on LibTorch's devices: a CUDA device ("cuda", "cuda:N", "auto" where
/// LibTorch has CUDA) and, for tests, the tensor-operation path CUDA runs, on the CPU
/// (ScoreOptions::generic_kernels). qme's LibTorch programs call this once; a program that
/// scores on the CPU alone need not (qme/scores/score_matrices.hpp).
namespace qme::scores {

/// Installs LibTorch's device scoring (set_device_scoring). Idempotent.
void enable_device_scores();

}  // namespace qme::scores

#!/usr/bin/env python3
"""Small torch.save checkpoints for the checkpoint fuzzer's seed corpus (make_corpus.sh).

Upstream's checkpoints are ~10 MB; a fuzzer mutates small files far faster, so these keep
upstream's layout (model_state_dict, optimizer and scheduler state, step, RNG state) with
tensors of a few elements in the dtypes upstream writes.
Usage: make_torch_seeds.py OUT_DIR
"""
import os
import sys

import torch


def main(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(0)
    state = {
        "experts.0.mlp.0.weight": torch.randn(4, 3),
        "experts.0.mlp.0.bias": torch.randn(4),
        "qe.bn.num_batches_tracked": torch.tensor(7, dtype=torch.int64),
        "qe.scale": torch.randn(2, 2, dtype=torch.float64),
        "qe.half": torch.randn(3).half(),
    }
    optimizer = {"state": {0: {"step": torch.tensor(3.0), "exp_avg": torch.zeros(4, 3)}},
                 "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0, 1]}]}
    full = {"model_state_dict": state, "optimizer_state_dict": optimizer,
            "scheduler_state_dict": {"T_0": 10, "last_epoch": 3, "_last_lr": [0.001]},
            "step": 30, "best_score": 81.25, "name": "seed", "flag": True, "none": None}
    torch.save(full, os.path.join(out_dir, "torch_full.pth"))
    torch.save({"model_state_dict": state}, os.path.join(out_dir, "torch_state_only.pth"))
    # A view sharing one storage with its base, as module parameters often do.
    base = torch.arange(12, dtype=torch.float32)
    torch.save({"model_state_dict": {"w": base.view(3, 4), "w_t": base.view(3, 4).t()}},
               os.path.join(out_dir, "torch_shared_storage.pth"))


if __name__ == "__main__":
    main(sys.argv[1])

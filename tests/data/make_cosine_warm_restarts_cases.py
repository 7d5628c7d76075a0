"""Writes cosine_warm_restarts_cases.json: the learning rates PyTorch's
CosineAnnealingWarmRestarts sets when stepped with explicit (fractional) epochs,
as upstream's main.py steps it (scheduler.step(epoch + step / len(loader))).
qme::train::CosineWarmRestarts must reproduce them (to double round-off).

Run with Debian 12's python3-torch (1.13):
    python3 tests/data/make_cosine_warm_restarts_cases.py > tests/data/cosine_warm_restarts_cases.json
"""
import json

import torch

cases = []
for base_lr, t0, t_mult, eta_min, steps_per_epoch, epochs in [
    (1e-4, 300, 2, 0.0, 4, [0, 1, 2, 299, 300, 301, 899, 900, 901, 2100, 4500, 10000]),
    (1e-3, 3, 2, 1e-5, 5, list(range(0, 40))),
    (0.1, 2, 1, 0.0, 3, list(range(0, 12))),
    (0.05, 5, 3, 0.001, 7, list(range(0, 70))),
]:
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([param], lr=base_lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=t0, T_mult=t_mult, eta_min=eta_min)
    fractional, lrs = [], []
    for epoch in epochs:
        for step in range(steps_per_epoch):
            value = epoch + step / steps_per_epoch
            sched.step(value)
            fractional.append(value)
            lrs.append(opt.param_groups[0]["lr"])
    cases.append({"base_lr": base_lr, "T_0": t0, "T_mult": t_mult, "eta_min": eta_min,
                  "epochs": fractional, "lrs": lrs})
print(json.dumps({"torch": torch.__version__, "cases": cases}))

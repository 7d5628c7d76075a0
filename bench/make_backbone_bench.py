"""Inputs of bench/bench_backbone: a synthetic LTCC-layout image set and a ResNet-50-sized CAL
image backbone exported to TorchScript with tools/export (torchvision's ResNet-50 with random
weights, laid out as CAL's img_resnet.ResNet50).

    python3 bench/make_backbone_bench.py OUT_DIR [--images 96]

Writes OUT_DIR/root/LTCC_ReID/ltcc.h5 (train/, query/ and test/ groups of 256x128 RGB frames),
OUT_DIR/cal_resnet50.pt and OUT_DIR/backbone_cfg.yaml (cal-ltcc_torchscript_path). The eager
model's state dict goes to OUT_DIR/cal_resnet50_state.pt for the Python baseline.
"""
import argparse
import os
import sys

import h5py
import numpy as np
import torch
import torchvision
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "export"))
import qme_export  # noqa: E402


class CalResNet50(nn.Module):
    """CAL's models/img_resnet.ResNet50 (RES4_STRIDE 1, avg pooling, BatchNorm1d(2048))."""

    def __init__(self):
        super().__init__()
        resnet50 = torchvision.models.resnet50()
        resnet50.layer4[0].conv2.stride = (1, 1)
        resnet50.layer4[0].downsample[0].stride = (1, 1)
        self.base = nn.Sequential(*list(resnet50.children())[:-2])
        self.globalpooling = nn.AdaptiveAvgPool2d(1)
        self.bn = nn.BatchNorm1d(2048)

    def forward(self, x):
        x = self.globalpooling(self.base(x))
        return self.bn(x.view(x.size(0), -1))


def frames(rng, count, height=256, width=128):
    """Smooth random colour fields with noise (the fixtures' kind of frame)."""
    out = []
    for _ in range(count):
        base = rng.uniform(0, 255, size=(8, 4, 3))
        img = np.kron(base, np.ones((height // 8, width // 4, 1)))
        img += rng.normal(0, 8, size=img.shape)
        out.append(np.clip(img, 0, 255).astype(np.uint8))
    return out


def write_dataset(path, images, rng):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with h5py.File(path, "w") as f:
        for group, count in (("train", 4), ("query", images // 4), ("test", images - images // 4)):
            for i, img in enumerate(frames(rng, count)):
                pid = i % 10 + 1
                f[f"{group}/{pid:03d}_{i % 3 + 1}_c{i % 4 + 1}_{i:06d}.png"] = img


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--images", type=int, default=96, help="query + gallery images")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(7)
    write_dataset(os.path.join(args.out, "root", "LTCC_ReID", "ltcc.h5"), args.images, rng)
    torch.manual_seed(0)
    model = CalResNet50().eval()
    torch.save(model.state_dict(), os.path.join(args.out, "cal_resnet50_state.pt"))
    examples = [torch.randn(qme_export.example_shape("cal-ltcc", b)) for b in (2, 3)]
    path = os.path.join(args.out, "cal_resnet50.pt")
    qme_export.export(qme_export.CalImageExport(model), "cal-ltcc", path, examples, source="random ResNet-50",
                      log=lambda line: None)
    with open(os.path.join(args.out, "backbone_cfg.yaml"), "w") as f:
        f.write(f"model_list: [cal-ltcc]\ncal-ltcc_torchscript_path: '{os.path.abspath(path)}'\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

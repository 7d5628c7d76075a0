"""The upstream-style Python baseline of bench/bench_backbone: LTCC test features with CAL's
ResNet-50 the way upstream's test.py extracts them (h5py -> PIL -> Resize((384, 192)) bilinear ->
ToTensor -> Normalize, a torch DataLoader, the eager model in eval mode under no_grad with
upstream's forward hooks on base[5] and base[6]).

    python3 bench/bench_backbone_upstream.py OUT_DIR [--batch 8] [--workers 1] [--repeats 3]

OUT_DIR is what bench/make_backbone_bench.py wrote. Prints the median frames/s over the repeats.
"""
import argparse
import os
import statistics
import sys
import time

import h5py
import torch
import torchvision.transforms as T
from PIL import Image
from torch.utils.data import DataLoader, Dataset

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_backbone_bench import CalResNet50  # noqa: E402


class LtccTest(Dataset):
    def __init__(self, path):
        self.path = path
        with h5py.File(path, "r") as f:
            self.keys = [f"query/{k}" for k in sorted(f["query"].keys())] + \
                        [f"test/{k}" for k in sorted(f["test"].keys())]
        self.file = None
        self.transform = T.Compose([T.Resize((384, 192)), T.ToTensor(),
                                    T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])

    def __len__(self):
        return len(self.keys)

    def __getitem__(self, i):
        if self.file is None:
            self.file = h5py.File(self.path, "r")  # one handle per worker, as upstream's loaders
        return self.transform(Image.fromarray(self.file[self.keys[i]][:]))


def hook_fn(module, inputs, output):  # upstream's model.py hook
    module.register_buffer("hook_output", output)


@torch.no_grad()
def run_once(model, loader):
    count = 0
    start = time.perf_counter()
    for batch in loader:
        feats = model(batch)
        _ = [model.base[i].hook_output for i in (5, 6)]
        count += feats.shape[0]
    return count / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    model = CalResNet50()
    model.load_state_dict(torch.load(os.path.join(args.out, "cal_resnet50_state.pt")))
    model.eval()
    model.base[5].register_forward_hook(hook_fn)
    model.base[6].register_forward_hook(hook_fn)
    data = LtccTest(os.path.join(args.out, "root", "LTCC_ReID", "ltcc.h5"))
    loader = DataLoader(data, batch_size=args.batch, num_workers=args.workers, shuffle=False)
    rates = [run_once(model, loader) for _ in range(args.repeats)]
    print(f"upstream-style python: {len(data)} frames, batch {args.batch}, {args.workers} worker(s), "
          f"{torch.get_num_threads()} threads: median {statistics.median(rates):.2f} frames/s "
          f"(runs: {', '.join(f'{r:.2f}' for r in rates)})")


if __name__ == "__main__":
    main()

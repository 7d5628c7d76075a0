#!/usr/bin/env python3
"""Upstream's data path on bench_loader's generated dataset, for comparison.

Reads the CCVID-layout files that `bench_loader --dir ROOT` keeps and times what
upstream's VideoDataset does per test clip (8 frames, TEST_BATCH 1): h5py read,
PIL Image.fromarray, torchvision Resize / ToTensor / Normalize, stack to
(3, T, H, W), through a torch DataLoader with 1 and 2 worker processes.
  cal-ccvid: Resize((384, 192), BICUBIC) (CAL's Scale), ImageNet Normalize
  adaface:   one random face_K per frame, Resize((112, 112)), Normalize(0.5, 0.5)
Prints frames/s (median of repeats). Needs python3-torch, python3-torchvision,
python3-pil and python3-h5py (Debian 12: /usr/bin/python3).

  ./build/bench/bench_loader --dir /tmp/qme_loader_data
  /usr/bin/python3 bench/bench_loader_upstream.py --root /tmp/qme_loader_data
"""
import argparse
import os
import random
import resource
import statistics
import time

import h5py
import torch
import torchvision.transforms as T
from PIL import Image
from torch.utils.data import DataLoader, Dataset


def test_transform(model):
    if model == "adaface":
        return T.Compose([T.Resize((112, 112)), T.ToTensor(), T.Normalize([0.5] * 3, [0.5] * 3)])
    return T.Compose([
        T.Resize((384, 192), interpolation=T.InterpolationMode.BICUBIC),
        T.ToTensor(),
        T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])


def read_clips(root):
    """Test clips of 8 consecutive frames of every tracklet listed in the split files."""
    tracklets = []
    for split in ("query", "gallery", "train"):
        with open(os.path.join(root, "CCVID", split + ".txt")) as f:
            tracklets += [line.split()[0] for line in f if line.strip()]
    clips = []
    with h5py.File(os.path.join(root, "CCVID", "ccvid.h5"), "r") as body:
        for t in tracklets:
            frames = sorted(t + "/" + k for k in body[t].keys())
            clips += [frames[i:i + 8] for i in range(0, len(frames), 8)]
    return clips


class ClipDataset(Dataset):
    """Upstream's VideoDataset.__getitem__ for one model, test mode."""

    def __init__(self, root, clips, model):
        self.root, self.clips, self.model = root, clips, model
        self.transform = test_transform(model)
        self.body = self.faces = None

    def __len__(self):
        return len(self.clips)

    def __getitem__(self, index):
        if self.body is None:  # one handle per worker process
            self.body = h5py.File(os.path.join(self.root, "CCVID", "ccvid.h5"), "r")
            self.faces = h5py.File(os.path.join(self.root, "CCVID", "ccvid_face.h5"), "r")
        paths = self.clips[index]
        if self.model == "adaface":
            clip = []
            for p in paths:
                if p in self.faces:
                    keys = list(self.faces[p].keys())
                    clip.append(Image.fromarray(self.faces[p][random.choice(keys)][:]))
        else:
            clip = [Image.fromarray(self.body[p][:]) for p in paths]
        clip = [self.transform(img) for img in clip]
        return torch.stack(clip, 0).permute(1, 0, 2, 3)


def cpu_seconds():
    """CPU time of this process and of its finished (joined) worker processes."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def one_pass(root, clips, model, workers):
    cpu_start, start = cpu_seconds(), time.perf_counter()
    loader = DataLoader(ClipDataset(root, clips, model), batch_size=1, shuffle=False, num_workers=workers)
    frames = 0
    for batch in loader:
        frames += batch.shape[2]
    del loader  # joins the worker processes, so their CPU time is counted
    return time.perf_counter() - start, cpu_seconds() - cpu_start, frames


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", required=True, help="the folder bench_loader --dir wrote")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    torch.set_num_threads(1)
    clips = read_clips(args.root)
    print(f"load average {os.getloadavg()[0]:.1f}")
    print(f"upstream path: {sum(len(c) for c in clips)} frames in {len(clips)} clips of 8, batch 1")
    for model in ("cal-ccvid", "adaface"):
        for workers in args.workers:
            one_pass(args.root, clips, model, workers)  # warm-up: page cache
            runs = [one_pass(args.root, clips, model, workers) for _ in range(args.repeats)]
            seconds = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[1] for r in runs)
            frames = runs[0][2]
            print(f"{model:9s} workers {workers}: {frames} frames, median {seconds:.3f} s over "
                  f"{args.repeats} passes -> {frames / seconds:.0f} frames/s ({frames / cpu:.0f} frames per CPU-s)")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""ctest export.upstream_models: every body/gait backbone family exported from the REAL upstream
model code with tools/export/export_backbone.py, run by qme_test --eval_mode feat, and compared
with upstream's own test.py feature path on the same data.

    python3 tests/export/test_upstream_models.py --upstream ../shared/upstream/QME_ICCV25 \\
        --qme_test build/tools/qme_test --work /tmp/qme_upstream_models [--seed 0] [--rows ...]

For every row (model on a dataset):

1. the architecture is built by upstream's own builder (model.py build_body_backbone /
   build_gait_backbone) with seeded random weights: BatchNorm/LayerNorm affine parameters are
   drawn at random and every BatchNorm on the inference path is calibrated on a few synthetic
   frames (BatchNorms in train mode, the rest in eval mode, cumulative statistics), so none is
   the identity; the
   weights are saved as the checkpoint file upstream's builder loads;
2. export_backbone.main() (the real script, in this process) builds the model from that
   checkpoint with upstream's builder and writes the TorchScript file;
3. qme_test --eval_mode feat runs the file on a tiny synthetic dataset written in upstream's
   on-disk layout (docs/architecture.md §7.1);
4. upstream's test.py path - data.build_dataloader, model.QME(backbone_cfg) and
   test.extract_test_feats - extracts the features of the same data from the same checkpoint;
5. per row of query and gallery features: cosine >= 0.99999 and max |qme - upstream| /
   max |upstream| <= 1e-3; pids, camera ids and clothes ids equal, in the same order.

It also checks the saved graphs (no device constants; float16 only as a cast of BigGait's 0/1
mask straight back to float32), that DINOv2's traceable forward_features equals upstream's
exactly, that biggait_tracing restores what it patches, and that the BigGait export runs with
xformers present (a pretend xformers that fails when called: the export must switch it off).

Reductions, for 2 CPU cores (the full sizes take minutes per row):
* CAL (image and video) and AIM: torchvision's ResNet-50 built with width_per_group 16 instead
  of 64: every bottleneck's inner width is a quarter; depth [3, 4, 6, 3], strides (layer4
  stride 1), stage outputs 256/512/1024/2048, pooling, BatchNorm1d(4096/2048) are upstream's;
* AGRL: vmgn's own ResNet-50 bottlenecks with a quarter of the inner width (same depth,
  strides, 2048-channel outputs, two layer4 branches, graph layers, 4096-d output);
* BigGait: DINOv2 ViT-S/14 with width 96 instead of 384 (12 blocks, 6 heads, patch 14, MLP
  ratio 4, LayerScale: upstream's vit_small otherwise), so BigGait.yaml's branch widths are
  4 x 96 = 384 (Denoising, Appearance) and 96 (Mask) instead of 1536 and 384; image_size
  448 -> 112 (DINOv2 runs on 224x112 instead of 896x448 inside BigGait.forward); the 256x128
  pass for the intermediates, sils_size 32, GaitBase (ResNet9, 512 channels) and the 16-part
  fc_bin are upstream's. (Debian's PyTorch multiplies matrices with the reference BLAS: the full
  ViT-S takes seconds per frame on 2 cores.)
* data: 2 query and 2 gallery videos of 3-11 frames (CCVID, MEVID: 5 clips of 8 frames each),
  3 query and 5 gallery images (LTCC); export example clips of 2 frames (qme runs 8: the trace
  must not depend on the clip length).

AdaFace (opt-in, --cvlface DIR): upstream downloads its face models from the Hugging Face hub
(CVLface repositories, loaded through transformers' AutoModel). With a checkout of CVLface's
code (github.com/mk-minchul/CVLface; not part of qme, not downloaded by this test), the row
adaface on CCVID builds CVLface's ViT-base (24 blocks, width 512, 196 patches: no reduction) with
random weights; upstream's load_model_by_repo_id is answered by a stand-in for the hub's
CVLFaceRecognitionModel wrapper (.model = CVLface's ViTModel, forward = self.model(x)). Faces are
one crop per frame (upstream draws among several at random, unseeded), on about a third of the
frames; one gallery video has none (a NaN row in both). Slow on 2 cores (ViT-base takes seconds
per face with Debian's reference BLAS): not part of the default run.

Skips (exit 77, ctest SKIP_RETURN_CODE) when the upstream folder is absent, except when CI=true
in the environment: then that is a failure.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import subprocess
import sys
import time
from typing import Dict, List

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(SOURCE, "tools", "export"))

SKIP = 77
COSINE_MIN = 0.99999
RELATIVE_MAX = 1e-3
# qme_test --optimize false runs the export as it is (no BatchNorm folding): closer to the eager
# model, and never further than the optimised run.
EAGER_RELATIVE_MAX = 2e-4
# (model, dataset) rows, cheapest first.
ROWS = [("cal-ltcc", "ltcc"), ("aim", "ltcc"), ("cal-ccvid", "ccvid"), ("cal-mevid", "mevid"), ("agrl", "mevid"),
        ("biggait", "ccvid")]
RESNET_WIDTH_PER_GROUP = 16  # torchvision's default 64
AGRL_INNER_WIDTH_DIVISOR = 4
BIGGAIT_IMAGE_SIZE = 112  # BigGait.yaml: 448
DINOV2_WIDTH = 96  # ViT-S/14: 384
EXPORT_FRAMES = 2
CALIBRATION_PASSES = 2


def fail(message: str) -> None:
    print(f"FAIL: {message}", flush=True)
    sys.exit(1)


def log(message: str) -> None:
    print(message, flush=True)


# --------------------------------------------------------------------------------------------
# synthetic data in upstream's layout
# --------------------------------------------------------------------------------------------

def make_frame(rng, height: int, width: int):
    """A uint8 RGB frame: smooth random colours plus noise, with black side margins of random
    width (zero-padded frames; BigGait's foreground mask reads them)."""
    import numpy as np
    from PIL import Image
    low = rng.integers(0, 256, size=(max(2, height // 12), max(2, width // 12), 3), dtype=np.uint8)
    smooth = np.asarray(Image.fromarray(low).resize((width, height), Image.BILINEAR)).astype(np.int16)
    pixels = np.clip(smooth + rng.integers(-24, 25, size=(height, width, 3)), 1, 255).astype(np.uint8)
    left, right = int(rng.integers(0, width // 4)), int(rng.integers(0, width // 4))
    pixels[:, :left] = 0
    if right:
        pixels[:, width - right:] = 0
    return pixels


FRAME_SIZES = [(96, 44), (170, 80), (300, 150), (420, 190)]


def write_ccvid(root: str, rng) -> None:
    import h5py
    base = os.path.join(root, "CCVID")
    os.makedirs(base)
    splits = {
        "train": [("session1/090_01", "090", "u0_l0_s0_c0_a0", 6), ("session2/091_02", "091", "u1_l0_s0_c0_a0", 4)],
        "query": [("session3/101_01", "101", "u1_l0_s0_c0_a0", 8), ("session3/102_03", "102", "u2_l1_s0_c0_a0", 5)],
        "gallery": [("session1/101_02", "101", "u0_l0_s0_c0_a0", 11), ("session2/102_04", "102", "u0_l0_s0_c0_a0", 3)],
    }
    with h5py.File(os.path.join(base, "ccvid.h5"), "w") as f:
        for split, rows in splits.items():
            lines = []
            for path, pid, clothes, length in rows:
                height, width = FRAME_SIZES[int(rng.integers(len(FRAME_SIZES)))]
                for i in range(length):
                    f[f"{path}/{i + 1:05d}"] = make_frame(rng, height, width)
                lines.append(f"{path}\t{pid}\t{clothes}")
            with open(os.path.join(base, f"{split}.txt"), "w") as out:
                out.write("\n".join(lines) + "\n")


def write_ccvid_faces(root: str, rng) -> None:
    """ccvid_face.h5: one 112x112 face crop ('face_0') for about a third of the frames, at least
    one per video, none for session2/102_04."""
    import h5py
    import numpy as np
    base = os.path.join(root, "CCVID")
    with h5py.File(os.path.join(base, "ccvid.h5"), "r") as body, \
            h5py.File(os.path.join(base, "ccvid_face.h5"), "w") as faces:
        for split in ("train", "query", "gallery"):
            with open(os.path.join(base, f"{split}.txt")) as f:
                tracklets = [line.split()[0] for line in f if line.strip()]
            for tracklet in tracklets:
                if tracklet == "session2/102_04":
                    continue
                frames = sorted(body[tracklet].keys())
                chosen = [k for k in frames if rng.random() < 1 / 3] or [frames[len(frames) // 2]]
                for frame in chosen:
                    pixels = make_frame(rng, 112, 112)
                    pixels[:, :] = np.maximum(pixels, 1)  # a face crop has no black margins
                    faces[f"{tracklet}/{frame}/face_0"] = pixels


def write_ltcc(root: str, rng) -> None:
    import h5py
    base = os.path.join(root, "LTCC_ReID")
    os.makedirs(base)
    splits = {
        "train": ["010_1_c1_000010", "011_2_c3_000011"],
        "query": ["050_1_c1_000100", "061_1_c7_000300", "070_2_c12_000400"],
        "test": ["050_1_c2_000101", "050_3_c5_000102", "061_2_c4_000301", "070_1_c9_000401", "070_2_c3_000402"],
    }
    with h5py.File(os.path.join(base, "ltcc.h5"), "w") as f:
        for split, keys in splits.items():
            for key in keys:
                height, width = FRAME_SIZES[int(rng.integers(len(FRAME_SIZES)))]
                f[f"{split}/{key}"] = make_frame(rng, height, width)


def write_mevid(root: str, rng) -> None:
    import h5py
    base = os.path.join(root, "mevid")
    os.makedirs(base)
    sets = {
        # (pid, outfit, camera, frames); rows 0 and 1 of the test tracks are the query.
        "train": [(9, 3, 330, 5), (10, 1, 336, 4)],
        "test": [(201, 1, 330, 8), (202, 1, 329, 5), (201, 2, 336, 9), (202, 2, 340, 3)],
    }
    with h5py.File(os.path.join(base, "mevid.h5"), "w") as f:
        for split, tracks in sets.items():
            names, info = [], []
            for track, (pid, outfit, camera, length) in enumerate(tracks):
                height, width = FRAME_SIZES[int(rng.integers(len(FRAME_SIZES)))]
                start = len(names)
                for i in range(length):
                    name = f"{pid:04d}O{outfit:03d}C{camera}T{track + 1:03d}F{i + 10:05d}.jpg"
                    names.append(name)
                    f[f"bbox_{split}/{name[:4]}/{name[:-4]}"] = make_frame(rng, height, width)
                info.append(f"{start} {len(names) - 1} {pid} {outfit} {camera}")
            with open(os.path.join(base, f"{split}_name.txt"), "w") as out:
                out.write("\n".join(names) + "\n")
            with open(os.path.join(base, f"track_{split}_info.txt"), "w") as out:
                out.write("\n".join(info) + "\n")
    with open(os.path.join(base, "query_IDX.txt"), "w") as out:
        out.write("0\n1\n")


# --------------------------------------------------------------------------------------------
# upstream models with seeded random weights
# --------------------------------------------------------------------------------------------

def narrow_models():
    """torchvision's resnet50 (CAL, AIM) with width_per_group RESNET_WIDTH_PER_GROUP, AGRL's
    Bottleneck with 1/AGRL_INNER_WIDTH_DIVISOR of its inner width and BigGait's DINOv2 with
    width DINOV2_WIDTH: see the module docstring."""
    import torchvision.models

    import upstream_env
    upstream_env.install_standins()  # the no-download resnet50 this wraps
    built = torchvision.models.resnet50
    if not getattr(built, "__qme_narrow__", False):
        def resnet50(*args, **kwargs):
            kwargs.setdefault("width_per_group", RESNET_WIDTH_PER_GROUP)
            return built(*args, **kwargs)

        resnet50.__qme_narrow__ = True
        torchvision.models.resnet50 = resnet50

    import importlib
    vmgn = importlib.import_module("WBModules.AGRL.torchreid.models.vmgn")
    if not getattr(vmgn.Bottleneck, "__qme_narrow__", False):
        class NarrowBottleneck(vmgn.Bottleneck):
            """vmgn.Bottleneck (its forward) with a narrower inner width, same output width. Its
            __init__ cannot be reused: it calls super(Bottleneck, self), and the module name
            Bottleneck is this class once installed."""
            __qme_narrow__ = True

            def __init__(self, inplanes, planes, stride=1, downsample=None):
                nn.Module.__init__(self)
                inner = planes // AGRL_INNER_WIDTH_DIVISOR
                self.conv1 = nn.Conv2d(inplanes, inner, kernel_size=1, bias=False)
                self.bn1 = nn.BatchNorm2d(inner)
                self.conv2 = nn.Conv2d(inner, inner, kernel_size=3, stride=stride, padding=1, bias=False)
                self.bn2 = nn.BatchNorm2d(inner)
                self.conv3 = nn.Conv2d(inner, planes * self.expansion, kernel_size=1, bias=False)
                self.bn3 = nn.BatchNorm2d(planes * self.expansion)
                self.relu = nn.ReLU(inplace=True)
                self.downsample = downsample
                self.stride = stride

        vmgn.Bottleneck = NarrowBottleneck

    dinov2 = importlib.import_module("WBModules.BigGait.modeling.models.DINOv2")
    if not getattr(dinov2.DinoVisionTransformer, "__qme_narrow__", False):
        class NarrowDinoVisionTransformer(dinov2.DinoVisionTransformer):
            """What vit_small builds, with embed_dim DINOV2_WIDTH."""
            __qme_narrow__ = True

            def __init__(self, **kwargs):
                kwargs["embed_dim"] = DINOV2_WIDTH
                super().__init__(**kwargs)

        dinov2.DinoVisionTransformer = NarrowDinoVisionTransformer  # vit_small reads this global


class CVLFaceWrapperStandIn(nn.Module):
    """What transformers' AutoModel.from_pretrained(..., trust_remote_code=True) returns for the
    CVLface hub repositories (their wrapper.py, CVLFaceRecognitionModel): .model is CVLface's
    get_model(config), forward is self.model(*args)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, *args, **kwargs):
        return self.model(*args, **kwargs)


def install_cvlface(path: str, upstream_model) -> None:
    """CVLface's ViT from a checkout at `path`, and upstream's load_model_by_repo_id answered from
    the folder it names (adaface_cache_path/model.pt) instead of the hub."""
    import types

    run_v1 = path if os.path.isdir(os.path.join(path, "models", "vit")) else \
        os.path.join(path, "cvlface", "research", "recognition", "code", "run_v1")
    if not os.path.isfile(os.path.join(run_v1, "models", "vit", "vit.py")):
        fail(f"--cvlface {path}: no models/vit/vit.py under {run_v1}")
    sys.path.insert(0, run_v1)
    import importlib
    vit = importlib.import_module("models.vit")

    def load_model_by_repo_id(repo_id, save_path, HF_TOKEN=None, force_download=False):  # noqa: N803
        if repo_id != "minchul/cvlface_adaface_vit_base_webface4m":
            raise RuntimeError(f"only adaface is stood in for, not {repo_id}")
        config = types.SimpleNamespace(name="base", output_dim=512, mask_ratio=0.0, color_space="RGB",
                                       yaml_path="models/vit/configs/v1_base.yaml", start_from="", freeze=False)
        model = CVLFaceWrapperStandIn(vit.ViTModel.from_config(config))
        weights = os.path.join(save_path, "model.pt")
        if os.path.exists(weights):
            model.load_state_dict(torch.load(weights, map_location="cpu"))
        return model

    upstream_model.load_model_by_repo_id = load_model_by_repo_id


class Row:
    """One model on one dataset, with the upstream backbone config that names its files."""

    def __init__(self, model: str, dataset: str, upstream: str, work: str):
        self.model, self.dataset = model, dataset
        self.dir = os.path.join(work, model)
        os.makedirs(self.dir, exist_ok=True)
        self.checkpoint = os.path.join(self.dir, "checkpoint.pth")
        self.backbone_cfg_path = os.path.join(self.dir, "backbone_cfg.yaml")
        wb = os.path.join(upstream, "WBModules")
        cfg: Dict[str, object] = {"model_list": [model]}
        if model in ("cal-ccvid", "cal-ltcc"):
            cfg[f"{model}_config_path"] = os.path.join(wb, "CAL", "configs", "res50_cels_cal.yaml")
        elif model == "cal-mevid":
            cfg[f"{model}_config_path"] = os.path.join(wb, "CAL", "configs", "c2dres50_ce_cal.yaml")
        elif model == "aim":
            cfg["aim_config_path"] = os.path.join(wb, "AIM_CCReID", "configs", "res50_cels_cal.yaml")
        elif model == "adaface":
            cfg["adaface_cache_path"] = self.dir  # model.pt, read by install_cvlface's loader
            cfg["HF_TOKEN"] = "not-used"
        elif model == "biggait":
            cfg["biggait_cfg_path"] = os.path.join(self.dir, "BigGait.yaml")
            self.dinov2 = os.path.join(self.dir, "dinov2_vits14_random.pth")
            self.write_biggait_yaml(os.path.join(wb, "BigGait", "configs", "BigGait.yaml"))
        if model == "adaface":
            self.checkpoint = os.path.join(self.dir, "model.pt")
        else:
            cfg[f"{model}_backbone_path"] = self.checkpoint
        self.backbone_cfg = cfg
        self.checkpoint_key = {"agrl": "state_dict", "biggait": "model"}.get(model, "model_state_dict")

    def write_biggait_yaml(self, original: str) -> None:
        import yaml
        with open(original) as f:
            config = yaml.safe_load(f)
        config["model_cfg"]["pretrained_dinov2"] = self.dinov2
        config["model_cfg"]["image_size"] = BIGGAIT_IMAGE_SIZE
        config["model_cfg"]["Denoising_Branch"]["source_dim"] = 4 * DINOV2_WIDTH
        config["model_cfg"]["Appearance_Branch"]["source_dim"] = 4 * DINOV2_WIDTH
        config["model_cfg"]["Mask_Branch"]["source_dim"] = DINOV2_WIDTH
        with open(os.path.join(self.dir, "BigGait.yaml"), "w") as f:
            yaml.safe_dump(config, f)

    def write_backbone_cfg(self) -> None:
        import yaml
        with open(self.backbone_cfg_path, "w") as f:
            yaml.safe_dump(self.backbone_cfg, f)

    def build(self, upstream_model, checkpoint: str):
        cfg = dict(self.backbone_cfg)
        if self.model == "adaface":
            return upstream_model.build_face_backbone(cfg, mode=self.model)  # nothing to load yet
        cfg[f"{self.model}_backbone_path"] = checkpoint
        if self.model == "biggait":
            return upstream_model.build_gait_backbone(cfg, mode=self.model)
        return upstream_model.build_body_backbone(cfg, mode=self.model)


@contextlib.contextmanager
def loading_nothing():
    """Upstream's builders end with load_state_dict(checkpoint): while building a fresh
    architecture, that loads nothing (the random initialisation stays)."""
    from torch.nn.modules.module import _IncompatibleKeys
    real = nn.Module.load_state_dict
    nn.Module.load_state_dict = lambda self, state_dict, strict=True: _IncompatibleKeys([], [])
    try:
        yield
    finally:
        nn.Module.load_state_dict = real


def calibration_input(row: Row, rng):
    """Synthetic frames, resized and ImageNet-normalised, shaped as the model takes them."""
    import numpy as np
    height, width = (384, 192) if row.model in ("cal-ccvid", "cal-ltcc", "aim") else (256, 128)
    frames = 4
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    if row.model == "adaface":
        height, width, mean, std = 112, 112, np.array([0.5, 0.5, 0.5]), np.array([0.5, 0.5, 0.5])
    pixels = np.stack([make_frame(rng, height, width) for _ in range(frames)]).astype(np.float64) / 255.0
    x = torch.from_numpy(((pixels - mean) / std).transpose(0, 3, 1, 2)).float()  # (4, 3, H, W)
    if row.model == "cal-mevid":
        return x.view(2, 2, 3, height, width).permute(0, 2, 1, 3, 4).repeat(1, 1, 2, 1, 1)  # (2, 3, 4, H, W)
    if row.model == "agrl":
        return x.view(2, 2, 3, height, width).repeat(1, 2, 1, 1, 1)  # (2, 4, 3, H, W)
    return x


def run_calibration(row: Row, model, x) -> None:
    if row.model == "agrl":
        nodes = 7 * x.shape[1]  # sum(calc_splits(4)) * T, as model.py get_body_feat
        model(x, torch.ones(x.shape[0], nodes, nodes))
    elif row.model == "biggait":
        model(([x.unsqueeze(1)], [0], ["_"], ["_"], None))
    else:
        model(x)


def make_checkpoint(row: Row, upstream_model, seed: int) -> nn.Module:
    """Seeded random weights for `row`, BatchNorms calibrated, saved where upstream's builder
    reads them (and, for BigGait, the DINOv2 file its constructor loads); returns the model."""
    import numpy as np

    import upstream_env
    placeholder = os.path.join(row.dir, "placeholder.pth")
    torch.save({row.checkpoint_key: {}}, placeholder)
    if row.model == "biggait":
        torch.save({}, row.dinov2)
    torch.manual_seed(seed)
    with loading_nothing(), contextlib.redirect_stdout(io.StringIO()):
        model = row.build(upstream_model, placeholder)
    for m in model.modules():
        m._forward_hooks.clear()  # upstream's hook_fn would add its outputs to the state dict
    generator = torch.Generator().manual_seed(seed + 1)
    norms = []
    for m in model.modules():
        if isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.LayerNorm)) and getattr(m, "weight", None) is not None:
            with torch.no_grad():
                m.weight.copy_(torch.rand(m.weight.shape, generator=generator) * 0.6 + 0.7)
                m.bias.copy_(torch.randn(m.bias.shape, generator=generator) * 0.1)
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the calibration passes
            norms.append(m)
    model.eval()
    for m in norms:
        m.train()
    rng = np.random.default_rng(seed + 2)
    with torch.no_grad(), (upstream_env.cpu_half_nearest() if row.model == "biggait" else contextlib.nullcontext()):
        for _ in range(CALIBRATION_PASSES):
            run_calibration(row, model, calibration_input(row, rng))
    calibrated = 0
    for m in norms:
        m.momentum = 0.1
        calibrated += int(m.num_batches_tracked.item() > 0)
    if calibrated == 0:
        fail(f"{row.model}: no BatchNorm was calibrated")
    model.eval()
    if row.model == "adaface":
        torch.save(model.state_dict(), row.checkpoint)  # the stand-in hub folder's weights
    else:
        torch.save({row.checkpoint_key: model.state_dict()}, row.checkpoint)
    if row.model == "biggait":
        torch.save(model.backbone.state_dict(), row.dinov2)
    os.remove(placeholder)
    log(f"{row.model}: random weights; {calibrated} of {len(norms)} BatchNorms calibrated on {CALIBRATION_PASSES} "
        "x 4 frames (the others are not on the inference path)")
    return model


# --------------------------------------------------------------------------------------------
# checks of qme_export's BigGait patches on the real model
# --------------------------------------------------------------------------------------------

def check_biggait_patches(model) -> None:

    import qme_export
    import upstream_env
    dino = model.backbone
    x = torch.randn(2, 3, 256, 128, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        reference = dino.forward_features(x)
        with qme_export.biggait_tracing(model):
            patched = dino.forward_features(x)
            module = sys.modules[type(model).__module__]
            if not isinstance(module.F, qme_export.FloatMaskResize):
                fail("biggait_tracing does not resize the mask in float32")
            mask = (torch.rand(3, 1, 128, generator=torch.Generator().manual_seed(6)) > 0.3).half()
            resized = module.F.interpolate(mask, size=(32,), mode="nearest-exact")
            expected = upstream_env._nearest_exact_by_index(mask, (32,)).float()
            if resized.dtype != torch.float32 or not torch.equal(resized, expected):
                fail("FloatMaskResize does not give nearest-exact's 0/1 mask")
    for key in reference:
        if not torch.equal(reference[key], patched[key]):
            fail(f"DINOv2's traceable forward_features differs from upstream's in '{key}'")
    if "forward_features" in vars(dino) or isinstance(sys.modules[type(model).__module__].F,
                                                     qme_export.FloatMaskResize):
        fail("biggait_tracing did not restore what it patched")
    log("biggait: DINOv2's traceable forward_features equals upstream's exactly; the float32 mask resize "
        "equals nearest-exact; biggait_tracing restores both")


@contextlib.contextmanager
def pretend_xformers():
    """xformers 'installed' for upstream's DINOv2 layers: their flags are True and its functions
    fail when called. Yields the list of calls."""
    calls: List[str] = []

    def called(name):
        def function(*args, **kwargs):
            calls.append(name)
            raise RuntimeError(f"xformers.{name} was called: the export must switch xformers off")
        return function

    names = [n for n in sys.modules if n.endswith("dino_layers.attention") or n.endswith("dino_layers.block")]
    if not names:
        fail("upstream's DINOv2 layers are not imported")
    keys = ("XFORMERS_AVAILABLE", "memory_efficient_attention", "unbind", "scaled_index_add", "index_select_cat")
    saved = {name: {k: sys.modules[name].__dict__[k] for k in keys if k in sys.modules[name].__dict__}
             for name in names}
    for name in names:
        module = sys.modules[name]
        module.XFORMERS_AVAILABLE = True
        for function in keys[1:]:
            setattr(module, function, called(function))
    try:
        yield calls
        for name in names:
            if sys.modules[name].XFORMERS_AVAILABLE is not True:
                fail("xformers_disabled did not restore XFORMERS_AVAILABLE")
    finally:
        for name in names:
            module = sys.modules[name]
            for k in keys:
                module.__dict__.pop(k, None)
            module.__dict__.update(saved[name])


# --------------------------------------------------------------------------------------------
# the three runs
# --------------------------------------------------------------------------------------------

def export_row(row: Row, upstream: str) -> str:
    import export_backbone
    out = os.path.join(row.dir, f"{row.model}.pt")
    argv = ["--mode", row.model, "--backbone_cfg", row.backbone_cfg_path, "--out", out, "--upstream", upstream,
            "--frames", str(EXPORT_FRAMES)]
    captured = io.StringIO()
    xformers = pretend_xformers() if row.model == "biggait" else contextlib.nullcontext([])
    with xformers as calls, contextlib.redirect_stdout(captured):
        export_backbone.main(argv)
    lines = [line for line in captured.getvalue().splitlines() if line.startswith(row.model + ":")]
    for line in lines:
        log("  export " + line)
    if calls:
        fail(f"{row.model}: the export called xformers ({calls})")
    if row.model == "biggait" and not any("xformers switched off" in line for line in lines):
        fail("biggait: the export did not report switching xformers off")
    return out


def check_saved_graph(row: Row, path: str) -> None:

    import qme_export
    loaded = torch.jit.load(path, map_location="cpu")
    graph = loaded.inlined_graph
    left = qme_export.device_constants(graph)
    if left:
        fail(f"{row.model}: the saved graph holds device constants: {left}")
    half_casts = []
    for node in graph.nodes():
        if node.kind() != "aten::to":
            continue
        dtypes = [v.toIValue() for v in node.inputs() if v.node().kind() == "prim::Constant"
                  and v.type().kind() == "IntType"]
        if 5 in dtypes[:1]:  # the first int constant of aten::to is the dtype; 5 = torch.float16
            half_casts.append(node)
    for node in half_casts:
        for use in node.output().uses():
            if use.user.kind() != "aten::to":
                fail(f"{row.model}: a float16 value feeds {use.user.kind()} in the saved graph")
    if row.model != "biggait" and half_casts:
        fail(f"{row.model}: the saved graph casts to float16")
    devices = sum(1 for node in graph.nodes() if node.kind() == "prim::device")
    log(f"  graph: no device constants ({devices} prim::device of the input), "
        f"{len(half_casts)} float16 cast(s) feeding only casts back")


def run_qme(row: Row, qme_test: str, data_root: str, export_path: str, optimize: bool) -> str:
    config = os.path.join(row.dir, "qme_backbone_cfg.yaml")
    with open(config, "w") as f:
        f.write(f"model_list: [{row.model}]\n{row.model}_torchscript_path: '{export_path}'\n")
    feats = os.path.join(row.dir, "qme_feats" if optimize else "qme_feats_eager")
    command = [qme_test, "--eval_mode", "feat", "--mode", row.model, "--dataset", row.dataset, "--root", data_root,
               "--backbone_cfg", config, "--device", "cpu", "--feats_dir", feats,
               "--optimize", "true" if optimize else "false"]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        fail(f"{row.model}: qme_test exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return os.path.join(feats, f"{row.model}_{row.dataset}_test.h5")


def run_upstream(row: Row, upstream_modules, data_root: str) -> str:
    """Upstream's test.py --eval_mode feat path: its config, data.build_dataloader, model.QME and
    test.extract_test_feats, on the CPU (upstream_env.cpu_plumbing)."""
    import upstream_env
    upstream_model, data, upstream_test = upstream_modules
    args = argparse.Namespace(mode=row.model, root=data_root, dataset=row.dataset, eval_mode="feat")
    if row.dataset in data.VID_DATASET:
        config = upstream_test.get_vid_config(args)
    else:
        config = upstream_test.get_img_config(args)
    config.defrost()
    config.DATA.NUM_WORKERS = 0  # in-process loading; the values are the same
    config.freeze()
    backbone_cfg = dict(row.backbone_cfg)
    backbone_cfg["model_list"] = [config.mode]
    where = os.path.join(row.dir, "upstream")
    os.makedirs(os.path.join(where, "test_feats"), exist_ok=True)
    cwd = os.getcwd()
    os.chdir(where)
    try:
        half = upstream_env.cpu_half_nearest() if row.model == "biggait" else contextlib.nullcontext()
        with upstream_env.cpu_plumbing(data), half, contextlib.redirect_stdout(io.StringIO()):
            _, queryloader, galleryloader, dataset, _ = data.build_dataloader(backbone_cfg["model_list"], config)
            model = upstream_model.QME(backbone_cfg)
            fname = upstream_test.extract_test_feats(config, model, queryloader, galleryloader, dataset)
    finally:
        os.chdir(cwd)
    return os.path.join(where, fname)


def compare(row: Row, qme_path: str, upstream_path: str) -> Dict[str, float]:
    import h5py
    import numpy as np
    with h5py.File(qme_path, "r") as q, h5py.File(upstream_path, "r") as u:
        worst_cos, worst_rel, rows, nan_rows = 1.0, 0.0, 0, 0
        for side in ("q", "g"):
            for key in ("pids", "camids", "clothes_ids"):
                a, b = q[f"{side}_{key}"][:], u[f"{side}_{key}"][:]
                if a.shape != b.shape or not np.array_equal(np.asarray(a, np.float64), np.asarray(b, np.float64)):
                    fail(f"{row.model}: {side}_{key} differ: qme {a.tolist()} vs upstream {b.tolist()}")
            a, b = q[f"{side}f"][:].astype(np.float64), u[f"{side}f"][:].astype(np.float64)
            if a.shape != b.shape:
                fail(f"{row.model}: {side}f is {a.shape} in qme, {b.shape} upstream")
            nan_a, nan_b = np.isnan(a).all(1), np.isnan(b).all(1)  # videos without a face
            if not np.array_equal(nan_a, nan_b):
                fail(f"{row.model}: {side}f rows without a feature differ: qme {np.where(nan_a)[0].tolist()}, "
                     f"upstream {np.where(nan_b)[0].tolist()}")
            nan_rows += int(nan_a.sum())
            a, b = a[~nan_a], b[~nan_b]
            if not np.isfinite(a).all() or not np.isfinite(b).all():
                fail(f"{row.model}: {side}f holds non-finite values")
            cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
            rel = np.abs(a - b).max(1) / np.abs(b).max(1)
            worst_cos, worst_rel, rows = min(worst_cos, cos.min()), max(worst_rel, rel.max()), rows + len(a)
            spread = np.abs(b - b.mean(0)).max()
            if len(b) > 1 and spread < 1e-6 * np.abs(b).max():
                fail(f"{row.model}: upstream's {side}f rows are all the same: the check would say nothing")
    return {"cos": float(worst_cos), "rel": float(worst_rel), "rows": rows + nan_rows, "nan_rows": nan_rows,
            "dim": int(a.shape[1])}


# --------------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, help="the upstream QME_ICCV25 folder")
    parser.add_argument("--qme_test", required=True, help="qme_test executable")
    parser.add_argument("--work", required=True,
                        help="folder for data, weights, exports and features (emptied first; removed after a "
                             "pass unless --keep: it holds some 400 MB)")
    parser.add_argument("--keep", action="store_true", help="keep --work after a pass")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and the data")
    parser.add_argument("--rows", nargs="*", help="models to check (default: all)")
    parser.add_argument("--cvlface", help="a checkout of github.com/mk-minchul/CVLface: adds the adaface row")
    args = parser.parse_args()
    rows = ROWS + ([("adaface", "ccvid")] if args.cvlface else [])
    if args.rows is None:
        args.rows = [m for m, _ in rows]
    start = time.time()

    upstream = os.path.abspath(args.upstream)
    if not os.path.isfile(os.path.join(upstream, "model.py")):
        message = f"the upstream QME code is not at {upstream} (see ../shared/upstream/README.md)"
        if os.environ.get("CI", "").lower() == "true":
            fail(message + "; CI=true: it must be there in CI")
        print(f"SKIP: {message}; the export.upstream_models check did not run")
        return SKIP
    if not os.access(args.qme_test, os.X_OK):
        fail(f"qme_test is not an executable at {args.qme_test}")
    try:
        import h5py  # noqa: F401
        import numpy  # noqa: F401
        import PIL  # noqa: F401
        import torchvision  # noqa: F401
        import yaml  # noqa: F401
    except ImportError as error:
        fail(f"{error}: this test needs python3 with torch, torchvision, h5py, numpy, PIL and yaml "
             "(Debian: environment/install-debian.sh)")
    import numpy as np
    torch.set_num_threads(2)
    unknown = sorted(set(args.rows) - {m for m, _ in rows})
    if unknown:
        fail(f"unknown rows {unknown}" + (" (adaface needs --cvlface)" if "adaface" in unknown else ""))

    work = os.path.abspath(args.work)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    os.chdir(work)  # AGRL's builder copies vmgn.py into the working folder

    import upstream_env
    standins = upstream_env.install_standins()
    log(f"stand-ins for packages not installed here: {', '.join(standins) or 'none'}")
    with contextlib.redirect_stdout(io.StringIO()):
        upstream_modules = upstream_env.import_upstream(upstream)
    narrow_models()
    if args.cvlface:
        install_cvlface(os.path.abspath(args.cvlface), upstream_modules[0])

    rng = np.random.default_rng(args.seed)
    data_root = os.path.join(work, "data")
    write_ccvid(data_root, rng)
    write_ltcc(data_root, rng)
    write_mevid(data_root, rng)
    if args.cvlface:
        write_ccvid_faces(data_root, rng)
    log(f"synthetic CCVID, LTCC and MEVID in {data_root} ({time.time() - start:.1f} s)")

    results = {}
    for model, dataset in rows:
        if model not in args.rows:
            continue
        row_start = time.time()
        log(f"--- {model} on {dataset}")
        row = Row(model, dataset, upstream, work)
        row.write_backbone_cfg()
        built = make_checkpoint(row, upstream_modules[0], args.seed + len(results) * 10)
        if model == "biggait":
            check_biggait_patches(built)
        del built
        stamp = time.time()
        export_path = export_row(row, upstream)
        check_saved_graph(row, export_path)
        export_s = time.time() - stamp
        stamp = time.time()
        qme_path = run_qme(row, args.qme_test, data_root, export_path, optimize=True)
        qme_s = time.time() - stamp
        eager_path = run_qme(row, args.qme_test, data_root, export_path, optimize=False)
        stamp = time.time()
        upstream_path = run_upstream(row, upstream_modules, data_root)
        upstream_s = time.time() - stamp
        result = compare(row, qme_path, upstream_path)
        result["eager_rel"] = compare(row, eager_path, upstream_path)["rel"]
        result["seconds"] = time.time() - row_start
        results[model] = result
        log(f"{model}: {result['rows']} rows x {result['dim']}: cosine >= {result['cos']:.9f}, "
            f"max rel diff {result['rel']:.2e}, with --optimize false {result['eager_rel']:.2e} (export {export_s:.0f} s, qme {qme_s:.0f} s, "
            f"upstream {upstream_s:.0f} s, row {result['seconds']:.0f} s)")

    log("\nmodel       dataset  rows  dim   min cosine     max rel diff  --optimize false")
    failed = []
    for model, dataset in rows:
        if model not in results:
            continue
        r = results[model]
        ok = (r["cos"] >= COSINE_MIN and r["rel"] <= RELATIVE_MAX and r["eager_rel"] <= EAGER_RELATIVE_MAX
              and r["eager_rel"] <= r["rel"])
        failed += [] if ok else [model]
        log(f"{model:<11} {dataset:<8} {r['rows']:>4}  {r['dim']:>4}  {r['cos']:.9f}  {r['rel']:.2e}      "
            f"{r['eager_rel']:.2e}"
            f"{'' if ok else '  FAIL'}")
    log(f"total {time.time() - start:.0f} s")
    if failed:
        fail(f"qme's features differ from upstream's beyond cosine {COSINE_MIN} / relative {RELATIVE_MAX} "
             f"(--optimize false: {EAGER_RELATIVE_MAX}, and no further than optimised): "
             f"{', '.join(failed)}")
    log("ok: every row matches upstream")
    os.chdir(SOURCE)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

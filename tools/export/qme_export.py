"""Wrap upstream QME backbones as TorchScript files that qme loads (DESIGN §8).

This module holds the wrapping logic only; it imports nothing from the upstream repository, so it
can be tested on small stand-in modules with the same attribute structure
(test_qme_export.py). export_backbone.py builds the real models with upstream's code and calls
it.

The contract qme checks (include/qme/backbone/backbone_spec.hpp):

* ``forward(x) -> Dict[str, Tensor]`` in eval mode, with ``"embedding"`` and, where the model has
  them, ``"intermediates"`` (face ViT blocks 8 and 16, LayerNorm'd without affine, eps 1e-6;
  BigGait's DINOv2 mid-4 blocks 5 and 8) or ``"layer2"`` / ``"layer3"`` (CAL's ResNet maps);
* string attributes ``qme_family`` and ``qme_input`` (and ``qme_source``, the weights' origin);
* BigGait: the tensor attribute ``fc_bin`` (P, C, C'), normalised when upstream normalises it.

Intermediates are captured at the very modules upstream hooks (``model.py``): hooks run while
tracing, so the traced graph returns them explicitly.
"""

from typing import Callable, Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

# model -> (family, qme_input), as backbone_spec.cpp.
SPECS = {
    "adaface": ("adaface", "N,3,112,112"),
    "kprpe": ("kprpe", "N,3,112,112"),
    "arcface": ("arcface", "N,3,112,112"),
    "biggait": ("biggait", "N,3,256,128"),
    "cal-ccvid": ("cal-image", "N,3,384,192"),
    "cal-ltcc": ("cal-image", "N,3,384,192"),
    "cal-mevid": ("cal-video", "B,3,T,256,128"),
    "aim": ("aim", "N,3,384,192"),
    "agrl": ("agrl", "B,T,3,256,128"),
}


def example_shape(model: str, batch: int, frames: int = 4) -> List[int]:
    """An input shape for `model` with `batch` frames (frame models) or clips of `frames`."""
    _, spec = SPECS[model]
    dims = spec.split(",")
    shape = []
    for d in dims:
        shape.append(batch if d in ("N", "B") else frames if d == "T" else int(d))
    return shape


class _Capture:
    """Forward hooks that keep the outputs of some submodules (upstream's hook_fn)."""

    def __init__(self, modules: Sequence[nn.Module]):
        self.outputs: List[Optional[torch.Tensor]] = [None] * len(modules)
        self.handles = [m.register_forward_hook(self._hook(i)) for i, m in enumerate(modules)]

    def _hook(self, index: int):
        def hook(module, inputs, output):
            self.outputs[index] = output

        return hook

    def take(self) -> List[torch.Tensor]:
        outputs = self.outputs
        if any(o is None for o in outputs):
            raise RuntimeError("a hooked module did not run during forward")
        self.outputs = [None] * len(outputs)
        return outputs  # type: ignore[return-value]


class FaceViTExport(nn.Module):
    """AdaFace / KP-RPE ViT (CVLface): embedding plus blocks 8 and 16, LayerNorm'd, (N, 2, P, C).

    `blocks` is the ViT's block list (upstream: model.model.net.blocks, or
    model.module.net.blocks for KP-RPE)."""

    def __init__(self, model: nn.Module, blocks: Sequence[nn.Module], block_ids=(8, 16)):
        super().__init__()
        self.model = model
        self.capture = _Capture([blocks[i] for i in block_ids])

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        embedding = self.model(x)
        if isinstance(embedding, (tuple, list)):
            embedding = embedding[0]
        blocks = torch.stack(self.capture.take(), dim=0)  # (2, N, P, C), as upstream stacks them
        blocks = F.layer_norm(blocks, blocks.shape[-1:], eps=1e-6)
        return {"embedding": embedding, "intermediates": blocks.permute(1, 0, 2, 3).contiguous()}


class FaceCNNExport(nn.Module):
    """ArcFace (IR-101): the embedding only (upstream takes no intermediates from it)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        embedding = self.model(x)
        if isinstance(embedding, (tuple, list)):
            embedding = embedding[0]
        return {"embedding": embedding}


class CalImageExport(nn.Module):
    """CAL image ResNet-50 (models/img_resnet.py): embedding (N, d) and the outputs of base[5]
    (layer2) and base[6] (layer3), where upstream hooks."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.capture = _Capture([model.base[5], model.base[6]])

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        embedding = self.model(x)
        layer2, layer3 = self.capture.take()
        return {"embedding": embedding, "layer2": layer2, "layer3": layer3}


class CalVideoExport(nn.Module):
    """CAL video ResNet-50 (models/vid_resnet.py, MEVID): clips (B, 3, T, H, W) -> (B, d), with
    layer2 (B, 512, T, h, w) and layer3 (B, 1024, T, h, w)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.capture = _Capture([model.layer2, model.layer3])

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        embedding = self.model(x)
        layer2, layer3 = self.capture.take()
        return {"embedding": embedding, "layer2": layer2, "layer3": layer3}


class AimExport(nn.Module):
    """AIM ResNet-50 (AIM_CCReID models/img_resnet.py): forward returns (base_f, f); f is the
    embedding."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        _, embedding = self.model(x)
        return {"embedding": embedding}


class AgrlExport(nn.Module):
    """AGRL (vmgn): clips (B, T, 3, H, W) with upstream's all-ones pose graph of
    adj_size * T nodes (adj_size = sum(calc_splits(4)), model.py get_body_feat)."""

    def __init__(self, model: nn.Module, adj_size: int):
        super().__init__()
        self.model = model
        self.adj_size = adj_size

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        nodes = self.adj_size * x.shape[1]
        adj = torch.ones((x.shape[0], nodes, nodes), dtype=x.dtype, device=x.device)
        return {"embedding": self.model(x.contiguous(), adj)}


class BigGaitExport(nn.Module):
    """BigGait (DINOv2-S + GaitBase): frames (N, 3, 256, 128) -> per-frame embeddings (N, C, P)
    before the part projection (qme takes the max over a clip, then fc_bin), and the DINOv2
    mid-4 blocks 5 and 8 as (N, 2, P, C) (upstream: x_norm_patchtokens_mid4[:, :, 1:3])."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        n = x.shape[0]
        mid4 = self.model.backbone(x, is_training=True)["x_norm_patchtokens_mid4"]  # (N, P, 4C)
        mid4 = mid4.reshape(n, mid4.shape[1], 4, -1).permute(0, 2, 1, 3)  # (N, 4, P, C)
        # Each frame on its own (n = N, s = 1): GaitBase works frame by frame before its
        # temporal max, which qme applies.
        clips = x.unsqueeze(1)
        out = self.model(([clips], [0], ["_"], ["_"], None))["inference_feat"]["embeddings"]  # (N, C, 1, P)
        return {"embedding": out[:, :, 0, :].contiguous(), "intermediates": mid4[:, 1:3].contiguous()}


def biggait_fc_bin(model: nn.Module) -> torch.Tensor:
    """The part projection qme applies: gait_net.FCs.fc_bin, normalised over dim 1 when the
    SeparateFCs has norm=True (upstream's SeparateFCs.forward)."""
    fcs = model.gait_net.FCs
    weight = fcs.fc_bin.detach()
    return F.normalize(weight, dim=1) if getattr(fcs, "norm", False) else weight.clone()


class QmeBackbone(nn.Module):
    """The saved module: the traced wrapper plus the attributes qme checks."""

    qme_family: str
    qme_input: str
    qme_source: str

    def __init__(self, inner: nn.Module, family: str, input_spec: str, source: str,
                 fc_bin: Optional[torch.Tensor] = None):
        super().__init__()
        self.inner = inner
        self.qme_family = family
        self.qme_input = input_spec
        self.qme_source = source
        if fc_bin is not None:
            self.register_buffer("fc_bin", fc_bin.detach().clone().float())

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        return self.inner(x)


def max_difference(a: Dict[str, torch.Tensor], b: Dict[str, torch.Tensor]) -> float:
    if sorted(a) != sorted(b):
        raise RuntimeError(f"outputs differ in keys: {sorted(a)} vs {sorted(b)}")
    worst = 0.0
    for key in a:
        if a[key].shape != b[key].shape:
            raise RuntimeError(f"'{key}' is {tuple(b[key].shape)}, the eager model gives {tuple(a[key].shape)}")
        worst = max(worst, (a[key].float() - b[key].float()).abs().max().item())
    return worst


def export(wrapper: nn.Module, model: str, out_path: str, examples: Sequence[torch.Tensor], source: str = "",
           fc_bin: Optional[torch.Tensor] = None, atol: float = 1e-4,
           log: Callable[[str], None] = print, device: str = "cpu") -> torch.jit.ScriptModule:
    """Traces `wrapper` (eval mode, no grad) on examples[0], attaches the contract's attributes,
    saves TorchScript to `out_path`, reloads it and checks it against the eager wrapper on every
    example (use two batch sizes: tracing specialises on shapes it should not). Raises
    RuntimeError when an output differs by more than `atol` or has another shape. `device` is
    where the model runs while tracing (qme moves the file to its own device when loading)."""
    family, input_spec = SPECS[model]
    wrapper = wrapper.eval().to(device)
    examples = [e.to(device) for e in examples]
    with torch.no_grad():
        traced = torch.jit.trace(wrapper, (examples[0],), strict=False, check_trace=False)
        module = torch.jit.script(QmeBackbone(traced, family, input_spec, source, fc_bin))
        module.save(out_path)
        loaded = torch.jit.load(out_path, map_location=device)
        for example in examples:
            eager = wrapper(example)
            if "embedding" not in eager:
                raise RuntimeError("the wrapper returns no 'embedding'")
            worst = max_difference(eager, loaded(example))
            log(f"{model}: batch {example.shape[0]}: max |TorchScript - eager| = {worst:.3g}")
            if worst > atol:
                raise RuntimeError(f"the TorchScript export differs from the eager model by {worst:.3g} "
                                   f"at batch {example.shape[0]} (tolerance {atol})")
    if loaded.qme_family != family or loaded.qme_input != input_spec:
        raise RuntimeError("the saved attributes do not read back")
    return loaded

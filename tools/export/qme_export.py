"""Wrap upstream QME backbones as TorchScript files that qme loads (docs/architecture.md §8).

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

Device neutrality: a traced graph records the tracing device wherever the model asks for one
(``torch.ones(..., device=x.device)``, ``t.to(x.device)``: BigGait's mask and morphology
kernels, for instance). ``export`` replaces every such device constant by the device of the input
(``prim::device(x)``), so one file runs on the CPU and on CUDA; tensor constants follow
``map_location`` when the file is loaded. A file traced on another device than the CPU is also
run on the CPU before it is kept, and refused (deleted, with the reason) when it does not run
there or computes in float16.

Upstream code that cannot be traced as it is (BigGait; see ``biggait_tracing``) is handled by
patches that are active only while tracing and checking, and restored afterwards; xformers'
attention (DINOv2's ``MemEffAttention``) is switched off the same way for every model
(``xformers_disabled``).
"""

import contextlib
import os
import sys
import warnings
from typing import Callable, Dict, Iterator, List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

# model -> (family, qme_input), as the registry (src/models/model_spec.cpp) has them;
# tests/python/test_models.py checks that the two agree.
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
    mid-4 blocks 5 and 8 as (N, 2, P, C) (upstream: x_norm_patchtokens_mid4[:, :, 1:3]).

    Upstream's BigGait does not trace as it is; ``tracing_context()`` (``biggait_tracing``) is
    active whenever ``export`` traces or runs the eager model."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def tracing_context(self):
        return biggait_tracing(self.model)

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        n = x.shape[0]
        mid4 = self.model.backbone(x, is_training=True)["x_norm_patchtokens_mid4"]  # (N, P, 4C)
        mid4 = mid4.reshape(n, mid4.shape[1], 4, -1).permute(0, 2, 1, 3)  # (N, 4, P, C)
        # Each frame on its own (n = N, s = 1): GaitBase works frame by frame before its
        # temporal max, which qme applies.
        clips = x.unsqueeze(1)
        out = self.model(([clips], [0], ["_"], ["_"], None))["inference_feat"]["embeddings"]  # (N, C, 1, P)
        return {"embedding": out[:, :, 0, :].contiguous(), "intermediates": mid4[:, 1:3].contiguous()}


def _static_int(value) -> int:
    """A size as a Python int. While tracing, sizes read from a tensor's shape are 0-d tensors;
    the int makes the trace use the example's size, which is fixed for qme (the export's
    qme_input)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        return int(value)


def dino_forward_features(dino: nn.Module) -> Callable:
    """DINOv2's ``forward_features`` (BigGait's DINOv2.py) for one batch, traceable: the same
    computation with the image size as Python ints.

    Upstream's version fails under ``torch.jit.trace`` twice: ``interpolate_pos_encoding``
    receives the height and width as 0-d tensors, so its bicubic ``scale_factor`` becomes a tuple
    of tensors, and the mid-4 LayerNorm is built from ``x_mid4[0].shape[-1] * 4``, a tensor.
    This one calls upstream's ``patch_embed``, ``interpolate_pos_encoding`` (with ints), blocks and
    ``norm``, takes the blocks upstream takes (``int(i * n / 4 + n / 4 - 1)``, i < 4) and
    normalises their concatenation without affine (eps 1e-6), as upstream does."""

    def forward_features(x, masks=None):
        if isinstance(x, list) or masks is not None:
            raise RuntimeError("the export runs DINOv2 on one batch without token masks")
        height, width = _static_int(x.shape[2]), _static_int(x.shape[3])
        tokens = dino.patch_embed(x)
        tokens = torch.cat((dino.cls_token.expand(tokens.shape[0], -1, -1), tokens), dim=1)
        with warnings.catch_warnings():  # its size checks compare ints with traced sizes
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            pos = dino.interpolate_pos_encoding(tokens, height, width)
        tokens = tokens + pos
        n_blocks = len(dino.blocks)
        take = [int(i * n_blocks / 4 + n_blocks / 4 - 1) for i in range(4)]
        mids = []
        for i, block in enumerate(dino.blocks):
            tokens = block(tokens)
            if i in take:
                mids.append(tokens)
        mid4 = torch.cat(mids, dim=-1)
        mid4 = F.layer_norm(mid4, (len(mids) * dino.embed_dim,), eps=1e-6)
        return {"x_norm_patchtokens": dino.norm(tokens)[:, 1:], "x_norm_patchtokens_mid4": mid4[:, 1:]}

    return forward_features


class FloatMaskResize:
    """Stands for ``torch.nn.functional`` in BigGait's module while tracing: a float16 input to a
    nearest-neighbour resize is resized in float32 and returned in float32; everything else is
    torch.nn.functional itself.

    BigGait resizes its 0/1 column mask with ``F.interpolate(mask.half(), mode='nearest-exact')``.
    PyTorch 1.13 has no CPU float16 kernel for that ("compute_indices_weights_nearest" not
    implemented for 'Half'), and a graph traced on CUDA would carry the float16 op to the CPU.
    Nearest-neighbour resizing copies values: a 0/1 mask resized in float32 holds the same 0/1
    values, and upstream only compares it with 0 afterwards."""

    NEAREST = ("nearest", "nearest-exact")

    def __init__(self, functional):
        self._functional = functional

    def __getattr__(self, name):
        return getattr(self._functional, name)

    def interpolate(self, input, size=None, scale_factor=None, mode="nearest", *args, **kwargs):
        if input.dtype == torch.float16 and mode in self.NEAREST:
            input = input.float()
        return self._functional.interpolate(input, size, scale_factor, mode, *args, **kwargs)


@contextlib.contextmanager
def biggait_tracing(model: nn.Module) -> Iterator[None]:
    """Makes upstream's BigGait traceable on PyTorch 1.13, for the duration of the block only:

    * ``model.backbone.forward_features`` (an instance attribute, shadowing DINOv2's method) is
      ``dino_forward_features``: sizes as Python ints (upstream's fails with "upsample_bicubic2d()
      received an invalid combination of arguments" and "iteration over a 0-d tensor");
    * ``F`` in BigGait's module is ``FloatMaskResize``: the mask is resized in float32 (upstream's
      fails on the CPU with "compute_indices_weights_nearest" not implemented for 'Half').

    Both leave the computation as upstream's: the same modules and weights, the same values
    (tools/export/README.md; checked against upstream's own test path by the
    export.upstream_models test). Everything is restored on exit, also after an error."""
    module = sys.modules[type(model).__module__]
    dino = model.backbone
    if "forward_features" in vars(dino) or isinstance(getattr(module, "F", None), FloatMaskResize):
        raise RuntimeError("biggait_tracing is already active for this model")
    saved_functional = module.F
    module.F = FloatMaskResize(saved_functional)
    dino.forward_features = dino_forward_features(dino)
    try:
        yield
    finally:
        del dino.forward_features
        module.F = saved_functional


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
        worst = max(worst, (a[key].float().cpu() - b[key].float().cpu()).abs().max().item())
    return worst


@contextlib.contextmanager
def xformers_disabled(model: nn.Module) -> Iterator[List[str]]:
    """Switches xformers off in the modules that define ``model``'s layers, for the duration of
    the block: upstream's DINOv2 (BigGait) checks the module flag ``XFORMERS_AVAILABLE`` and,
    where xformers is installed, calls ``memory_efficient_attention``, which TorchScript cannot
    carry to the CPU. Without it DINOv2 runs its plain attention, the same computation. Yields
    the names of the modules it changed; restores their flags on exit."""
    changed = {}
    for layer in model.modules():
        module = sys.modules.get(type(layer).__module__)
        if module is not None and getattr(module, "XFORMERS_AVAILABLE", False) is True:
            changed[module.__name__] = module
    for module in changed.values():
        module.XFORMERS_AVAILABLE = False
    try:
        yield sorted(changed)
    finally:
        for module in changed.values():
            module.XFORMERS_AVAILABLE = True


def neutralize_devices(traced: torch.jit.ScriptModule) -> int:
    """Replaces every device constant of the traced forward by the device of its input
    (``prim::device(x)``); returns how many there were. The forward is inlined first, so the
    constants of submodules are reached too. Saving regenerates the code from this graph."""
    graph = traced.graph
    torch._C._jit_pass_inline(graph)
    tensor_inputs = [v for v in graph.inputs() if v.type().kind() == "TensorType"]
    if not tensor_inputs:
        raise RuntimeError("the traced forward has no tensor input")
    device = None
    count = 0
    for node in list(graph.nodes()):
        if node.kind() != "prim::Constant" or node.output().type().kind() != "DeviceObjType":
            continue
        if device is None:
            device = graph.create("prim::device", [tensor_inputs[0]])
            device.output().setType(node.output().type())
            device.insertBefore(next(iter(graph.nodes())))
        node.output().replaceAllUsesWith(device.output())
        node.destroy()
        count += 1
    return count


def device_constants(graph) -> List[str]:
    """The device constants left in a graph (nodes in nested blocks included)."""
    found = []

    def visit(block):
        for node in block.nodes():
            if node.kind() == "prim::Constant" and node.output().type().kind() == "DeviceObjType":
                found.append(str(node).strip())
            for inner in node.blocks():
                visit(inner)

    visit(graph)
    return found


def float16_ops(graph) -> List[str]:
    """Ops of a traced graph that compute in float16 (a float16 tensor input to anything but a
    cast). Only traced graphs carry the dtypes this needs."""
    found = []
    for node in graph.nodes():
        if node.kind() in ("aten::to", "aten::type_as") or node.kind().startswith("prim::"):
            continue
        for value in node.inputs():
            kind = value.type()
            if kind.kind() == "TensorType" and kind.scalarType() == "Half":
                found.append(node.kind())
                break
    return sorted(set(found))


def _run_checks(loaded, examples, eager, model, atol, log, where):
    for example, expected in zip(examples, eager):
        worst = max_difference(expected, loaded(example.to(where)))
        log(f"{model}: batch {example.shape[0]} on {where}: max |TorchScript - eager| = {worst:.3g}")
        if worst > atol:
            raise RuntimeError(f"the TorchScript export differs from the eager model by {worst:.3g} "
                               f"at batch {example.shape[0]} on {where} (tolerance {atol})")


def export(wrapper: nn.Module, model: str, out_path: str, examples: Sequence[torch.Tensor], source: str = "",
           fc_bin: Optional[torch.Tensor] = None, atol: float = 1e-4,
           log: Callable[[str], None] = print, device: str = "cpu") -> torch.jit.ScriptModule:
    """Traces `wrapper` (eval mode, no grad) on examples[0], makes the graph device-neutral
    (``neutralize_devices``), attaches the contract's attributes, saves TorchScript to
    `out_path`, reloads it and checks it against the eager wrapper on every example (use two
    batch sizes: tracing specialises on shapes it should not). `device` is where the model runs
    while tracing; a file traced elsewhere than on the CPU must also run on the CPU, and where
    CUDA is available the file is checked there too. Raises RuntimeError, and deletes the file,
    when an output differs by more than `atol`, has another shape, or the file does not run on
    the CPU. The wrapper's ``tracing_context()``, where it has one, and ``xformers_disabled``
    are active while tracing and running the eager model."""
    family, input_spec = SPECS[model]
    device = str(torch.device(device))
    wrapper = wrapper.eval().to(device)
    examples = [e.to(device) for e in examples]
    context = getattr(wrapper, "tracing_context", contextlib.nullcontext)
    try:
        with torch.no_grad(), xformers_disabled(wrapper) as switched, context():
            if switched:
                log(f"{model}: xformers switched off in {', '.join(switched)} (plain attention)")
            traced = torch.jit.trace(wrapper, (examples[0],), strict=False, check_trace=False)
            half = float16_ops(traced.inlined_graph)
            if half and device != "cpu":
                raise RuntimeError(f"the graph traced on {device} computes in float16 ({', '.join(half)}); "
                                   "such a file does not run on the CPU: export on the CPU (--device cpu)")
            moved = neutralize_devices(traced)
            if moved:
                log(f"{model}: {moved} device constant(s) of the {device} trace now follow the input's device")
            module = torch.jit.script(QmeBackbone(traced, family, input_spec, source, fc_bin))
            module.save(out_path)
            eager = []
            for example in examples:
                out = wrapper(example)
                if "embedding" not in out:
                    raise RuntimeError("the wrapper returns no 'embedding'")
                eager.append(out)
        loaded = torch.jit.load(out_path, map_location=device)
        left = device_constants(loaded.inlined_graph)
        if left:
            raise RuntimeError(f"the saved graph still holds device constants: {left}")
        with torch.no_grad():
            _run_checks(loaded, examples, eager, model, atol, log, device)
            for where in ["cpu", "cuda"]:
                if where == device.split(":")[0] or (where == "cuda" and not torch.cuda.is_available()):
                    continue
                try:
                    elsewhere = torch.jit.load(out_path, map_location=where)
                    _run_checks(elsewhere, examples, eager, model, atol, log, where)
                except Exception as error:  # noqa: BLE001 - any failure there refuses the file
                    raise RuntimeError(f"the export traced on {device} does not run on {where}: "
                                       f"{str(error).strip().splitlines()[0]}") from error
        if loaded.qme_family != family or loaded.qme_input != input_spec:
            raise RuntimeError("the saved attributes do not read back")
    except BaseException:
        if os.path.exists(out_path):
            os.remove(out_path)
        raise
    return loaded

"""The upstream QME code (../shared/upstream/QME_ICCV25) importable on Debian's PyTorch 1.13 CPU.

Upstream's environment has packages Debian lacks. This module puts small stand-ins in their place,
for this test process only, and only where the real package cannot be imported:

* functional stand-ins, used by the code paths under test:
  - ``einops``: ``rearrange`` / ``repeat`` for the patterns upstream uses (named axes, groups
    ``(a b)``, unit axes ``1``);
  - ``yacs.config.CfgNode``: attribute dict with clone / freeze / defrost / merge_from_file;
  - ``kornia.morphology``: ``dilation`` / ``erosion`` with kornia's 'unfold' engine and geodesic
    border (BigGait's ``get_edge``);
  - ``timm.layers.trunc_normal_`` (= ``torch.nn.init.trunc_normal_``) and, for CVLface's ViT,
    ``timm.models.layers`` (``DropPath``: the identity in eval mode, ``to_2tuple``,
    ``trunc_normal_``);
  - ``tqdm.tqdm`` (the iterable itself);
* import-only stand-ins, whose attributes raise when used: ``pandas``, ``sklearn``,
  ``transformers``, ``huggingface_hub``, ``matplotlib``, ``cv2``, ``deepface``, ``retinaface``,
  ``scipy``, ``pytorch_lightning``, ``imageio``, ``imgaug``, and for CVLface ``fvcore``,
  ``safetensors``, ``omegaconf``. Nothing is downloaded: the Hugging Face entry
  points raise.

``xformers`` is left absent: upstream's DINOv2 then uses its plain attention (the export is
checked separately with a pretend xformers, see test_upstream_models.py).

Python compatibility: upstream's ``data/spatial_transforms.py`` reads ``collections.Iterable``,
which Python 3.10 removed; it is set to ``collections.abc.Iterable`` where missing.

No-download guards: ``torchvision.models.resnet50(pretrained=True)`` (CAL, AIM) builds without
weights, and ``torch.utils.model_zoo.load_url`` (AGRL's ImageNet initialisation) returns an empty
state dict; the test then sets every weight itself.

CPU plumbing for upstream's test.py feature path, inside ``cpu_plumbing()`` only:
``Tensor.cuda`` returns the tensor, ``data.DataLoaderX`` (a CUDA-stream prefetcher) is a plain
DataLoader, and torch.distributed runs a one-process gloo group.
"""
from __future__ import annotations

import contextlib
import copy
import importlib.util
import os
import re
import sys
import tempfile
import types
from typing import Dict, List

import torch
import torch.nn.functional as F
import yaml


# --------------------------------------------------------------------------------------------
# einops
# --------------------------------------------------------------------------------------------

def _parse_axes(side: str) -> List[List[str]]:
    """'b (h w) 1 c' -> [['b'], ['h', 'w'], [], ['c']] (a unit axis is an empty group)."""
    groups: List[List[str]] = []
    current = None
    for token in re.findall(r"\(|\)|[A-Za-z_][A-Za-z0-9_]*|\d+", side):
        if token == "(":
            current = []
        elif token == ")":
            groups.append(current)
            current = None
        elif token.isdigit():
            if token != "1":
                raise ValueError(f"einops stand-in: only the unit axis 1 is supported, got {token}")
            if current is None:
                groups.append([])
        elif current is not None:
            current.append(token)
        else:
            groups.append([token])
    return groups


def _einops(tensor, pattern: str, sizes: Dict[str, int], allow_new: bool):
    left, right = pattern.split("->")
    lg, rg = _parse_axes(left), _parse_axes(right)
    if len(lg) != tensor.dim():
        raise ValueError(f"einops stand-in: '{left.strip()}' has {len(lg)} axes, the tensor {tensor.dim()}")
    known = dict(sizes)
    for group, dim in zip(lg, tensor.shape):
        unknown = [a for a in group if a not in known]
        if len(unknown) > 1:
            raise ValueError(f"einops stand-in: cannot infer {unknown} in '{left.strip()}'")
        if unknown:
            rest = 1
            for a in group:
                if a != unknown[0]:
                    rest = rest * known[a]
            known[unknown[0]] = dim // rest
    flat = [a for g in lg for a in g]
    x = tensor.reshape([known[a] for a in flat])
    right_flat = [a for g in rg for a in g]
    new = [a for a in right_flat if a not in flat]
    if new and not allow_new:
        raise ValueError(f"einops stand-in: rearrange cannot create axes {new}")
    if sorted(set(flat) - set(right_flat)):
        raise ValueError("einops stand-in: axes may not disappear")
    x = x.permute([flat.index(a) for a in right_flat if a in flat])
    if new:
        for i, a in enumerate(right_flat):
            if a in new:
                x = x.unsqueeze(i)
        x = x.expand([known[a] for a in right_flat])
    shape = []
    for g in rg:
        size = 1
        for a in g:
            size = size * known[a]
        shape.append(size)
    return x.reshape(shape)


def _rearrange(tensor, pattern, **sizes):
    return _einops(tensor, pattern, sizes, allow_new=False)


def _repeat(tensor, pattern, **sizes):
    return _einops(tensor, pattern, sizes, allow_new=True)


# --------------------------------------------------------------------------------------------
# yacs
# --------------------------------------------------------------------------------------------

class CfgNode(dict):
    """yacs' CfgNode as far as upstream's configs use it."""

    def __init__(self, init_dict=None, key_list=None, new_allowed=False):
        super().__init__()
        self.__dict__["_frozen"] = False
        for key, value in (init_dict or {}).items():
            self[key] = CfgNode(value) if isinstance(value, dict) and not isinstance(value, CfgNode) else value

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name, value):
        if self.__dict__.get("_frozen"):
            raise AttributeError(f"CfgNode is frozen: cannot set {name}")
        self[name] = value

    def _set_frozen(self, frozen: bool):
        self.__dict__["_frozen"] = frozen
        for value in self.values():
            if isinstance(value, CfgNode):
                value._set_frozen(frozen)

    def freeze(self):
        self._set_frozen(True)

    def defrost(self):
        self._set_frozen(False)

    def is_frozen(self):
        return self.__dict__["_frozen"]

    def clone(self):
        return copy.deepcopy(self)

    def __deepcopy__(self, memo):
        out = CfgNode({k: copy.deepcopy(v, memo) for k, v in self.items()})
        out._set_frozen(self.is_frozen())
        return out

    def merge_from_other_cfg(self, other):
        for key, value in other.items():
            if key not in self:
                raise KeyError(f"Non-existent config key: {key}")
            if isinstance(value, dict) and isinstance(self[key], CfgNode):
                self[key].merge_from_other_cfg(value)
            else:
                self[key] = CfgNode(value) if isinstance(value, dict) else value

    def merge_from_file(self, path):
        with open(path) as f:
            self.merge_from_other_cfg(yaml.safe_load(f) or {})


# --------------------------------------------------------------------------------------------
# kornia.morphology (engine 'unfold', border 'geodesic': kornia's defaults)
# --------------------------------------------------------------------------------------------

def _morphology(tensor, kernel, max_val, dilate: bool):
    se_h, se_w = kernel.shape
    oh, ow = se_h // 2, se_w // 2
    pad = [ow, se_w - ow - 1, oh, se_h - oh - 1]
    neighborhood = torch.zeros_like(kernel)
    neighborhood[kernel == 0] = -max_val
    out = F.pad(tensor, pad, mode="constant", value=-max_val if dilate else max_val)
    out = out.unfold(2, se_h, 1).unfold(3, se_w, 1)
    if dilate:
        out, _ = torch.max(out + neighborhood.flip((0, 1)), 4)
        out, _ = torch.max(out, 4)
    else:
        out, _ = torch.min(out - neighborhood, 4)
        out, _ = torch.min(out, 4)
    return out


def _dilation(tensor, kernel, structuring_element=None, origin=None, border_type="geodesic", border_value=0.0,
              max_val=1e4, engine="unfold"):
    if structuring_element is not None or origin is not None or border_type != "geodesic":
        raise NotImplementedError("kornia stand-in: only the defaults upstream uses")
    return _morphology(tensor, kernel, max_val, dilate=True)


def _erosion(tensor, kernel, structuring_element=None, origin=None, border_type="geodesic", border_value=0.0,
             max_val=1e4, engine="unfold"):
    if structuring_element is not None or origin is not None or border_type != "geodesic":
        raise NotImplementedError("kornia stand-in: only the defaults upstream uses")
    return _morphology(tensor, kernel, max_val, dilate=False)


# --------------------------------------------------------------------------------------------
# timm.models.layers (CVLface's ViT)
# --------------------------------------------------------------------------------------------

class _DropPath(torch.nn.Module):
    """timm's DropPath as far as inference goes: the identity in eval mode."""

    def __init__(self, drop_prob=0.0, scale_by_keep=True):
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x):
        if self.training and self.drop_prob > 0:
            raise NotImplementedError("timm stand-in: DropPath only runs in eval mode")
        return x


def _to_2tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x, x)


# --------------------------------------------------------------------------------------------
# installation
# --------------------------------------------------------------------------------------------

class _ImportOnly(types.ModuleType):
    """A module that can be imported; using any of its attributes raises."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)

        def unavailable(*args, **kwargs):
            raise RuntimeError(f"stand-in module {self.__name__}: {name} is not available in this test "
                               "(the package is not installed; nothing is downloaded)")

        return unavailable


def _module(name: str, cls=types.ModuleType, **attrs):
    module = cls(name)
    module.__dict__.update(attrs)
    module.__qme_standin__ = True
    return module


def _functional_standins():
    return {
        "einops": {"einops": dict(rearrange=_rearrange, repeat=_repeat)},
        "yacs": {"yacs": {}, "yacs.config": dict(CfgNode=CfgNode)},
        "kornia": {"kornia": {}, "kornia.morphology": dict(dilation=_dilation, erosion=_erosion)},
        "timm": {"timm": {}, "timm.layers": dict(trunc_normal_=torch.nn.init.trunc_normal_), "timm.models": {},
                 "timm.models.layers": dict(DropPath=_DropPath, to_2tuple=_to_2tuple,
                                            trunc_normal_=torch.nn.init.trunc_normal_)},
        "tqdm": {"tqdm": dict(tqdm=lambda iterable=None, *args, **kwargs: iterable)},
    }


_IMPORT_ONLY = {
    "pandas": ["pandas"],
    "sklearn": ["sklearn", "sklearn.metrics"],
    "transformers": ["transformers"],
    "huggingface_hub": ["huggingface_hub"],
    "matplotlib": ["matplotlib", "matplotlib.pyplot"],
    "cv2": ["cv2"],
    "deepface": ["deepface"],
    "retinaface": ["retinaface"],
    "scipy": ["scipy", "scipy.io"],
    "pytorch_lightning": ["pytorch_lightning"],
    "imageio": ["imageio"],
    "imgaug": ["imgaug", "imgaug.augmenters"],
    "fvcore": ["fvcore", "fvcore.nn"],
    "safetensors": ["safetensors"],
    "omegaconf": ["omegaconf"],
}


def _importable(name: str) -> bool:
    if name in sys.modules:
        return not getattr(sys.modules[name], "__qme_standin__", False)
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def install_standins() -> List[str]:
    """Installs a stand-in for every package upstream imports that is not importable here;
    returns their names."""
    installed = []
    for package, modules in _functional_standins().items():
        if _importable(package):
            continue
        for name, attrs in modules.items():
            sys.modules[name] = _module(name, **attrs)
        installed.append(package)
    for package, names in _IMPORT_ONLY.items():
        if _importable(package):
            continue
        for name in names:
            sys.modules[name] = _module(name, cls=_ImportOnly)
        installed.append(package)
    # Parent packages expose their stood-in submodules as attributes.
    for name in list(sys.modules):
        if "." in name and getattr(sys.modules[name], "__qme_standin__", False):
            parent, child = name.rsplit(".", 1)
            if parent in sys.modules:
                sys.modules[parent].__dict__[child] = sys.modules[name]
    import collections
    import collections.abc
    if not hasattr(collections, "Iterable"):
        collections.Iterable = collections.abc.Iterable
    _guard_downloads()
    return installed


def _guard_downloads():
    import torch.hub
    import torch.utils.model_zoo
    import torchvision.models

    def no_download(url, *args, **kwargs):
        print(f"[upstream_env] not downloading {url}: the test sets every weight itself")
        return {}

    torch.hub.load_state_dict_from_url = no_download
    torch.utils.model_zoo.load_url = no_download
    if not getattr(torchvision.models.resnet50, "__qme_no_download__", False):
        real = torchvision.models.resnet50

        def resnet50(pretrained=False, progress=True, **kwargs):
            kwargs.pop("weights", None)
            return real(weights=None, progress=progress, **kwargs)

        resnet50.__qme_no_download__ = True
        torchvision.models.resnet50 = resnet50


def import_upstream(upstream: str):
    """Upstream's model.py, data package and test.py, imported from `upstream` with the stand-ins
    in place; returns (model, data, test) modules."""
    install_standins()
    upstream = os.path.abspath(upstream)
    if upstream not in sys.path:
        sys.path.insert(0, upstream)
    import model  # noqa: E402  (upstream's model.py)
    import data  # noqa: E402
    import test as upstream_test  # noqa: E402
    for name, module in (("model", model), ("data", data), ("test", upstream_test)):
        where = os.path.dirname(os.path.abspath(module.__file__))
        if not where.startswith(upstream):
            raise RuntimeError(f"'{name}' was imported from {where}, not from {upstream}")
    return model, data, upstream_test


_GLOO_STARTED = False


def start_process_group():
    """torch.distributed with one process (gloo, file store): upstream's samplers and
    concat_all_gather ask it for the world size and rank."""
    global _GLOO_STARTED
    import torch.distributed as dist
    if dist.is_initialized():
        return
    store = os.path.join(tempfile.mkdtemp(prefix="qme_gloo_"), "store")
    dist.init_process_group(backend="gloo", init_method=f"file://{store}", world_size=1, rank=0)
    _GLOO_STARTED = True


@contextlib.contextmanager
def cpu_plumbing(data_module):
    """Upstream's test path on the CPU: Tensor.cuda returns the tensor, DataLoaderX is a plain
    DataLoader (no CUDA stream), one-process gloo group. Restored on exit."""
    start_process_group()
    saved_cuda, saved_loader = torch.Tensor.cuda, data_module.DataLoaderX
    torch.Tensor.cuda = lambda self, *args, **kwargs: self
    data_module.DataLoaderX = torch.utils.data.DataLoader
    try:
        yield
    finally:
        torch.Tensor.cuda = saved_cuda
        data_module.DataLoaderX = saved_loader


def _nearest_exact_by_index(input: torch.Tensor, size) -> torch.Tensor:
    """'nearest-exact' resizing by its definition: output index i reads input index
    min(floor((i + 0.5) * in / out), in - 1) along each resized axis (float32 arithmetic, as
    PyTorch's kernels)."""
    size = [size] if isinstance(size, int) else list(size)
    x = input
    for d, out_size in enumerate(size):
        axis = x.dim() - len(size) + d
        in_size = x.shape[axis]
        scale = torch.tensor(in_size, dtype=torch.float32) / out_size
        index = ((torch.arange(out_size, dtype=torch.float32) + 0.5) * scale).floor().long().clamp(max=in_size - 1)
        x = x.index_select(axis, index)
    return x


@contextlib.contextmanager
def cpu_half_nearest():
    """Upstream's BigGait resizes its 0/1 mask with F.interpolate(mask.half(), mode='nearest-exact'),
    which PyTorch 1.13 cannot run on the CPU. For upstream's reference run only, such a call is
    answered by ``_nearest_exact_by_index`` (index selection by the definition, in float16) - a
    different route from the export's, which resizes in float32 (qme_export.FloatMaskResize), so
    the comparison checks that one. Restored on exit."""
    real = torch.nn.functional.interpolate

    def interpolate(input, size=None, scale_factor=None, mode="nearest", *args, **kwargs):
        if (input.dtype == torch.float16 and input.device.type == "cpu" and mode == "nearest-exact"
                and size is not None and scale_factor is None and not args and not kwargs):
            return _nearest_exact_by_index(input, size)
        return real(input, size, scale_factor, mode, *args, **kwargs)

    torch.nn.functional.interpolate = interpolate
    try:
        yield
    finally:
        torch.nn.functional.interpolate = real

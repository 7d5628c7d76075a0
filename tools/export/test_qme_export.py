"""Tests of qme_export.py on small stand-in modules with upstream's attribute structure.

    python3 tools/export/test_qme_export.py [--out DIR]

Exports a stand-in of every upstream model family, reloads it, checks the contract (attributes,
output keys and shapes) and the comparison with the eager model at two batch sizes, and that a
trace that specialises on the batch size is caught (and its file deleted), that exports are
device-neutral (a graph with another device's constants runs on the CPU once neutralised), and
that the BigGait tracing patches and the xformers switch are restored. With --out, also writes the stand-in
exports of aim, adaface and biggait to DIR with a backbone config naming them, for the C++
command-line tests (the CAL stand-in's maps are narrower than the 512 + 1024 channels qme's body
quality statistics need, so qme refuses it, as it should). Exits non-zero on the first failure.
"""
from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import types

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qme_export  # noqa: E402


def settle(module: nn.Module, seed: int) -> nn.Module:
    """Fixed weights and non-trivial batch-norm statistics, eval mode."""
    torch.manual_seed(seed)
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    return module.eval()


class CalImageStandIn(nn.Module):
    """CAL's image ResNet-50 layout: base = conv1, bn1, relu, maxpool, layer1..layer4."""

    def __init__(self):
        super().__init__()
        self.base = nn.Sequential(
            nn.Conv2d(3, 8, 7, 2, 3, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(3, 2, 1),
            nn.Conv2d(8, 8, 3, 1, 1), nn.Conv2d(8, 16, 3, 2, 1), nn.Conv2d(16, 32, 3, 2, 1),
            nn.Conv2d(32, 64, 3, 1, 1))
        self.globalpooling = nn.AdaptiveAvgPool2d(1)
        self.bn = nn.BatchNorm1d(64)

    def forward(self, x):
        x = self.globalpooling(self.base(x))
        return self.bn(x.view(x.size(0), -1))


class CalVideoStandIn(nn.Module):
    """CAL's ResNet503D layout: conv1, bn1, relu, maxpool, layer1..layer4, bn."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv3d(3, 8, (1, 7, 7), (1, 2, 2), (0, 3, 3), bias=False)
        self.bn1 = nn.BatchNorm3d(8)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1))
        self.layer1 = nn.Conv3d(8, 8, (1, 3, 3), 1, (0, 1, 1))
        self.layer2 = nn.Conv3d(8, 16, (1, 3, 3), (1, 2, 2), (0, 1, 1))
        self.layer3 = nn.Conv3d(16, 32, (1, 3, 3), (1, 2, 2), (0, 1, 1))
        self.layer4 = nn.Conv3d(32, 64, (1, 3, 3), 1, (0, 1, 1))
        self.bn = nn.BatchNorm1d(64)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        b, c, t, h, w = x.size()
        x = x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
        x = F.max_pool2d(x, x.size()[2:]).view(b, t, -1).mean(1)
        return self.bn(x)


class AimStandIn(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 16, 5, 4, 2), nn.ReLU(), nn.Conv2d(16, 32, 3, 2, 1))
        self.bn = nn.BatchNorm1d(32)

    def forward(self, x):
        base_f = self.body(x)
        return base_f, self.bn(F.adaptive_avg_pool2d(base_f, 1).flatten(1))


class AgrlStandIn(nn.Module):
    """forward(x (b, t, 3, h, w), adj (b, n, n)): per-frame features mixed by the graph."""

    def __init__(self, parts: int):
        super().__init__()
        self.parts = parts
        self.conv = nn.Conv2d(3, 16, 5, 4, 2)

    def forward(self, x, adj):
        b, t = x.shape[:2]
        f = F.adaptive_avg_pool2d(self.conv(x.flatten(0, 1)), 1).view(b, t, -1)
        nodes = f.repeat_interleave(self.parts, dim=1)  # (b, parts * t, c)
        mixed = torch.bmm(adj / adj.sum(-1, keepdim=True), nodes)
        return torch.cat([mixed.mean(1), mixed.amax(1)], 1)


class FaceViTStandIn(nn.Module):
    """CVLface's wrapper layout: model.net.blocks, 8x8 patches on 112x112 (196 tokens)."""

    class Net(nn.Module):
        def __init__(self, dim=16, depth=18):
            super().__init__()
            self.patch_embed = nn.Conv2d(3, dim, 8, 8)
            self.blocks = nn.ModuleList([nn.Sequential(nn.Linear(dim, dim), nn.GELU()) for _ in range(depth)])
            self.head = nn.Linear(dim, 24)

        def forward(self, x):
            tokens = self.patch_embed(x).flatten(2).transpose(1, 2)
            for block in self.blocks:
                tokens = tokens + block(tokens)
            return F.normalize(self.head(tokens.mean(1)), dim=-1)

    class Holder(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = FaceViTStandIn.Net()

        def forward(self, x):
            return self.net(x)

    def __init__(self):
        super().__init__()
        self.model = FaceViTStandIn.Holder()

    def forward(self, x):
        return self.model(x)


class BigGaitStandIn(nn.Module):
    """backbone(x, is_training=True)["x_norm_patchtokens_mid4"] (N, 162, 4C) from 14x14 patches;
    forward((ipts, labs, ty, vi, seqL)) -> inference_feat embeddings (n, C, s, 16);
    gait_net.FCs.fc_bin (16, C, C') with norm."""

    class Dino(nn.Module):
        def __init__(self, dim=6):
            super().__init__()
            self.patch = nn.Conv2d(3, 4 * dim, 14, 14)

        def forward(self, x, is_training=False):
            tokens = self.patch(x).flatten(2).transpose(1, 2)
            return {"x_norm_patchtokens": tokens, "x_norm_patchtokens_mid4": torch.tanh(tokens)}

    class FCs(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc_bin = nn.Parameter(torch.randn(16, 10, 5))
            self.norm = True

    class GaitNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.FCs = BigGaitStandIn.FCs()

    def __init__(self):
        super().__init__()
        self.backbone = BigGaitStandIn.Dino()
        self.conv = nn.Conv2d(3, 10, 3, 2, 1)
        self.gait_net = BigGaitStandIn.GaitNet()

    def forward(self, inputs):
        ipts, labs, ty, vi, seqL = inputs
        sils = ipts[0]  # (n, s, c, h, w)
        n, s = sils.shape[:2]
        maps = self.conv(sils.flatten(0, 1))  # frame by frame, as GaitBase's SetBlockWrapper
        parts = maps.view(n * s, 10, 16, -1)
        parts = parts.mean(-1) + parts.amax(-1)  # horizontal pooling, 16 parts
        embeddings = parts.view(n, s, 10, 16).permute(0, 2, 1, 3)  # (n, c, s, p)
        return {"inference_feat": {"embeddings": embeddings}}


def check_contract(loaded, model: str, batch: int, frames: int = 3):
    family, input_spec = qme_export.SPECS[model]
    assert loaded.qme_family == family and loaded.qme_input == input_spec, (loaded.qme_family, loaded.qme_input)
    x = torch.randn(qme_export.example_shape(model, batch, frames))
    out = loaded(x)
    clips = family in ("cal-video", "agrl")
    assert out["embedding"].shape[0] == batch, out["embedding"].shape
    if family in ("adaface", "kprpe"):
        assert tuple(out["intermediates"].shape) == (batch, 2, 196, 16), out["intermediates"].shape
        # LayerNorm'd without affine: zero mean per token.
        assert out["intermediates"].mean(-1).abs().max() < 1e-5
    if family == "biggait":
        assert tuple(out["embedding"].shape) == (batch, 10, 16)
        assert tuple(out["intermediates"].shape) == (batch, 2, 162, 6)
        assert tuple(loaded.fc_bin.shape) == (16, 10, 5)
    if family == "cal-image":
        assert out["layer2"].dim() == 4 and out["layer3"].dim() == 4
    if family == "cal-video":
        assert out["layer2"].dim() == 5 and out["layer2"].shape[2] == frames
    if clips:
        assert out["embedding"].dim() == 2


def stand_ins():
    return {
        "adaface": lambda m: qme_export.FaceViTExport(m, m.model.net.blocks),
        "arcface": qme_export.FaceCNNExport,
        "biggait": qme_export.BigGaitExport,
        "cal-ltcc": qme_export.CalImageExport,
        "cal-mevid": qme_export.CalVideoExport,
        "aim": qme_export.AimExport,
        "agrl": lambda m: qme_export.AgrlExport(m, adj_size=3),
    }, {
        "adaface": FaceViTStandIn,
        "arcface": lambda: FaceViTStandIn().model,
        "biggait": BigGaitStandIn,
        "cal-ltcc": CalImageStandIn,
        "cal-mevid": CalVideoStandIn,
        "aim": AimStandIn,
        "agrl": lambda: AgrlStandIn(parts=3),
    }


def export_stand_in(model: str, path: str):
    wrappers, models = stand_ins()
    net = settle(models[model](), seed=len(model))
    examples = [torch.randn(qme_export.example_shape(model, 2)), torch.randn(qme_export.example_shape(model, 5))]
    fc_bin = qme_export.biggait_fc_bin(net) if model == "biggait" else None
    return net, qme_export.export(wrappers[model](net), model, path, examples, source="stand-in", fc_bin=fc_bin,
                                  log=lambda line: None)


def test_every_family(tmp: str):
    for model in ["adaface", "arcface", "biggait", "cal-ltcc", "cal-mevid", "aim", "agrl"]:
        net, loaded = export_stand_in(model, os.path.join(tmp, model + ".pt"))
        check_contract(loaded, model, batch=3)
        if model == "biggait":
            expected = F.normalize(net.gait_net.FCs.fc_bin.detach(), dim=1)
            assert torch.equal(loaded.fc_bin, expected)
            # Frame by frame: a frame's embedding does not depend on the others in the batch.
            x = torch.randn(qme_export.example_shape(model, 4))
            assert torch.allclose(loaded(x)["embedding"][1:2], loaded(x[1:2])["embedding"], atol=1e-5)
        print(f"ok: {model}")


def test_cal_hooks_are_upstream_layers(tmp: str):
    net, loaded = export_stand_in("cal-ltcc", os.path.join(tmp, "cal.pt"))
    x = torch.randn(qme_export.example_shape("cal-ltcc", 2))
    with torch.no_grad():
        y = x
        maps = []
        for i, layer in enumerate(net.base):
            y = layer(y)
            if i in (5, 6):
                maps.append(y)
    out = loaded(x)
    assert torch.allclose(out["layer2"], maps[0], atol=1e-5) and torch.allclose(out["layer3"], maps[1], atol=1e-5)
    print("ok: CAL maps are base[5] and base[6]")


class BatchSpecialised(nn.Module):
    """Traces into a graph that hard-codes the batch size: the two-batch check must catch it."""

    def forward(self, x):
        n = int(x.shape[0])  # a Python int: the trace records the example's batch size
        return {"embedding": x.reshape(n, -1)[:, :8]}


def test_batch_specialised_trace_is_caught(tmp: str):
    examples = [torch.randn(qme_export.example_shape("aim", 2)), torch.randn(qme_export.example_shape("aim", 5))]
    try:
        qme_export.export(BatchSpecialised(), "aim", os.path.join(tmp, "bad.pt"), examples, log=lambda line: None)
    except RuntimeError:
        print("ok: a batch-specialised trace is refused")
        return
    raise AssertionError("a batch-specialised trace was not caught")


class DeviceHungry(nn.Module):
    """Asks for devices the ways upstream's code does: factories with device=x.device, a Python
    constant moved with .to(x.device)."""

    def forward(self, x):
        ones = torch.ones((x.shape[0], 4), device=x.device)
        kernel = torch.Tensor([[1.0, 2.0], [3.0, 4.0]]).to(x.device)
        return {"embedding": x.flatten(1)[:, :4] * ones + kernel.sum()}


def test_exports_are_device_neutral(tmp: str):
    examples = [torch.randn(qme_export.example_shape("aim", b)) for b in (2, 5)]
    lines = []
    loaded = qme_export.export(DeviceHungry(), "aim", os.path.join(tmp, "devices.pt"), examples, log=lines.append)
    assert not qme_export.device_constants(loaded.inlined_graph), qme_export.device_constants(loaded.inlined_graph)
    assert any("device constant(s) of the cpu trace now follow the input's device" in line for line in lines), lines
    # A trace made on CUDA holds cuda:0 constants: simulated here by rewriting a CPU trace's.
    for neutralise in (False, True):
        traced = torch.jit.trace(DeviceHungry(), (examples[0],), strict=False, check_trace=False)
        graph = traced.graph
        torch._C._jit_pass_inline(graph)
        for node in list(graph.nodes()):
            if node.kind() == "prim::Constant" and node.output().type().kind() == "DeviceObjType":
                cuda = graph.insertConstant(torch.device("cuda:0"))
                cuda.node().moveBefore(node)
                node.output().replaceAllUsesWith(cuda)
                node.destroy()
        assert qme_export.device_constants(graph)
        if neutralise:
            assert qme_export.neutralize_devices(traced) > 0
        buffer = io.BytesIO()
        torch.jit.save(traced, buffer)
        buffer.seek(0)
        on_cpu = torch.jit.load(buffer, map_location="cpu")
        try:
            out = on_cpu(examples[1])
        except Exception:  # noqa: BLE001 - TorchScript raises its own error types
            assert not neutralise, "a neutralised graph does not run on the CPU"
            continue
        assert neutralise, "a graph with cuda:0 constants ran on the CPU: the simulation is wrong"
        assert torch.allclose(out["embedding"], DeviceHungry()(examples[1])["embedding"])
    print("ok: exports are device-neutral; a CUDA-made graph runs on the CPU once neutralised")


class HalfCompute(nn.Module):
    def forward(self, x):
        return {"embedding": (x.flatten(1).half() * 2).float()}


def test_float16_ops_are_found():
    x = torch.randn(2, 3, 4)
    traced = torch.jit.trace(HalfCompute(), (x,), strict=False)
    assert qme_export.float16_ops(traced.inlined_graph) == ["aten::mul"], qme_export.float16_ops(traced.inlined_graph)
    clean = torch.jit.trace(DeviceHungry(), (x,), strict=False)
    assert qme_export.float16_ops(clean.inlined_graph) == []
    print("ok: float16 compute in a traced graph is found")


def test_refused_export_is_deleted(tmp: str):
    path = os.path.join(tmp, "refused.pt")
    examples = [torch.randn(qme_export.example_shape("aim", 2)), torch.randn(qme_export.example_shape("aim", 5))]
    try:
        qme_export.export(BatchSpecialised(), "aim", path, examples, log=lambda line: None)
    except RuntimeError:
        assert not os.path.exists(path), "a refused export was left on disk"
        print("ok: a refused export leaves no file")
        return
    raise AssertionError("a batch-specialised trace was not caught")


def test_float_mask_resize():
    shim = qme_export.FloatMaskResize(F)
    mask = (torch.rand(4, 1, 128) > 0.4).half()
    out = shim.interpolate(mask, size=(32,), mode="nearest-exact")
    assert out.dtype == torch.float32
    assert torch.equal(out, F.interpolate(mask.float(), size=(32,), mode="nearest-exact"))
    assert torch.equal(out, mask.float()[..., 2::4])  # nearest-exact, 128 -> 32: input 4 i + 2
    x = torch.randn(2, 3, 8, 4)
    assert torch.equal(shim.interpolate(x, (16, 8), mode="bilinear", align_corners=False),
                       F.interpolate(x, (16, 8), mode="bilinear", align_corners=False))
    assert shim.normalize is F.normalize
    print("ok: FloatMaskResize resizes float16 masks in float32 and leaves the rest alone")


def test_biggait_tracing_restores():
    net = BigGaitStandIn()
    module = sys.modules[type(net).__module__]
    original_f = module.F
    with qme_export.biggait_tracing(net):
        assert isinstance(module.F, qme_export.FloatMaskResize)
        assert "forward_features" in vars(net.backbone)
        try:
            with qme_export.biggait_tracing(net):
                raise AssertionError("biggait_tracing nested")
        except RuntimeError:
            pass
    assert module.F is original_f and "forward_features" not in vars(net.backbone)
    try:
        with qme_export.biggait_tracing(net):
            raise KeyError("inside")
    except KeyError:
        pass
    assert module.F is original_f and "forward_features" not in vars(net.backbone)
    print("ok: biggait_tracing restores F and forward_features, also after an error")


def test_xformers_disabled():
    layers = types.ModuleType("qme_fake_dino_layers")
    layers.XFORMERS_AVAILABLE = True
    sys.modules[layers.__name__] = layers

    class MemEffAttention(nn.Linear):
        pass

    MemEffAttention.__module__ = layers.__name__
    net = nn.Sequential(MemEffAttention(4, 4), nn.ReLU())
    try:
        with qme_export.xformers_disabled(net) as switched:
            assert switched == [layers.__name__] and layers.XFORMERS_AVAILABLE is False
        assert layers.XFORMERS_AVAILABLE is True
    finally:
        del sys.modules[layers.__name__]
    print("ok: xformers_disabled switches the layers' module flag off and back")


def write_for_cli(out: str):
    os.makedirs(out, exist_ok=True)
    lines = ["model_list: [adaface, biggait, aim]"]
    for model in ["adaface", "biggait", "aim"]:
        path = os.path.join(out, model + ".pt")
        export_stand_in(model, path)
        lines.append(f"{model}_torchscript_path: '{path}'")
    with open(os.path.join(out, "backbone_cfg.yaml"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote stand-in exports and {os.path.join(out, 'backbone_cfg.yaml')}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="also write stand-in exports and a backbone config here")
    args = parser.parse_args()
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        test_every_family(tmp)
        test_cal_hooks_are_upstream_layers(tmp)
        test_batch_specialised_trace_is_caught(tmp)
        test_refused_export_is_deleted(tmp)
        test_exports_are_device_neutral(tmp)
    test_float16_ops_are_found()
    test_float_mask_resize()
    test_biggait_tracing_restores()
    test_xformers_disabled()
    if args.out:
        write_for_cli(args.out)


if __name__ == "__main__":
    main()

"""Export an upstream QME backbone to the TorchScript file qme runs.

Run it inside a checkout of the upstream code (https://github.com/jiezhu23/QME_ICCV25) set up as
its README says (conda environment, weights in ./checkpoints, BigGait's pretrained_LVMs and
torchhub folders, HF_TOKEN for the face models), with a PyTorch no newer than the LibTorch qme is
built with:

    cd QME_ICCV25
    python /path/to/qme/tools/export/export_backbone.py --mode cal-ccvid \\
        --backbone_cfg ./configs/backbone_cfg-ccvid.yaml --out checkpoints/torchscript/cal-ccvid.pt

then add ``cal-ccvid_torchscript_path: checkpoints/torchscript/cal-ccvid.pt`` to qme's backbone
config. The model is built by upstream's own builders in model.py (build_face_backbone,
build_gait_backbone, build_body_backbone), so the weights are exactly the ones upstream loads:

| model      | weights (backbone config keys)                                                   |
|------------|----------------------------------------------------------------------------------|
| adaface    | HuggingFace minchul/cvlface_adaface_vit_base_webface4m (adaface_cache_path, HF_TOKEN) |
| kprpe      | HuggingFace minchul/cvlface_adaface_vit_base_kprpe_webface4m (kprpe_cache_path)   |
| arcface    | HuggingFace minchul/cvlface_arcface_ir101_webface4m (arcface_cache_path)          |
| biggait    | BigGait__Dinov2_Gaitbase_Frame30-40000.pt (biggait_backbone_path, biggait_cfg_path) plus DINOv2 ViT-S in WBModules/BigGait/pretrained_LVMs |
| cal-ccvid  | CAL image ResNet-50, LTCC checkpoint trained by GEFF (cal-ccvid_backbone_path, _config_path) |
| cal-ltcc   | the same LTCC checkpoint (cal-ltcc_backbone_path, _config_path)                   |
| cal-mevid  | CAL C2D video ResNet-50 by the MEVID authors (cal-mevid_backbone_path, _config_path) |
| aim        | AIM ResNet-50, LTCC checkpoint trained by GEFF (aim_backbone_path, aim_config_path) |
| agrl       | AGRL (vmgn) by the MEVID authors (agrl_backbone_path)                             |

Upstream's checkpoints are linked from its README (Google Drive). The export runs the model in
eval mode, returns the intermediates upstream reads through hooks explicitly, attaches qme's
attributes (family, input, source) and checks the TorchScript file against the eager model at two
batch sizes before it reports success (qme_export.export).

Export on the CPU (the default). The file is device-neutral: the devices the trace recorded
follow the input's device, so qme runs it on the CPU or on CUDA. --device cuda traces on the GPU;
such a file is kept only if it also runs on the CPU and matches there, and refused otherwise.

BigGait: upstream's DINOv2 and mask code do not trace on PyTorch 1.13 as they are (three errors);
while it traces, the export patches two spots (qme_export.biggait_tracing: DINOv2's
forward_features with the image size as Python ints, the 0/1 column mask resized in float32) and
restores them afterwards. xformers attention, where installed, is switched off while tracing
(plain attention, the same computation). The CAL, AIM, AGRL and BigGait exports are checked
against upstream's own test.py feature path by the ctest export.upstream_models
(tests/export/test_upstream_models.py; AdaFace on request; tools/export/README.md).
"""
import argparse
import os
import sys

import torch
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qme_export  # noqa: E402


def clear_hooks(model: torch.nn.Module) -> None:
    """Upstream's builders register hooks that store outputs as buffers; the export captures the
    same modules itself."""
    for module in model.modules():
        module._forward_hooks.clear()


def face_blocks(model, mode: str):
    holder = model.module if "kprpe" in mode else model.model  # as upstream's build_face_backbone
    return holder.net.blocks if hasattr(holder, "net") else holder.model.net.blocks


def build(upstream, backbone_cfg: dict, mode: str):
    """(wrapper, fc_bin, frames per example clip) for `mode`, with upstream's weights."""
    if mode in ("adaface", "kprpe", "arcface"):
        model = upstream.build_face_backbone(backbone_cfg, mode=mode)
        clear_hooks(model)
        if mode == "arcface":
            return qme_export.FaceCNNExport(model), None
        return qme_export.FaceViTExport(model, face_blocks(model, mode)), None
    if mode == "biggait":
        model = upstream.build_gait_backbone(backbone_cfg, mode=mode)
        clear_hooks(model)
        return qme_export.BigGaitExport(model), qme_export.biggait_fc_bin(model)
    model = upstream.build_body_backbone(backbone_cfg, mode=mode)
    clear_hooks(model)
    if mode in ("cal-ccvid", "cal-ltcc"):
        return qme_export.CalImageExport(model), None
    if mode == "cal-mevid":
        return qme_export.CalVideoExport(model), None
    if mode == "aim":
        return qme_export.AimExport(model), None
    if mode == "agrl":
        adj_size = sum(upstream.calc_splits(4))  # model.py get_body_feat
        return qme_export.AgrlExport(model, adj_size), None
    raise SystemExit(f"unknown model '{mode}' (known: {', '.join(qme_export.SPECS)})")


def example_inputs(mode: str, frames: int, seed: int = 0):
    """Two example batches (2 and 3 frames or clips) of normalised noise. BigGait's have black
    side margins of varying width (ImageNet-normalised 0), as resized frames of narrow people have:
    its foreground mask reads them, so the trace and the check cover that path."""
    generator = torch.Generator().manual_seed(seed)
    examples = []
    for batch in (2, 3):
        x = torch.randn(qme_export.example_shape(mode, batch, frames), generator=generator)
        if mode == "biggait":
            black = (-torch.tensor([0.485, 0.456, 0.406]) / torch.tensor([0.229, 0.224, 0.225])).view(3, 1, 1)
            for i in range(batch):
                margin = 4 + 6 * i
                x[i, :, :, :margin] = black
                x[i, :, :, x.shape[-1] - margin // 2:] = black
        examples.append(x)
    return examples


def main(argv=None):
    parser = argparse.ArgumentParser(description="Export an upstream QME backbone to TorchScript for qme")
    parser.add_argument("--mode", required=True, choices=sorted(qme_export.SPECS))
    parser.add_argument("--backbone_cfg", required=True, help="upstream backbone config with the weight paths")
    parser.add_argument("--out", required=True, help="TorchScript file to write")
    parser.add_argument("--upstream", default=".", help="the upstream QME_ICCV25 checkout (default: .)")
    parser.add_argument("--frames", type=int, default=8, help="clip length of the example clips (clip models)")
    parser.add_argument("--atol", type=float, default=1e-3, help="largest accepted |TorchScript - eager|")
    parser.add_argument("--device", default="cpu",
                        help="where to trace (default cpu). The file is device-neutral either way; one "
                             "traced on cuda is kept only if it also runs on the CPU")
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: this PyTorch has no CUDA device (export on the CPU: --device cpu)")

    upstream_dir = os.path.abspath(args.upstream)
    if upstream_dir not in sys.path:
        sys.path.insert(0, upstream_dir)
    import model as upstream  # upstream's model.py
    if not os.path.abspath(upstream.__file__).startswith(upstream_dir + os.sep):
        raise SystemExit(f"'model' was imported from {upstream.__file__}, not from --upstream {upstream_dir}")

    with open(args.backbone_cfg) as f:
        backbone_cfg = yaml.safe_load(f)
    backbone_cfg["model_list"] = [args.mode]
    wrapper, fc_bin = build(upstream, backbone_cfg, args.mode)
    wrapper = wrapper.to(args.device)
    examples = example_inputs(args.mode, args.frames)
    source = os.path.abspath(args.backbone_cfg) + f" ({args.mode})"
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    qme_export.export(wrapper, args.mode, args.out, examples, source=source, fc_bin=fc_bin, atol=args.atol,
                      device=args.device)
    print(f"wrote {args.out}; add to qme's backbone config:\n  {args.mode}_torchscript_path: {args.out}")
    return args.out


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Opens a demo output folder the way upstream's Python code does (h5py, torch.load) and checks
the layouts upstream reads: score matrices, test features, centers, quality weights, and the
QE / QME checkpoints (torch.load with weights_only=True: plain tensors and containers only).

Usage: check_upstream_readable.py DEMO_OUT
Exits 1 with one line per problem; prints what it checked otherwise.
"""
import glob
import os
import sys

import h5py
import numpy as np
import torch

MODELS = ["adaface", "biggait", "cal-ccvid"]
IDS = ["q_pids", "q_camids", "q_clothes_ids", "g_pids", "g_camids", "g_clothes_ids"]
problems = []
checked = []


def expect(condition, message):
    if not condition:
        problems.append(message)


def one(pattern):
    found = sorted(glob.glob(pattern))
    expect(len(found) >= 1, f"no file matches {pattern}")
    return found


def check_scoremats(path):
    with h5py.File(path, "r") as f:
        q, g = len(f["q_pids"]), len(f["g_pids"])
        unique = np.asarray(f["unique_g_pids"])
        expect(np.all(np.diff(unique) > 0), f"{path}: unique_g_pids is not ascending")
        expect(np.array_equal(unique, np.unique(np.asarray(f["g_pids"]))),
               f"{path}: unique_g_pids is not the set of g_pids")
        for name in IDS:
            expect(name in f, f"{path}: {name} is missing")
        for m in MODELS:
            s, ms = f[f"{m}/score_mat"], f[f"{m}/merge_score_mat"]
            expect(s.shape == (q, g) and s.dtype == np.float32, f"{path}: {m}/score_mat {s.shape} {s.dtype}")
            expect(ms.shape == (q, len(unique)) and ms.dtype == np.float32,
                   f"{path}: {m}/merge_score_mat {ms.shape} {ms.dtype}")
            expect(np.all(np.isfinite(np.asarray(s))), f"{path}: {m}/score_mat has non-finite scores")
        return q


def check_test_features(path):
    with h5py.File(path, "r") as f:
        qf, gf = f["qf"], f["gf"]
        expect(qf.dtype == np.float32 and gf.dtype == np.float32, f"{path}: qf/gf are not float32")
        expect(qf.shape[1] == gf.shape[1], f"{path}: qf and gf differ in width")
        for name in IDS:
            rows = qf.shape[0] if name.startswith("q_") else gf.shape[0]
            expect(f[name].shape == (rows,), f"{path}: {name} has shape {f[name].shape}, expected ({rows},)")


def check_centers(path, aggregated):
    with h5py.File(path, "r") as f:
        expect(len(f.keys()) > 0, f"{path}: no identity")
        for pid in f.keys():
            expect(pid.isdigit(), f"{path}: group '{pid}' is not a decimal pid")
            for key, data in f[pid].items():
                camid, _, clothes = key.partition("_")
                expect(camid.isdigit() and clothes.isdigit(), f"{path}: {pid}/{key} is not '{{camid}}_{{clothes}}'")
                expect(data.ndim == 2 and data.dtype == np.float32, f"{path}: {pid}/{key} {data.shape} {data.dtype}")
                if aggregated:
                    expect(data.shape[0] == 1, f"{path}: {pid}/{key} holds {data.shape[0]} rows, not the mean")


def check_face_weights(path, probes):
    with h5py.File(path, "r") as f:
        w = f["face_weights"]
        expect(w.shape == (probes, 1) and w.dtype == np.float32, f"{path}: face_weights {w.shape} {w.dtype}")
        values = np.asarray(w)
        expect(np.all((values >= 0) & (values <= 1)), f"{path}: face_weights outside [0, 1]")


def state_dict(path):
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    expect(isinstance(checkpoint, dict) and "model_state_dict" in checkpoint, f"{path}: no model_state_dict")
    state = checkpoint["model_state_dict"]
    for key, value in state.items():
        expect(isinstance(value, torch.Tensor), f"{path}: {key} is not a tensor")
    return state


def main():
    out = sys.argv[1]
    probes = check_scoremats(os.path.join(out, "test_feats", "scoremats_ccvid.h5"))
    checked.append("score matrices")
    for m in MODELS:
        check_test_features(os.path.join(out, "test_feats", f"{m}_ccvid_test.h5"))
        check_centers(os.path.join(out, "mod_center_feat", f"{m}_center_ccvid_CC.h5"), aggregated=True)
        check_centers(os.path.join(out, "mod_center_feat", f"{m}_center_n1_ccvid_CC.h5"), aggregated=False)
    checked.append("test features and centers of " + ", ".join(MODELS))
    for path in one(os.path.join(out, "test_feats", "mod_qe_*_ccvid_*.h5")) + [
            os.path.join(out, "runs", "score_loss", "face_weights_test.h5")]:
        check_face_weights(path, probes)
    checked.append("quality weights")

    # The last QE checkpoint (highest step) is the one the demo trains QME with.
    qe_files = one(os.path.join(out, "checkpoints", "MEME", "*.pth"))
    qe = state_dict(max(qe_files, key=lambda p: int(p[:-len(".pth")].rsplit("-", 1)[1])))
    expect("f_style_mlp.fc1.weight" in qe and "weight_assigner.0.bias" in qe,
           f"QE checkpoint keys are not upstream's: {sorted(qe)}")
    qme = state_dict(one(os.path.join(out, "checkpoints", "QME", "*.pth"))[-1])
    for e in (0, 1):
        for key in ["bn.weight", "bn.bias", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked",
                    "score_mlp.fc1.weight", "score_mlp.fc1.bias", "score_mlp.fc2.weight", "score_mlp.fc2.bias"]:
            expect(f"experts.{e}.{key}" in qme, f"QME checkpoint lacks experts.{e}.{key}")
    if "experts.0.bn.weight" in qme:
        expect(tuple(qme["experts.0.bn.weight"].shape) == (len(MODELS),),
               f"QME experts.0.bn.weight has shape {tuple(qme['experts.0.bn.weight'].shape)}")
    expect({k[3:] for k in qme if k.startswith("qe.")} == set(qe),
           "the QME checkpoint's qe.* entries are not the QE checkpoint's keys")
    for key, value in qe.items():  # the QE is frozen during score_loss training
        expect(f"qe.{key}" not in qme or torch.equal(qme[f"qe.{key}"], value),
               f"QME's qe.{key} differs from the trained QE's")
    checked.append("QE and QME checkpoints (torch.load, weights_only)")

    if problems:
        for p in problems:
            print("check_upstream_readable:", p, file=sys.stderr)
        return 1
    print("upstream-readable:", "; ".join(checked))
    return 0


if __name__ == "__main__":
    sys.exit(main())

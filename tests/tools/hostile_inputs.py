#!/usr/bin/env python3
"""Hostile inputs, end to end: crafted checkpoints, score-matrix files and face weights given to
qme_tables, and a bad QE-statistics cache given to qme_main. Each must give one clear line
naming the file and the field, the expected exit code and no output file or run folder, within
seconds and a small memory budget: never a hang, a crash or a memory bomb.

Run by ctest (cli.hostile_inputs). Needs h5py and numpy; the checkpoints are built from pickle
opcodes with zipfile, so torch is not needed.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile

import h5py
import numpy as np

TIME_LIMIT_S = 60
MEMORY_LIMIT_MB = 1200  # qme_tables with its LibTorch module loaded needs a few hundred MB


def run(cmd, expect_code, expect_text, outputs=()):
    """Runs cmd; returns the problems found (exit code, message, time, peak memory, outputs)."""
    with tempfile.TemporaryFile() as log:
        start = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        while True:  # wait4 gives this child's own peak memory
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - start > TIME_LIMIT_S:
                proc.kill()
                os.wait4(proc.pid, 0)
                return [f"hung: killed after {TIME_LIMIT_S} s"]
            time.sleep(0.02)
        proc.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        text = log.read().decode(errors="replace")
    problems = []
    code = proc.returncode
    if code != expect_code:
        what = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
        problems.append(f"{what}, expected {expect_code}")
    if expect_text not in text:
        problems.append(f"the output lacks {expect_text!r}")
    error_lines = [line for line in text.splitlines() if "error" in line.lower()]
    if expect_code != 0 and len(error_lines) != 1:
        problems.append(f"{len(error_lines)} error lines, expected one")
    peak_mb = usage.ru_maxrss / 1024
    if peak_mb > MEMORY_LIMIT_MB:
        problems.append(f"peak memory {peak_mb:.0f} MB, budget {MEMORY_LIMIT_MB} MB")
    for path in outputs:
        if os.path.exists(path):
            problems.append(f"{path} exists after a refused run")
    if problems:
        problems.append("output:\n" + text.strip())
    return problems


# --- score-matrix files and face weights ------------------------------------------------------

def copy_scoremats(source, path, edit):
    """Copies a score-matrix file dataset by dataset, letting edit(name, array) change or drop one."""
    with h5py.File(source, "r") as src, h5py.File(path, "w") as dst:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                data = edit(name, obj[()])
                if data is not None:
                    dst.create_dataset(name, data=data)
        src.visititems(visit)


def unstored(path, name, count, dtype="f4"):
    """A dataset declaring `count` values that stores none (chunks never written)."""
    with h5py.File(path, "a") as f:
        if name in f:
            del f[name]
        f.create_dataset(name, shape=(count,), dtype=dtype, chunks=(1024,))


def score_cases(d, scoremats):
    cases = []
    with h5py.File(scoremats, "r") as f:
        model = sorted(k for k in f if isinstance(f[k], h5py.Group))[0]
        q, g = f[model + "/score_mat"].shape

    short = os.path.join(d, "short_q_pids.h5")
    copy_scoremats(scoremats, short, lambda n, a: a[:-1] if n == "q_pids" else a)
    cases.append(("q_pids one short", short, [],
                  f"'q_pids' has {q - 1} entries but {model}/score_mat has {q} rows"))

    bomb = os.path.join(d, "unstored_ids.h5")
    copy_scoremats(scoremats, bomb, lambda n, a: a)
    unstored(bomb, "q_pids", 1 << 27)
    cases.append(("2^27 declared ids", bomb, [], f"'q_pids' has {1 << 27} entries but {model}/score_mat has {q} rows"))

    hollow = os.path.join(d, "unstored_matrix.h5")
    copy_scoremats(scoremats, hollow, lambda n, a: a)
    with h5py.File(hollow, "a") as f:
        del f[model + "/score_mat"]
        f.create_dataset(model + "/score_mat", shape=(q, g), dtype="f4", chunks=(1, g))
    cases.append(("score_mat that stores nothing", hollow, [],
                  f"'{model}/score_mat' declares {q}x{g} values ({q * g * 4} bytes) but stores only 0 bytes"))

    for label, dtype, value in (("float id 1e19", "f8", 1e19), ("uint64 id 2^64-1", "u8", 2**64 - 1)):
        path = os.path.join(d, f"id_{dtype}.h5")

        def edit(n, a, dtype=dtype, value=value):
            if n != "g_pids":
                return a
            out = a.astype(dtype)
            out[0] = value
            return out
        copy_scoremats(scoremats, path, edit)
        cases.append((label, path, [], "'g_pids' entry 0 is"))

    for label, size in (("no probes", "q"), ("no gallery", "g")):
        path = os.path.join(d, f"empty_{size}.h5")

        def edit(n, a, size=size):
            if n.startswith(size + "_"):
                return a[:0]
            if n.endswith("score_mat"):
                return a[:0] if size == "q" else a[:, :0]
            if size == "g" and n == "unique_g_pids":
                return a[:0]
            return a
        copy_scoremats(scoremats, path, edit)
        cases.append((label + " (every baseline, NaN report)", path, [], None))
    return cases, q


def weights_cases(d, q):
    cases = []
    for label, value in (("face weight 5", 5.0), ("face weight -1", -1.0), ("face weight NaN", np.nan)):
        path = os.path.join(d, f"weights_{label.split()[-1]}.h5")
        w = np.full((q, 1), 0.5, dtype=np.float32)
        w[q // 2] = value
        with h5py.File(path, "w") as f:
            f.create_dataset("face_weights", data=w)
        cases.append((label, path, f"at row {q // 2}; quality weights lie in [0, 1]"))
    bomb = os.path.join(d, "weights_unstored.h5")
    with h5py.File(bomb, "w") as f:
        f.create_dataset("face_weights", shape=(1 << 28, 1), dtype="f4", chunks=(4096, 1))
    cases.append(("2^28 declared face weights", bomb, f"has {1 << 28} rows but the score matrices have {q} probes"))
    return cases


# --- checkpoints ------------------------------------------------------------------------------

def replace_records(source, path, records):
    """Copies a torch.save archive, replacing (or adding) the records named in `records`."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(path, "w") as dst:
        top = src.namelist()[0].split("/")[0]
        for info in src.infolist():
            if info.filename.split("/", 1)[1] not in records:
                dst.writestr(info, src.read(info))
        for name, data in records.items():
            dst.writestr(zipfile.ZipInfo(f"{top}/{name}"), data)


def write_bomb(source, path, name, prefix, zeros, suffix):
    """An archive whose record `name` is prefix + `zeros` zero bytes + suffix, deflated (~1000:1)."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(path, "w") as dst:
        top = src.namelist()[0].split("/")[0]
        for info in src.infolist():
            if info.filename.split("/", 1)[1] != name:
                dst.writestr(info, src.read(info))
        info = zipfile.ZipInfo(f"{top}/{name}")
        info.compress_type = zipfile.ZIP_DEFLATED
        with dst.open(info, "w", force_zip64=True) as out:
            out.write(prefix)
            block = bytes(1 << 24)
            left = zeros
            while left:
                out.write(block[:min(left, len(block))])
                left -= min(left, len(block))
            out.write(suffix)


def pickle_cases(d, ckpt):
    binunicode = lambda s: b"X" + len(s).to_bytes(4, "little") + s.encode()
    cases = [
        ("self-containing list", b"\x80\x02]q\x00h\x00a.", "contains itself"),
        ("shared-reference bomb, 64 levels of (x, x)", b"\x80\x02N" + b"q\x00h\x00\x86" * 64 + b".",
         "holds a Tuple, not a checkpoint dict"),
        ("10^6 nested lists", b"\x80\x02" + b"]" * 10**6 + b"a" * (10**6 - 1) + b".", "nested deeper than 100 levels"),
        ("10^6 nested tuples", b"\x80\x02N" + b"\x85" * 10**6 + b".", "nested deeper than 100 levels"),
        ("10^6 nested dicts", b"\x80\x02" + b"}K\x00" * 10**6 + b"N" + b"s" * 10**6 + b".",
         "nested deeper than 100 levels"),
    ]
    out = []
    for label, pickle, text in cases:
        path = os.path.join(d, "".join(c if c.isalnum() else "_" for c in label) + ".pth")
        replace_records(ckpt, path, {"data.pkl": pickle})
        out.append((label, path, text))
    # An honest pickle that inflates to 1.25 GiB: a string of zeros inside a dict.
    size = 5 << 28
    path = os.path.join(d, "pickle_bomb.pth")
    write_bomb(ckpt, path, "data.pkl", b"\x80\x02}" + binunicode("x") + b"X" + size.to_bytes(4, "little"),
               size, b"s.")
    out.append(("data.pkl inflating to 1.25 GiB", path, "'data.pkl' declares"))
    # A small archive whose (valid) pickle is followed by 100 MiB of deflated zeros: within the
    # pickle's cap, but 64 times beyond what a ~100 KB file can honestly hold.
    small = os.path.join(d, "small_source.pth")
    with zipfile.ZipFile(small, "w") as z:
        z.writestr("small/data.pkl", b"\x80\x02}" + binunicode("model_state_dict") + b"}s.")
        z.writestr("small/version", b"3\n")
    path = os.path.join(d, "inflation_bomb.pth")
    write_bomb(small, path, "data.pkl", b"\x80\x02}" + binunicode("model_state_dict") + b"}s.", 100 << 20, b"")
    out.append(("data.pkl inflating 1000-fold", path, "times the file's size"))
    # A storage record inflating to 200 MiB, far more than its storage in the pickle.
    with zipfile.ZipFile(ckpt) as z:
        storages = sorted(n.split("/", 1)[1] for n in z.namelist() if "/data/" in n)
    path = os.path.join(d, "storage_bomb.pth")
    write_bomb(ckpt, path, storages[0], b"", 200 << 20, b"")
    out.append(("storage record inflating to 200 MiB", path, "holds 209715200 bytes, but the pickle's storage is"))
    return out


# --- qme_main --mode mod_qe: a bad test QE cache is refused before the run folder exists ------

def mod_qe_case(args, d):
    data = os.path.join(d, "caches")
    subprocess.run([args.qme_synth_caches, "--out_dir", data, "--dataset", "ccvid"], check=True,
                   stdout=subprocess.DEVNULL)
    stats = os.path.join(data, "test_feats", "adaface_ccvid_test_qe.h5")
    with h5py.File(os.path.join(data, "test_feats", "scoremats_ccvid.h5"), "r") as f:
        q = len(f["q_pids"])
    with h5py.File(stats, "a") as f:
        f["clip_query"][-1] = q
    run_dir = os.path.join(d, "run_qe")
    cmd = [args.qme_main, "--mode", "mod_qe", "--dataset", "ccvid", "--device", "cpu", "--progress", "false",
           "--center_dir", os.path.join(data, "mod_center_feat"), "--feats_dir", os.path.join(data, "test_feats"),
           "--ckpt_dir", os.path.join(d, "ckpt"), "--run_dir", run_dir, "--run_name", "bad",
           "--max_step", "40", "--test_per_step", "20", "--epoch", "100000",
           "--backbone_cfg", os.path.join(args.configs, "backbone_cfg-ccvid.yaml"),
           "--train_cfg", os.path.join(args.configs, "train_cfg-ccvid.yaml")]
    text = f"'clip_query' entry"
    return ("mod_qe with a clip_query beyond the probes", cmd, 1, text, [run_dir, os.path.join(d, "ckpt")])


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--qme_tables", required=True)
    parser.add_argument("--qme_main")
    parser.add_argument("--qme_synth_caches")
    parser.add_argument("--configs")
    parser.add_argument("--scoremats", required=True, help="a valid score-matrix file to corrupt")
    parser.add_argument("--qme_ckpt", required=True, help="a valid QME checkpoint to corrupt")
    parser.add_argument("--work", required=True)
    args = parser.parse_args()

    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    d = args.work
    runs = []  # (label, cmd, expected code, expected text, outputs)
    json_out = os.path.join(d, "tables.json")

    cases, q = score_cases(d, args.scoremats)
    for label, path, extra, text in cases:
        code = 1 if text else 0
        cmd = [args.qme_tables, "--scoremats", path, "--json", json_out] + extra
        runs.append((label, cmd, code, text or "GR_top1", [json_out] if code else []))

    good_weights = os.path.join(d, "weights_good.h5")
    with h5py.File(good_weights, "w") as f:
        f.create_dataset("face_weights", data=np.full((q, 1), 0.5, dtype=np.float32))
    for label, path, text in weights_cases(d, q):
        cmd = [args.qme_tables, "--scoremats", args.scoremats, "--qme_ckpt", args.qme_ckpt, "--face_weights", path,
               "--json", json_out]
        runs.append((label, cmd, 1, text, [json_out]))
    for label, path, text in pickle_cases(d, args.qme_ckpt):
        cmd = [args.qme_tables, "--scoremats", args.scoremats, "--qme_ckpt", path, "--face_weights", good_weights,
               "--baselines", "none", "--json", json_out]
        runs.append((label, cmd, 1, text, [json_out]))
    if args.qme_main:
        runs.append(mod_qe_case(args, d))

    failed = 0
    for label, cmd, code, text, outputs in runs:
        for path in outputs:
            if os.path.isdir(path):
                shutil.rmtree(path)
            elif os.path.exists(path):
                os.remove(path)
        start = time.monotonic()
        problems = run(cmd, code, text, outputs)
        status = "ok" if not problems else "FAIL"
        print(f"{status:4} {label} ({time.monotonic() - start:.1f} s)")
        for p in problems:
            print("     " + p.replace("\n", "\n     "))
        failed += bool(problems)
        if code == 0 and os.path.exists(json_out):
            os.remove(json_out)
    print(f"{len(runs) - failed}/{len(runs)} hostile inputs handled")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Hostile inputs, end to end, for every qme executable and mode: missing, truncated and crafted
files (wrong dtype, wrong shape, id arrays that disagree, out-of-range indices, code-carrying and
bomb checkpoints), bad configs and unwritable output folders. Each refused run must exit with the
expected code (1: a bad input, 2: a bad flag), print exactly one error line that names the file
and the field, create no output file or run folder (and change nothing in a folder it was given),
show no sign of having started its work, and stay within seconds and a small memory budget: never
a hang, a crash or a memory bomb.

The cases are tables, one per executable and mode (tables() at the end lists them). Run by ctest
(cli.hostile_inputs). Needs h5py and numpy; the checkpoints are built from pickle opcodes with
zipfile, so torch is not needed.
"""
import argparse
import concurrent.futures
import json
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
UNWRITABLE = "/proc/qme_hostile"  # nothing can be created under /proc, not even by root
CUT_H5 = "is truncated or damaged: HDF5 cannot open it"  # what a cut-short HDF5 file gets


def snapshot(folder):
    """Every file under folder with its size and modification time, and every subfolder: a refused
    run changes none."""
    found = {}
    for base, dirs, names in os.walk(folder):
        found.update((os.path.relpath(os.path.join(base, d), folder), "folder") for d in dirs)
        for name in names:
            st = os.lstat(os.path.join(base, name))
            found[os.path.relpath(os.path.join(base, name), folder)] = (st.st_size, st.st_mtime_ns)
    return found


def run(cmd, expect_code, expect_text, outputs=(), unchanged=(), work=None):
    """Runs cmd; returns the problems found (exit code, the one error line and its text, time, peak
    memory, outputs that must not exist, folders that must not change, a sign of work started) and
    its output."""
    before = {folder: snapshot(folder) for folder in unchanged}
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
                return [f"hung: killed after {TIME_LIMIT_S} s"], ""
            time.sleep(0.02)
        proc.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        text = log.read().decode(errors="replace")
    problems = []
    code = proc.returncode
    if code != expect_code:
        what = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
        problems.append(f"{what}, expected {expect_code}")
    error_lines = [line for line in text.splitlines() if "error" in line.lower()]
    if expect_code == 0:
        if expect_text not in text:
            problems.append(f"the output lacks {expect_text!r}")
    elif len(error_lines) != 1:
        problems.append(f"{len(error_lines)} error lines, expected one")
    elif expect_text not in error_lines[0]:
        problems.append(f"the error line lacks {expect_text!r}")
    if expect_code != 0 and work and work in text:
        problems.append(f"the work started before the refusal (the output shows {work!r})")
    peak_mb = usage.ru_maxrss / 1024
    if peak_mb > MEMORY_LIMIT_MB:
        problems.append(f"peak memory {peak_mb:.0f} MB, budget {MEMORY_LIMIT_MB} MB")
    for path in outputs:
        if os.path.exists(path):
            problems.append(f"{path} exists after a refused run")
    for folder, files in before.items():
        if snapshot(folder) != files:
            problems.append(f"{folder} changed during a refused run")
    if problems:
        problems.append("output:\n" + text.strip())
    return problems, text


class Case:
    """One run: its command, the expected exit code and error text (for exit 0: a text of the
    output), the outputs that must not exist afterwards, the folders that must not change, and a
    text whose presence shows that the work had started."""

    def __init__(self, label, cmd, code, text, outputs=(), unchanged=(), work=None):
        self.label, self.cmd, self.code, self.text = label, [str(c) for c in cmd], code, text
        self.outputs, self.unchanged, self.work = list(outputs), list(unchanged), work


CASE = "@CASE@"  # in a path: a folder of the case's own (cases run two at a time)


def table(w, rows, outputs=(), unchanged=(), work=None):
    """Cases from rows (label, cmd, code, text) sharing outputs, unchanged folders and work text.
    A row may add a fifth item, a dict overriding those three. CASE in a path becomes a new
    folder of each case's own."""
    cases = []
    for row in rows:
        label, cmd, code, text = row[:4]
        extra = dict(outputs=outputs, unchanged=unchanged, work=work)
        extra.update(row[4] if len(row) > 4 else {})
        own = os.path.dirname(w.fresh(""))
        os.makedirs(own)
        mine = lambda items: [str(i).replace(os.path.join(w.root, CASE), own) for i in items]
        extra.update(outputs=mine(extra["outputs"]), unchanged=mine(extra["unchanged"]))
        cases.append(Case(label, mine(cmd), code, text, **extra))
    return cases


# --- faults: each writes the damaged copy of src at dst -----------------------------------------

def truncated(src, dst):
    """The first half of the file, as an interrupted download leaves it."""
    with open(src, "rb") as f:
        data = f.read()
    with open(dst, "wb") as f:
        f.write(data[:len(data) // 2])


def empty(src, dst):
    open(dst, "wb").close()


def text_file(content):
    def write(src, dst):
        with open(dst, "w") as f:
            f.write(content)
    return write


def copy_of(other):
    """The file is replaced by another one (a checkpoint of another kind, another shard, ...)."""
    return lambda src, dst: shutil.copyfile(other, dst)


def h5_edit(edits, attrs=None):
    """A copy of an HDF5 file with datasets replaced (a value or a function of the old array) or
    removed (None), and root attributes removed (attrs: names)."""
    def write(src, dst):
        shutil.copyfile(src, dst)
        with h5py.File(dst, "a") as f:
            for name, change in edits.items():
                old = f[name][()] if name in f else None
                if name in f:
                    del f[name]
                new = change(old) if callable(change) else change
                if new is not None:
                    f.create_dataset(name, data=new)
            for name in attrs or ():
                del f.attrs[name]
    return write


def rename_first_center(src, dst):
    """A centers file whose first center is named 'x' instead of '{camid}_{clothes_id}'."""
    shutil.copyfile(src, dst)
    with h5py.File(dst, "a") as f:
        group = f[sorted(f, key=int)[0]]
        group.move(sorted(group)[0], "x")


def json_edit(change):
    """A copy of a JSON file, changed in place by change(obj)."""
    def write(src, dst):
        with open(src) as f:
            obj = json.load(f)
        change(obj)
        with open(dst, "w") as f:
            json.dump(obj, f)
    return write


def one_short(a):
    return a[:-1]


def as_strings(a):
    return np.full(a.shape, b"x")


def flattened(a):
    return a.reshape(-1)


def narrower(a):
    return a[:, :-1]


class Work:
    """The work folder: fresh paths, and variants of input folders with one file damaged."""

    def __init__(self, args):
        self.args = args
        self.root = os.path.abspath(args.work)
        self.count = 0
        self.locked = []
        a_file = self.path("a_file")
        open(a_file, "w").close()
        self.under_a_file = os.path.join(a_file, "out")  # cannot be created: its parent is a file

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def fresh(self, name):
        """A path that does not exist yet (the refused run must not create it)."""
        self.count += 1
        return self.path("out", f"{self.count:03d}", name)

    def fresh_dir(self):
        """A new empty folder."""
        path = self.fresh("folder")
        os.makedirs(path)
        return path

    def variant(self, source, name, fault, extra=None):
        """A copy of folder source (files linked) where name is fault(src, dst), or absent when fault
        is None (name None: an unchanged copy); extra(folder) may change it further."""
        self.count += 1
        folder = self.path("variants", f"{self.count:03d}")
        shutil.copytree(source, folder, copy_function=os.symlink)
        if name is not None:
            target = os.path.join(folder, name)
            original = os.path.realpath(target) if os.path.lexists(target) else None
            if os.path.lexists(target):
                os.remove(target)
            if fault is not None:
                fault(original, target)
        if extra:
            extra(folder)
        return folder

    def read_only(self, folder):
        """Makes folder unwritable (chmod; for root, which ignores modes, the immutable flag)."""
        os.chmod(folder, 0o555)
        self.locked.append(folder)
        if not writable(folder):
            return folder
        subprocess.run(["chattr", "+i", folder], check=False, stderr=subprocess.DEVNULL)
        if writable(folder):
            raise RuntimeError(f"cannot make {folder} read-only here (neither chmod nor chattr +i works)")
        return folder

    def unlock(self):
        for folder in self.locked:
            subprocess.run(["chattr", "-i", folder], check=False, stderr=subprocess.DEVNULL)
            os.chmod(folder, 0o755)


def writable(folder):
    try:
        tempfile.TemporaryFile(dir=folder).close()
        return True
    except OSError:
        return False


def unlock_tree(folder):
    """Clears what an interrupted earlier run may have left read-only."""
    if os.path.isdir(folder):
        subprocess.run(["chattr", "-R", "-i", folder], check=False, stderr=subprocess.DEVNULL)
        for base, dirs, _ in os.walk(folder):
            for d in dirs:
                os.chmod(os.path.join(base, d), 0o755)


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


# --- the tables, one per executable and mode ---------------------------------------------------

def qme_tables_table(w):
    """qme_tables: score matrices, face weights and a QME checkpoint in; the table, --json, --csv
    and --plots out."""
    a = w.args
    out = w.path(CASE, "tables.json")
    scores, weights = a.scoremats, os.path.join(a.fixtures, "eval", "face_weights_small.h5")

    def cmd(*extra, scoremats=scores, json_out=out):
        return [a.qme_tables, "--scoremats", scoremats, "--json", json_out, *extra]

    def damaged(fault, name="scoremats.h5", source=scores):
        path = w.fresh(name)
        os.makedirs(os.path.dirname(path))
        fault(source, path)
        return path

    with h5py.File(scores, "r") as f:
        model = sorted(k for k in f if isinstance(f[k], h5py.Group))[0]
    mat = f"{model}/score_mat"
    qme = ["--qme_ckpt", a.qme_ckpt, "--face_weights"]
    rows = [(label, cmd(*extra, scoremats=path), 1, text) if text else
            (label, cmd(*extra, scoremats=path), 0, "GR_top1", {"outputs": []})
            for label, path, extra, text in score_cases(w.path(), scores)[0]]
    rows += [(label, cmd(*qme, path), 1, text) for label, path, text in weights_cases(w.path(), len_q(scores))]
    rows += [(label, cmd("--qme_ckpt", path, "--face_weights", weights, "--baselines", "none"), 1, text)
             for label, path, text in pickle_cases(w.path(), a.qme_ckpt)]
    rows += [
        ("scoremats: missing", cmd(scoremats=w.path("none.h5")), 1, "none.h5 does not exist"),
        ("scoremats: truncated", cmd(scoremats=damaged(truncated)), 1, f"scoremats.h5 {CUT_H5}"),
        ("scoremats: not HDF5 (a YAML file)", cmd(scoremats=os.path.join(a.configs, "train_cfg-ltcc.yaml")), 1,
         "train_cfg-ltcc.yaml is not an HDF5 file"),
        ("scoremats: score_mat of strings", cmd(scoremats=damaged(h5_edit({mat: as_strings}))), 1,
         f"scoremats.h5: '{mat}' must hold numbers"),
        ("scoremats: one-dimensional score_mat", cmd(scoremats=damaged(h5_edit({mat: flattened}))), 1,
         f"scoremats.h5: '{mat}' must be"),
        ("scoremats: g_camids missing", cmd(scoremats=damaged(h5_edit({"g_camids": None}))), 1,
         "scoremats.h5: 'g_camids' dataset is missing"),
        ("scoremats: model not in the file", cmd("--models", f"{model},resnet"), 1,
         "model 'resnet' is not in this file"),
        ("face weights: missing", cmd(*qme, w.path("none.h5")), 1, "none.h5 does not exist"),
        ("face weights: truncated", cmd(*qme, damaged(truncated, "weights.h5", weights)), 1,
         f"weights.h5 {CUT_H5}"),
        ("face weights: (Q, 2)", cmd(*qme, damaged(h5_edit({"face_weights": lambda x: np.hstack([x, x])}),
                                                   "weights.h5", weights)), 1,
         "weights.h5: 'face_weights' is 30x2; it must be (Q, 1) or (Q,)"),
        ("face weights: strings", cmd(*qme, damaged(h5_edit({"face_weights": as_strings}), "weights.h5", weights)),
         1, "weights.h5: 'face_weights' must hold numbers"),
        ("QME checkpoint: missing", cmd("--qme_ckpt", w.path("none.pth"), "--use_qe", "false"), 1,
         "none.pth does not exist"),
        ("QME checkpoint: truncated", cmd("--qme_ckpt", damaged(truncated, "qme.pth", a.qme_ckpt), "--use_qe",
                                          "false"), 1, "qme.pth is truncated or corrupt"),
        ("QME checkpoint: trained on other models", cmd("--models", "adaface,biggait", *qme, weights), 1,
         "the QME experts were trained on 3 models, but 2 are given (adaface, biggait)"),
        ("QME checkpoint: not a zip (a YAML file)",
         cmd("--qme_ckpt", os.path.join(a.configs, "train_cfg-ltcc.yaml"), "--use_qe", "false"), 1,
         "train_cfg-ltcc.yaml is not a torch.save checkpoint (not a zip archive)"),
        ("QME checkpoint: carries code (os.system)", cmd("--qme_ckpt", a.os_system_ckpt, "--use_qe", "false"), 1,
         "checkpoint_os_system.pth: refuses to load global 'posix.system'"),
        ("QME checkpoint: a quality estimator's", cmd("--qme_ckpt", a.qe_ckpt, "--use_qe", "false"), 1,
         "it is a quality-estimator checkpoint, not a QME fusion head"),
        ("--json: under /proc", cmd(json_out=f"{UNWRITABLE}/tables.json"), 1,
         f"{UNWRITABLE}/tables.json cannot be written: its folder {UNWRITABLE} does not exist"),
        ("--json: a folder", cmd(json_out=w.path()), 1, f"{w.path()} is a folder"),
        ("--csv: in a missing folder", cmd("--csv", w.path("no_folder", "t.csv")), 1,
         "t.csv cannot be written: its folder"),
        ("--csv: under a file", cmd("--csv", os.path.join(w.under_a_file, "t.csv")), 1,
         "t.csv cannot be written: its folder"),
    ]
    if a.with_plots:
        rows += [("--plots: under /proc", cmd("--plots", f"{UNWRITABLE}/plots"), 1,
                  f"{UNWRITABLE}/plots cannot be created as an output folder"),
                 ("--plots: under a file", cmd("--plots", w.under_a_file), 1,
                  f"{w.under_a_file} cannot be created as an output folder")]
    # No output, and no column evaluated before a refusal.
    return table(w, rows, outputs=[out, w.path("no_folder"), f"{UNWRITABLE}"], work="evaluated in")


def len_q(scores):
    with h5py.File(scores, "r") as f:
        return len(f["q_pids"])


def features_faults(f, q, g, dim):
    """Rows (label, fault, text) for a test-features file f with q probes, g gallery rows."""
    return [
        ("missing", None, f"{f} does not exist"),
        ("truncated", truncated, f"{f} {CUT_H5}"),
        ("'qf' of strings", h5_edit({"qf": as_strings}), f"{f}: 'qf' must hold numbers"),
        ("'qf' one-dimensional", h5_edit({"qf": flattened}), f"{f}: 'qf' must be a 2-D (rows, feature dimension)"),
        ("'q_pids' one short", h5_edit({"q_pids": one_short}),
         f"{f}: 'q_pids' has {q - 1} entries but qf has {q} rows"),
        ("'g_camids' one short", h5_edit({"g_camids": one_short}),
         f"{f}: 'g_camids' has {g - 1} entries but gf has {g} rows"),
        ("'gf' narrower than 'qf'", h5_edit({"gf": narrower}),
         f"{f}: 'gf' has {dim - 1} feature columns but 'qf' has {dim}"),
        ("'g_clothes_ids' missing", h5_edit({"g_clothes_ids": None}), f"{f}: 'g_clothes_ids' dataset is missing"),
        ("'q_pids' entry 1e19", h5_edit({"q_pids": lambda x: np.where(np.arange(len(x)) == 0, 1e19, x)}),
         f"{f}: 'q_pids' entry 0 is 1e+19, not a whole number within int64"),
    ]


def qme_test_score_table(w):
    """qme_test --eval_mode score: one model's features file in; the report and --json out."""
    a = w.args
    good = w.path("feats", "good")
    out = w.path(CASE, "score.json")
    name = "biggait_ltcc_test.h5"

    def cmd(feats_dir, json_out=out):
        return [a.qme_test, "--eval_mode", "score", "--mode", "biggait", "--dataset", "ltcc", "--feats_dir",
                feats_dir, "--device", "cpu", "--json", json_out]

    rows = [(f"features: {label}", cmd(w.variant(good, name, fault)), 1, text)
            for label, fault, text in features_faults(name, 12, 40, 64)]
    rows += [
        ("--json: under /proc", cmd(good, f"{UNWRITABLE}/score.json"), 1,
         f"{UNWRITABLE}/score.json cannot be written: its folder {UNWRITABLE} does not exist"),
        ("--json: in a missing folder", cmd(good, w.path("no_folder", "score.json")), 1,
         "score.json cannot be written: its folder"),
        ("--json: a folder", cmd(good, w.path()), 1, f"{w.path()} is a folder"),
        ("--json: in a read-only folder", cmd(good, os.path.join(w.read_only(w.fresh_dir()), "s.json")), 1,
         "s.json cannot be written: its folder"),
    ]
    return table(w, rows, outputs=[out, w.path("no_folder")], unchanged=[good], work="FNIR@1.00%FPIR_std")


def qme_test_gather_table(w):
    """qme_test --eval_mode gather: several features files in; scoremats_{ds}.h5 out, in the same
    folder."""
    a = w.args
    good, bad = w.path("feats", "good"), w.path("feats", "bad")
    models = "adaface,biggait,cal-ltcc"

    def cmd(feats_dir, mode=models):
        return [a.qme_test, "--eval_mode", "gather", "--mode", mode, "--dataset", "ltcc", "--feats_dir", feats_dir,
                "--device", "cpu"]

    def row(label, folder, code, text, mode=models, written=True):
        out = os.path.join(folder, "scoremats_ltcc.h5")
        return (label, cmd(folder, mode), code, text, {"outputs": [out] if written else []})

    name = "cal-ltcc_ltcc_test.h5"
    rows = [row(f"cal-ltcc features: {label}", w.variant(good, name, fault), 1, text)
            for label, fault, text in features_faults(name, 12, 40, 16)]
    locked = w.variant(good, "adaface_ltcc_test.h5", copy_of(os.path.join(good, "adaface_ltcc_test.h5")))
    rows += [
        row("aim's 'g_pids' differ from adaface's", w.variant(bad, None, None), 1,
            "aim_ltcc_test.h5: 'g_pids' differs from", "adaface,aim"),
        row("biggait's features 100 wide (not 16 parts)", w.variant(bad, None, None), 1,
            "biggait_ltcc_test.h5: 'qf' has 100 feature columns", "biggait"),
        row("output folder read-only", w.read_only(locked), 1,
            f"{locked}/scoremats_ltcc.h5 cannot be written: its folder {locked} is not writable"),
        row("output path is a folder", w.variant(good, "scoremats_ltcc.h5", lambda s, d: os.mkdir(d)), 1,
            "scoremats_ltcc.h5 is a folder", written=False),
    ]
    for r in rows:  # a refusal writes nothing into the features folder
        r[4]["unchanged"] = [r[1][r[1].index("--feats_dir") + 1]]
    return table(w, rows, work="score matrices built")


def backbone_cfg_faults(w, model, tiny_cfg):
    """Rows (label, cfg path, text) of broken backbone configs for a run of `model`."""
    def cfg(name, content):
        path = w.fresh(name)
        os.makedirs(os.path.dirname(path))
        with open(path, "w") as f:
            f.write(content)
        return path

    def ts(path):
        return cfg("cfg.yaml", f"model_list: [{model}]\n{model}_torchscript_path: '{path}'\n")

    a = w.args
    bad_ts = w.fresh(f"{model}.pt")
    os.makedirs(os.path.dirname(bad_ts))
    truncated(os.path.join(os.path.dirname(tiny_cfg), f"{model}.pt"), bad_ts)
    return [
        ("backbone config: missing", w.path("none.yaml"), "none.yaml does not exist"),
        ("backbone config: bad YAML", cfg("cfg.yaml", f"model_list: [{model}\n"), "cfg.yaml"),
        ("backbone config: model_list a number", cfg("cfg.yaml", "model_list: 5\n"), "cfg.yaml:1: 'model_list'"),
        ("backbone config: no TorchScript path", cfg("cfg.yaml", f"model_list: [{model}]\n"),
         f"cfg.yaml: '{model}_torchscript_path' is not set"),
        ("backbone config: TorchScript path a list",
         cfg("cfg.yaml", f"model_list: [{model}]\n{model}_torchscript_path: [a, b]\n"),
         f"cfg.yaml:2: '{model}_torchscript_path' must be"),
        ("TorchScript file: missing", ts(w.path("none.pt")), "none.pt does not exist"),
        ("TorchScript file: truncated", ts(bad_ts), f"{model}.pt: not a TorchScript file that torch::jit::load "
         "can read (not a zip archive, or truncated or damaged)"),
        ("TorchScript file: a torch.save checkpoint", ts(a.qme_ckpt),
         "qme_ckpt.pth: not a TorchScript file that torch::jit::load can read (it is a torch.save checkpoint"),
        ("TorchScript file: carries code (os.system)", ts(a.os_system_ckpt),
         "checkpoint_os_system.pth: not a TorchScript file that torch::jit::load can read (it is a torch.save"),
    ]


def dataset_faults(w):
    """Rows (label, root, text) of broken CCVID dataset folders."""
    root = os.path.join(w.args.fixtures, "data", "root")
    ccvid = os.path.join(root, "CCVID")

    def variant(name, fault):
        folder = w.fresh("root")
        os.makedirs(folder)
        os.symlink(os.path.join(root, "mevid"), os.path.join(folder, "mevid"))
        shutil.move(w.variant(ccvid, name, fault), os.path.join(folder, "CCVID"))
        return folder

    first = open(os.path.join(ccvid, "query.txt")).readline()
    return [
        ("dataset: missing", w.path("no_root"), "no_root/CCVID"),
        ("dataset: ccvid.h5 truncated", variant("ccvid.h5", truncated), f"ccvid.h5 {CUT_H5}"),
        ("dataset: query.txt names an unknown tracklet",
         variant("query.txt", text_file("session9/999_01\t999\tu0_l0_s0_c0_a0\n" + first)),
         "query.txt:1"),
        ("dataset: query.txt line with two fields", variant("query.txt", text_file("session1/001_01 1\n")),
         "query.txt:1 expected 'tracklet_path pid clothes_label', got 2 fields"),
    ]


def mevid_faults(w):
    """Rows (label, root, text) of MEVID folders whose indices point outside their tables."""
    root = os.path.join(w.args.fixtures, "data", "root")

    def variant(name, content):
        folder = w.fresh("root")
        os.makedirs(folder)
        shutil.move(w.variant(os.path.join(root, "mevid"), name, text_file(content)), os.path.join(folder, "mevid"))
        return folder

    return [
        ("MEVID: query_IDX beyond the test tracks", variant("query_IDX.txt", "3\n99\n"),
         "query_IDX.txt:2 query index '99' is not a row of the 7 test info rows"),
        ("MEVID: a track ending beyond the frame names", variant("track_test_info.txt", "0 999 201 1 330\n"),
         "track_test_info.txt:1 end 999 is past the last of the 125 names"),
    ]


def qme_test_feat_table(w):
    """qme_test --eval_mode feat: backbone config, TorchScript file and dataset in; features out."""
    a = w.args
    tiny = w.path("tiny", "backbone_cfg.yaml")
    root = os.path.join(a.fixtures, "data", "root")
    out = w.path(CASE, "feats")

    def cmd(cfg=tiny, data=root, feats_dir=out, dataset="ccvid"):
        return [a.qme_test, "--eval_mode", "feat", "--mode", "adaface", "--dataset", dataset, "--root", data,
                "--backbone_cfg", cfg, "--device", "cpu", "--feats_dir", feats_dir]

    rows = [(label, cmd(cfg=cfg), 1, text) for label, cfg, text in backbone_cfg_faults(w, "adaface", tiny)]
    rows += [(label, cmd(data=data), 1, text) for label, data, text in dataset_faults(w)]
    rows += [(label, cmd(data=data, dataset="mevid"), 1, text) for label, data, text in mevid_faults(w)]
    rows += unwritable_folder_rows(w, "--feats_dir", "feats", lambda folder: cmd(feats_dir=folder))
    rows += [
        ("--json under /proc", cmd() + ["--json", f"{UNWRITABLE}/f.json"], 1,
         f"{UNWRITABLE}/f.json cannot be written"),
    ]
    return table(w, rows, outputs=[out], work="query and")


def unwritable_folder_rows(w, flag, name, make_cmd):
    """The three unwritable-output-folder cases of an output-folder flag: under /proc, under a
    regular file, and read-only."""
    return [
        (f"{flag} under /proc", make_cmd(f"{UNWRITABLE}/{name}"), 1,
         f"{UNWRITABLE}/{name} cannot be created as an output folder"),
        (f"{flag} under a file", make_cmd(w.under_a_file), 1, f"{w.under_a_file} cannot be created as an output folder"),
        (f"{flag} read-only", make_cmd(w.read_only(w.fresh_dir())), 1, "is not a writable output folder"),
    ]


def qme_test_merge_table(w):
    """qme_test --eval_mode merge: the parts of a sharded feat run in; the features file out."""
    a = w.args
    shards = w.path("shards")
    part = "adaface_ccvid_test.shard{}of2.h5"
    p0, p1 = part.format(0), part.format(1)
    out = w.path(CASE, "merge.json")

    def cmd(folder, json_out=out):
        return [a.qme_test, "--eval_mode", "merge", "--mode", "adaface", "--dataset", "ccvid", "--num_shards", "2",
                "--device", "cpu", "--feats_dir", folder, "--json", json_out]

    def row(label, folder, text, json_out=out):
        merged = [os.path.join(folder, n) for n in ("adaface_ccvid_test.h5", "adaface_ccvid_test_qe.h5")]
        return (label, cmd(folder, json_out), 1, text, {"outputs": merged + [out], "unchanged": [folder]})

    rows = [
        row("part 1: missing", w.variant(shards, p1, None), f"{p1} does not exist: run shard 1 of 2 first"),
        row("part 1: truncated", w.variant(shards, p1, truncated), f"{p1} {CUT_H5}"),
        row("part 1: a copy of part 0", w.variant(shards, p1, copy_of(os.path.join(shards, p0))),
            f"{p1}: 'qme_shard_index' says shard 0 of 2, expected shard 1 of 2"),
        row("part 1: no shard attributes", w.variant(shards, p1, h5_edit({}, attrs=["qme_shard_index"])),
            f"{p1}: 'qme_shard_index' is missing: not a qme shard part"),
        row("part 1: 'qf' of strings", w.variant(shards, p1, h5_edit({"qf": as_strings})),
            f"{p1}: 'qf' must hold numbers"),
        row("part 1: 'q_pids' one short", w.variant(shards, p1, h5_edit({"q_pids": one_short})),
            f"{p1}: 'q_pids' has"),
        row("--json under /proc", shards, f"{UNWRITABLE}/m.json cannot be written", f"{UNWRITABLE}/m.json"),
    ]
    locked = w.variant(shards, p0, copy_of(os.path.join(shards, p0)))
    rows.append(row("output folder read-only", w.read_only(locked), f"{locked} is not a writable output folder"))
    return table(w, rows, work="merged 2 parts")


def qme_precompute_center_table(w):
    """qme_precompute_center: backbone config, TorchScript file and dataset in; center files out."""
    a = w.args
    tiny = w.path("tiny", "backbone_cfg.yaml")
    root = os.path.join(a.fixtures, "data", "root")
    out = w.path(CASE, "centers")

    def cmd(cfg=tiny, data=root, save=out):
        return [a.qme_precompute_center, "--mode", "biggait", "--dataset", "ccvid", "--root", data, "--backbone_cfg",
                cfg, "--device", "cpu", "--num_sample", "16", "--save_path", save]

    rows = [(label, cmd(cfg=cfg), 1, text) for label, cfg, text in backbone_cfg_faults(w, "biggait", tiny)]
    rows += [(label, cmd(data=data), 1, text) for label, data, text in dataset_faults(w)]
    rows += unwritable_folder_rows(w, "--save_path", "centers", lambda folder: cmd(save=folder))
    return table(w, rows, outputs=[out], work="training samples of up to")


def qme_precompute_center_merge_table(w):
    """qme_precompute_center --merge_shards: the parts in; center files and the training-frames cache
    out, in the same folder."""
    a = w.args
    shards = w.path("center_shards")
    c0, c1 = (f"biggait_center_n16_ccvid_CC.shard{i}of2.h5" for i in (0, 1))
    t1 = "biggait_train_ccvid.shard1of2.h5"

    def cmd(folder):
        return [a.qme_precompute_center, "--mode", "biggait", "--dataset", "ccvid", "--num_sample", "16",
                "--num_shards", "2", "--merge_shards", "--save_path", folder]

    def row(label, folder, text):
        merged = [os.path.join(folder, n) for n in ("biggait_center_n16_ccvid_CC.h5", "biggait_center_ccvid_CC.h5",
                                                    "biggait_train_ccvid.h5")]
        return (label, cmd(folder), 1, text, {"outputs": merged, "unchanged": [folder]})

    locked = w.variant(shards, c0, copy_of(os.path.join(shards, c0)))
    return table(w, [
        row("centers part 1: missing", w.variant(shards, c1, None), f"{c1} does not exist: run shard 1 of 2 first"),
        row("centers part 1: truncated", w.variant(shards, c1, truncated), f"{c1} {CUT_H5}"),
        row("centers part 1: a copy of part 0", w.variant(shards, c1, copy_of(os.path.join(shards, c0))),
            f"{c1}: 'qme_shard_index' says shard 0 of 2, expected shard 1 of 2"),
        row("centers part 1: 'pids' one short", w.variant(shards, c1, h5_edit({"pids": one_short})),
            f"{c1}: 'pids' has"),
        row("frames part 1: missing", w.variant(shards, t1, None), f"{t1} does not exist"),
        row("frames part 1: 'feats' of strings", w.variant(shards, t1, h5_edit({"feats": as_strings})),
            f"{t1}: 'feats' must hold numbers"),
        row("frames part 1: 'pids' one short", w.variant(shards, t1, h5_edit({"pids": one_short})),
            f"{t1}: 'pids' has"),
        row("output folder read-only", w.read_only(locked), f"{locked} is not a writable output folder"),
    ], work="merged 2 parts")


def train_cfg_faults(w):
    """Rows (label, backbone cfg, train cfg, text) of broken configs for qme_main."""
    a = w.args
    base_b = os.path.join(a.configs, "backbone_cfg-ccvid.yaml")
    base_t = os.path.join(a.configs, "train_cfg-ccvid.yaml")
    with open(base_t) as f:
        train = f.read()

    def cfg(content):
        path = w.fresh("cfg.yaml")
        os.makedirs(os.path.dirname(path))
        with open(path, "w") as f:
            f.write(content)
        return path

    lr = "\n".join("lr_rate: fast" if line.startswith("lr_rate:") else line for line in train.splitlines())
    return [
        ("train config: missing", base_b, w.path("none.yaml"), "none.yaml does not exist"),
        ("train config: no 'seed'", base_b, cfg(train.replace("seed:", "# seed:")), "cfg.yaml: 'seed' is required"),
        ("train config: 'lr_rate' not a number", base_b, cfg(lr), "'lr_rate' must be"),
        ("train config: bad YAML", base_b, cfg("seed: [1\n"), "cfg.yaml"),
        ("backbone config: no face model", cfg("model_list: [biggait, cal-ccvid]\n"), base_t,
         "cfg.yaml: 'model_list' needs adaface or kprpe"),
        ("backbone config: unknown model", cfg("model_list: [adaface, resnet]\n"), base_t,
         "'model_list' has unknown model 'resnet'"),
    ]


class Training:
    """qme_main's command line on the synthetic caches, with any folder replaced."""

    def __init__(self, w, mode, **extra):
        a = w.args
        data = w.path("caches")
        self.w, self.mode = w, mode
        self.folders = dict(center_dir=os.path.join(data, "mod_center_feat"),
                            feats_dir=os.path.join(data, "test_feats"),
                            backbone_cfg=os.path.join(a.configs, "backbone_cfg-ccvid.yaml"),
                            train_cfg=os.path.join(a.configs, "train_cfg-ccvid.yaml"))
        self.extra = extra

    def row(self, label, text, code=1, flags=(), **folders):
        """A refused run: its run folder and checkpoint folder must not exist afterwards, and its
        input folders must not change."""
        f = dict(self.folders, run_dir=self.w.fresh("run"), ckpt_dir=self.w.fresh("ckpt"))
        f["feats_dir"] = self.w.variant(f["feats_dir"], None, None)  # mod_qe writes probe weights there
        f.update(self.extra)
        f.update(folders)
        cmd = [self.w.args.qme_main, "--mode", self.mode, "--dataset", "ccvid", "--device", "cpu", "--progress",
               "false", "--max_step", "40", "--test_per_step", "20", "--epoch", "100000", *flags]
        for key, value in f.items():
            cmd += [f"--{key}", value]
        unchanged = [f[k] for k in ("center_dir", "feats_dir") if os.path.isdir(f[k])]
        return (label, cmd, code, text, {"outputs": [f["run_dir"], f["ckpt_dir"]], "unchanged": unchanged})


def training_cache_rows(w, t):
    """Rows for broken training caches (centers, training frames) given to Training t."""
    center = t.folders["center_dir"]
    frames = "adaface_train_ccvid.h5"
    return [
        t.row("centers: missing", "adaface_center_ccvid_CC.h5 does not exist",
              center_dir=w.variant(center, "adaface_center_ccvid_CC.h5", None, lambda d: os.remove(
                  os.path.join(d, "adaface_center_n1_ccvid_CC.h5")))),
        t.row("centers: truncated", f"adaface_center_ccvid_CC.h5 {CUT_H5}",
              center_dir=w.variant(center, "adaface_center_ccvid_CC.h5", truncated)),
        t.row("centers: a center that is not '{camid}_{clothes_id}'",
              "adaface_center_ccvid_CC.h5: '0/x' must be a dataset named",
              center_dir=w.variant(center, "adaface_center_ccvid_CC.h5", rename_first_center)),
        t.row("training frames: truncated", f"{frames} {CUT_H5}",
              center_dir=w.variant(center, frames, truncated)),
        t.row("training frames: 'feats' of strings", f"{frames}: 'feats' must hold numbers",
              center_dir=w.variant(center, frames, h5_edit({"feats": as_strings}))),
        t.row("training frames: 'pids' one short", f"{frames}: 'pids' has",
              center_dir=w.variant(center, frames, h5_edit({"pids": one_short}))),
        t.row("training frames: 'sample_index' -1", f"{frames}: 'sample_index' entry 0 is negative",
              center_dir=w.variant(center, frames, h5_edit({"sample_index": lambda x: np.where(
                  np.arange(len(x)) == 0, -1, x)}))),
        t.row("training frames: not a qme cache", f"{frames}: 'qme_format'",
              center_dir=w.variant(center, frames, h5_edit({}, attrs=["qme_format"]))),
    ]


def qme_main_mod_qe_table(w):
    """qme_main --mode mod_qe: configs, training caches, test QE statistics and score matrices in;
    a run folder, QE checkpoints (--ckpt_dir) and probe weights (--feats_dir) out."""
    t = Training(w, "mod_qe")
    feats = t.folders["feats_dir"]
    stats = "adaface_ccvid_test_qe.h5"
    with h5py.File(os.path.join(feats, "scoremats_ccvid.h5"), "r") as f:
        q = len(f["q_pids"])
    rows = training_cache_rows(w, t)
    rows += [t.row(label, text, backbone_cfg=b, train_cfg=c) for label, b, c, text in train_cfg_faults(w)]
    rows += [
        t.row("test QE statistics: missing", f"{stats} does not exist", feats_dir=w.variant(feats, stats, None)),
        t.row("test QE statistics: truncated", f"{stats} {CUT_H5}",
              feats_dir=w.variant(feats, stats, truncated)),
        t.row("test QE statistics: a clip_query beyond the probes",
              f"{stats}: 'clip_query' entry", feats_dir=w.variant(feats, stats, h5_edit(
                  {"clip_query": lambda x: np.where(np.arange(len(x)) == len(x) - 1, q, x)}))),
        t.row("test QE statistics: a frame_clip beyond the clips", f"{stats}: 'frame_clip' entry",
              feats_dir=w.variant(feats, stats, h5_edit(
                  {"frame_clip": lambda x: np.where(np.arange(len(x)) == 0, 10**6, x)}))),
        t.row("test QE statistics: 'qe_stats' of strings", f"{stats}: 'qe_stats' must hold numbers",
              feats_dir=w.variant(feats, stats, h5_edit({"qe_stats": as_strings}))),
        t.row("score matrices: 'q_pids' one short",
              f"scoremats_ccvid.h5: 'q_pids' has {q - 1} entries but adaface/score_mat has {q} rows",
              feats_dir=w.variant(feats, "scoremats_ccvid.h5", h5_edit({"q_pids": one_short}))),
        t.row("--ckpt_dir under /proc", f"{UNWRITABLE}/ckpt/MEME cannot be created as an output folder",
              ckpt_dir=f"{UNWRITABLE}/ckpt"),
        t.row("--run_dir under /proc", f"{UNWRITABLE}/run cannot be created as an output folder",
              run_dir=f"{UNWRITABLE}/run"),
        t.row("--run_dir under a file", f"{w.under_a_file} cannot be created as an output folder",
              run_dir=w.under_a_file),
        t.row("--feats_dir read-only (probe weights go there)", "is not a writable output folder",
              feats_dir=w.read_only(w.variant(feats, stats, copy_of(os.path.join(feats, stats))))),
    ]
    return table(w, rows)


def qme_main_score_loss_table(w):
    """qme_main --mode score_loss: configs, training caches, score matrices, a QE checkpoint and face
    weights in; a run folder and the QME checkpoint (--ckpt_dir) out."""
    a = w.args
    qe = w.path("resume", "ckpt", "MEME", "lsf-base-ccvid-20.pth")  # a trained QE (the resume set-up's)
    t = Training(w, "score_loss", qe_ckpt=qe)
    feats = t.folders["feats_dir"]
    scoremats = "scoremats_ccvid.h5"
    bad_qe = w.fresh("qe.pth")
    os.makedirs(os.path.dirname(bad_qe))
    truncated(qe, bad_qe)
    no_qe = ["--use_qe", "false"]
    rows = training_cache_rows(w, t)
    rows += [
        t.row("QE checkpoint: carries code (os.system)", "checkpoint_os_system.pth: refuses to load global "
              "'posix.system'", qe_ckpt=a.os_system_ckpt),
        t.row("QE checkpoint: truncated", "qe.pth is truncated or corrupt", qe_ckpt=bad_qe),
        t.row("QE checkpoint: a QME head's", "qme_ckpt.pth: 'model_state_dict' does not match the model",
              qe_ckpt=a.qme_ckpt),
        t.row("QE checkpoint: missing", "none.pth, which does not exist", qe_ckpt=w.path("none.pth")),
        t.row("face weights: rows for another test set", "face_weights_small.h5: 'face_weights' has 30 rows but "
              "the score matrices have", face_weights=os.path.join(a.fixtures, "eval", "face_weights_small.h5")),
        t.row("face weights: outside [0, 1]", "'face_weights' holds 5 at row 0",
              face_weights=face_weights_file(w, feats, 5.0)),
        t.row("score matrices: missing", f"{scoremats} does not exist", flags=no_qe,
              feats_dir=w.variant(feats, scoremats, None)),
        t.row("score matrices: a model missing", "model 'cal-ccvid' is not in this file", flags=no_qe,
              feats_dir=w.variant(feats, scoremats, h5_edit({"cal-ccvid/score_mat": None,
                                                             "cal-ccvid/merge_score_mat": None}))),
        t.row("score matrices: 'g_pids' one short", f"{scoremats}: 'g_pids' has", flags=no_qe,
              feats_dir=w.variant(feats, scoremats, h5_edit({"g_pids": one_short}))),
        t.row("score matrices: 'merge_score_mat' narrower",
              f"{scoremats}: 'unique_g_pids' has 20 entries but adaface/merge_score_mat has 19 columns",
              flags=no_qe,
              feats_dir=w.variant(feats, scoremats, h5_edit({"adaface/merge_score_mat": narrower}))),
        t.row("--ckpt_dir under /proc", f"{UNWRITABLE}/ckpt/QME cannot be created as an output folder", flags=no_qe,
              ckpt_dir=f"{UNWRITABLE}/ckpt"),
    ]
    return table(w, rows)


def face_weights_file(w, feats, value):
    with h5py.File(os.path.join(feats, "scoremats_ccvid.h5"), "r") as f:
        q = len(f["q_pids"])
    path = w.fresh("weights.h5")
    os.makedirs(os.path.dirname(path))
    weights = np.full((q, 1), 0.5, dtype=np.float32)
    weights[0] = value
    with h5py.File(path, "w") as f:
        f.create_dataset("face_weights", data=weights)
    return path


def qme_main_resume_table(w):
    """qme_main --resume: a run folder (state.json, the trainer state it names) in; the same folder
    out. A refused resume leaves the folder as it was."""
    base = w.path("resume", "run")
    state = "state.json"
    with open(os.path.join(base, state)) as f:
        trainer = json.load(f)["trainer_state"]
    t = Training(w, "mod_qe", ckpt_dir=w.path("resume", "ckpt"), feats_dir=w.path("resume", "feats"),
                 run_name="base")

    def row(label, text, fault_name, fault, code=1):
        folder = w.variant(base, fault_name, fault)
        r = t.row(label, text, code, flags=["--resume"], run_dir=folder)
        r[4]["outputs"] = []
        r[4]["unchanged"] += [folder, t.extra["ckpt_dir"]]
        return r

    def set_key(key, value):
        return json_edit(lambda s: s.__setitem__(key, value))

    return table(w, [
        row("state.json: missing", "holds no checkpoint to resume from", state, None, code=2),
        row("state.json: truncated", f"{state} is not valid JSON: its", state, truncated),
        row("state.json: 'steps_done' a string", f"{state}: 'steps_done' has the wrong type: type must be number, "
            "but is string", state,
            set_key("steps_done", "ten")),
        row("state.json: settings of another run", f"{state}: 'settings' differ from this command's", state,
            json_edit(lambda s: s["settings"].__setitem__("rank_threshold", 7))),
        row("state.json: a step the trainer state does not hold", "holds step 20 but state.json says 30", state,
            set_key("steps_done", 30)),
        row("trainer state: missing", f"{trainer} does not exist (the trainer state that the run's state.json "
            "names)", trainer, None),
        row("trainer state: truncated", f"{trainer} is not a qme resume file (truncated, damaged", trainer, truncated),
        row("trainer state: a code-carrying checkpoint", f"{trainer} is not a qme resume file", trainer,
            copy_of(w.args.os_system_ckpt)),
    ])


def qme_synth_tables(w):
    """qme_synth, qme_synth_scores, qme_synth_caches: flags in, files out (no input files)."""
    a = w.args
    out = w.path(CASE, "synth")
    synth = [
        ("--out under /proc", [a.qme_synth, "--out", f"{UNWRITABLE}/synth", "--size", "ci"], 1,
         f"{UNWRITABLE}/synth cannot be created as an output folder"),
        ("--out under a file", [a.qme_synth, "--out", w.under_a_file, "--size", "ci"], 1,
         f"{w.under_a_file} cannot be created as an output folder"),
        ("--out a file", [a.qme_synth, "--out", w.path("a_file"), "--size", "ci"], 1,
         f"{w.path('a_file')} is not a folder (an output folder was expected)"),
        ("--size unknown", [a.qme_synth, "--out", out, "--size", "huge"], 2, "--size"),
    ]
    scores = [
        ("--out under /proc", [a.qme_synth_scores, "--out", f"{UNWRITABLE}/s.h5"], 1,
         f"{UNWRITABLE}/s.h5 cannot be written: its folder {UNWRITABLE} cannot be created"),
        ("--out a folder", [a.qme_synth_scores, "--out", w.path()], 1, f"{w.path()} is a folder"),
        ("--out under a file", [a.qme_synth_scores, "--out", os.path.join(w.under_a_file, "s.h5")], 1,
         "s.h5 cannot be written: its folder"),
    ]
    caches = [
        ("--out_dir under /proc", [a.qme_synth_caches, "--out_dir", f"{UNWRITABLE}/caches"], 1,
         f"{UNWRITABLE}/caches/mod_center_feat cannot be created as an output folder"),
        ("--out_dir under a file", [a.qme_synth_caches, "--out_dir", w.under_a_file], 1,
         "cannot be created as an output folder"),
        ("--models unknown", [a.qme_synth_caches, "--out_dir", out, "--models", "adaface,resnet"], 2,
         "--models has unknown model 'resnet'"),
        ("--train_pids 0", [a.qme_synth_caches, "--out_dir", out, "--train_pids", "0"], 2,
         "need >= 2 training and >= 2 test identities"),
    ]
    return [("qme_synth", table(w, synth, outputs=[out])),
            ("qme_synth_scores", table(w, scores)),
            ("qme_synth_caches", table(w, caches, outputs=[out]))]


def qme_demo_check_table(w):
    """qme_demo_check: a demo output folder in (the dataset first); nothing out."""
    a = w.args
    ccvid = os.path.join(a.fixtures, "data", "root", "CCVID")

    def demo(name, fault):
        out = w.fresh("demo")
        os.makedirs(os.path.join(out, "data"))
        shutil.move(w.variant(ccvid, name, fault), os.path.join(out, "data", "CCVID"))
        return out

    def cmd(out):
        return [a.qme_demo_check, "--out", out]

    return table(w, [
        ("folder missing", cmd(w.path("no_demo")), 1, "no_demo/data/CCVID/ccvid.h5 does not exist"),
        ("ccvid.h5 truncated", cmd(demo("ccvid.h5", truncated)), 1, f"ccvid.h5 {CUT_H5}"),
        ("ccvid.h5 empty", cmd(demo("ccvid.h5", empty)), 1, "ccvid.h5 is empty"),
        ("ccvid.h5 not HDF5", cmd(demo("ccvid.h5", text_file("not hdf5\n"))), 1, "ccvid.h5 is not an HDF5 file"),
        ("ccvid_face.h5 missing", cmd(demo("ccvid_face.h5", None)), 1, "ccvid_face.h5 does not exist"),
        ("query.txt line with two fields", cmd(demo("query.txt", text_file("session1/001_01 1\n"))), 1,
         "query.txt:1 expected 'tracklet_path pid clothes_label', got 2 fields"),
    ])


# --- set-up and main ---------------------------------------------------------------------------

def make_inputs(w):
    """The valid inputs that the tables damage: features files, tiny backbones, shard parts,
    synthetic training caches and a finished 20-step mod_qe run (marked unfinished, to resume)."""
    a = w.args
    quiet = dict(check=True, stdout=subprocess.DEVNULL)
    subprocess.run([a.qme_make_test_features, w.path("feats")], **quiet)
    subprocess.run([a.qme_make_tiny_backbones, w.path("tiny"), "adaface", "cal-ccvid", "biggait"], **quiet)
    tiny = ["--root", os.path.join(a.fixtures, "data", "root"), "--backbone_cfg", w.path("tiny", "backbone_cfg.yaml"),
            "--device", "cpu", "--log_level", "warn", "--num_shards", "2", "--shard_index"]
    for i in ("0", "1"):
        subprocess.run([a.qme_test, "--eval_mode", "feat", "--mode", "adaface", "--dataset", "ccvid", "--feats_dir",
                        w.path("shards"), *tiny, i], **quiet)
        subprocess.run([a.qme_precompute_center, "--mode", "biggait", "--dataset", "ccvid", "--num_sample", "16",
                        "--save_path", w.path("center_shards"), *tiny, i], **quiet)
    subprocess.run([a.qme_synth_caches, "--out_dir", w.path("caches"), "--dataset", "ccvid"], **quiet)
    shutil.copytree(w.path("caches", "test_feats"), w.path("resume", "feats"))
    t = Training(w, "mod_qe", ckpt_dir=w.path("resume", "ckpt"), feats_dir=w.path("resume", "feats"),
                 run_name="base")
    cmd = t.row("", "", run_dir=w.path("resume", "run"))[1]
    cmd[cmd.index("--max_step") + 1] = "20"
    subprocess.run(cmd + ["--log_level", "warn"], **quiet)
    json_edit(lambda s: s.update(finished=False, stop_reason=""))(w.path("resume", "run", "state.json"),
                                                                    w.path("resume", "run", "state.json"))


def tables(w):
    """(title, cases) for every executable and mode."""
    return [("qme_tables", qme_tables_table(w)),
            ("qme_test --eval_mode score", qme_test_score_table(w)),
            ("qme_test --eval_mode gather", qme_test_gather_table(w)),
            ("qme_test --eval_mode feat", qme_test_feat_table(w)),
            ("qme_test --eval_mode merge", qme_test_merge_table(w)),
            ("qme_precompute_center", qme_precompute_center_table(w)),
            ("qme_precompute_center --merge_shards", qme_precompute_center_merge_table(w)),
            ("qme_main --mode mod_qe", qme_main_mod_qe_table(w)),
            ("qme_main --mode score_loss", qme_main_score_loss_table(w)),
            ("qme_main --resume", qme_main_resume_table(w)),
            *qme_synth_tables(w),
            ("qme_demo_check", qme_demo_check_table(w))]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    for tool in ("qme_tables", "qme_test", "qme_precompute_center", "qme_main", "qme_synth", "qme_synth_scores",
                 "qme_synth_caches", "qme_demo_check", "qme_make_test_features", "qme_make_tiny_backbones"):
        parser.add_argument(f"--{tool}", required=True)
    parser.add_argument("--configs", required=True, help="the shipped configs/ folder")
    parser.add_argument("--fixtures", required=True, help="the shared fixtures folder (QME_FIXTURES_DIR)")
    parser.add_argument("--os_system_ckpt", required=True, help="tests/fixtures/checkpoint_os_system.pth")
    parser.add_argument("--with_plots", type=int, default=1, help="1 when qme_tables draws --plots")
    parser.add_argument("--only", help="run only the tables whose title contains this text")
    parser.add_argument("--jobs", type=int, default=2, help="cases run at the same time")
    parser.add_argument("--show", action="store_true", help="print the error line of every refused run")
    parser.add_argument("--work", required=True)
    args = parser.parse_args()
    args.scoremats = os.path.join(args.fixtures, "eval", "scoremats_small.h5")
    args.qme_ckpt = os.path.join(args.fixtures, "model", "qme_ckpt.pth")
    args.qe_ckpt = os.path.join(args.fixtures, "model", "qe_ckpt.pth")

    unlock_tree(args.work)
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    w = Work(args)
    start = time.monotonic()
    try:
        make_inputs(w)
        print(f"inputs made in {time.monotonic() - start:.1f} s")
        runs = [(title, cases) for title, cases in tables(w) if not args.only or args.only in title]
        failed = 0
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            results = [(title, cases, pool.map(run_case, cases)) for title, cases in runs]
            for title, cases, outcomes in results:
                print(f"\n{title} ({len(cases)} cases)")
                for case, (problems, seconds, error_line) in zip(cases, outcomes):
                    print(f"  {'ok' if not problems else 'FAIL':4} {case.label} ({seconds:.1f} s)")
                    if args.show and not problems and error_line:
                        print(f"       {error_line}")
                    for p in problems:
                        print("       " + p.replace("\n", "\n       "))
                    failed += bool(problems)
    finally:
        w.unlock()
    total = sum(len(cases) for _, cases in runs)
    print(f"\n{total - failed}/{total} hostile inputs handled in {time.monotonic() - start:.0f} s")
    return 1 if failed else 0


def run_case(case):
    """(problems, seconds, the error line) of one case."""
    start = time.monotonic()
    problems, text = run(case.cmd, case.code, case.text, case.outputs, case.unchanged, case.work)
    error_lines = [line for line in text.splitlines() if "error" in line.lower()]
    return problems, time.monotonic() - start, error_lines[0] if error_lines else ""


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Crash-safe outputs, end to end: each executable is killed with SIGKILL while it writes its main
output (score-matrix file, test features, centers, tables JSON; for training the trainer state,
state.json and the checkpoints), then
  - the file that stood at that path before is intact (same SHA-256), or, when the kill came just
    after the rename, the complete new file stands there (that of an uninterrupted run; for the
    two formats holding run-specific bytes, the content without them: see untimed_json and
    addressless_zip);
  - no file under a final name is partial: every output the run can write is either the earlier
    file or a complete version of the new one, and opens (HDF5: every dataset reads; JSON parses;
    .pt/.pth: every zip record passes its CRC);
  - what a kill leaves behind is named as temporary (`<final name>.tmp-<pid>`);
  - training: `--resume` exits 0, continues after the step that state.json records, and ends
    with the same log, state and checkpoints as an uninterrupted run.

How a kill is made to land during the write. Every executable runs under a small ptrace tracer
(below; Linux, ctypes). It stops the process at each system call and follows, per output, the
writes into the output's temporary file and the rename that moves it into place. A recording run
first counts those writes and hashes each version of each output. Each kill run then sends SIGKILL
while the process is stopped at one chosen call: before the first write into the temporary file,
before its middle write, before its last write, before the rename, and just after the rename.
So every kill lands at a known point of the write, however fast or slow the machine. Six more
kills of qme_synth_scores without the tracer (poll the folder until the temporary file appears,
wait 0 to 50 ms, SIGKILL) check the same things untraced; where those land is counted (a
temporary file left behind = killed mid-write), not required.

Run by ctest (cli.kill_outputs). Needs h5py and numpy.
"""
import argparse
import ctypes
import errno
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile

import h5py

RUN_TIMEOUT_S = 120
TEMPORARY = re.compile(r"\.tmp-\d+")  # what the atomic writers append to the final name

# --- the tracer -------------------------------------------------------------------------------

PTRACE_TRACEME, PTRACE_SYSCALL, PTRACE_SETOPTIONS = 0, 24, 0x4200
PTRACE_GET_SYSCALL_INFO = 0x420E
PTRACE_O_TRACESYSGOOD, PTRACE_O_TRACECLONE, PTRACE_O_EXITKILL = 0x1, 0x8, 0x100000
SYSCALL_INFO_ENTRY, SYSCALL_INFO_EXIT = 1, 2
WALL = 0x40000000
AT_FDCWD = -100

# System calls that write file data: number -> index of the argument holding the file descriptor
# (write, pwrite64, writev, pwritev, pwritev2, sendfile, copy_file_range), and the renames:
# number -> indices of (old dirfd, old path, new dirfd, new path), None for "the working folder".
SYSCALLS = {
    "x86_64": ({1: 0, 18: 0, 20: 0, 296: 0, 328: 0, 40: 0, 326: 2},
               {82: (None, 0, None, 1), 264: (0, 1, 2, 3), 316: (0, 1, 2, 3)}),
    "aarch64": ({64: 0, 68: 0, 66: 0, 70: 0, 287: 0, 71: 0, 285: 2},
                {38: (0, 1, 2, 3), 276: (0, 1, 2, 3)}),
}

libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
libc.ptrace.restype = ctypes.c_long


class SyscallInfo(ctypes.Structure):
    """struct ptrace_syscall_info (linux/ptrace.h): entry = nr + args; exit = rval (in `nr`)."""
    _fields_ = [("op", ctypes.c_uint8), ("pad", ctypes.c_uint8 * 3), ("arch", ctypes.c_uint32),
                ("ip", ctypes.c_uint64), ("sp", ctypes.c_uint64), ("nr", ctypes.c_uint64),
                ("args", ctypes.c_uint64 * 6), ("ret_data", ctypes.c_uint32), ("pad2", ctypes.c_uint32)]


def syscall_info(tid):
    info = SyscallInfo()
    if libc.ptrace(PTRACE_GET_SYSCALL_INFO, tid, ctypes.sizeof(info), ctypes.byref(info)) <= 0:
        return None
    return info


def resume(tid, sig=0):
    libc.ptrace(PTRACE_SYSCALL, tid, None, sig)  # fails (ESRCH) only for a task already gone


def read_string(tid, address):
    fd = os.open(f"/proc/{tid}/mem", os.O_RDONLY)
    try:
        out = b""
        while b"\0" not in out and len(out) < 8192:
            chunk = 4096 - (address + len(out)) % 4096  # never read across an unmapped page
            out += os.pread(fd, chunk, address + len(out))
        return out.split(b"\0", 1)[0].decode(errors="replace")
    finally:
        os.close(fd)


def fd_path(tid, fd):
    try:
        return os.readlink(f"/proc/{tid}/fd/{fd}")
    except OSError:
        return None


def absolute(tid, dirfd, path):
    if path.startswith("/"):
        return os.path.normpath(path)
    dirfd = ctypes.c_int32(dirfd).value if dirfd is not None else AT_FDCWD
    base = os.readlink(f"/proc/{tid}/cwd") if dirfd == AT_FDCWD else fd_path(tid, dirfd)
    return os.path.normpath(os.path.join(base or "/", path))


class Timeout(Exception):
    pass


def _on_alarm(signum, frame):
    raise Timeout()


def untraceable_checks_off(env):
    """LeakSanitizer cannot run under ptrace (it stops the process with ptrace itself), so a
    sanitizer build's traced runs skip the leak check; the untraced runs of the suite keep it."""
    env = dict(os.environ if env is None else env)
    options = env.get("ASAN_OPTIONS", "")
    env["ASAN_OPTIONS"] = (options + ":" if options else "") + "detect_leaks=0"
    return env


def traced_run(cmd, watcher, log_path, env):
    """Runs cmd under ptrace, calling watcher.on_write(path) before each write into a file and
    watcher.on_rename(old, new, done) before and after each rename; SIGKILLs the process as soon as
    one returns True. Returns the exit code (negative: killed by that signal)."""
    writes, renames = SYSCALLS[platform.machine()]
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    pid = os.fork()
    if pid == 0:  # the child: traced from its exec on
        try:
            os.dup2(log_fd, 1)
            os.dup2(log_fd, 2)
            if libc.ptrace(PTRACE_TRACEME, 0, None, None) != 0:
                os._exit(126)
            os.execve(cmd[0], cmd, untraceable_checks_off(env))
        finally:
            os._exit(127)
    os.close(log_fd)
    _, status = os.waitpid(pid, WALL)  # stopped by the exec
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 126:
        raise SystemExit("ptrace is not permitted here (PTRACE_TRACEME failed): this test needs it")
    if not os.WIFSTOPPED(status):
        return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    libc.ptrace(PTRACE_SETOPTIONS, pid, None, PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE | PTRACE_O_EXITKILL)
    resume(pid)
    seen, pending, killed = {pid}, {}, False
    previous_alarm = signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(RUN_TIMEOUT_S)
    try:
        while True:
            tid, status = os.waitpid(-1, WALL)
            if os.WIFEXITED(status) or os.WIFSIGNALED(status):
                if tid == pid:
                    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
                continue
            sig = os.WSTOPSIG(status)
            if sig == signal.SIGTRAP | 0x80:
                if not killed and _syscall_stop(tid, watcher, writes, renames, pending):
                    os.kill(pid, signal.SIGKILL)  # the task stays stopped until SIGKILL ends it
                    killed = True
                sig = 0
            elif sig == signal.SIGTRAP and status >> 16:
                sig = 0  # a clone event
            elif sig == signal.SIGSTOP and tid not in seen:
                seen.add(tid)  # a new thread's first stop
                sig = 0
            resume(tid, sig)
    except Timeout:
        os.kill(pid, signal.SIGKILL)
        while os.waitpid(-1, WALL)[0] != pid:
            pass
        raise AssertionError(f"{' '.join(cmd)}: still running after {RUN_TIMEOUT_S} s")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous_alarm)


def _syscall_stop(tid, watcher, writes, renames, pending):
    info = syscall_info(tid)
    if info is None:
        if ctypes.get_errno() in (errno.EIO, errno.EINVAL):
            raise SystemExit("PTRACE_GET_SYSCALL_INFO is not supported (Linux 5.3 or later is needed)")
        return False
    if info.op == SYSCALL_INFO_ENTRY:
        nr = info.nr
        if nr in writes:
            path = fd_path(tid, info.args[writes[nr]])
            return bool(path) and watcher.on_write(path)
        if nr in renames:
            od, op, nd, np_ = renames[nr]
            old = absolute(tid, None if od is None else info.args[od], read_string(tid, info.args[op]))
            new = absolute(tid, None if nd is None else info.args[nd], read_string(tid, info.args[np_]))
            pending[tid] = (old, new)
            return watcher.on_rename(old, new, done=False)
        return False
    if info.op == SYSCALL_INFO_EXIT and tid in pending:
        old, new = pending.pop(tid)
        if ctypes.c_int64(info.nr).value == 0:
            return watcher.on_rename(old, new, done=True)
    return False


# --- following the outputs ---------------------------------------------------------------------

def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


ADDRESS = re.compile(rb"0x[0-9a-f]{6,16}")


def untimed_json(path):
    """A tables JSON's content without its 'timing_s' (seconds measured, different every run)."""
    with open(path) as f:
        data = json.load(f)
    data.pop("timing_s", None)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def addressless_zip(path):
    """A LibTorch OutputArchive's records (the trainer state), with memory addresses blanked out:
    LibTorch names each optimiser state after its tensor's address, which differs between runs.
    Reading each record also checks its CRC, so a partial archive raises here."""
    digest = hashlib.sha256()
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            digest.update(info.filename.encode() + b"\0" + ADDRESS.sub(b"0x?", z.read(info)) + b"\0")
    return digest.hexdigest()


class Target:
    """One output: files in `folder` whose name matches `pattern` (a regex), validated by `validate`
    and compared by `fingerprint` (the SHA-256 unless the format holds run-specific bytes)."""

    def __init__(self, label, folder, pattern, validate, fingerprint=sha256):
        self.label, self.folder, self.validate = label, os.path.realpath(folder), validate
        self.fingerprint = fingerprint
        self.regex = re.compile(rf"(?P<final>{pattern})(?P<suffix>\..+)?")

    def split(self, path):
        """(final path, suffix) when path is this output or one of its temporary files."""
        folder, name = os.path.split(path)
        match = self.regex.fullmatch(name) if folder == self.folder else None
        return (os.path.join(folder, match["final"]), match["suffix"]) if match else (None, None)


class Version:
    """One writing of an output: its final path, the writes into its temporary file, its fingerprint."""

    def __init__(self, final):
        self.final, self.writes, self.sha = final, 0, None


class Watcher:
    """Follows the targets' writes and renames; with a plan (label, occurrence, point, write),
    asks for the kill there. point: 'write' (before that write into the temporary file),
    'rename' (before the rename into place) or 'renamed' (just after it)."""

    def __init__(self, targets, plan=None):
        self.targets, self.plan = targets, plan
        self.versions = {t.label: [] for t in targets}
        self.open = {}  # final path -> the version being written
        self.in_place = []  # writes straight into a final name: a defect
        self.landed = None  # where the kill landed

    def _find(self, path):
        for t in self.targets:
            final, suffix = t.split(path)
            if final:
                return t, final, suffix
        return None, None, None

    def on_write(self, path):
        target, final, suffix = self._find(path)
        if target is None:
            return False
        if suffix is None:
            self.in_place.append(path)
        version = self.open.get(final)
        if version is None:
            version = self.open[final] = Version(final)
            self.versions[target.label].append(version)
        version.writes += 1
        return self._due(target, version, "write", version.writes)

    def on_rename(self, old, new, done):
        target, final, suffix = self._find(new)
        if target is None or suffix is not None:
            return False
        version = self.open.get(final)
        if version is None:  # a file renamed without a write seen (empty)
            version = self.open[final] = Version(final)
            self.versions[target.label].append(version)
        if not done:
            return self._due(target, version, "rename", 0)
        version.sha = target.fingerprint(final)
        del self.open[final]
        return self._due(target, version, "renamed", 0)

    def _due(self, target, version, point, write):
        if self.plan is None or self.landed:
            return False
        label, occurrence, want_point, want_write = self.plan
        if target.label != label or self.versions[label].index(version) + 1 != occurrence:
            return False
        hit = point == want_point and (point != "write" or write == want_write)
        if not hit and not (want_point == "write" and point == "rename"):
            return False  # (a planned write that never came: kill before the rename instead)
        self.landed = (version, point, write)
        return True


# --- checks --------------------------------------------------------------------------------------

def validate_h5(path):
    with h5py.File(path, "r") as f:
        names = []
        f.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
        if not names:
            raise ValueError("holds no dataset")
        for name in names:
            f[name][()]


def validate_json(path):
    with open(path) as f:
        json.load(f)


def validate_zip(path):
    with zipfile.ZipFile(path) as z:
        bad = z.testzip()
        if bad:
            raise ValueError(f"record {bad} fails its CRC check")


def validator(pattern):
    if pattern.endswith(r"\.h5"):
        return validate_h5
    if pattern.endswith(r"\.json"):
        return validate_json
    return validate_zip


class Report:
    def __init__(self):
        self.failures, self.kills, self.mid_write, self.blind = [], {}, {}, {}

    def check(self, condition, message):
        if not condition:
            self.failures.append(message)
            print("FAIL: " + message, flush=True)
        return condition

    def count(self, tool, mid_write):
        self.kills[tool] = self.kills.get(tool, 0) + 1
        self.mid_write[tool] = self.mid_write.get(tool, 0) + (1 if mid_write else 0)


def final_files(targets):
    """{final path: [temporary files]} of every output present in the targets' folders."""
    found = {}
    for t in targets:
        if not os.path.isdir(t.folder):
            continue
        for name in os.listdir(t.folder):
            final, suffix = t.split(os.path.join(t.folder, name))
            if final:
                entry = found.setdefault(final, [])
                if suffix is not None:
                    entry.append(name)
    return found


def target_of(targets, path):
    return next(t for t in targets if t.split(path)[0])


def fingerprint(targets, path):
    """The file's fingerprint, or a description of why it cannot be read."""
    try:
        return target_of(targets, path).fingerprint(path)
    except Exception as e:  # noqa: BLE001 (any failure to read is the finding)
        return f"unreadable ({e})"


def check_outputs(report, what, targets, expected, allowed, temporaries_before):
    """expected: {final path: fingerprint, or None for no file}; allowed: {final path: the
    fingerprints of the earlier and the complete new files}. Returns the temporary files this run
    left."""
    for final, want in expected.items():
        now = fingerprint(targets, final) if os.path.exists(final) else None
        state = "absent" if now is None else "another file"
        report.check(now == want, f"{what}: {final} is {state}, expected "
                     + ("no file" if want is None else "the file with fingerprint " + want[:12]))
    left = []
    for final, temporaries in final_files(targets).items():
        if os.path.exists(final):
            report.check(fingerprint(targets, final) in allowed.get(final, set()),
                         f"{what}: {final} is neither the earlier file nor a complete new one")
            try:
                target_of(targets, final).validate(final)
            except Exception as e:  # noqa: BLE001 (any failure to read is the finding)
                report.check(False, f"{what}: {final} does not open: {e}")
        for name in temporaries:
            suffix = name[len(os.path.basename(final)):]
            report.check(TEMPORARY.fullmatch(suffix),
                         f"{what}: {name} is left behind, not named as temporary")
            if name not in temporaries_before:
                left.append(name)
    return left


# --- one executable: record, then kill at each point ----------------------------------------------

class Job:
    """An executable and its outputs; `fresh` (training) empties the run's folders before each run."""

    def __init__(self, tool, cmd, targets, work, env, fresh=None):
        self.tool, self.cmd, self.targets, self.env, self.fresh = tool, cmd, targets, env, fresh
        self.log = os.path.join(work, f"{tool}.log")

    def run(self, watcher):
        """Runs under the tracer; returns the exit code (-9: killed)."""
        if self.fresh:
            self.fresh()
        return traced_run(self.cmd, watcher, self.log, self.env)

    def output(self):
        with open(self.log, errors="replace") as f:
            return f.read()


def plant_previous(target, final):
    """Turns the file at `final` into a distinct, valid 'earlier' file; returns its fingerprint."""
    if final.endswith(".json"):
        with open(final) as f:
            data = json.load(f)
        data = {"kill_test_previous": True, "data": data}
        with open(final, "w") as f:
            json.dump(data, f)
    else:
        with h5py.File(final, "a") as f:
            f.attrs["kill_test_previous"] = 1
    return target.fingerprint(final)


def kill_points(version):
    """Before the first, the middle and the last write into the temporary file, before the rename,
    just after it (fewer when the file takes fewer writes)."""
    writes = sorted({w for w in (1, (version.writes + 1) // 2, version.writes) if w >= 1})
    return [("write", w) for w in writes] + [("rename", 0), ("renamed", 0)]


def record(report, job):
    """A run under the tracer that kills nothing: the versions of each output (writes, fingerprint)."""
    watcher = Watcher(job.targets)
    start = time.monotonic()
    code = job.run(watcher)
    seconds = time.monotonic() - start
    if not report.check(code == 0, f"{job.tool}: the recording run exited with {code}:\n{job.output()}"):
        return None
    report.check(not watcher.in_place, f"{job.tool}: writes straight into {sorted(set(watcher.in_place))}")
    for t in job.targets:
        report.check(watcher.versions[t.label] and all(v.sha for v in watcher.versions[t.label]),
                     f"{job.tool}: the recording run wrote no {t.label} through a rename")
    counts = [(t.label, [v.writes for v in watcher.versions[t.label]]) for t in job.targets]
    print(f"{job.tool}: recorded in {seconds:.1f} s: "
          + ", ".join(f"{label} x{len(w)} ({max(w or [0])} writes)" for label, w in counts), flush=True)
    return watcher


def run_planned_kill(report, job, plan):
    """Runs the job with a kill at `plan`; returns its description and where the kill landed
    (None, reported as a failure, when the process was not killed there)."""
    watcher = Watcher(job.targets, plan)
    code = job.run(watcher)
    what = f"{job.tool} killed at {describe(plan)}"
    if not report.check(code == -signal.SIGKILL and watcher.landed,
                        f"{what}: exit {code}, the kill did not land\n{job.output()}"):
        return what, None
    return what, watcher.landed


def single_shot(report, job, main_label):
    """Tools that write each output once: plant a distinct earlier file at each output path, kill
    at every point of the main output and before the rename of the others, check, restore."""
    recorded = record(report, job)
    if recorded is None:
        return
    new = {v.final: v.sha for t in job.targets for v in recorded.versions[t.label]}
    previous = {final: plant_previous(target_of(job.targets, final), final) for final in new}
    saved = {final: open(final, "rb").read() for final in previous}
    allowed = {final: {previous[final], new[final]} for final in new}
    plans = []
    for t in job.targets:
        version = recorded.versions[t.label][0]
        points = kill_points(version) if t.label == main_label else [("rename", 0)]
        plans += [(t.label, 1, point, write) for point, write in points]
    for plan in plans:
        temporaries = {n for ts in final_files(job.targets).values() for n in ts}
        what, landed = run_planned_kill(report, job, plan)
        if landed is None:
            continue
        version, point, _ = landed
        expected = {version.final: new[version.final] if point == "renamed" else previous[version.final]}
        left = check_outputs(report, what, job.targets, expected, allowed, temporaries)
        report.count(job.tool, bool(left))
        for final, data in saved.items():  # the next kill starts from the earlier files again
            with open(final, "wb") as f:
                f.write(data)
    # Whatever the kills left, a plain run still replaces every output with the complete new one.
    temporaries = {n for ts in final_files(job.targets).values() for n in ts}
    code = job.run(Watcher(job.targets))
    report.check(code == 0, f"{job.tool}: a run after the kills exited with {code}:\n{job.output()}")
    check_outputs(report, f"{job.tool} after the kills", job.targets, new, allowed, temporaries)


def describe(plan):
    label, occurrence, point, write = plan
    at = {"write": f"write {write} into the temporary file", "rename": "the rename",
          "renamed": "just after the rename"}[point]
    return f"{label} #{occurrence}, {at}"


def blind_kills(report, job, delays):
    """Kills without the tracer: polls the output folder (every 0.5 ms) until a temporary file
    appears, waits `delay`, sends SIGKILL. Where these land depends on the machine, so they are
    counted (a temporary file left behind = killed mid-write), not required; the checks after each
    are the same as after a traced kill."""
    target = job.targets[0]
    final = next(f for f in final_files([target]) if os.path.exists(f))  # the main output
    new = fingerprint(job.targets, final)
    previous = plant_previous(target, final)
    saved = open(final, "rb").read()
    allowed = {final: {previous, new}}
    landed = 0
    for delay in delays:
        temporaries = set(final_files(job.targets).get(final, []))
        proc = subprocess.Popen(job.cmd, env=job.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while proc.poll() is None and set(final_files(job.targets).get(final, [])) <= temporaries:
            time.sleep(0.0005)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        what = f"{job.tool} killed {delay * 1000:.0f} ms after its temporary file appeared (no tracer)"
        left = check_outputs(report, what, job.targets, {}, allowed, temporaries)
        if left:  # the rename had not happened: the earlier file must stand
            report.check(fingerprint(job.targets, final) == previous,
                         f"{what}: {final} is not the earlier file")
        landed += bool(left)
        with open(final, "wb") as f:
            f.write(saved)
    print(f"{job.tool}: {len(delays)} kills without the tracer, {landed} left a temporary file "
          f"(landed mid-write)", flush=True)
    report.blind[job.tool] = (landed, len(delays))


# --- training: kill at a checkpoint, then --resume ----------------------------------------------

def read_state(path):
    with open(path) as f:
        return json.load(f)


def training(report, job, run_dir, plans):
    """Kills the run at each planned point of a later checkpoint (state.json, trainer state,
    checkpoints), checks the files, then resumes it: it must continue after the step state.json
    records and end exactly like the uninterrupted recording run."""
    recorded = record(report, job)
    if recorded is None:
        return
    reference_log = open(os.path.join(run_dir, "log.jsonl"), "rb").read()
    reference = {f: fingerprint(job.targets, f) for f in final_files(job.targets) if os.path.exists(f)}
    allowed = {}
    for t in job.targets:
        for v in recorded.versions[t.label]:
            allowed.setdefault(v.final, set()).add(v.sha)
    for label, occurrence, point, write in plans:
        found = recorded.versions[label]
        occurrence = min(occurrence, len(found))
        if write == "mid":
            write = (found[occurrence - 1].writes + 1) // 2
        plan = (label, occurrence, point, write)
        what, landed = run_planned_kill(report, job, plan)
        if landed is None:
            continue
        version, landed_point, _ = landed
        earlier = [v.sha for v in found[:occurrence - 1] if v.final == version.final]
        if landed_point == "renamed":
            expected = {version.final: found[occurrence - 1].sha}
        else:  # the version before this one under the same name, or none
            expected = {version.final: earlier[-1] if earlier else None}
        left = check_outputs(report, what, job.targets, expected, allowed, set())
        report.count(job.tool, bool(left))
        if label == "state" and occurrence == 1 and landed_point != "renamed":
            check_restart(report, what, job, run_dir, reference_log, reference)
        else:
            check_resume(report, what, job, run_dir, reference_log, reference)


def check_resume(report, what, job, run_dir, reference_log, reference):
    """state.json names complete files; --resume continues after its step and ends like the
    uninterrupted run (same log, same state and checkpoints, bit for bit)."""
    state_path = os.path.join(run_dir, "state.json")
    if not report.check(os.path.exists(state_path), f"{what}: no state.json to resume from"):
        return
    state = read_state(state_path)
    steps = state["steps_done"]
    trainer = os.path.join(run_dir, state["trainer_state"])
    report.check(os.path.exists(trainer), f"{what}: state.json names {trainer}, which is missing")
    proc = subprocess.run(job.cmd + ["--resume"], env=job.env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=RUN_TIMEOUT_S)
    if not report.check(proc.returncode == 0,
                        f"{what}: --resume exited with {proc.returncode}:\n{proc.stdout}"):
        return
    report.check(f"resuming after step {steps}" in proc.stdout,
                 f"{what}: --resume did not continue after step {steps} (state.json's):\n{proc.stdout}")
    check_like_reference(report, what, job, run_dir, reference_log, reference)
    print(f"{what}: resumed after step {steps}", flush=True)


def check_restart(report, what, job, run_dir, reference_log, reference):
    """Killed before the first state.json: --resume says there is nothing to resume (exit 2), and
    the same command without it starts over and ends like the uninterrupted run."""
    proc = subprocess.run(job.cmd + ["--resume"], env=job.env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=RUN_TIMEOUT_S)
    report.check(proc.returncode == 2 and "holds no checkpoint to resume from" in proc.stdout,
                 f"{what}: --resume exited with {proc.returncode}, expected 2 (nothing to resume):\n"
                 + proc.stdout)
    proc = subprocess.run(job.cmd, env=job.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=RUN_TIMEOUT_S)
    if report.check(proc.returncode == 0,
                    f"{what}: the run started over exited with {proc.returncode}:\n{proc.stdout}"):
        check_like_reference(report, what, job, run_dir, reference_log, reference)
        print(f"{what}: no checkpoint yet; started over", flush=True)


def check_like_reference(report, what, job, run_dir, reference_log, reference):
    """The run ended as the uninterrupted one: finished, the same log and the same outputs."""
    state_path = os.path.join(run_dir, "state.json")
    report.check(read_state(state_path)["finished"], f"{what}: the run did not finish")
    log = open(os.path.join(run_dir, "log.jsonl"), "rb").read()
    step_records = [json.loads(line)["step"] for line in log.splitlines() if b'"event":"step"' in line]
    report.check(step_records == list(range(1, len(step_records) + 1)) and step_records,
                 f"{what}: at the end, log.jsonl's steps are not 1..N once each")
    report.check(log == reference_log, f"{what}: at the end, log.jsonl differs from an uninterrupted run's")
    present = {f for f in final_files(job.targets) if os.path.exists(f)}
    report.check(present == set(reference), f"{what}: at the end, the outputs are {sorted(present)}, "
                 f"an uninterrupted run's are {sorted(reference)}")
    for path in present & set(reference):
        report.check(fingerprint(job.targets, path) == reference[path],
                     f"{what}: at the end, {path} differs from an uninterrupted run's")


# --- the executables ------------------------------------------------------------------------------

def setup(cmd, env):
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"setup failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout}")


def targets(folder, *outputs):
    """Targets from (label, pattern[, fingerprint]) tuples, all in `folder`."""
    return [Target(label, folder, pattern, validator(pattern), *rest) for label, pattern, *rest in outputs]


def single_shot_jobs(a, work, env):
    """(job, main output label, blind-kill fractions) for each tool writing its outputs once."""
    scores = os.path.join(work, "scores")
    tables = os.path.join(work, "tables")
    os.makedirs(tables)
    setup([a.qme_synth_scores, "--out", os.path.join(tables, "input.h5")], env)
    feats = os.path.join(work, "feats")
    setup([a.qme_make_test_features, feats], env)
    tiny = os.path.join(work, "tiny")
    setup([a.qme_make_tiny_backbones, tiny, "adaface", "cal-ccvid", "biggait"], env)
    common = ["--root", a.data_root, "--backbone_cfg", os.path.join(tiny, "backbone_cfg.yaml"),
              "--device", "cpu"]
    extract = [a.qme_test, "--eval_mode", "feat", "--mode", "adaface", "--dataset", "ccvid"] + common
    centers = [a.qme_precompute_center, "--mode", "biggait", "--dataset", "ccvid",
               "--num_sample", "16"] + common
    good = os.path.join(feats, "good")
    return [
        (Job("qme_synth_scores", [a.qme_synth_scores, "--out", os.path.join(scores, "scoremats_ltcc.h5"),
                                  "--preset", "ltcc"],
             targets(scores, ("score matrices", r"scoremats_ltcc\.h5")), work, env),
         "score matrices", [0, 0.002, 0.005, 0.01, 0.02, 0.05]),
        (Job("qme_tables", [a.qme_tables, "--scoremats", os.path.join(tables, "input.h5"),
                            "--json", os.path.join(tables, "tables.json")],
             targets(tables, ("tables JSON", r"tables\.json", untimed_json)), work, env), "tables JSON", []),
        (Job("qme_test_gather", [a.qme_test, "--eval_mode", "gather", "--mode", "adaface,cal-ltcc",
                                 "--dataset", "ltcc", "--feats_dir", good, "--device", "cpu"],
             targets(good, ("score matrices", r"scoremats_ltcc\.h5")), work, env), "score matrices", []),
        (Job("qme_test_feat", extract + ["--feats_dir", os.path.join(work, "extract")],
             targets(os.path.join(work, "extract"), ("features", r"adaface_ccvid_test\.h5"),
                     ("QE statistics", r"adaface_ccvid_test_qe\.h5")), work, env), "features", []),
        (Job("qme_precompute_center", centers + ["--save_path", os.path.join(work, "centers")],
             targets(os.path.join(work, "centers"), ("centers", r"biggait_center_ccvid_CC\.h5"),
                     ("center frames", r"biggait_center_n16_ccvid_CC\.h5"),
                     ("training frames", r"biggait_train_ccvid\.h5")), work, env), "centers", []),
    ]


def training_jobs(a, work, env):
    """(job, run folder, kill plans) for qme_main --mode score_loss and --mode mod_qe."""
    data = os.path.join(work, "train", "data")
    setup([a.qme_synth_caches, "--out_dir", data, "--dataset", "ccvid"], env)
    test_feats = os.path.join(data, "test_feats")
    jobs = []
    for mode in ("score_loss", "mod_qe"):
        root = os.path.join(work, "train", mode)
        run_dir, ckpt = os.path.join(root, "run"), os.path.join(root, "ckpt")
        cmd = [a.qme_main, "--mode", mode, "--dataset", "ccvid", "--epoch", "100000", "--device", "cpu",
               "--backbone_cfg", os.path.join(a.configs, "backbone_cfg-ccvid.yaml"),
               "--train_cfg", os.path.join(a.configs, "train_cfg-ccvid.yaml"),
               "--center_dir", os.path.join(data, "mod_center_feat"), "--feats_dir", test_feats,
               "--ckpt_dir", ckpt, "--run_dir", run_dir, "--run_name", "kill", "--progress", "false",
               "--max_step", "30", "--test_per_step", "10"]
        outputs = [("state", r"state\.json"), ("trainer state", r"resume-step\d+\.pt", addressless_zip)]
        if mode == "score_loss":
            cmd += ["--use_qe", "false"]
            outputs.append(("best model", r"best-step\d+\.pth"))
        found = targets(run_dir, *outputs)
        if mode == "score_loss":
            found += targets(os.path.join(ckpt, "QME"),
                             ("QME checkpoint", r"lsf-ccvid-bs\d+-seq\d+-[0-9.]+-\d+\.pth"))
            # the 2nd evaluation's checkpoint (step 20) and the selected model, copied into place at
            # the end (the 2nd best model: the 1st when only one evaluation improved)
            plans = [("state", 1, "rename", 0), ("state", 2, "write", 1), ("state", 2, "rename", 0),
                     ("state", 2, "renamed", 0),
                     ("trainer state", 2, "write", "mid"), ("best model", 2, "rename", 0),
                     ("QME checkpoint", 1, "write", "mid")]
        else:
            found += targets(os.path.join(ckpt, "MEME"), ("QE checkpoint", r"lsf-kill-ccvid-\d+\.pth"))
            found += targets(test_feats, ("face weights", r"mod_qe_kill_ccvid_\d+\.h5"))
            plans = [("QE checkpoint", 2, "write", "mid"), ("face weights", 2, "rename", 0),
                     ("state", 2, "renamed", 0)]

        def fresh(root=root, test_feats=test_feats):
            shutil.rmtree(root, ignore_errors=True)
            for name in os.listdir(test_feats):
                if name.startswith("mod_qe_kill_"):
                    os.remove(os.path.join(test_feats, name))

        jobs.append((Job(f"qme_main_{mode}", cmd, found, work, env, fresh=fresh), run_dir, plans))
    return jobs


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for tool in ("qme_test", "qme_precompute_center", "qme_tables", "qme_main", "qme_synth_scores",
                 "qme_synth_caches", "qme_make_test_features", "qme_make_tiny_backbones"):
        parser.add_argument(f"--{tool}", required=True)
    parser.add_argument("--data_root", required=True, help="the fixtures' synthetic dataset root")
    parser.add_argument("--configs", required=True, help="the repository's configs/ folder")
    parser.add_argument("--work", required=True, help="a scratch folder (emptied first)")
    a = parser.parse_args()
    if platform.machine() not in SYSCALLS:
        raise SystemExit(f"the tracer knows no system-call numbers for {platform.machine()}")
    start = time.monotonic()
    work = os.path.realpath(a.work)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    # One OpenMP thread: spinning OpenMP workers compete with the tracer for a 2-core machine and
    # can make a traced training run ten times slower.
    env = dict(os.environ, OMP_NUM_THREADS="1")
    report = Report()
    for job, main_label, fractions in single_shot_jobs(a, work, env):
        begun = time.monotonic()
        single_shot(report, job, main_label)
        if fractions:
            blind_kills(report, job, fractions)
        print(f"{job.tool}: {time.monotonic() - begun:.1f} s", flush=True)
    for job, run_dir, plans in training_jobs(a, work, env):
        begun = time.monotonic()
        training(report, job, run_dir, plans)
        print(f"{job.tool}: {time.monotonic() - begun:.1f} s", flush=True)
    print("kills that landed while a temporary file existed:")
    for tool, kills in report.kills.items():
        blind = report.blind.get(tool)
        print(f"  {tool}: {report.mid_write[tool]} of {kills} traced kills"
              + (f", {blind[0]} of {blind[1]} untraced" if blind else ""))
    print(f"{sum(report.kills.values())} kills in {time.monotonic() - start:.0f} s, "
          f"{len(report.failures)} failures")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())

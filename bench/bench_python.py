#!/usr/bin/env python3
"""bench_python: qme.compat.test_score against upstream's test_score, from Python, in one run.

Times the full evaluation report on an LTCC-sized problem (493 probes x 7050 gallery entries,
75 subjects; or a score-matrix file) called the way a notebook calls it -- numpy arrays in,
pandas Series out -- so qme's figure includes the Python call, the argument conversion (one copy
of the float32 matrix), the GIL hand-off and building the Series. Prints the median of repeats
for both and the ratio, and checks that both give the same numbers.

The baseline is upstream's own tools/eval_metrics.py (numpy + scikit-learn + pandas), imported
from the upstream checkout (--upstream, default ../shared/upstream/QME_ICCV25 next to this
repository); its `from transformers import set_seed` is stubbed by what set_seed does to the
generators test_score uses (random, numpy). Debian 12: python3-numpy python3-pandas
python3-sklearn.

    cmake --build build --target qme_python
    PYTHONPATH=build/python /usr/bin/python3 bench/bench_python.py
"""
import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import upstream_eval_metrics  # bench/, next to this script

HERE = Path(__file__).resolve().parent
DEFAULT_UPSTREAM = HERE.parent.parent / "shared" / "upstream" / "QME_ICCV25"


def ltcc_sized_problem(seed=0, num_query=493, num_gallery=7050, num_subjects=75):
    """Synthetic scores with LTCC's test sizes: 75 gallery subjects, each query's subject in the
    gallery, several cameras and outfits per subject; genuine scores above impostor scores on
    average, with overlap (so every metric is away from 0 and 1)."""
    rng = np.random.default_rng(seed)
    g_pids = np.sort(rng.integers(0, num_subjects, size=num_gallery))
    g_pids[:num_subjects] = np.arange(num_subjects)  # every subject present
    g_pids.sort()
    g_camids = rng.integers(0, 12, size=num_gallery)
    g_clothes = g_pids * 10 + rng.integers(0, 4, size=num_gallery)
    q_pids = rng.integers(0, num_subjects, size=num_query)
    q_camids = rng.integers(0, 12, size=num_query)
    q_clothes = q_pids * 10 + rng.integers(0, 4, size=num_query)
    unique = np.unique(g_pids)
    match = q_pids[:, None] == g_pids[None, :]
    score = rng.normal(0.2, 0.1, size=match.shape) + match * rng.normal(0.35, 0.15, size=match.shape)
    merge_match = q_pids[:, None] == unique[None, :]
    merge = rng.normal(0.25, 0.08, size=merge_match.shape) + merge_match * rng.normal(0.3, 0.1, size=merge_match.shape)
    return dict(score_mat=score.astype(np.float32), merge_score_mat=merge.astype(np.float32),
                q_pids=q_pids, q_camids=q_camids, q_clothes_ids=q_clothes,
                g_pids=g_pids, g_camids=g_camids, g_clothes_ids=g_clothes, unique_g_pids=unique)


def from_file(path, model):
    import qme

    sm = qme.ScoreMatrices.read(path)
    model = model or sm.models[0]
    return dict(score_mat=sm.score_mats[model], merge_score_mat=sm.merge_score_mats[model], **sm.labels())


def load_upstream(directory):
    path = Path(directory) / "tools" / "eval_metrics.py"
    if not path.is_file():
        sys.exit("bench_python: upstream's tools/eval_metrics.py not found under {} (pass --upstream DIR, "
                 "a checkout of jiezhu23/QME_ICCV25)".format(directory))
    for module in ("sklearn", "pandas"):
        try:
            __import__(module)
        except ImportError:
            sys.exit("bench_python: upstream's test_score needs {} (Debian: apt-get install python3-{})".format(
                module, "sklearn" if module == "sklearn" else "pandas"))
    return upstream_eval_metrics.load(path)


def median_seconds(repeats, call):
    times = []
    result = None
    for _ in range(repeats):
        start = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--upstream", default=str(DEFAULT_UPSTREAM), help="upstream QME_ICCV25 checkout")
    parser.add_argument("--scoremats", help="time this score-matrix file instead of the synthetic LTCC-sized problem")
    parser.add_argument("--model", help="model of --scoremats (default: the first)")
    parser.add_argument("--repeats", type=int, default=21, help="qme repeats (median reported)")
    parser.add_argument("--upstream_repeats", type=int, default=5, help="upstream repeats (median reported)")
    parser.add_argument("--threads", type=int, default=0, help="qme worker threads (0: all cores)")
    args = parser.parse_args()

    import qme
    from qme.compat import test_score

    upstream = load_upstream(args.upstream)
    p = from_file(args.scoremats, args.model) if args.scoremats else ltcc_sized_problem()
    arguments = [p[k] for k in ("score_mat", "merge_score_mat", "q_pids", "q_camids", "q_clothes_ids",
                                "g_pids", "g_camids", "g_clothes_ids", "unique_g_pids")]
    q, g = p["score_mat"].shape
    print("input: score_mat {}x{} {}, merge_score_mat {}x{}, {} subjects; qme threads: {}; python {}, numpy {}".format(
        q, g, p["score_mat"].dtype, *p["merge_score_mat"].shape, len(p["unique_g_pids"]),
        args.threads or os.cpu_count(), sys.version.split()[0], np.__version__))

    def ours():
        return test_score(*arguments, seed=45)

    def native():
        return qme.evaluate(*arguments, seed=45, threads=args.threads)

    def theirs():
        return upstream.test_score(*arguments, seed=45)

    ours()  # warm-up: first-touch of the thread pool and pages
    qme_s, qme_result = median_seconds(args.repeats, ours)
    native_s, _ = median_seconds(args.repeats, native)
    upstream_s, upstream_result = median_seconds(args.upstream_repeats, theirs)

    upstream_values = upstream_result.to_numpy(dtype=np.float64)
    ours_values = np.array([qme_result[k] for k in upstream_result.index], dtype=np.float64)
    same_nan = np.array_equal(np.isnan(upstream_values), np.isnan(ours_values))
    worst = np.nanmax(np.abs(upstream_values - ours_values))
    print("upstream test_score (numpy + sklearn + pandas): median {:9.2f} ms over {} repeats".format(
        upstream_s * 1e3, args.upstream_repeats))
    print("qme.compat.test_score (pandas Series out):      median {:9.2f} ms over {} repeats".format(
        qme_s * 1e3, args.repeats))
    print("qme.evaluate (dict out):                        median {:9.2f} ms over {} repeats".format(
        native_s * 1e3, args.repeats))
    print("speed-up of qme.compat.test_score: {:.0f}x (goal >= 80x)".format(upstream_s / qme_s))
    print("same metrics: {} of {}, same NaN positions: {}, largest |difference|: {:.3g}".format(
        len(upstream_result.index), len(qme_result), same_nan, worst))
    if list(upstream_result.index) != list(qme_result.index) or not same_nan or worst > 1e-9:
        sys.exit("bench_python: qme and upstream disagree")


if __name__ == "__main__":
    main()

"""Helpers of the Python package's tests (imported by the test modules)."""

import json

import numpy as np


def read_expected(fixtures, name):
    with open(fixtures / "eval" / "{}_expected.json".format(name)) as f:
        return json.load(f)


def assert_report_close(ours, expected, what, tolerance=1e-9):
    """Every metric of `expected` (None = NaN) within `tolerance`, no other metric in `ours`."""
    ours = dict(ours)
    assert sorted(ours) == sorted(expected), what
    worst = 0.0
    for name, value in expected.items():
        mine = ours[name]
        if value is None:
            assert np.isnan(mine), "{}: {} is {}, expected NaN".format(what, name, mine)
        else:
            difference = abs(mine - value)
            worst = max(worst, difference)
            assert difference <= tolerance, "{}: {} is {!r}, expected {!r}".format(what, name, mine, value)
    return worst


def toy_problem(seed=0, q=24, g=120, subjects=10):
    """A small random re-id problem with every protocol defined (gallery >= 20)."""
    rng = np.random.default_rng(seed)
    g_pids = np.repeat(np.arange(subjects), g // subjects)
    g_camids = rng.integers(0, 3, size=g)
    g_clothes = rng.integers(0, 2, size=g) + 10 * g_pids
    q_pids = rng.choice(subjects, size=q)
    q_camids = rng.integers(0, 3, size=q)
    q_clothes = rng.integers(0, 2, size=q) + 10 * q_pids
    score = rng.random((q, g), dtype=np.float32) + 0.5 * (q_pids[:, None] == g_pids[None, :])
    unique = np.unique(g_pids)
    merge = rng.random((q, len(unique)), dtype=np.float32) + 0.5 * (q_pids[:, None] == unique[None, :])
    return dict(score_mat=score.astype(np.float32), merge_score_mat=merge.astype(np.float32),
                q_pids=q_pids, q_camids=q_camids, q_clothes_ids=q_clothes,
                g_pids=g_pids, g_camids=g_camids, g_clothes_ids=g_clothes, unique_g_pids=unique)

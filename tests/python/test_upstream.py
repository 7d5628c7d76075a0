"""qme.compat against upstream's own tools/eval_metrics.py, run here (needs the upstream checkout,
scikit-learn and pandas; skips otherwise): same return type, same index, same numbers."""

import numpy as np
import pytest

import qme
from pyqme_support import toy_problem


def upstream_args(p):
    return [p[k] for k in ("score_mat", "merge_score_mat", "q_pids", "q_camids", "q_clothes_ids",
                           "g_pids", "g_camids", "g_clothes_ids", "unique_g_pids")]


def assert_same_series(ours, theirs):
    import pandas as pd

    assert isinstance(ours, pd.Series) and ours.dtype == np.float64
    assert list(ours.index) == list(theirs.index)
    np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy(dtype=np.float64), rtol=0, atol=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_test_score_equals_upstreams_on_random_problems_with_ties_and_nan(upstream_metrics, seed):
    p = toy_problem(seed=seed, q=40, g=300, subjects=25)
    rng = np.random.default_rng(100 + seed)
    # Ties (quantised scores) touching same-identity entries, and NaN scores.
    p["score_mat"] = np.round(p["score_mat"] * 8) / 8
    p["score_mat"][rng.random(p["score_mat"].shape) < 0.01] = np.nan
    p["merge_score_mat"] = np.round(p["merge_score_mat"] * 16) / 16
    theirs = upstream_metrics.test_score(*upstream_args(p), seed=45)
    ours = qme.compat.test_score(*upstream_args(p), seed=45)
    assert_same_series(ours, theirs)


def test_test_score_equals_upstreams_on_the_fixture(upstream_metrics, fixtures):
    sm = qme.ScoreMatrices.read(fixtures / "eval" / "scoremats_medium.h5")
    for model in sm.models:
        args = [sm.score_mats[model], sm.merge_score_mats[model], *sm.labels().values()]
        assert_same_series(qme.compat.test_score(*args, seed=45), upstream_metrics.test_score(*args, seed=45))


def test_rank1_only_datasets_and_logging_follow_upstream(upstream_metrics, caplog):
    import logging

    p = toy_problem()
    theirs = upstream_metrics.test_score(*upstream_args(p), dataset="deepchange", seed=45)
    ours = qme.compat.test_score(*upstream_args(p), dataset="deepchange", seed=45)
    assert ours == pytest.approx(theirs, abs=1e-12)
    with caplog.at_level(logging.INFO, logger="reid.test"):
        upstream_metrics.test_score(*upstream_args(p), seed=45, log=True)
        theirs_log = [r.getMessage() for r in caplog.records if r.name == "reid.test"]
        caplog.clear()
        qme.compat.test_score(*upstream_args(p), seed=45, log=True)
        ours_log = [r.getMessage() for r in caplog.records if r.name == "reid.test"]
    assert ours_log == theirs_log


def test_normalize_score_and_score_fusion_method_equal_upstreams_bit_for_bit(upstream_metrics):
    p = toy_problem(seed=4)
    s = p["score_mat"].copy()
    s[0, 0] = np.nan
    for kwargs in (dict(method="zscore"), dict(method="minmax"), dict(method="none"),
                   dict(method="minmax", min=np.float32(0.1), max=np.float32(0.9)),
                   dict(method="zscore", mean=0.5, std=0.25),
                   dict(method="rhe", min=np.nan_to_num(s).min(), match_mean=np.float32(1.1), match_std=np.float32(0.2)),
                   dict(method="rhe", min=0.0, match_mean=1.1, match_std=0.2)):
        ours = qme.compat.normalize_score(s, **kwargs)
        theirs = upstream_metrics.normalize_score(s, **kwargs)
        assert ours.dtype == theirs.dtype, kwargs
        np.testing.assert_array_equal(ours, theirs, err_msg=str(kwargs))
    mats = [p["score_mat"], s, p["score_mat"] * 0.5]
    for method in ("min", "mean", "max"):
        for inputs in (mats, [x.astype(np.float64) for x in mats], np.array(mats)):
            ours = qme.compat.score_fusion_method(inputs, method)
            theirs = upstream_metrics.score_fusion_method(inputs, method)
            assert ours.dtype == theirs.dtype
            np.testing.assert_array_equal(ours, theirs, err_msg=method)

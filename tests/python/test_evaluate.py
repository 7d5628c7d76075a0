"""qme.evaluate and qme.fuse on small hand-made inputs (no fixtures needed)."""

import threading
import time
import warnings

import numpy as np
import pytest

import qme
from pyqme_support import toy_problem

UPSTREAM_ORDER = (
    ["GR_top1", "GR_top5", "GR_top10", "GR_top20", "GR_mAP",
     "SC_top1", "SC_top5", "SC_top10", "SC_top20", "SC_mAP",
     "CC_top1", "CC_top5", "CC_top10", "CC_top20", "CC_mAP",
     "TAR@0.01%FAR", "TAR@0.10%FAR", "TAR@1.00%FAR",
     "Threshold@0.01%FAR", "Threshold@0.10%FAR", "Threshold@1.00%FAR",
     "TPIR@0.01%FPIR", "TPIR@0.10%FPIR", "TPIR@1.00%FPIR",
     "FNIR@0.01%FPIR", "FNIR@0.10%FPIR", "FNIR@1.00%FPIR",
     "FNIR@0.01%FPIR_threshold", "FNIR@0.10%FPIR_threshold", "FNIR@1.00%FPIR_threshold",
     "num_probe_templates", "num_probe_subjects", "num_gallery_subjects",
     "num_galley1_templates", "num_gallary1_subjects",
     "TPIR@0.01%FPIR_std", "TPIR@0.10%FPIR_std", "TPIR@1.00%FPIR_std",
     "FNIR@0.01%FPIR_std", "FNIR@0.10%FPIR_std", "FNIR@1.00%FPIR_std"])


def test_report_has_upstreams_metric_names_in_upstreams_order():
    report = qme.evaluate(**toy_problem())
    assert list(report) == UPSTREAM_ORDER
    assert all(isinstance(v, float) for v in report.values())
    assert report["num_probe_templates"] == 24
    assert report["num_gallery_subjects"] == 10
    assert report["num_galley1_templates"] == 8  # int(0.8 * 10)


def test_a_perfect_matrix_scores_perfectly():
    p = toy_problem()
    p["score_mat"] = (p["q_pids"][:, None] == p["g_pids"][None, :]).astype(np.float32)
    report = qme.evaluate(**p)
    assert report["GR_top1"] == 1.0 and report["GR_mAP"] == 1.0
    assert report["TAR@0.01%FAR"] == 1.0


def test_any_real_dtype_and_layout_gives_the_same_report():
    p = toy_problem()
    reference = qme.evaluate(**p)
    variants = {
        "ids as float32 (upstream's files)": dict(p, **{k: p[k].astype(np.float32) for k in p if "pids" in k or "ids" in k}),
        "ids as int32 / uint16": dict(p, q_pids=p["q_pids"].astype(np.int32), g_camids=p["g_camids"].astype(np.uint16)),
        "ids as lists": dict(p, q_pids=p["q_pids"].tolist(), unique_g_pids=p["unique_g_pids"].tolist()),
        "Fortran-ordered scores": dict(p, score_mat=np.asfortranarray(p["score_mat"])),
        "a strided view": dict(p, score_mat=np.repeat(p["score_mat"], 2, axis=1)[:, ::2]),
        "a negative-stride view": dict(p, merge_score_mat=p["merge_score_mat"][::-1][::-1]),
        "float32 values as float64": dict(p, score_mat=p["score_mat"].astype(np.float64)),
    }
    for what, args in variants.items():
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # float32 values in float64 must not warn
            assert qme.evaluate(**args) == pytest.approx(reference, nan_ok=True), what


def test_float64_scores_that_float32_cannot_hold_warn():
    p = toy_problem()
    p["score_mat"] = p["score_mat"].astype(np.float64) + 1e-12
    with pytest.warns(qme.QmeWarning, match="score_mat is float64 and is rounded to float32"):
        qme.evaluate(**p)


def test_the_seed_drives_the_open_set_draws_only():
    p = toy_problem(q=60, g=200, subjects=20)
    a = qme.evaluate(**p, seed=45)
    b = qme.evaluate(**p, seed=7)
    assert a["GR_top1"] == b["GR_top1"] and a["TAR@1.00%FAR"] == b["TAR@1.00%FAR"]
    assert a == qme.evaluate(**p, seed=45)
    assert any(a[k] != b[k] for k in a if "FPIR" in k)


def test_undefined_metrics_are_nan_with_a_warning():
    p = toy_problem(q=6, g=10, subjects=5)  # a gallery of 10 < 20: top20 is undefined
    with pytest.warns(qme.QmeWarning, match="the gallery has only 10 entries"):
        report = qme.evaluate(**p)
    assert np.isnan(report["GR_top20"])
    assert not np.isnan(report["GR_top5"])


def test_evaluation_releases_the_gil():
    p = toy_problem(q=600, g=20000, subjects=200, seed=3)
    done = threading.Event()
    result = {}

    def work():
        result["report"] = qme.evaluate(**p, threads=1)
        done.set()

    worker = threading.Thread(target=work)
    ticks = 0
    start = time.perf_counter()
    worker.start()
    while not done.is_set():
        ticks += 1
    worker.join()
    elapsed = time.perf_counter() - start
    assert result["report"]["num_probe_templates"] == 600
    # With the GIL held, this loop could not run while the C++ code computes.
    assert ticks > 1000, "{} iterations in {:.3f} s".format(ticks, elapsed)


def test_concurrent_evaluations_agree():
    p = toy_problem(q=50, g=400, subjects=20, seed=5)
    reference = qme.evaluate(**p)
    results = [None] * 4

    def work(i):
        results[i] = qme.evaluate(**p)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r == pytest.approx(reference, nan_ok=True) for r in results)


def test_fuse_matches_the_demos_numpy_arithmetic():
    p = toy_problem(seed=9)
    rng = np.random.default_rng(1)
    mats = [p["score_mat"], (rng.random(p["score_mat"].shape, dtype=np.float32) * 3 - 1)]
    merges = [p["merge_score_mat"], rng.random(p["merge_score_mat"].shape, dtype=np.float32)]
    mats[1][0, 0] = np.nan
    # min / mean / max: numpy's element-wise reductions over the stacked float32 matrices.
    for method, reduce in (("min", np.min), ("mean", np.mean), ("max", np.max)):
        fused, fused_merge = qme.fuse(method, mats, merges)
        assert fused.dtype == np.float32 and fused.shape == mats[0].shape
        np.testing.assert_array_equal(fused, reduce(np.array(mats), axis=0), err_msg=method)
        np.testing.assert_array_equal(fused_merge, reduce(np.array(merges), axis=0), err_msg=method)
    # zscore as the demo does it: fuse = 0; fuse += normalize_score(...); fuse /= M (float32).
    expected = np.zeros_like(mats[0])
    for m in mats:
        s = np.nan_to_num(m)
        expected += (s - s.mean()) / (s.std() + 1e-10)
    expected /= len(mats)
    fused, _ = qme.fuse("zscore", {"a": mats[0], "b": mats[1]}, {"a": merges[0], "b": merges[1]})
    np.testing.assert_array_equal(fused, expected)


def test_fuse_rhe_needs_the_pids():
    p = toy_problem()
    with pytest.raises(qme.InputError, match="rhe normalises by the match scores"):
        qme.fuse("rhe", [p["score_mat"]], [p["merge_score_mat"]])
    fused, _ = qme.fuse("rhe", [p["score_mat"]], [p["merge_score_mat"]], p["q_pids"], p["g_pids"])
    assert np.isfinite(fused).all()


def test_fusion_methods_and_table_rows_are_the_libraries():
    assert qme.FUSION_METHODS == ["zscore", "minmax", "rhe", "min", "mean", "max"]
    assert qme.PAPER_TABLE_ROWS[0] == "GR_top1" and "CC_mAP" in qme.PAPER_TABLE_ROWS
    assert qme.table_percent(0.12345) == pytest.approx(12.3)


def test_format_table_prints_the_paper_rows():
    report = qme.evaluate(**toy_problem())
    text = qme.format_table({"toy": report})
    assert "GR_top1" in text and "toy" in text
    markdown = qme.format_table([("toy", report), ("again", report)], markdown=True)
    assert markdown.lstrip().startswith("|")


def test_help_is_useful():
    assert "test_score" in qme.__doc__
    for name in qme.__all__:
        obj = getattr(qme, name)
        if callable(obj):
            assert obj.__doc__ and len(obj.__doc__) > 30, name
    assert "upstream" in qme.evaluate.__doc__ and "seed" in qme.evaluate.__doc__


def test_compat_returns_a_series_with_pandas_and_a_dict_without(monkeypatch):
    p = toy_problem()
    report = qme.evaluate(**p)
    try:
        import pandas as pd
    except ImportError:
        pd = None
    if pd is not None:
        series = qme.compat.test_score(**p, seed=45)
        assert isinstance(series, pd.Series) and series.dtype == np.float64
        assert list(series.index) == list(report)
        assert series.to_dict() == pytest.approx(report, nan_ok=True)
    monkeypatch.setitem(__import__("sys").modules, "pandas", None)  # `import pandas` now fails
    plain = qme.compat.test_score(**p, seed=45)
    assert isinstance(plain, dict) and plain == pytest.approx(report, nan_ok=True)
    # seed=None is upstream's demo seed, 45.
    assert qme.compat.test_score(**p) == pytest.approx(report, nan_ok=True)
    rank1 = qme.compat.test_score(**p, dataset="last")
    assert isinstance(rank1, np.float64) and rank1 == report["GR_top1"]

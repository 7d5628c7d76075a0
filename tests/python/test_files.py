"""Score-matrix and test-feature files written and read back through qme; score matrices from
features (no fixtures needed)."""

import numpy as np
import pytest

import qme
from pyqme_support import toy_problem


def toy_matrices():
    p = toy_problem()
    ids = [p[k] for k in ("q_pids", "q_camids", "q_clothes_ids", "g_pids", "g_camids", "g_clothes_ids")]
    return p, qme.ScoreMatrices(*ids, score_mats={"b": p["score_mat"], "a": p["score_mat"] * 2},
                                merge_score_mats={"b": p["merge_score_mat"], "a": p["merge_score_mat"] * 2})


def test_score_matrices_round_trip(tmp_path):
    p, sm = toy_matrices()
    path = tmp_path / "scoremats_toy.h5"
    sm.write(path)
    back = qme.ScoreMatrices.read(str(path))
    assert back.models == ["a", "b"] or back.models == ["b", "a"]
    for name in ("q_pids", "q_camids", "q_clothes_ids", "g_pids", "g_camids", "g_clothes_ids", "unique_g_pids"):
        np.testing.assert_array_equal(getattr(back, name), getattr(sm, name))
        assert getattr(back, name).dtype == np.int64
    for m in ("a", "b"):
        np.testing.assert_array_equal(back.score_mats[m], sm.score_mats[m])
        np.testing.assert_array_equal(back.merge_score_mats[m], sm.merge_score_mats[m])
    assert back.evaluate("b") == pytest.approx(qme.evaluate(**p), nan_ok=True)
    assert "24 probes x 120 gallery entries, 10 subjects" in repr(back)
    # The result arrays are writable numpy arrays that own their memory through qme.
    back.score_mats["a"][0, 0] = 5.0
    assert back.score_mats["a"][0, 0] == 5.0


def test_score_matrices_read_with_h5py_as_upstream_stores_them(tmp_path):
    h5py = pytest.importorskip("h5py", reason="checking the file layout needs h5py")
    _, sm = toy_matrices()
    path = tmp_path / "scoremats_toy.h5"
    sm.write(path)
    with h5py.File(path, "r") as f:
        assert f["q_pids"].dtype == np.float32  # upstream writes ids as float32
        assert f["b/score_mat"].shape == (24, 120) and f["b/merge_score_mat"].shape == (24, 10)


def test_test_features_round_trip_and_score_matrices(tmp_path):
    rng = np.random.default_rng(2)
    q, g, d = 7, 30, 32
    qf = rng.standard_normal((q, d)).astype(np.float32)
    gf = rng.standard_normal((g, d)).astype(np.float32)
    gf[4] = np.nan  # no feature
    g_pids = np.repeat(np.arange(6), 5)
    features = qme.TestFeatures(qf, gf, np.arange(q) % 6, np.zeros(q), np.zeros(q), g_pids, np.ones(g), np.ones(g))
    path = tmp_path / "adaface_toy_test.h5"
    features.write(path)
    back = qme.TestFeatures.read(path)
    np.testing.assert_array_equal(back.qf, qf)
    np.testing.assert_array_equal(back.gf, gf)
    np.testing.assert_array_equal(back.g_pids, g_pids)

    score, merge, unique = back.score_matrices("adaface")
    np.testing.assert_array_equal(unique, np.arange(6))
    cosine = (qf / np.linalg.norm(qf, axis=1, keepdims=True)) @ (gf / np.linalg.norm(gf, axis=1, keepdims=True)).T
    np.testing.assert_allclose(score, np.nan_to_num(cosine), rtol=0, atol=1e-6)
    assert (score[:, 4] == 0).all()  # the NaN gallery row scores 0
    templates = np.stack([np.nanmean(gf[g_pids == u], axis=0) for u in unique])
    expected_merge = (qf / np.linalg.norm(qf, axis=1, keepdims=True)) @ (
        templates / np.linalg.norm(templates, axis=1, keepdims=True)).T
    np.testing.assert_allclose(merge, expected_merge, rtol=0, atol=1e-6)
    # The same through the module function, with float64 features and an explicit similarity.
    score64, _, _ = qme.score_matrices(qf.astype(np.float64), gf.astype(np.float64), g_pids, similarity="cosine")
    np.testing.assert_array_equal(score64, score)


def test_score_matrices_bad_input():
    qf = np.ones((3, 20), np.float32)
    with pytest.raises(qme.InputError, match="multiple of 16"):
        qme.score_matrices(qf, qf, np.arange(3), "biggait")
    with pytest.raises(qme.InputError, match="has no known similarity"):
        qme.score_matrices(qf, qf, np.arange(3), "resnet")
    with pytest.raises(qme.InputError, match="give the model's name"):
        qme.score_matrices(qf, qf, np.arange(3))
    with pytest.raises(qme.InputError, match="qf has 20 feature columns but gf has 19"):
        qme.score_matrices(qf, qf[:, 1:], np.arange(3), "adaface")
    with pytest.raises(qme.InputError, match="g_pids has 2 entries but gf has 3 rows"):
        qme.score_matrices(qf, qf, np.arange(2), "adaface")


def test_test_features_write_checks_sizes(tmp_path):
    qf = np.ones((3, 4), np.float32)
    bad = qme.TestFeatures(qf, qf, np.arange(2), np.zeros(3), np.zeros(3), np.arange(3), np.zeros(3), np.zeros(3))
    target = tmp_path / "x_test.h5"
    with pytest.raises(qme.InputError):
        bad.write(target)
    assert not target.exists()

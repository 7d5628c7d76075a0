"""Parity with the figures upstream's Python code computed (../shared/fixtures): every report of
{small,medium}_expected.json to 1e-9 through qme.compat (the demo notebook with its import line
swapped), qme.fuse and qme.QmeModel; QmeModel.fuse against model_expected.h5; score matrices
built from the fixture features against upstream's files."""

import numpy as np
import pytest

import qme
# As the notebook would import them (aliased: pytest would collect a name starting with 'test').
from qme.compat import normalize_score, score_fusion_method
from qme.compat import test_score as compat_test_score
from pyqme_support import assert_report_close, read_expected

SETS = ["small", "medium"]


def demo_inputs(fixtures, name):
    """What demo.ipynb's 'Evaluate' cell loads, read with qme instead of h5py."""
    sm = qme.ScoreMatrices.read(fixtures / "eval" / "scoremats_{}.h5".format(name))
    return sm, sm.labels()


@pytest.mark.parametrize("name", SETS)
def test_compat_test_score_reproduces_every_single_model_report(fixtures, name):
    expected = read_expected(fixtures, name)
    sm, labels = demo_inputs(fixtures, name)
    for model in expected["models"]:
        res = compat_test_score(sm.score_mats[model], sm.merge_score_mats[model], *labels.values(),
                         dataset=name, seed=45)
        assert_report_close(res, expected["single"][model], "{} single/{}".format(name, model))


@pytest.mark.parametrize("name", SETS)
def test_the_demos_fusion_cells_with_qme_compat_reproduce_every_baseline(fixtures, name):
    """demo.ipynb's 'Traditional Score-fusion Methods' cell, verbatim in logic, on qme.compat."""
    expected = read_expected(fixtures, name)
    sm, labels = demo_inputs(fixtures, name)
    q_pids, g_pids = labels["q_pids"], labels["g_pids"]
    model_list = expected["models"]
    score_mats, merge_score_mats = sm.score_mats, sm.merge_score_mats
    for method in ['zscore', 'minmax', 'rhe']:
        fuse_score_mats = np.zeros_like(score_mats[model_list[0]])
        fuse_merge_score_mats = np.zeros_like(merge_score_mats[model_list[0]])
        for model_name in model_list:
            mask = (q_pids.reshape(-1, 1) == g_pids.reshape(1, -1))
            match_scores = score_mats[model_name][mask]
            mean_match = match_scores.mean()
            std_match = match_scores.std()
            min_score = score_mats[model_name].min()
            fuse_score_mats += normalize_score(score_mats[model_name], method=method, min=min_score,
                                               match_mean=mean_match, match_std=std_match)
            fuse_merge_score_mats += normalize_score(merge_score_mats[model_name], method=method, min=min_score,
                                                     match_mean=mean_match, match_std=std_match)
        fuse_score_mats /= len(model_list)
        fuse_merge_score_mats /= len(model_list)
        res = compat_test_score(fuse_score_mats, fuse_merge_score_mats, *labels.values(), dataset=name, seed=45)
        assert_report_close(res, expected["fusion"][method], "{} demo fusion/{}".format(name, method))
        # qme.fuse computes the same matrices in C++, bit for bit.
        fused, fused_merge = qme.fuse(method, [score_mats[m] for m in model_list],
                                      [merge_score_mats[m] for m in model_list], q_pids, g_pids)
        np.testing.assert_array_equal(fused, fuse_score_mats)
        np.testing.assert_array_equal(fused_merge, fuse_merge_score_mats)
    for method in ['min', 'mean', 'max']:
        fuse_score_mats = score_fusion_method([score_mats[m] for m in model_list], method=method)
        fuse_merge_score_mats = score_fusion_method([merge_score_mats[m] for m in model_list], method=method)
        res = compat_test_score(fuse_score_mats, fuse_merge_score_mats, *labels.values(), dataset=name, seed=45)
        assert_report_close(res, expected["fusion"][method], "{} demo fusion/{}".format(name, method))


@pytest.mark.parametrize("name", SETS)
def test_qme_fuse_and_evaluate_reproduce_every_baseline(fixtures, name):
    expected = read_expected(fixtures, name)
    sm, _ = demo_inputs(fixtures, name)
    for method in qme.FUSION_METHODS:
        report = sm.evaluate(sm.fuse(method, expected["models"]))
        assert_report_close(report, expected["fusion"][method], "{} qme.fuse/{}".format(name, method))


@pytest.mark.parametrize("name", SETS)
def test_qme_model_reproduces_the_qme_report(fixtures, name):
    """demo.ipynb's 'Ours' cell: the checkpoint, the face weights, two inference calls."""
    expected = read_expected(fixtures, name)
    sm, labels = demo_inputs(fixtures, name)
    model = qme.QmeModel.load(fixtures / "model" / "qme_ckpt.pth")
    assert model.num_models == len(expected["models"])
    face_weights = qme.read_face_weights(fixtures / "eval" / "face_weights_{}.h5".format(name))
    assert face_weights.shape == (len(labels["q_pids"]), 1)
    scores = {m: sm.score_mats[m] for m in expected["models"]}
    merges = {m: sm.merge_score_mats[m] for m in expected["models"]}
    fused = model.fuse(scores, face_weights)
    fused_merge = model.fuse(merges, face_weights)
    res = compat_test_score(fused, fused_merge, *labels.values(), dataset=name, seed=45)
    assert_report_close(res, expected["qme"], "{} qme".format(name))


def test_qme_model_matches_upstreams_inference(fixtures):
    h5py = pytest.importorskip("h5py", reason="reading model_expected.h5 needs h5py")
    with h5py.File(fixtures / "model" / "model_expected.h5", "r") as f:
        scores = {m: f["inference/scores/" + m][:] for m in ("adaface", "biggait", "cal-ccvid")}
        weights = f["inference/face_weights"][:]
        expected = f["inference/fuse_scores"][:]
    fused = qme.QmeModel.load(fixtures / "model" / "qme_ckpt.pth").fuse(scores, weights)
    assert fused.dtype == np.float32 and fused.shape == expected.shape
    np.testing.assert_allclose(fused, expected, rtol=0, atol=1e-6)
    # In blocks of 4 probes, and with the weights as (Q,) instead of (Q, 1): the same numbers.
    blocked = qme.QmeModel.load(fixtures / "model" / "qme_ckpt.pth", block_rows=4).fuse(
        list(scores.values()), weights[:, 0])
    np.testing.assert_allclose(blocked, expected, rtol=0, atol=1e-6)
    # Without the quality estimator the experts are mixed by 0.5: no weights needed.
    half = qme.QmeModel.load(fixtures / "model" / "qme_ckpt.pth", use_qe=False).fuse(scores)
    assert half.shape == expected.shape and not np.array_equal(half, fused)


def test_qme_model_checks_the_model_count(fixtures):
    model = qme.QmeModel.load(fixtures / "model" / "qme_ckpt.pth")
    sm, _ = demo_inputs(fixtures, "small")
    w = qme.read_face_weights(fixtures / "eval" / "face_weights_small.h5")
    with pytest.raises(qme.InputError, match="the QME experts were trained on 3 models, but 2 are given"):
        model.fuse({"adaface": sm.score_mats["adaface"], "biggait": sm.score_mats["biggait"]}, w)
    with pytest.raises(qme.InputError, match="face_weights has 29 rows but the score matrices have 30 probes"):
        model.fuse(sm.score_mats, w[1:])
    with pytest.raises(qme.InputError, match="face_weights is None"):
        model.fuse(sm.score_mats)
    bad = w.copy()
    bad[3] = np.nan
    with pytest.raises(qme.InputError, match=r"face_weights\[3\] is nan"):
        model.fuse(sm.score_mats, bad)
    # A QE's output is a sigmoid: a weight outside [0, 1] would extrapolate the experts.
    for outside in (5.0, -1.0):
        bad[3] = outside
        with pytest.raises(qme.InputError, match=r"face_weights\[3\] is .*: quality weights lie in \[0, 1\]"):
            model.fuse(sm.score_mats, bad)


def test_score_matrix_file_reads_as_h5py_does(fixtures):
    h5py = pytest.importorskip("h5py", reason="comparing with h5py needs h5py")
    path = fixtures / "eval" / "scoremats_small.h5"
    sm = qme.ScoreMatrices.read(path)
    with h5py.File(path, "r") as f:
        for name in ("q_pids", "q_camids", "q_clothes_ids", "g_pids", "g_camids", "g_clothes_ids", "unique_g_pids"):
            assert getattr(sm, name).dtype == np.int64
            np.testing.assert_array_equal(getattr(sm, name), f[name][:].astype(int))
        assert sm.models == ["adaface", "biggait", "cal-ccvid"]
        for m in sm.models:
            np.testing.assert_array_equal(sm.score_mats[m], f[m]["score_mat"][:])
            np.testing.assert_array_equal(sm.merge_score_mats[m], f[m]["merge_score_mat"][:])
    only = qme.ScoreMatrices.read(path, models=["biggait"])
    assert only.models == ["biggait"]
    with pytest.raises(qme.InputError, match="no model 'aim' \\(the file holds: adaface, biggait, cal-ccvid\\)"):
        qme.ScoreMatrices.read(path, models=["aim"])


@pytest.mark.parametrize("name", ["small", "small_nan"])
def test_score_matrices_from_the_fixture_features_match_upstreams_files(fixtures, name):
    upstream = qme.ScoreMatrices.read(fixtures / "eval" / "scoremats_{}.h5".format(name))
    features = {m: qme.TestFeatures.read(fixtures / "eval" / "{}_{}_test.h5".format(m, name))
                for m in ("adaface", "biggait", "cal-ccvid")}
    ours = qme.ScoreMatrices.from_features(features)
    np.testing.assert_array_equal(ours.unique_g_pids, upstream.unique_g_pids)
    for m in features:
        np.testing.assert_allclose(ours.score_mats[m], upstream.score_mats[m], rtol=0, atol=2e-5)
        np.testing.assert_allclose(ours.merge_score_mats[m], upstream.merge_score_mats[m], rtol=0, atol=2e-5)
        # Faceless pairs score exactly 0, as np.nan_to_num makes them.
        assert (ours.score_mats[m][upstream.score_mats[m] == 0] == 0).all()
    assert qme.similarity_for_model("biggait") == "biggait" and qme.similarity_for_model("cal-ccvid") == "cosine"

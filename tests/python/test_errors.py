"""Bad input becomes a clear Python exception (ValueError / OSError subclasses with the tools'
one-line messages), raised before anything runs, and never crashes the interpreter."""

import os
import subprocess
import sys

import numpy as np
import pytest

import qme
from conftest import SOURCE_DIR
from pyqme_support import toy_problem


def test_the_exception_classes_are_pythons():
    assert issubclass(qme.InputError, ValueError) and issubclass(qme.InputError, qme.Error)
    assert issubclass(qme.FileError, OSError) and issubclass(qme.FileError, qme.Error)
    assert issubclass(qme.MissingFileError, FileNotFoundError)
    assert issubclass(qme.QmeWarning, RuntimeWarning)


@pytest.mark.parametrize("what, change, message", [
    ("string scores", dict(score_mat=np.array([["a", "b"]])), r"score_mat must hold real numbers .* got dtype <U1"),
    ("complex scores", dict(score_mat=np.ones((24, 120), np.complex64)), "score_mat must hold real numbers"),
    ("bool scores", dict(score_mat=np.ones((24, 120), bool)), "score_mat must hold real numbers"),
    ("object ids", dict(q_pids=np.array([object()] * 24)), "q_pids must hold real numbers"),
    ("None", dict(merge_score_mat=None), "merge_score_mat is None"),
    ("1-D scores", dict(score_mat=np.ones(24, np.float32)), r"score_mat must be a 2-D .* got shape \(24,\)"),
    ("3-D scores", dict(score_mat=np.ones((2, 24, 120), np.float32)), "score_mat must be a 2-D"),
    ("empty scores", dict(score_mat=np.ones((0, 120), np.float32)), r"score_mat is empty \(shape \(0, 120\)\)"),
    ("2-D ids", dict(g_pids=np.zeros((120, 1))), r"g_pids must be a 1-D array of ids, got shape \(120, 1\)"),
    ("fractional ids", dict(q_pids=np.full(24, 1.5)), r"q_pids\[0\] is 1.5: ids must be whole numbers"),
    ("NaN ids", dict(g_pids=np.full(120, np.nan)), r"g_pids\[0\] is nan"),
    ("too few probe ids", dict(q_pids=np.zeros(23, int), q_camids=np.zeros(23, int), q_clothes_ids=np.zeros(23, int)),
     r"test_score: 'score_mat' is 24x120 but q_pids has 23 entries and g_pids has 120"),
    ("camids shorter than pids", dict(q_camids=np.zeros(20, int)),
     r"test_score: 'q_camids' has 20 entries but q_pids has 24"),
    ("merge columns vs subjects", dict(merge_score_mat=np.ones((24, 9), np.float32)),
     r"'merge_score_mat' is 24x9 but q_pids has 24 entries and unique_g_pids has 10"),
    ("unsorted subjects", dict(unique_g_pids=np.arange(10)[::-1].copy()), "unique_g_pids' must be strictly ascending"),
    ("NaN-only scores", dict(score_mat=np.full((24, 120), np.nan, np.float32)), "score_mat holds only NaN"),
    ("NaN-only merged scores", dict(merge_score_mat=np.full((24, 10), np.nan)), "merge_score_mat holds only NaN"),
])
def test_bad_arrays_raise_input_error(what, change, message):
    args = dict(toy_problem(), **change)
    with pytest.raises(qme.InputError, match=message):
        qme.compat.test_score(**args)
    with pytest.raises(ValueError):
        qme.evaluate(**args)


def test_non_contiguous_arrays_are_read_correctly_not_refused():
    # Slices and transposes are ordinary numpy arrays: qme reads them element by element in
    # C order (one copy) and gets the same numbers as from a contiguous copy.
    p = toy_problem()
    wide = np.zeros((p["score_mat"].shape[0], 2 * p["score_mat"].shape[1]), np.float32)
    wide[:, ::2] = p["score_mat"]
    view = wide[:, ::2]
    assert not view.flags.c_contiguous
    transposed = np.ascontiguousarray(p["merge_score_mat"].T).T
    assert not transposed.flags.c_contiguous
    reference = qme.evaluate(**p)
    assert qme.evaluate(**dict(p, score_mat=view, merge_score_mat=transposed)) == pytest.approx(reference, nan_ok=True)


def test_bad_seed_and_threads():
    p = toy_problem()
    with pytest.raises(qme.InputError, match="seed must be between 0 and 2\\*\\*32 - 1"):
        qme.evaluate(**p, seed=-1)
    with pytest.raises(qme.InputError, match="seed must be between"):
        qme.evaluate(**p, seed=2**32)
    with pytest.raises(qme.InputError, match="threads must be >= 0"):
        qme.evaluate(**p, threads=-2)


def test_bad_fusion_input():
    p = toy_problem()
    s, m = p["score_mat"], p["merge_score_mat"]
    with pytest.raises(qme.InputError, match="unknown fusion baseline 'median' \\(known: zscore, minmax, rhe, min, mean, max\\)"):
        qme.fuse("median", [s], [m])
    with pytest.raises(qme.InputError, match="score_mats is empty"):
        qme.fuse("mean", [], [])
    with pytest.raises(qme.InputError, match=r"score_mats\[1\] is 24x119 but score_mats\[0\] is 24x120"):
        qme.fuse("mean", [s, s[:, 1:]], [m, m])
    with pytest.raises(qme.InputError, match="score_mats has 2 matrices but merge_score_mats has 1"):
        qme.fuse("mean", [s, s], [m])
    with pytest.raises(qme.InputError, match=r"merge_score_mats\[0\] is 23x10"):
        qme.fuse("mean", [s], [m[1:]])
    with pytest.raises(qme.InputError, match="q_pids has 3 entries but the score matrices have 24 probes"):
        qme.fuse("rhe", [s], [m], p["q_pids"][:3], p["g_pids"])
    with pytest.raises(NotImplementedError):
        qme.compat.score_fusion_method([s], "zscore")
    with pytest.raises(NotImplementedError):
        qme.compat.normalize_score(s, "l2")


def test_missing_and_malformed_files(tmp_path):
    missing = tmp_path / "nothing.h5"
    with pytest.raises(qme.MissingFileError, match="nothing.h5 does not exist") as e:
        qme.ScoreMatrices.read(missing)
    assert isinstance(e.value, FileNotFoundError) and isinstance(e.value, OSError)
    not_hdf5 = tmp_path / "text.h5"
    not_hdf5.write_text("hello")
    with pytest.raises(qme.FileError, match="text.h5 is not an HDF5 file"):
        qme.ScoreMatrices.read(not_hdf5)
    with pytest.raises(OSError, match="is not an HDF5 file"):
        qme.tables(not_hdf5)
    with pytest.raises(qme.MissingFileError):
        qme.read_face_weights(missing)
    with pytest.raises(qme.MissingFileError):
        qme.TestFeatures.read(missing)


def test_a_checkpoint_that_carries_code_is_refused_and_nothing_runs(tmp_path):
    checkpoint = SOURCE_DIR / "tests" / "fixtures" / "checkpoint_os_system.pth"
    if not checkpoint.is_file():
        pytest.skip("tests/fixtures/checkpoint_os_system.pth is not in this checkout")
    # Run in a subprocess inside tmp_path: the payload would `touch qme_os_system_ran` there.
    code = (
        "import qme\n"
        "try:\n"
        "    qme.QmeModel.load({!r})\n"
        "except qme.FileError as e:\n"
        "    print('refused:', e)\n"
        "else:\n"
        "    print('loaded')\n").format(str(checkpoint))
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(qme.__file__)))
    env = dict(os.environ, PYTHONPATH=package_parent)
    out = subprocess.run([sys.executable, "-c", code], cwd=str(tmp_path), capture_output=True, text=True,
                         env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("refused:"), out.stdout + out.stderr
    assert "system" in out.stdout  # the message names the global it refused
    assert not (tmp_path / "qme_os_system_ran").exists()


def test_a_missing_checkpoint_is_a_missing_file(tmp_path):
    with pytest.raises(qme.MissingFileError):
        qme.QmeModel.load(tmp_path / "none.pth")


def test_writing_checks_shapes_before_anything_is_written(tmp_path):
    p = toy_problem()
    sm = qme.ScoreMatrices(p["q_pids"], p["q_camids"], p["q_clothes_ids"], p["g_pids"], p["g_camids"],
                           p["g_clothes_ids"], {"a": p["score_mat"][:, 1:]}, {"a": p["merge_score_mat"]})
    target = tmp_path / "out.h5"
    with pytest.raises(qme.InputError, match=r"score_mats\['a'\] is 24x119 but q_pids has 24 entries and g_pids 120"):
        sm.write(target)
    assert not target.exists()
    sm.score_mats["a"] = p["score_mat"]
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(qme.FileError, match="a_file"):
        sm.write(blocker / "out.h5")  # its folder would have to be a file


def test_tables_argument_errors(tmp_path):
    with pytest.raises(qme.InputError, match="face_weights is only used with qme_ckpt"):
        qme.tables(tmp_path / "x.h5", face_weights="w.h5")
    with pytest.raises(qme.InputError, match="unknown fusion baseline"):
        qme.tables(tmp_path / "x.h5", baselines=["median"])

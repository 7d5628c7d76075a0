"""The Python results equal `qme_tables --json` on the same file: every report, exactly."""

import json
import subprocess

import numpy as np
import pytest

import qme
from pyqme_support import read_expected, assert_report_close

SETS = ["small", "medium"]


def run_tool(tool, tmp_path, *args):
    out = tmp_path / "tables.json"
    done = subprocess.run([tool, *args, "--json", str(out), "--log_level", "warn"], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    with open(out) as f:
        return json.load(f)


def without_timing(tables):
    return {k: v for k, v in tables.items() if k != "timing_s"}


def as_json_numbers(report):
    """qme.evaluate's dict as the JSON has it: NaN -> None."""
    return {k: (None if np.isnan(v) else v) for k, v in report.items()}


@pytest.mark.parametrize("name", SETS)
def test_tables_equal_the_tools_json_exactly(fixtures, qme_tables_tool, tmp_path, name):
    scoremats = fixtures / "eval" / "scoremats_{}.h5".format(name)
    ckpt = fixtures / "model" / "qme_ckpt.pth"
    weights = fixtures / "eval" / "face_weights_{}.h5".format(name)
    tool = run_tool(qme_tables_tool, tmp_path, "--scoremats", str(scoremats), "--qme_ckpt", str(ckpt),
                    "--face_weights", str(weights))
    ours = qme.tables(scoremats, qme_ckpt=ckpt, face_weights=weights)
    assert list(ours) == list(tool)
    assert set(ours["timing_s"]) == set(tool["timing_s"])
    assert without_timing(ours) == without_timing(tool)  # ==: every number bit for bit

    # The array API gives the same numbers, bit for bit, as the tool's reports.
    sm = qme.ScoreMatrices.read(scoremats)
    for model in tool["models"]:
        assert as_json_numbers(sm.evaluate(model)) == tool["single"][model], model
        assert as_json_numbers(qme.compat.test_score(sm.score_mats[model], sm.merge_score_mats[model],
                                                     *sm.labels().values(), seed=45)) == tool["single"][model]
    for method in qme.FUSION_METHODS:
        assert as_json_numbers(sm.evaluate(sm.fuse(method))) == tool["fusion"][method], method
    model = qme.QmeModel.load(ckpt)
    w = qme.read_face_weights(weights)
    fused = (model.fuse(sm.score_mats, w), model.fuse(sm.merge_score_mats, w))
    assert as_json_numbers(sm.evaluate(fused)) == tool["qme"]

    # And both match upstream's figures.
    expected = read_expected(fixtures, name)
    assert_report_close({k: np.nan if v is None else v for k, v in ours["qme"].items()}, expected["qme"], "qme")


def test_tables_options_equal_the_tools(fixtures, qme_tables_tool, tmp_path):
    scoremats = fixtures / "eval" / "scoremats_small.h5"
    tool = run_tool(qme_tables_tool, tmp_path, "--scoremats", str(scoremats), "--models", "biggait,adaface",
                    "--baselines", "rhe,max", "--seed", "7")
    ours = qme.tables(scoremats, models=["biggait", "adaface"], baselines=["rhe", "max"], seed=7)
    assert without_timing(ours) == without_timing(tool)
    assert ours["models"] == ["biggait", "adaface"] and list(ours["fusion"]) == ["max", "rhe"]
    none = qme.tables(scoremats, baselines=())
    assert none["fusion"] == {}


def test_tables_with_a_fixed_mixture_equal_the_tools(fixtures, qme_tables_tool, tmp_path):
    scoremats = fixtures / "eval" / "scoremats_small.h5"
    ckpt = fixtures / "model" / "qme_ckpt.pth"
    tool = run_tool(qme_tables_tool, tmp_path, "--scoremats", str(scoremats), "--qme_ckpt", str(ckpt),
                    "--use_qe", "false", "--baselines", "none")
    ours = qme.tables(scoremats, qme_ckpt=ckpt, use_qe=False, baselines=())
    assert without_timing(ours) == without_timing(tool)


def test_tables_analyses_equal_the_tools(fixtures, qme_tables_tool, tmp_path):
    """The bootstrap, the quality bins and the rank lists: the tool's JSON and files, exactly."""
    scoremats = fixtures / "eval" / "scoremats_small.h5"
    ckpt = fixtures / "model" / "qme_ckpt.pth"
    weights = fixtures / "eval" / "face_weights_small.h5"
    tool = run_tool(qme_tables_tool, tmp_path, "--scoremats", str(scoremats), "--qme_ckpt", str(ckpt),
                    "--face_weights", str(weights), "--bootstrap", "40", "--bootstrap_seed", "3",
                    "--quality_bins", "3", "--rank_lists", str(tmp_path / "tool_lists"), "--top_k", "4")
    ours = qme.tables(scoremats, qme_ckpt=ckpt, face_weights=weights, bootstrap=40, bootstrap_seed=3,
                      quality_bins=3, rank_lists=tmp_path / "py_lists", top_k=4)
    assert without_timing(ours) == without_timing(tool)
    assert ours["bootstrap"]["n"] == 40 and ours["bootstrap"]["vs"]["zscore"]["reference"] == "qme"
    assert len(ours["quality_bins"]["counts"]) == 3
    for name in ["adaface.csv", "qme.csv", "qme_first_match.csv"]:
        assert (tmp_path / "py_lists" / name).read_bytes() == (tmp_path / "tool_lists" / name).read_bytes()
    # Quality bins alone need only the weights (no QME).
    alone = qme.tables(scoremats, face_weights=weights, quality_bins=2, baselines=())
    assert len(alone["quality_bins"]["edges"]) == 3
    with pytest.raises(ValueError, match="bootstrap must be >= 0"):
        qme.tables(scoremats, bootstrap=-1)


def test_tables_errors_name_the_problem(fixtures, tmp_path):
    scoremats = fixtures / "eval" / "scoremats_small.h5"
    with pytest.raises(qme.InputError, match="no model 'aim' \\(the file holds: adaface, biggait, cal-ccvid\\)"):
        qme.tables(scoremats, models=["aim"])
    with pytest.raises(qme.InputError, match="qme_ckpt needs face_weights"):
        qme.tables(scoremats, qme_ckpt=fixtures / "model" / "qme_ckpt.pth")
    with pytest.raises(qme.MissingFileError, match="missing.pth"):
        qme.tables(scoremats, qme_ckpt=tmp_path / "missing.pth", use_qe=False)
    with pytest.raises(qme.FileError, match="the QME experts were trained on 3 models, but 2 are given"):
        qme.tables(scoremats, models=["adaface", "biggait"], qme_ckpt=fixtures / "model" / "qme_ckpt.pth",
                   use_qe=False)


def test_format_table_prints_what_the_tool_prints(fixtures, qme_tables_tool):
    scoremats = fixtures / "eval" / "scoremats_small.h5"
    printed = subprocess.run([qme_tables_tool, "--scoremats", str(scoremats), "--log_level", "warn"],
                             capture_output=True, text=True, timeout=300)
    assert printed.returncode == 0, printed.stderr
    tables = qme.tables(scoremats)
    columns = [(m, tables["single"][m]) for m in tables["models"]]
    columns += [(m, tables["fusion"][m]) for m in qme.FUSION_METHODS]
    assert qme.format_table(columns) == printed.stdout

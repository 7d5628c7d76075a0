"""qme.model_specs(): the C++ model registry seen from Python, and the export scripts' table
(tools/export/qme_export.py SPECS), which must declare exactly what the registry expects of each
backbone export (family and input), so that a family added to one is added to the other."""

import importlib.util

import pytest

import qme
from conftest import SOURCE_DIR


def _registry():
    return {row["name"]: row for row in qme.model_specs()}


def test_registry_rows_describe_each_upstream_model():
    rows = _registry()
    assert list(rows)[:9] == ["adaface", "arcface", "kprpe", "biggait", "cal-ccvid", "cal-ltcc",
                              "cal-mevid", "aim", "agrl"]
    assert rows["adaface"]["modality"] == "face" and rows["adaface"]["feeds_face_quality"]
    assert rows["arcface"]["modality"] == "face" and not rows["arcface"]["feeds_face_quality"]
    assert rows["biggait"]["modality"] == "gait" and rows["biggait"]["similarity"] == "biggait"
    assert rows["cal-mevid"]["input"] == "B,3,T,256,128"
    assert rows["cal-ltcc"]["qe_width"] == 3072 and rows["adaface"]["qe_width"] == 2048
    for name, row in rows.items():
        assert qme.similarity_for_model(name) == row["similarity"]


def test_export_scripts_declare_what_the_registry_expects():
    pytest.importorskip("torch")
    path = SOURCE_DIR / "tools" / "export" / "qme_export.py"
    spec = importlib.util.spec_from_file_location("qme_export", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    registry = {name: (row["family"], row["input"]) for name, row in _registry().items()}
    assert module.SPECS == registry

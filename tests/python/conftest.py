"""Shared set-up of the Python package's tests (run by ctest as python.qme, label `python`).

Environment (ctest sets it; by hand: PYTHONPATH=build/python python3 -m pytest tests/python):
    QME_FIXTURES_DIR  upstream parity fixtures (default: ../shared/fixtures next to the repository).
                      Tests that need them skip, saying so, when they are absent -- except under
                      CI=true, where they fail: CI must run the parity tests.
    QME_TABLES        the built qme_tables (default: build/tools/qme_tables).
    QME_UPSTREAM_DIR  upstream's QME_ICCV25 checkout (default: ../shared/upstream/QME_ICCV25); the
                      tests that run upstream's own code skip when it (or sklearn/pandas) is absent.
"""

import os
import sys
from pathlib import Path

import pytest

SOURCE_DIR = Path(os.environ.get("QME_SOURCE_DIR", Path(__file__).resolve().parents[2]))
FIXTURES_DIR = Path(os.environ.get("QME_FIXTURES_DIR", SOURCE_DIR.parent / "shared" / "fixtures"))
UPSTREAM_DIR = Path(os.environ.get("QME_UPSTREAM_DIR", SOURCE_DIR.parent / "shared" / "upstream" / "QME_ICCV25"))


def _in_ci():
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def fixtures():
    """The parity fixtures directory; skips (fails under CI=true) when absent."""
    if not (FIXTURES_DIR / "eval" / "small_expected.json").is_file():
        message = ("parity fixtures not found at {} (set QME_FIXTURES_DIR); the upstream-parity tests "
                   "need them".format(FIXTURES_DIR))
        if _in_ci():
            pytest.fail(message + " -- and CI=true requires them")
        pytest.skip(message)
    return FIXTURES_DIR


@pytest.fixture(scope="session")
def qme_tables_tool():
    """The built qme_tables executable; skips (fails under CI=true) when it is not built."""
    tool = os.environ.get("QME_TABLES") or str(SOURCE_DIR / "build" / "tools" / "qme_tables")
    if not os.access(tool, os.X_OK):
        message = "qme_tables not found at '{}' (set QME_TABLES)".format(tool)
        if _in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return tool


@pytest.fixture(scope="session")
def upstream_metrics():
    """upstream's own tools/eval_metrics.py as a module (the honest reference), or skip.

    It imports sklearn, pandas and transformers.set_seed; transformers is stubbed by what
    set_seed does to the generators test_score uses (random, numpy).
    """
    path = UPSTREAM_DIR / "tools" / "eval_metrics.py"
    if not path.is_file():
        pytest.skip("upstream's code not found at {} (set QME_UPSTREAM_DIR)".format(UPSTREAM_DIR))
    for module in ("sklearn", "pandas"):
        pytest.importorskip(module, reason="upstream's eval_metrics.py needs {}".format(module))
    sys.path.insert(0, str(SOURCE_DIR / "bench"))
    import upstream_eval_metrics  # the loader bench/bench_python.py uses too

    return upstream_eval_metrics.load(path)

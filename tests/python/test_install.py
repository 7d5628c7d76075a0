"""`cmake --install build --component python --prefix P` gives an importable package under
P/<QME_PYTHON_INSTALL_DIR> that works without the build tree."""

import os
import subprocess
import sys

import pytest


def test_the_installed_package_imports_and_evaluates(tmp_path):
    cmake, build = os.environ.get("QME_CMAKE"), os.environ.get("QME_BUILD_DIR")
    site = os.environ.get("QME_PYTHON_INSTALL_DIR")
    if not (cmake and build and site):
        pytest.skip("run under ctest (QME_CMAKE, QME_BUILD_DIR, QME_PYTHON_INSTALL_DIR are not set)")
    prefix = tmp_path / "prefix"
    done = subprocess.run([cmake, "--install", build, "--component", "python", "--prefix", str(prefix)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    package = prefix / site / "qme"
    assert (package / "__init__.py").is_file() and (package / "compat.py").is_file()
    code = ("import numpy as np, qme, qme.compat\n"
            "assert qme.__file__.startswith({!r}), qme.__file__\n"
            "s = np.eye(4, 25, dtype=np.float32)\n"
            "ids = np.arange(25) % 4\n"
            "r = qme.evaluate(s, s[:, :4], np.arange(4), np.zeros(4), np.zeros(4), ids, np.ones(25), np.ones(25), np.arange(4))\n"
            "print(r['GR_top1'])\n").format(str(package))
    env = dict(os.environ, PYTHONPATH=str(prefix / site))
    run = subprocess.run([sys.executable, "-W", "ignore", "-c", code], cwd=str(tmp_path), env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "1.0"

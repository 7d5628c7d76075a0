"""Upstream's own tools/eval_metrics.py, imported as a module: the honest reference that
bench/bench_python.py times and tests/python compares with.

It imports sklearn, pandas and transformers.set_seed; transformers (which Debian lacks) is
stubbed by what set_seed does to the generators test_score uses (random, numpy).
"""
import importlib.util
import random
import sys
import types

import numpy as np


def load(path):
    """The module at `path` (upstream's tools/eval_metrics.py)."""
    if "transformers" not in sys.modules:
        stub = types.ModuleType("transformers")

        def set_seed(seed):
            random.seed(seed)
            np.random.seed(seed)

        stub.set_seed = set_seed
        sys.modules["transformers"] = stub
    spec = importlib.util.spec_from_file_location("upstream_eval_metrics", str(path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

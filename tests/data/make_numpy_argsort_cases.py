"""Writes numpy_argsort_cases.json: np.argsort (default kind) of float32 rows
with many ties, as numpy 1.24 orders them. qme::numpy::argsort must reproduce
these orders exactly (upstream ranks tied scores in this order).

Run with Debian 12's python3-numpy (1.24.2):
    python3 tests/data/make_numpy_argsort_cases.py > tests/data/numpy_argsort_cases.json
"""
import json

import numpy as np

rng = np.random.RandomState(2025)
cases = []
for n, levels in [(5, 3), (16, 4), (17, 4), (40, 6), (100, 10), (257, 20), (1000, 50), (3000, 7)]:
    values = (rng.randint(0, levels, size=n) / levels).astype(np.float32)
    if n >= 40:
        values[rng.randint(0, n, size=n // 20)] = np.nan
    negated = -values
    cases.append({
        "values": [None if np.isnan(v) else float(v) for v in negated],
        "order": np.argsort(negated).tolist(),
    })
print(json.dumps({"numpy": np.__version__, "cases": cases}))

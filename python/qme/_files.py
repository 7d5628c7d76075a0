"""upstream's two HDF5 files in memory: score matrices (scoremats_{ds}.h5) and test features
({model}_{ds}_test.h5). Reading and writing go through the C++ library (same checks, same
messages, atomic writes); the arrays are plain numpy arrays."""

import os

from . import _core
from ._errors import InputError
from ._native import torch_module

_ID_NAMES = ("q_pids", "q_camids", "q_clothes_ids", "g_pids", "g_camids", "g_clothes_ids")


def _set_ids(target, values):
    """The six id arrays, in _ID_NAMES order, as numpy attributes of `target`."""
    import numpy as np

    for name, value in zip(_ID_NAMES, values):
        setattr(target, name, np.asarray(value))


class ScoreMatrices:
    """The contents of a score-matrix file ``scoremats_{ds}.h5``.

    Attributes:
        q_pids, q_camids, q_clothes_ids: (Q,) int64 probe ids.
        g_pids, g_camids, g_clothes_ids: (G,) int64 gallery ids.
        unique_g_pids: (U,) int64, the gallery's subjects, ascending (columns of the merged
            matrices).
        score_mats: dict model -> (Q, G) float32 probe x gallery scores, in file order.
        merge_score_mats: dict model -> (Q, U) float32 probe x subject scores.

    Example::

        sm = qme.ScoreMatrices.read("test_feats/scoremats_ltcc.h5")
        report = qme.evaluate(sm.score_mats["adaface"], sm.merge_score_mats["adaface"], **sm.labels())
        # or simply: sm.evaluate("adaface")
    """

    __test__ = False  # not a pytest test class

    def __init__(self, q_pids, q_camids, q_clothes_ids, g_pids, g_camids, g_clothes_ids,
                 score_mats=None, merge_score_mats=None, unique_g_pids=None):
        import numpy as np

        _set_ids(self, (q_pids, q_camids, q_clothes_ids, g_pids, g_camids, g_clothes_ids))
        self.unique_g_pids = np.unique(self.g_pids) if unique_g_pids is None else np.asarray(unique_g_pids)
        self.score_mats = dict(score_mats or {})
        self.merge_score_mats = dict(merge_score_mats or {})

    @classmethod
    def read(cls, path, models=None):
        """Reads ``path`` (all models, or the listed ones in that order).

        Ids are returned as int64 whatever their stored dtype (upstream writes float32).
        Raises qme.MissingFileError / qme.FileError for a missing or malformed file,
        qme.InputError for a model the file does not hold.
        """
        data = _core.read_score_matrices(os.fspath(path), None if models is None else list(models))
        return cls(*(data[name] for name in _ID_NAMES), score_mats=data["score_mats"],
                   merge_score_mats=data["merge_score_mats"], unique_g_pids=data["unique_g_pids"])

    def write(self, path):
        """Writes the file in upstream's layout (ids as float32, as upstream does), atomically:
        an interrupted write never leaves a truncated file. Shapes are checked first."""
        _core.write_score_matrices(os.fspath(path), *self._ids(), self.unique_g_pids,
                                   self.score_mats, self.merge_score_mats)

    @property
    def models(self):
        """The model names, in order."""
        return list(self.score_mats)

    def labels(self):
        """The seven id arrays as keyword arguments of qme.evaluate / qme.compat.test_score."""
        out = dict(zip(_ID_NAMES, self._ids()))
        out["unique_g_pids"] = self.unique_g_pids
        return out

    def evaluate(self, model, seed=45, threads=0):
        """qme.evaluate on one model's matrices (or on a fused pair: pass (score_mat, merge_score_mat))."""
        if isinstance(model, tuple):
            score_mat, merge_score_mat = model
            name = "fused"
        else:
            score_mat, merge_score_mat = self._model(model)
            name = model
        return _core.evaluate(score_mat, merge_score_mat, **self.labels(), seed=seed, threads=threads, name=name)

    def fuse(self, method, models=None):
        """qme.fuse over ``models`` (default: all, in order): (score_mat, merge_score_mat)."""
        names = self.models if models is None else list(models)
        pairs = [self._model(m) for m in names]
        return _core.fuse(method, [p[0] for p in pairs], [p[1] for p in pairs], self.q_pids, self.g_pids)

    @classmethod
    def from_features(cls, features, device="cpu", threads=0):
        """Gathers score matrices from several models' test features (qme_test's gather step).

        Args:
            features: dict model -> TestFeatures, all with the same ids in the same order.
            device: "cpu", "cuda", "cuda:N" or "auto".
        """
        if not features:
            raise InputError("features is empty: give at least one model's TestFeatures")
        models = list(features)
        first = features[models[0]]
        for model in models[1:]:
            for name in _ID_NAMES:
                a, b = getattr(first, name), getattr(features[model], name)
                if a.shape != b.shape or not (a == b).all():
                    raise InputError("the test features of '{}' and '{}' differ in {}: a score-matrix file "
                                     "needs the same probes and gallery for every model".format(models[0], model, name))
        score_mats, merge_score_mats, unique = {}, {}, None
        for model in models:
            score_mats[model], merge_score_mats[model], unique = features[model].score_matrices(
                model, device=device, threads=threads)
        return cls(*(getattr(first, name) for name in _ID_NAMES), score_mats=score_mats,
                   merge_score_mats=merge_score_mats, unique_g_pids=unique)

    def _ids(self):
        return tuple(getattr(self, name) for name in _ID_NAMES)

    def _model(self, model):
        if model not in self.score_mats:
            raise InputError("no model '{}' (these score matrices hold: {})".format(model, ", ".join(self.models)))
        if model not in self.merge_score_mats:
            raise InputError("model '{}' has a score_mat but no merge_score_mat".format(model))
        return self.score_mats[model], self.merge_score_mats[model]

    def __repr__(self):
        return "qme.ScoreMatrices({} probes x {} gallery entries, {} subjects; models: {})".format(
            len(self.q_pids), len(self.g_pids), len(self.unique_g_pids), ", ".join(self.models) or "none")


class TestFeatures:
    """The contents of a test-features file ``{model}_{ds}_test.h5`` (upstream test.py).

    Attributes:
        qf: (Q, d) float32 probe features; gf: (G, d) float32 gallery features (a row of NaN:
            no feature, e.g. no face found).
        q_pids, q_camids, q_clothes_ids, g_pids, g_camids, g_clothes_ids: int64 ids.
    """

    __test__ = False  # not a pytest test class

    def __init__(self, qf, gf, q_pids, q_camids, q_clothes_ids, g_pids, g_camids, g_clothes_ids):
        import numpy as np

        self.qf = np.asarray(qf)
        self.gf = np.asarray(gf)
        _set_ids(self, (q_pids, q_camids, q_clothes_ids, g_pids, g_camids, g_clothes_ids))

    @classmethod
    def read(cls, path):
        """Reads ``path`` (ids as int64 whatever their stored dtype)."""
        data = _core.read_test_features(os.fspath(path))
        return cls(data["qf"], data["gf"], *(data[name] for name in _ID_NAMES))

    def write(self, path):
        """Writes the file in upstream's layout (ids as float32), atomically; sizes are checked first."""
        _core.write_test_features(os.fspath(path), self.qf, self.gf,
                                  *(getattr(self, name) for name in _ID_NAMES))

    def score_matrices(self, model=None, similarity=None, device="cpu", threads=0):
        """qme.score_matrices of these features: (score_mat, merge_score_mat, unique_g_pids)."""
        return torch_module().score_matrices(self.qf, self.gf, self.g_pids, model, similarity, device, threads)

    def __repr__(self):
        return "qme.TestFeatures({} probes, {} gallery entries, {} dimensions)".format(
            len(self.qf), len(self.gf), self.qf.shape[1] if self.qf.ndim == 2 else "?")

"""qme: exact, fast evaluation and score fusion for whole-body biometrics, from numpy.

The Python face of qme's C++ library (a port of the QME ICCV 2025 research code): the same
numbers as upstream's tools/eval_metrics.py and demo.ipynb, computed ~100x faster, the GIL
released while computing.

Evaluation and fusion (numpy arrays in, numpy arrays / dicts out):
    evaluate(score_mat, merge_score_mat, q_pids, ..., unique_g_pids, seed=45) -> dict
        upstream's test_score report (metric names and order as upstream).
    fuse(method, score_mats, merge_score_mats, q_pids=None, g_pids=None)
        the classic baselines zscore, minmax, rhe, min, mean, max.
    QmeModel.load(checkpoint).fuse(score_mats, face_weights)
        the trained QME head (checkpoints are read without unpickling code).
    score_matrices(qf, gf, g_pids, model) -> (score_mat, merge_score_mat, unique_g_pids)
    tables(path, models=None, qme_ckpt=None, face_weights=None, bootstrap=0, ...) -> dict
        what `qme_tables --json` writes (with its bootstrap, quality bins and rank lists);
        format_table(columns) prints the paper table.

Models: model_specs() lists qme's model registry (name, family, modality, similarity, the
TorchScript input each backbone export must declare).

Files (upstream's HDF5 layouts): ScoreMatrices.read / .write, TestFeatures.read / .write,
read_face_weights.

Upstream-compatible functions: qme.compat.test_score, normalize_score, score_fusion_method --
swap `from tools.eval_metrics import ...` for `from qme.compat import ...`.

Errors: qme.InputError (a ValueError) for bad arguments, qme.FileError (an OSError;
qme.MissingFileError is also a FileNotFoundError) for files, with the one-line messages the
qme_* tools print. Undefined metrics are NaN, with a qme.QmeWarning saying why.
"""

import os as _os

import numpy as _numpy  # noqa: F401  (the extension modules need it; fail here, clearly, without it)

from ._errors import Error, FileError, InputError, MissingFileError, QmeWarning
from . import _core
from ._core import (FUSION_METHODS, PAPER_TABLE_ROWS, evaluate, format_table, fuse, model_specs,
                    set_log_level, table_percent)
from ._files import ScoreMatrices, TestFeatures
from . import compat  # upstream's signatures (pandas is imported only when test_score returns)
from ._native import torch_module as _torch_module

__version__ = getattr(_core, "__version__", "0")

__all__ = [
    "evaluate", "fuse", "tables", "format_table", "table_percent", "PAPER_TABLE_ROWS", "FUSION_METHODS",
    "QmeModel", "score_matrices", "similarity_for_model", "model_specs",
    "ScoreMatrices", "TestFeatures", "read_face_weights",
    "Error", "InputError", "FileError", "MissingFileError", "QmeWarning", "set_log_level", "compat",
]


def read_face_weights(path, num_queries=-1):
    """The quality weights a QE evaluation wrote (dataset 'face_weights'), as (Q, 1) float32.

    What upstream's demo reads with h5py and feeds to QME inference. ``num_queries`` >= 0 checks
    the number of rows. Raises qme.MissingFileError / qme.FileError when the file or dataset is
    missing, mis-shaped, or holds a non-finite weight.
    """
    return _core.read_face_weights(_os.fspath(path), num_queries)


def tables(path, models=None, qme_ckpt=None, face_weights=None, *, baselines=tuple(FUSION_METHODS),
           use_qe=True, seed=45, threads=0, bootstrap=0, ci=95.0, bootstrap_seed=45, quality_bins=0,
           rank_lists=None, top_k=10):
    """The paper table's reports from a score-matrix file: what ``qme_tables --json`` writes.

    Args:
        path: the score-matrix file (scoremats_{ds}.h5).
        models: the models to evaluate, in order (default: every model in the file).
        qme_ckpt: a QME checkpoint (.pth): adds the "qme" report, fused over ``models`` (which
            must then be the checkpoint's training model list, in order).
        face_weights: the HDF5 file with dataset 'face_weights' (one quality weight per probe)
            that mixes QME's experts (needed with ``qme_ckpt`` unless ``use_qe`` is False) and
            splits the probes into ``quality_bins``.
        baselines: classic fusion baselines to evaluate, in order (default: all six; () for none).
        use_qe: False mixes QME's experts by a fixed 0.5 instead of the face weights.
        seed: numpy legacy-generator seed of the open-set draws (upstream: 45).
        threads: worker threads (0: QME_NUM_THREADS or all cores).
        bootstrap: N > 0 adds "bootstrap": a paired bootstrap over N resamples of the probe
            subjects (qme_tables --bootstrap): every metric's interval per column and, for each
            column, its difference with "qme" (or the first column) and the share of resamples
            in which that reference is better.
        ci: the intervals' confidence level in percent; bootstrap_seed: their subject draws.
        quality_bins: B > 0 (with face_weights) adds "quality_bins": every column's report per
            bin of the probes' quality weights (B quantile bins).
        rank_lists: a folder: writes each column's rank lists and first-match ranks there (as
            qme_tables --rank_lists), ``top_k`` entries per probe.

    Returns:
        {"models": [...], "single": {model: report}, "fusion": {method: report},
         "qme": report (with qme_ckpt), "timing_s": {...}, and "bootstrap" / "quality_bins" when
        asked for} -- reports map metric -> float, None where undefined, exactly as in the JSON
        file (keys sorted as there).

    The GIL stays held (the score-matrix file is read with HDF5, which is not thread-safe in
    Debian's build and may be in use by h5py in another thread).
    """
    path = _os.fspath(path)
    if isinstance(baselines, str):
        baselines = [baselines]
    baselines = [b for b in baselines if b != "none"]
    if models is not None:
        models = [models] if isinstance(models, str) else list(models)
        available = _core.list_models(path)
        unknown = [m for m in models if m not in available]
        if unknown:
            raise InputError("{}: no model '{}' (the file holds: {})".format(path, unknown[0], ", ".join(available)))
    weights = None if face_weights is None else _os.fspath(face_weights)
    lists = None if rank_lists is None else _os.fspath(rank_lists)
    analyses = dict(bootstrap=bootstrap, ci=ci, bootstrap_seed=bootstrap_seed, quality_bins=quality_bins,
                    rank_lists=lists, top_k=top_k)
    if qme_ckpt is None:
        if face_weights is not None and not quality_bins:
            raise InputError("face_weights is only used with qme_ckpt or quality_bins")
        return _core.tables(path, models, baselines, seed, threads, face_weights=weights, **analyses)
    if use_qe and face_weights is None:
        raise InputError("qme_ckpt needs face_weights (one quality weight per probe), or use_qe=False")
    return _torch_module().tables(path, models, baselines, seed, threads, _os.fspath(qme_ckpt), weights, use_qe,
                                  **analyses)


def score_matrices(qf, gf, g_pids, model=None, *, similarity=None, device="cpu", threads=0):
    """Score matrices from features, as upstream's test.py builds them (qme's C++ kernels).

    Args:
        qf: (Q, d) probe features; gf: (G, d) gallery features (any real dtype; float32
            C-contiguous arrays are used in place). A row of NaN means "no feature".
        g_pids: (G,) gallery pids; merge_score_mat has one column per distinct pid, ascending.
        model: the model's name, which picks its similarity (adaface, arcface, kprpe, cal*, aim,
            agrl: cosine; biggait: BigGait's part distance). Or give ``similarity``.
        similarity: "cosine" or "biggait", overriding the name.
        device: "cpu", "cuda", "cuda:N" or "auto".
        threads: CPU threads (0: QME_NUM_THREADS or all cores).

    Returns:
        (score_mat (Q, G), merge_score_mat (Q, U), unique_g_pids (U,)): float32, float32, int64.
        A pair upstream would score NaN scores 0; each subject's template is the NaN-ignoring
        mean of its gallery rows.
    """
    return _torch_module().score_matrices(qf, gf, g_pids, model, similarity, device, threads)


def similarity_for_model(model):
    """'cosine' or 'biggait': how upstream compares a model's features, chosen by its name."""
    return _torch_module().similarity_for_model(model)


class QmeModel:
    """A trained QME fusion head (upstream's MoNormQE_dev), for inference on score matrices.

    Example (upstream's demo, "Ours")::

        model = qme.QmeModel.load("checkpoints/QME/lsf-ltcc-bs8-seq1-100.14-2590.pth")
        w = qme.read_face_weights("test_feats/mod_qe_adaface_t1r3_ltcc_6000.h5")
        fused = model.fuse(sm.score_mats, w)            # dict in the training model order
        fused_merge = model.fuse(sm.merge_score_mats, w)
    """

    def __init__(self, native):
        self._native = native

    @classmethod
    def load(cls, checkpoint, use_qe=True, block_rows=0):
        """Reads a checkpoint (torch.save zip archive with a 'model_state_dict').

        The pickle is read by qme's restricted unpickler, which accepts only what a state dict
        needs: loading never runs code, and a file that asks for anything else is refused with a
        qme.FileError naming the global. The head's size comes from the weights; the quality
        estimator's entries are skipped (the weights come precomputed, as in upstream's demo).

        Args:
            use_qe: False mixes the two experts by a fixed 0.5 (no face weights needed).
            block_rows: probes per forward pass (0: the whole matrix when it fits in 1 GiB).
        """
        return cls(_torch_module().QmeModel.load(_os.fspath(checkpoint), use_qe, block_rows))

    @property
    def checkpoint_path(self):
        """The file this head was read from."""
        return self._native.checkpoint_path

    @property
    def num_models(self):
        """How many models the experts fuse."""
        return self._native.num_models

    @property
    def use_qe(self):
        """Whether the experts are mixed by the face weights (else by 0.5)."""
        return self._native.use_qe

    def fuse(self, score_mats, face_weights=None):
        """The fused (Q, N) float32 matrix (upstream: model.inference(...)['fuse_scores']).

        Args:
            score_mats: dict model -> (Q, N) matrix, in the order of the training model list
                (the checkpoint cannot tell the order; the count is checked), or a list.
            face_weights: (Q, 1) or (Q,) quality weight per probe (qme.read_face_weights);
                ignored when loaded with use_qe=False.

        Call it once with the score_mats and once with the merge_score_mats, as the demo does.
        The GIL is released while computing.
        """
        return self._native.fuse(score_mats, face_weights)

    def __repr__(self):
        return "qme.QmeModel({!r}, {} models{})".format(self.checkpoint_path, self.num_models,
                                                        "" if self.use_qe else ", use_qe=False")


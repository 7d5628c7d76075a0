"""Upstream's evaluation functions with upstream's exact signatures, computed by qme.

A notebook written for upstream (QME_ICCV25's demo.ipynb) changes one line::

    from tools.eval_metrics import test_score, score_fusion_method, normalize_score
    # becomes
    from qme.compat import test_score, score_fusion_method, normalize_score

and gets the same numbers (to 1e-9; counts exactly), the report ~100x faster.

Differences, all documented where they arise:
- test_score(seed=None) seeds with 45 (upstream then draws from numpy's global generator, in
  whatever state it is; its demo and test.py pass or set 45). qme never touches numpy's, Python's
  or torch's global generators (upstream's set_seed(seed) reseeds all three).
- Scores are evaluated in float32 (as upstream's score-matrix files hold them); a float64 matrix
  that float32 cannot hold exactly is rounded, with a qme.QmeWarning.
- Where upstream crashes (gallery < 20 entries, no non-mated probe, no positive pair) qme returns
  NaN for what is undefined and warns.
"""

import logging

import numpy as np

from . import _core

__all__ = ["test_score", "normalize_score", "score_fusion_method"]

# upstream returns GR rank-1 only for these datasets
_RANK1_ONLY_DATASETS = ("last", "deepchange", "vcclothes_sc", "vcclothes_cc")


def _series(report):
    try:
        import pandas as pd
    except ImportError:
        return report
    return pd.Series(report, dtype="float64")


def test_score(score_mat, merge_score_mat,
               q_pids, q_camids, q_clothes_ids,
               g_pids, g_camids, g_clothes_ids, unique_g_pids,
               dataset='ccvid', log=False, seed=None):
    """upstream's tools/eval_metrics.test_score, computed by qme's C++ engine.

    Args:
        score_mat: (Q, G) similarity matrix (probes x gallery entries).
        merge_score_mat: (Q, U) similarity matrix (probes x gallery subjects, ordered like
            unique_g_pids).
        q_pids, q_camids, q_clothes_ids: person, camera and clothes ids of the probes.
        g_pids, g_camids, g_clothes_ids: the same for the gallery entries.
        unique_g_pids: the gallery's subjects, ascending (np.unique(g_pids)).
        dataset: for 'last', 'deepchange', 'vcclothes_sc', 'vcclothes_cc' only GR rank-1 is
            returned (a float), as upstream does.
        log: log the results to logging.getLogger('reid.test') in upstream's format.
        seed: seed of the 10 open-set enrolment draws (numpy's legacy generator, as
            np.random.seed(seed)); None means 45 (see the module's notes).

    Returns:
        A pandas Series (float64, upstream's index and order) when pandas is importable, else a
        dict with the same keys and values. GR/SC/CC top-k and mAP, TAR@FAR and thresholds,
        TPIR/FNIR@FPIR (means over the 10 draws), their thresholds, the counts, and the standard
        deviations (ddof 1) of TPIR/FNIR. NaN marks what upstream cannot define.

    Raises:
        qme.InputError (a ValueError) for arrays that are not numeric, mis-shaped, of
        disagreeing lengths, or all NaN.
    """
    report = _core.evaluate(score_mat, merge_score_mat, q_pids, q_camids, q_clothes_ids,
                            g_pids, g_camids, g_clothes_ids, unique_g_pids,
                            seed=45 if seed is None else seed, name="test_score")
    if log:
        _log_report(report, full=dataset not in _RANK1_ONLY_DATASETS)
    if dataset in _RANK1_ONLY_DATASETS:
        return np.float64(report["GR_top1"])
    return _series(report)


def _log_report(r, full):
    """upstream's log lines, in its format."""
    logger = logging.getLogger('reid.test')
    line = "----------------------------------------------------------"

    def ranks(prefix):
        return 'top1:{:.1%} top5:{:.1%} top10:{:.1%} top20:{:.1%} mAP:{:.1%}'.format(
            r[prefix + '_top1'], r[prefix + '_top5'], r[prefix + '_top10'], r[prefix + '_top20'], r[prefix + '_mAP'])

    logger.info("----------------- General Results --------------------------")
    logger.info(ranks('GR'))
    logger.info("--" + line)
    if not full:
        return
    logger.info("-------------------- SC Results ----------------------------")
    logger.info(ranks('SC'))
    logger.info("--" + line)
    logger.info("Computing CMC and mAP only for clothes-changing")
    logger.info("-------------------- CC Results ----------------------------")
    logger.info(ranks('CC'))
    logger.info("--" + line)
    logger.info("--------------- Evaluation Protocol V1.0.0 -----------------")
    logger.info('Number of Probes: {}, Number of Galleries subjects: {}'.format(
        int(r['num_probe_templates']), int(r['num_gallery_subjects'])))
    logger.info('Tar@1.00%FAR:{:.1%} Rank1:{:.1%} FNIR@1%FPIR:{:.1%}±{:.1%}'.format(
        r['TAR@1.00%FAR'], r['GR_top1'], r['FNIR@1.00%FPIR'], r['FNIR@1.00%FPIR_std']))
    logger.info("--" + line)


def normalize_score(score, method='none', min=None, max=None, mean=None, std=None,
                    match_mean=None, match_std=None):
    """upstream's tools/eval_metrics.normalize_score, with upstream's signature and semantics.

    NaN -> 0 first (np.nan_to_num), then
      'minmax': (s - min) / (max - min + 1e-10), min/max the matrix's own unless both given;
      'zscore': (s - mean) / (std + 1e-10), mean/std (population) the matrix's own unless both given;
      'rhe':    (s - min) / (match_mean + match_std - min + 1e-10) (all three required);
      'none':   the NaN-free scores.
    Unknown methods raise NotImplementedError, as upstream.

    This one is evaluated with numpy, not the C++ library: its parameters are arbitrary Python or
    numpy scalars, and numpy's scalar-promotion rules (which decide whether the denominator is
    rounded to float32 or kept in float64) are what define upstream's result; element-wise numpy
    already runs at memory speed. qme.fuse (and qme_tables) compute the demo's whole baselines
    -- the normalisation with each matrix's own statistics and the average -- in C++, bit for bit.
    """
    s = np.nan_to_num(score)
    if method == 'minmax':
        if min is None or max is None:
            lo, hi = s.min(), s.max()
            return (s - lo) / (hi - lo + 1e-10)
        return (s - min) / (max - min + 1e-10)
    if method == 'zscore':
        if mean is None or std is None:
            return (s - s.mean()) / (s.std() + 1e-10)
        return (s - mean) / (std + 1e-10)
    if method == 'rhe':
        if min is None and match_mean is None and match_std is None:
            raise AssertionError("min, match_mean, or match_std is required for RHE normalization")
        return (s - min) / (match_mean + match_std - min + 1e-10)
    if method == 'none':
        return s
    raise NotImplementedError(f'{method} not implemented')


def score_fusion_method(score_mats, method='none'):
    """upstream's tools/eval_metrics.score_fusion_method: element-wise 'min', 'mean' or 'max'
    over a list of (Q, G) score matrices (NaN propagates, as in numpy).

    float32 matrices (upstream's files, QME's output) are fused by the C++ library (qme.fuse),
    bit for bit numpy's result; other dtypes keep upstream's numpy semantics (numpy computes in
    their dtype). Unknown methods raise NotImplementedError, as upstream.
    """
    if method not in ('min', 'mean', 'max'):
        raise NotImplementedError(f'{method} not implemented')
    mats = None
    if (isinstance(score_mats, (list, tuple)) and score_mats
            and all(isinstance(m, np.ndarray) and m.dtype == np.float32 and m.ndim == 2
                    and m.shape == score_mats[0].shape for m in score_mats)):
        mats = list(score_mats)  # no stacked copy
    else:
        stacked = np.asarray(score_mats)
        if stacked.dtype == np.float32 and stacked.ndim == 3:
            mats = list(stacked)
    if mats is not None and mats[0].size > 0:
        # qme.fuse also fuses merge matrices; give it one dummy column per model.
        dummy = np.zeros((mats[0].shape[0], 1), dtype=np.float32)
        fused, _ = _core.fuse(method, mats, [dummy] * len(mats))
        return fused
    return {'min': np.min, 'mean': np.mean, 'max': np.max}[method](np.array(score_mats), axis=0)

"""Access to the LibTorch-backed extension module qme._torch, imported on first use so that
`import qme` does not load LibTorch."""

_torch_module = None


def torch_module():
    """qme._torch, or an ImportError saying why it is not there."""
    global _torch_module
    if _torch_module is None:
        try:
            from . import _torch
        except ImportError as e:
            raise ImportError(
                "qme was built without its LibTorch part (configure with QME_WITH_TORCH=ON): "
                "QmeModel, score_matrices and tables(qme_ckpt=...) are not available ({})".format(e)
            ) from e
        _torch_module = _torch
    return _torch_module

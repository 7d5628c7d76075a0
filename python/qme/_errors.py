"""qme's exceptions and warning. The C++ library's errors arrive as these classes, with the
same one-line messages the qme_* tools print."""


class Error(Exception):
    """Base class of every error qme raises."""


class InputError(Error, ValueError):
    """A bad argument: a non-numeric or mis-shaped array, ids whose lengths disagree with the
    matrices, an unknown model / method / similarity name, a matrix of only NaN."""


class FileError(Error, OSError):
    """A file that cannot be used: unreadable, not HDF5 / not a torch.save archive, a missing or
    mis-shaped dataset, a checkpoint whose pickle asks for code, an output that cannot be written."""


class MissingFileError(FileError, FileNotFoundError):
    """A file that does not exist (also a FileNotFoundError)."""


class QmeWarning(RuntimeWarning):
    """The library could not define a value (it is NaN) or changed the input (float64 rounded
    to float32); the message says which and why."""

"""Exception types of the library.

Bad input never becomes a wrong number: readers and constructors raise one of
these with a message that names the file (when there is one), the field, what
was expected and what was found.
"""

from __future__ import annotations

from os import PathLike


class MRSError(Exception):
    """Base class of every error raised on purpose by ``mrs_lib``."""


class MRSDataError(MRSError, ValueError):
    """In-memory data that cannot be right (NaN, wrong shape, non-positive dwell, ...)."""


class MRSFormatError(MRSError, ValueError):
    """A file that cannot be read as the format it claims to be.

    Parameters
    ----------
    path
        The offending file (``None`` for in-memory text).
    field
        The header field, block or line that is wrong.
    expected
        What the reader expected, in words (``"a positive number"``).
    got
        What it found (shortened in the message).
    """

    def __init__(
        self,
        path: str | PathLike[str] | None,
        field: str,
        expected: str,
        got: object | None = None,
    ) -> None:
        self.path = None if path is None else str(path)
        self.field = field
        self.expected = expected
        self.got = got
        where = f"file '{self.path}'" if self.path is not None else "input"
        msg = f"{where}, field '{field}': expected {expected}"
        if got is not None:
            text = repr(got)
            if len(text) > 80:
                text = text[:77] + "..."
            msg += f", got {text}"
        super().__init__(msg)


class LCModelFatalError(MRSError):
    """LCModel reported a FATAL line in its ``$$DIAG`` block (its exit code is 0 even then)."""


class DataRegistryError(MRSError):
    """A registered external file is missing, unknown, or fails its sha256 check."""


__all__ = [
    "DataRegistryError",
    "LCModelFatalError",
    "MRSDataError",
    "MRSError",
    "MRSFormatError",
]

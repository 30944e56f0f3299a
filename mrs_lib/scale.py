"""The one scale switch: ``MRS_SCALE=tiny|book|paper``.

* ``tiny``  - tests and CI: every chapter runs in seconds.
* ``book``  - the default: minutes per chapter on a laptop CPU.
* ``paper`` - the paper's 10k/100k runs (hours; a GPU helps).

Chapters and commands ask :func:`pick` for their sizes, so the three scales
live side by side in the code that uses them::

    n_train = pick(tiny=200, book=10_000, paper=100_000)
"""

from __future__ import annotations

import os
from typing import TypeVar

from .errors import MRSError
from .types import SCALES, Scale

T = TypeVar("T")

ENV_VAR = "MRS_SCALE"
DEFAULT_SCALE: Scale = "book"


def get_scale(scale: str | None = None) -> Scale:
    """Return the active scale: ``scale`` if given, else ``$MRS_SCALE``, else ``"book"``.

    Raises :class:`~mrs_lib.errors.MRSError` for anything but tiny, book or paper.
    """
    value = scale if scale is not None else os.environ.get(ENV_VAR, DEFAULT_SCALE)
    value = value.strip().lower()
    if value not in SCALES:
        raise MRSError(f"{ENV_VAR}={value!r}: expected one of {', '.join(SCALES)}")
    return value  # narrowed to Scale by the membership test


def pick(*, tiny: T, book: T, paper: T, scale: str | None = None) -> T:
    """Return the value that belongs to the active scale (see :func:`get_scale`)."""
    return {"tiny": tiny, "book": book, "paper": paper}[get_scale(scale)]


__all__ = ["DEFAULT_SCALE", "ENV_VAR", "get_scale", "pick"]

"""Limiting BLAS threads around many small dense problems (simulator and fitter).

The simulator multiplies many small (<= 64 x 64) matrices and the LCModel-style
fitter solves small least-squares problems; multi-threaded OpenBLAS only adds
start-up overhead there and collapses when the cores are busy (measured here:
2 threads made a fit 5x slower than 1, and the simulator ~60x slower under load).
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import sys
from collections.abc import Iterator
from functools import cache
from typing import Any

_SYMBOLS = (
    ("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
    ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
    ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
    ("openblas_get_num_threads", "openblas_set_num_threads"),
)


def _openblas_paths() -> list[str]:
    """OpenBLAS libraries shipped with numpy/scipy, and any other loaded in this process."""
    import numpy
    import scipy

    paths = set()
    for pkg in (numpy, scipy):
        libdir = os.path.join(
            os.path.dirname(os.path.dirname(str(pkg.__file__))), f"{pkg.__name__}.libs"
        )
        paths.update(glob.glob(os.path.join(libdir, "*openblas*")))
    if sys.platform.startswith("linux"):
        try:
            with open("/proc/self/maps") as fh:
                paths.update(
                    ln.split()[-1] for ln in fh if "openblas" in ln.lower() and ".so" in ln
                )
        except OSError:
            pass
    return sorted({os.path.realpath(p) for p in paths})


@cache
def _openblas_controls() -> tuple[tuple[Any, Any], ...]:
    """``(get, set)`` thread-count functions of every OpenBLAS found by :func:`_openblas_paths`."""
    found = []
    for path in _openblas_paths():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for get, put in _SYMBOLS:
            if hasattr(lib, get) and hasattr(lib, put):
                found.append((getattr(lib, get), getattr(lib, put)))
                break
    return tuple(found)


@contextlib.contextmanager
def blas_threads(n: int | None = 1) -> Iterator[None]:
    """Limit BLAS threads to ``n`` inside the block (``None``: leave them alone).

    Uses ``threadpoolctl`` when installed, else OpenBLAS's own setter through
    ctypes; a no-op where neither is found.
    """
    if n is None:
        yield
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        threadpool_limits = None
    if threadpool_limits is not None:
        with threadpool_limits(limits=n, user_api="blas"):
            yield
        return
    controls = _openblas_controls()
    before = [int(get()) for get, _put in controls]
    for _get, put in controls:
        put(int(n))
    try:
        yield
    finally:
        for (_get, put), k in zip(controls, before, strict=True):
            put(k)


__all__ = ["blas_threads"]

"""Argument types of ``mrs`` subcommands: a bad value is a one-line usage error, never a default.

Each function here is an ``argparse`` ``type=``: it turns the text of one
argument into its value or raises :class:`argparse.ArgumentTypeError` saying
what was expected and what was given; :func:`mrs_lib.cli.main` prints that as
``mrs <cmd>: error: argument --name: ...`` and exits with status 2. A count of
0 is rejected where it cannot mean what it says (0 epochs, 0 spectra, 0
points), instead of silently falling back to a default.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

#: the largest seed: NumPy's legacy generators and Optuna's samplers take 32-bit seeds
MAX_SEED = 2**32 - 1
#: the most points of a readout or an LCModel basis that a command allocates (2^20)
MAX_POINTS = 1 << 20


def _parse_int(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def int_range(lo: int, hi: int | None = None, what: str = "an integer") -> Callable[[str], int]:
    """An integer type accepting ``lo <= value`` (``<= hi`` when given)."""

    def parse(text: str) -> int:
        value = _parse_int(text)
        if value < lo or (hi is not None and value > hi):
            bound = f">= {lo}" if hi is None else f"from {lo} to {hi}"
            raise argparse.ArgumentTypeError(f"expected {what} {bound}, got {text!r}")
        return value

    parse.__name__ = "integer"  # what argparse names in its own messages
    return parse


def float_range(
    lo: float, *, inclusive: bool = False, hi: float | None = None, what: str = "a number"
) -> Callable[[str], float]:
    """A finite float type accepting ``value > lo`` (``>= lo`` if ``inclusive``; ``<= hi``)."""

    def parse(text: str) -> float:
        try:
            value = float(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        ok = math.isfinite(value) and (value >= lo if inclusive else value > lo)
        if not ok or (hi is not None and value > hi):
            bound = f"{'>=' if inclusive else '>'} {lo:g}" + ("" if hi is None else f", <= {hi:g}")
            raise argparse.ArgumentTypeError(f"expected {what} {bound}, got {text!r}")
        return value

    parse.__name__ = "number"
    return parse


positive_int = int_range(1)
"""A count that must be at least 1 (spectra, epochs, points, threads, trials per batch)."""
non_negative_int = int_range(0)
"""A count where 0 means what it says (patience 0 = never stop early)."""
seed = int_range(0, MAX_SEED, "a seed: an integer")
"""A random seed, 0 .. 2^32 - 1."""
points = int_range(1, MAX_POINTS, "a number of points: an integer")
"""A number of readout points, 1 .. 2^20."""
positive_float = float_range(0.0, what="a positive number")
"""A finite number > 0 (seconds, Hz, MHz, learning rates)."""
non_negative_float = float_range(0.0, inclusive=True, what="a number")
"""A finite number >= 0 (a linewidth, a sleep)."""


def device(text: str) -> str:
    """A torch device this machine has: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``."""
    from ..train.config import TrainConfigError, resolve_device

    try:
        resolve_device(text)
    except TrainConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def output_path(text: str) -> str:
    """A path the command may write: anything outside the package's shipped artifacts."""
    from ..artifacts import ArtifactError, ensure_writable

    if not text.strip():
        raise argparse.ArgumentTypeError("expected a file path, got an empty string")
    try:
        ensure_writable(text, "path")
    except ArtifactError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


__all__ = [
    "MAX_POINTS",
    "MAX_SEED",
    "device",
    "float_range",
    "int_range",
    "non_negative_float",
    "non_negative_int",
    "output_path",
    "points",
    "positive_float",
    "positive_int",
    "seed",
]

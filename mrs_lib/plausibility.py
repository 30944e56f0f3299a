"""Plausibility limits for acquisition parameters read from files.

A value can be well formed and still impossible: a negative linewidth (the
FID then *grows*), an echo time of 68 000 ms (a header that stored 68 where
NIfTI-MRS wants seconds), a bandwidth of 1e-300 Hz, an all-zero FID. The
readers of :mod:`mrs_lib.io`, :class:`mrs_lib.sim.basis.Basis` and the
quantifiers call these checks, so such values stop with an error that names
the file, the field, the plausible range and what was found (and, for an echo
time, the likely unit mistake) instead of becoming a wrong number.

The limits are wide on purpose; they reject nonsense, not unusual protocols:

* bandwidth :data:`BW_HZ_RANGE` (dwell time ``1 / bw``);
* proton Larmor frequency :data:`LARMOR_MHZ_RANGE` (0.05 T to 35 T);
* echo time :data:`TE_MS_RANGE` (ms);
* a basis linewidth ``lw_hz`` in ``[0,`` :data:`MAX_LW_HZ` ``]``.

Kept free of heavy imports: :mod:`mrs_lib.sim` and ``mrs_lib._npz`` use it.
"""

from __future__ import annotations

import math
from os import PathLike
from typing import Literal, cast

import numpy as np

from .errors import MRSDataError, MRSError, MRSFormatError

#: Plausible spectral widths (Hz) of an MRS acquisition.
BW_HZ_RANGE: tuple[float, float] = (100.0, 1.0e6)
#: Plausible proton Larmor frequencies (MHz): about 0.05 T to 35 T.
LARMOR_MHZ_RANGE: tuple[float, float] = (2.0, 1500.0)
#: Plausible echo times (ms); outside it, a value is most likely in the wrong unit.
TE_MS_RANGE: tuple[float, float] = (1.0, 1000.0)
#: Largest plausible Lorentzian linewidth (Hz) already applied to a basis.
MAX_LW_HZ: float = 100.0

_Source = str | PathLike[str] | None


def _fail(path: _Source, field: str, expected: str, got: object) -> MRSError:
    """A :class:`MRSFormatError` for a file, a :class:`MRSDataError` for in-memory values."""
    if path is not None:
        return MRSFormatError(path, field, expected, got)
    return MRSDataError(f"field '{field}': expected {expected}, got {got!r}")


def _as_float(value: object, path: _Source, field: str, expected: str) -> float:
    if isinstance(value, (bool, np.bool_)) or isinstance(value, (str, bytes)):
        raise _fail(path, field, expected, value)
    try:
        v = float(cast(float, value))
    except (TypeError, ValueError, OverflowError):
        raise _fail(path, field, expected, value) from None
    if not math.isfinite(v):
        raise _fail(path, field, expected, v)
    return v


def check_dwell(value: object, *, path: _Source = None, field: str = "dwell_s") -> float:
    """``value`` as a dwell time (s) whose bandwidth ``1 / dwell`` lies in :data:`BW_HZ_RANGE`."""
    lo, hi = BW_HZ_RANGE
    expected = f"a dwell time in seconds with bandwidth 1/dwell in [{lo:g}, {hi:g}] Hz"
    v = _as_float(value, path, field, expected)
    if not (1.0 / hi <= v <= 1.0 / lo):
        raise _fail(path, field, expected, v)
    return v


def check_bandwidth(value: object, *, path: _Source = None, field: str = "bw_hz") -> float:
    """``value`` as a spectral width (Hz) in :data:`BW_HZ_RANGE`."""
    lo, hi = BW_HZ_RANGE
    v = _as_float(value, path, field, f"a bandwidth in [{lo:g}, {hi:g}] Hz")
    if not lo <= v <= hi:
        raise _fail(path, field, f"a bandwidth in [{lo:g}, {hi:g}] Hz", v)
    return v


def check_larmor(value: object, *, path: _Source = None, field: str = "larmor_mhz") -> float:
    """``value`` as a proton Larmor frequency (MHz) in :data:`LARMOR_MHZ_RANGE`."""
    lo, hi = LARMOR_MHZ_RANGE
    expected = f"a proton Larmor frequency in [{lo:g}, {hi:g}] MHz"
    v = _as_float(value, path, field, expected)
    if not lo <= v <= hi:
        raise _fail(path, field, expected, v)
    return v


def check_te(
    value: object, *, unit: Literal["ms", "s"], path: _Source = None, field: str = "te_ms"
) -> float:
    """An echo time given in ``unit``, returned in ms; outside :data:`TE_MS_RANGE` it is refused.

    The message names the likely unit mistake: ``EchoTime = 68`` in a NIfTI-MRS
    header (which wants seconds) is 68 ms written without conversion, not
    68 000 ms; ``ECHOT = 0.068`` in an LCModel file (milliseconds) is seconds.
    """
    lo, hi = TE_MS_RANGE
    scale = 1000.0 if unit == "s" else 1.0
    expected = f"an echo time in {'seconds' if unit == 's' else 'milliseconds'}"
    expected += f" ({lo / scale:g} to {hi / scale:g} {unit})"
    v = _as_float(value, path, field, expected)
    ms = v * scale
    if lo <= ms <= hi:
        return round(ms, 9) if unit == "s" else ms
    if unit == "s" and lo <= v <= hi:
        hint = f"{v:g} looks like milliseconds written as seconds ({v / 1000:g} s)"
    elif unit == "ms" and lo <= v * 1000.0 <= hi:
        hint = f"{v:g} looks like seconds written as milliseconds ({v * 1000:g} ms)"
    else:
        hint = f"{v:g} {unit}"
    raise _fail(path, field, expected, hint)


def check_lw_hz(value: object, *, path: _Source = None, field: str = "lw_hz") -> float:
    """A basis linewidth (Hz) in ``[0, MAX_LW_HZ]``: negative widths make growing FIDs."""
    expected = f"a linewidth in [0, {MAX_LW_HZ:g}] Hz"
    v = _as_float(value, path, field, expected)
    if not 0.0 <= v <= MAX_LW_HZ:
        raise _fail(path, field, expected, v)
    return v


def check_signal(fid: np.ndarray, *, path: _Source = None, field: str = "fid") -> None:
    """Refuse an all-zero FID (no signal): every fit of it would return a made-up number."""
    if not np.any(fid):
        raise _fail(path, field, "a non-zero FID (signal)", "all samples are zero")


def require_signal(fids: dict[str, np.ndarray], method: str) -> None:
    """Refuse a batch in which any FID (``fids["off"]``, ``fids["on"]``, ...) is all zero.

    Every quantifier calls this first: no method can measure an absent signal,
    and a fit of zeros returns its starting guess. Raises
    :class:`~mrs_lib.errors.MRSDataError` naming the method, the sub-spectrum
    and the first such spectrum of the batch.
    """
    for state, fid in fids.items():
        empty = ~np.any(fid.reshape(-1, fid.shape[-1]), axis=-1)
        if empty.any():
            where = "" if fid.ndim == 1 else f" spectrum {int(np.argmax(empty))} of {empty.size}:"
            raise MRSDataError(
                f"{method}:{where} the edit-{state.upper()} FID is all zero (no signal to quantify)"
            )


__all__ = [
    "BW_HZ_RANGE",
    "LARMOR_MHZ_RANGE",
    "MAX_LW_HZ",
    "TE_MS_RANGE",
    "check_bandwidth",
    "check_dwell",
    "check_larmor",
    "check_lw_hz",
    "check_signal",
    "check_te",
    "require_signal",
]

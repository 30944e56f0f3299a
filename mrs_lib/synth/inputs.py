"""Network input: complex grid spectra to the rows a network reads, and the normalisations.

A network reads ``rows x n_points`` float32 values: the channels of
:data:`DEFAULT_CHANNELS` (edit-OFF and edit-ON real parts) or any other choice of
``"off|on|diff" x "real|imag"`` (:func:`check_channels`), on the grid of
:mod:`mrs_lib.synth.grid`. The same functions prepare synthetic batches
(:mod:`mrs_lib.synth.generator`) and real spectra (:func:`network_input`).

**Normalisation** (:ref:`method-input`): every acquisition (row) is divided by the
maximum of ``|edit_off|`` (complex modulus) of the *noisy* spectrum over the
window (:func:`normalise_rows`); the clean copy is divided by the same number,
so ``x - clean`` is the noise in network units. Targets are concentrations
divided by their sum (training, :func:`sum_normalise`); :func:`max_normalise`
gives the metric's max normalisation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import MRSDataError
from ..spectrum import EditedSpectra
from ..types import NETWORK_POINTS, NETWORK_PPM_RANGE
from .grid import grid_transform

Channel = str  # "off|on|diff" + ":" + "real|imag", e.g. "off:real"
DEFAULT_CHANNELS: tuple[Channel, ...] = ("off:real", "on:real")
_ACQ = ("off", "on", "diff")
_PART = ("real", "imag")


def check_channels(channels: Sequence[str]) -> tuple[str, ...]:
    """``channels`` as a tuple, each checked to be ``"<off|on|diff>:<real|imag>"``."""
    out = tuple(channels)
    if not out:
        raise MRSDataError("argument 'channels': expected at least one channel such as 'off:real'")
    for ch in out:
        acq, _, part = ch.partition(":")
        if acq not in _ACQ or part not in _PART:
            raise MRSDataError(
                f"channel {ch!r}: expected '<off|on|diff>:<real|imag>', e.g. 'off:real'"
            )
    return out


def grid_rows(
    spec: np.ndarray,
    channels: Sequence[str],
    scale: np.ndarray | None = None,
    *,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Rows ``[..., rows, M]`` (float32) from complex grid spectra ``spec[..., 2, M]`` (OFF, ON).

    If ``scale`` ``[...]`` is given every row is divided by it. ``out``: write there.
    """
    chans = check_channels(channels)
    if out is None:
        out = np.empty((*spec.shape[:-2], len(chans), spec.shape[-1]), dtype=np.float32)
    for i, ch in enumerate(chans):
        acq, _, part = ch.partition(":")
        s = (
            spec[..., 0, :]
            if acq == "off"
            else spec[..., 1, :]
            if acq == "on"
            else spec[..., 1, :] - spec[..., 0, :]
        )
        out[..., i, :] = s.real if part == "real" else s.imag
    if scale is not None:
        safe = np.where(scale > 0, scale, 1.0).astype(np.float32)
        out /= safe[..., np.newaxis, np.newaxis]
    return out


def normalise_rows(
    spec: np.ndarray, channels: Sequence[str], *, out: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The paper's normalisation: rows divided by ``max |edit_off|`` over the window.

    ``spec`` is ``[..., 2, M]`` (OFF, ON). Returns ``(rows, scale)`` with
    ``scale[...] = max_k |spec[..., 0, k]|``. ``out``: write the rows there.
    """
    scale = np.abs(spec[..., 0, :]).max(axis=-1)
    return grid_rows(spec, channels, scale, out=out), scale


def network_input(
    spectra: EditedSpectra,
    channels: Sequence[str] = DEFAULT_CHANNELS,
    *,
    ppm_range: tuple[float, float] = NETWORK_PPM_RANGE,
    n_points: int = NETWORK_POINTS,
) -> np.ndarray:
    """Network input ``float32 [*batch, rows, n_points]`` from (real or synthetic) spectra.

    Each sub-spectrum is evaluated exactly on ``linspace(*ppm_range, n_points)``
    (DTFT by chirp-z, see :mod:`mrs_lib.synth.grid`), the requested channels
    (``"off|on|diff" x "real|imag"``) are stacked, and every row is divided by
    the maximum of ``|edit_off|`` in the window (the paper's normalisation).
    Works on a single acquisition read from a file or on a batch; chapter 2.
    """
    off, on = spectra.off, spectra.on
    gt = grid_transform(
        off.n_points,
        off.dwell_s,
        off.larmor_mhz,
        off.ppm_reference,
        ppm_range=(float(ppm_range[0]), float(ppm_range[1])),
        n_points=int(n_points),
    )
    spec = np.stack([gt(off.fid), gt(on.fid)], axis=-2)
    rows, _ = normalise_rows(spec, channels)
    return rows


def max_normalise(values: np.ndarray) -> np.ndarray:
    """Divide each vector (last axis) by its own maximum: the paper's metric space."""
    v = np.asarray(values, dtype=float)
    m = v.max(axis=-1, keepdims=True)
    return v / np.where(m > 0, m, 1.0)


def sum_normalise(values: np.ndarray) -> np.ndarray:
    """Divide each vector (last axis) by its sum: the training targets."""
    v = np.asarray(values, dtype=float)
    s = v.sum(axis=-1, keepdims=True)
    return v / np.where(s > 0, s, 1.0)


__all__ = [
    "DEFAULT_CHANNELS",
    "Channel",
    "check_channels",
    "grid_rows",
    "max_normalise",
    "network_input",
    "normalise_rows",
    "sum_normalise",
]

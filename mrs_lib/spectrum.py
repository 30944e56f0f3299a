"""The FID/spectrum data object: one convention, units in the names.

Convention (NIfTI-MRS, used everywhere inside the library; conversions to other
tools' conventions happen only in :mod:`mrs_lib.io`):

* time samples ``t_n = n * dwell_s``, ``n = 0 .. N-1``;
* a line at frequency ``f`` (Hz, relative to the receiver) has
  ``fid(t) ~ exp(+2 pi i f t)``;
* ``spectrum = fftshift(fft(fid))`` along the last axis, so array index
  increases with frequency;
* ``ppm = ppm_reference + f_hz / larmor_mhz``: ``ppm_reference`` is the
  chemical shift at the receiver frequency (0 Hz), 4.65 ppm by default.

Arrays are stored in ascending frequency (and ppm) order; plots invert the
x axis as MR spectroscopists expect (see chapter 1).

A :class:`Spectrum` holds a complex FID with any leading batch dimensions
(``fid.shape == (*batch, n_points)``). It is a frozen dataclass: every
operation returns a new object.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from scipy.signal import ZoomFFT

from .errors import MRSDataError
from .types import EDIT_STATES, NETWORK_POINTS, NETWORK_PPM_RANGE, WATER_PPM, EditState

ArrayLike = npt.ArrayLike

# Relative tolerance when two objects must share acquisition parameters.
_PARAM_RTOL = 1e-9


def _positive_finite(name: str, value: object) -> float:
    try:
        v = float(cast(float, value))
    except (TypeError, ValueError):
        raise MRSDataError(f"field '{name}': expected a positive number, got {value!r}") from None
    if not np.isfinite(v) or v <= 0:
        raise MRSDataError(f"field '{name}': expected a positive finite number, got {v!r}")
    return v


def _as_batch_param(value: ArrayLike, batch_shape: tuple[int, ...], name: str) -> np.ndarray:
    """Broadcast a scalar or per-spectrum parameter to ``(*batch, 1)`` for time-axis maths."""
    arr = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(arr)):
        raise MRSDataError(f"argument '{name}': expected finite values, got {value!r}")
    try:
        arr = np.broadcast_to(arr, batch_shape)
    except ValueError:
        raise MRSDataError(
            f"argument '{name}': shape {arr.shape} does not broadcast to the batch shape "
            f"{batch_shape}"
        ) from None
    return arr[..., np.newaxis]


def lorentzian_decay(t_s: ArrayLike, lw_hz: ArrayLike) -> np.ndarray:
    """Time-domain Lorentzian apodisation ``exp(-pi * lw_hz * t)``, shape ``(*lw.shape, *t.shape)``.

    Its Fourier transform is a Lorentzian of full width at half maximum ``lw_hz``.
    It equals 1 at ``t = 0``, so the spectral area (proportional to ``fid[0]``) is
    preserved.
    """
    return np.exp(-np.pi * np.asarray(lw_hz, dtype=float)[..., np.newaxis] * np.asarray(t_s))


def gaussian_decay(t_s: ArrayLike, lw_hz: ArrayLike) -> np.ndarray:
    """Time-domain Gaussian apodisation ``exp(-(pi * lw_hz * t)^2 / (4 ln 2))``.

    Its Fourier transform is a Gaussian of full width at half maximum ``lw_hz``;
    it equals 1 at ``t = 0`` (area preserving). Shape ``(*lw.shape, *t.shape)``.
    """
    lw = np.asarray(lw_hz, dtype=float)[..., np.newaxis]
    return np.exp(-((np.pi * lw * np.asarray(t_s)) ** 2) / (4.0 * np.log(2.0)))


@dataclass(frozen=True, eq=False)
class Spectrum:
    """A complex FID (with optional leading batch dimensions) and its acquisition parameters.

    Parameters
    ----------
    fid
        Complex array ``(*batch, n_points)`` in the NIfTI-MRS convention
        (module docstring). Real input is accepted and made complex.
    dwell_s
        Sampling interval in seconds (bandwidth ``1 / dwell_s`` Hz).
    larmor_mhz
        Spectrometer (proton Larmor) frequency in MHz.
    ppm_reference
        Chemical shift (ppm) of the receiver frequency, i.e. of 0 Hz.
    te_ms
        Echo time in ms, if known.
    edit
        MEGA-PRESS sub-spectrum (``"off"``, ``"on"`` or ``"diff"``), or ``None``.
    metadata
        Free-form extra information (kept, never interpreted).

    Notes
    -----
    Chapter 1 of the book introduces the object; ``spectrum()``, ``ppm_axis()``
    and the broadening, shift and phase operations follow the convention above.
    """

    fid: np.ndarray
    dwell_s: float
    larmor_mhz: float
    ppm_reference: float = WATER_PPM
    te_ms: float | None = None
    edit: EditState | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        try:
            arr = np.asarray(self.fid)
        except Exception as exc:  # ragged lists and similar
            raise MRSDataError(f"field 'fid': expected a numeric array ({exc})") from None
        if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
            raise MRSDataError(f"field 'fid': expected a numeric array, got dtype {arr.dtype}")
        if arr.ndim < 1 or arr.shape[-1] < 2:
            raise MRSDataError(
                f"field 'fid': expected shape (*batch, n_points) with n_points >= 2, "
                f"got {arr.shape}"
            )
        arr = arr.astype(np.complex128 if arr.dtype != np.complex64 else np.complex64, copy=False)
        if not np.all(np.isfinite(arr)):
            bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
            raise MRSDataError(f"field 'fid': expected finite values, found {bad} NaN/inf samples")
        object.__setattr__(self, "fid", arr)
        object.__setattr__(self, "dwell_s", _positive_finite("dwell_s", self.dwell_s))
        object.__setattr__(self, "larmor_mhz", _positive_finite("larmor_mhz", self.larmor_mhz))
        ref = float(self.ppm_reference)
        if not np.isfinite(ref):
            raise MRSDataError(f"field 'ppm_reference': expected a finite number, got {ref!r}")
        object.__setattr__(self, "ppm_reference", ref)
        if self.te_ms is not None:
            object.__setattr__(self, "te_ms", _positive_finite("te_ms", self.te_ms))
        if self.edit is not None and self.edit not in EDIT_STATES:
            raise MRSDataError(
                f"field 'edit': expected one of {EDIT_STATES} or None, got {self.edit!r}"
            )
        object.__setattr__(self, "metadata", dict(self.metadata))

    # ------------------------------------------------------------------ shape
    @property
    def n_points(self) -> int:
        """Number of time points (last axis)."""
        return int(self.fid.shape[-1])

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """Leading (batch) dimensions."""
        return tuple(self.fid.shape[:-1])

    @property
    def bw_hz(self) -> float:
        """Spectral width (bandwidth) in Hz, ``1 / dwell_s``."""
        return 1.0 / self.dwell_s

    @property
    def acquisition_time_s(self) -> float:
        """Duration of the sampled FID, ``n_points * dwell_s``."""
        return self.n_points * self.dwell_s

    def __len__(self) -> int:
        if not self.batch_shape:
            raise TypeError("a single Spectrum (no batch dimension) has no len()")
        return self.batch_shape[0]

    def __getitem__(self, index: Any) -> Spectrum:
        """Index the batch dimensions only (the time axis is always kept)."""
        if not self.batch_shape:
            raise IndexError("a single Spectrum (no batch dimension) cannot be indexed")
        idx = index if isinstance(index, tuple) else (index,)
        if any(i is Ellipsis for i in idx):
            raise IndexError("Ellipsis is not supported when indexing a Spectrum batch")
        return self.replace(fid=self.fid[(*idx, slice(None))])

    def replace(self, **changes: Any) -> Spectrum:
        """Return a copy with the given fields replaced (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------ axes
    def time_s(self) -> np.ndarray:
        """Sample times in seconds, ``n * dwell_s``."""
        return np.arange(self.n_points) * self.dwell_s

    def hz_axis(self, n_points: int | None = None) -> np.ndarray:
        """Frequency of each spectral point in Hz (ascending), for ``n_points`` (default: own)."""
        n = self.n_points if n_points is None else int(n_points)
        return np.fft.fftshift(np.fft.fftfreq(n, d=self.dwell_s))

    def ppm_axis(self, n_points: int | None = None) -> np.ndarray:
        """Chemical shift of each spectral point in ppm (ascending)."""
        return self.hz_to_ppm(self.hz_axis(n_points))

    def hz_to_ppm(self, hz: ArrayLike) -> np.ndarray:
        """Convert receiver-relative frequency (Hz) to chemical shift (ppm)."""
        return self.ppm_reference + np.asarray(hz, dtype=float) / self.larmor_mhz

    def ppm_to_hz(self, ppm: ArrayLike) -> np.ndarray:
        """Convert chemical shift (ppm) to receiver-relative frequency (Hz)."""
        return (np.asarray(ppm, dtype=float) - self.ppm_reference) * self.larmor_mhz

    # ------------------------------------------------------------------ spectra
    def spectrum(self) -> np.ndarray:
        """Complex spectrum ``fftshift(fft(fid))`` along the last axis (ascending frequency)."""
        return np.fft.fftshift(np.fft.fft(self.fid, axis=-1), axes=-1)

    @classmethod
    def from_spectrum(cls, spec: ArrayLike, **params: Any) -> Spectrum:
        """Inverse of :meth:`spectrum`: build the object from a ``fftshift``-ed spectrum."""
        fid = np.fft.ifft(np.fft.ifftshift(np.asarray(spec), axes=-1), axis=-1)
        return cls(fid=fid, **params)

    def to_grid(
        self,
        ppm_range: tuple[float, float] = NETWORK_PPM_RANGE,
        n_points: int = NETWORK_POINTS,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Spectrum evaluated on an arbitrary ppm grid (the network input grid by default).

        Returns ``(ppm, spec)`` with ``ppm = linspace(lo, hi, n_points)`` (ascending)
        and ``spec[..., k] = sum_n fid[n] exp(-2 pi i f_k n dwell)``, the discrete-time
        Fourier transform at the grid frequencies ``f_k`` (chirp-z / zoom FFT, cost
        O(N log N)). This equals the FFT of the infinitely zero-filled FID: on the
        FFT's own bins it reproduces :meth:`spectrum` exactly, so amplitudes are on
        the same scale whatever the acquisition's bandwidth or number of points.
        """
        lo, hi = (float(ppm_range[0]), float(ppm_range[1]))
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise MRSDataError(
                f"argument 'ppm_range': expected (low, high) with low < high, got {ppm_range!r}"
            )
        if int(n_points) < 2:
            raise MRSDataError(f"argument 'n_points': expected >= 2, got {n_points!r}")
        f_lo, f_hi = self.ppm_to_hz([lo, hi])
        half_bw = 0.5 * self.bw_hz
        if f_lo < -half_bw - 1e-9 or f_hi > half_bw + 1e-9:
            raise MRSDataError(
                f"argument 'ppm_range': {lo}-{hi} ppm lies outside the acquired band "
                f"{self.hz_to_ppm(-half_bw):.3f}-{self.hz_to_ppm(half_bw):.3f} ppm"
            )
        zoom = ZoomFFT(
            self.n_points, [float(f_lo), float(f_hi)], m=int(n_points), fs=self.bw_hz, endpoint=True
        )
        return np.linspace(lo, hi, int(n_points)), zoom(self.fid, axis=-1)

    # ------------------------------------------------------------------ processing
    def broaden(self, lorentzian_hz: ArrayLike = 0.0, gaussian_hz: ArrayLike = 0.0) -> Spectrum:
        """Broaden every line by a Lorentzian and/or Gaussian of the given FWHM (Hz).

        Both together give a Voigt line. Apodisation is ``exp(-pi L t) *
        exp(-(pi G t)^2 / (4 ln 2))``, equal to 1 at ``t = 0``: the area under every
        line is preserved (peak heights drop). Widths may be scalars or arrays that
        broadcast to the batch shape (one width per spectrum). Negative widths
        (narrowing) are allowed only for Lorentzians, where they undo an earlier
        broadening.
        """
        lor = _as_batch_param(lorentzian_hz, self.batch_shape, "lorentzian_hz")
        gau = _as_batch_param(gaussian_hz, self.batch_shape, "gaussian_hz")
        if np.any(gau < 0):
            raise MRSDataError(f"argument 'gaussian_hz': expected >= 0, got {gaussian_hz!r}")
        t = self.time_s()
        window = lorentzian_decay(t, lor[..., 0]) * gaussian_decay(t, gau[..., 0])
        return self.replace(fid=self.fid * window)

    def shift(self, hz: ArrayLike = 0.0, ppm: ArrayLike = 0.0) -> Spectrum:
        """Move every line by ``hz`` (plus ``ppm`` converted to Hz); positive = higher ppm."""
        total = _as_batch_param(hz, self.batch_shape, "hz") + self.larmor_mhz * _as_batch_param(
            ppm, self.batch_shape, "ppm"
        )
        return self.replace(fid=self.fid * np.exp(2j * np.pi * total * self.time_s()))

    def phase(
        self,
        zero_deg: ArrayLike = 0.0,
        first_deg_per_ppm: ArrayLike = 0.0,
        pivot_ppm: float | None = None,
    ) -> Spectrum:
        """Apply ``spec *= exp(i (phi0 + phi1 (ppm - pivot)))``, angles in degrees.

        Zero-order phase multiplies the FID; first-order phase is linear in
        frequency about ``pivot_ppm`` (default: ``ppm_reference``) and is applied
        as the equivalent time shift of the circular FID, i.e. it is exact on the
        FFT grid.
        """
        phi0 = np.deg2rad(_as_batch_param(zero_deg, self.batch_shape, "zero_deg"))
        phi1 = np.deg2rad(_as_batch_param(first_deg_per_ppm, self.batch_shape, "first_deg_per_ppm"))
        fid = self.fid * np.exp(1j * phi0)
        if np.any(phi1 != 0):
            pivot = self.ppm_reference if pivot_ppm is None else float(pivot_ppm)
            ramp = np.exp(1j * phi1 * (self.ppm_axis() - pivot))
            spec = np.fft.fftshift(np.fft.fft(fid, axis=-1), axes=-1) * ramp
            fid = np.fft.ifft(np.fft.ifftshift(spec, axes=-1), axis=-1)
        return self.replace(fid=fid)

    def zero_fill(self, n_points: int) -> Spectrum:
        """Pad the FID with zeros to ``n_points`` (interpolates the spectrum, keeps line areas)."""
        n = int(n_points)
        if n < self.n_points:
            raise MRSDataError(
                f"argument 'n_points': zero-filling needs >= {self.n_points} points, got {n}"
            )
        pad = [(0, 0)] * (self.fid.ndim - 1) + [(0, n - self.n_points)]
        return self.replace(fid=np.pad(self.fid, pad))

    def truncate(self, n_points: int) -> Spectrum:
        """Keep the first ``n_points`` of the FID."""
        n = int(n_points)
        if not 2 <= n <= self.n_points:
            raise MRSDataError(f"argument 'n_points': expected 2..{self.n_points}, got {n}")
        return self.replace(fid=self.fid[..., :n])

    def conj(self) -> Spectrum:
        """Complex conjugate FID (mirrors the spectrum about the receiver frequency)."""
        return self.replace(fid=np.conj(self.fid))

    # ------------------------------------------------------------------ arithmetic
    def _check_compatible(self, other: Spectrum) -> None:
        for name in ("dwell_s", "larmor_mhz", "ppm_reference"):
            a, b = getattr(self, name), getattr(other, name)
            if not np.isclose(a, b, rtol=_PARAM_RTOL, atol=0.0):
                raise MRSDataError(f"field '{name}': spectra differ ({a!r} vs {b!r})")
        if self.n_points != other.n_points:
            raise MRSDataError(
                f"field 'fid': n_points differ ({self.n_points} vs {other.n_points})"
            )

    def __add__(self, other: Spectrum) -> Spectrum:
        if not isinstance(other, Spectrum):
            return NotImplemented
        self._check_compatible(other)
        return self.replace(fid=self.fid + other.fid, edit=None)

    def __sub__(self, other: Spectrum) -> Spectrum:
        if not isinstance(other, Spectrum):
            return NotImplemented
        self._check_compatible(other)
        return self.replace(fid=self.fid - other.fid, edit=None)

    def __mul__(self, scale: ArrayLike) -> Spectrum:
        if isinstance(scale, Spectrum):
            return NotImplemented
        factor = np.asarray(scale)
        if not np.all(np.isfinite(factor)):
            raise MRSDataError(f"scale factor: expected finite values, got {scale!r}")
        if factor.ndim:
            factor = np.broadcast_to(factor, self.batch_shape)[..., np.newaxis]
        return self.replace(fid=self.fid * factor)

    __rmul__ = __mul__

    def __repr__(self) -> str:
        batch = f"batch={self.batch_shape}, " if self.batch_shape else ""
        edit = f", edit={self.edit!r}" if self.edit else ""
        te = f", te_ms={self.te_ms:g}" if self.te_ms is not None else ""
        return (
            f"Spectrum({batch}n_points={self.n_points}, bw_hz={self.bw_hz:g}, "
            f"larmor_mhz={self.larmor_mhz:g}, ppm_reference={self.ppm_reference:g}{te}{edit})"
        )


@dataclass(frozen=True, eq=False)
class EditedSpectra:
    """A MEGA-PRESS acquisition: edit-OFF and edit-ON sub-spectra with equal parameters.

    ``diff`` is ``on - off`` (no factor 1/2; Gannet-style methods halve it themselves).
    """

    off: Spectrum
    on: Spectrum

    def __post_init__(self) -> None:
        self.off._check_compatible(self.on)
        if self.off.batch_shape != self.on.batch_shape:
            raise MRSDataError(
                f"field 'on': batch shape {self.on.batch_shape} differs from OFF "
                f"{self.off.batch_shape}"
            )
        object.__setattr__(self, "off", self.off.replace(edit="off"))
        object.__setattr__(self, "on", self.on.replace(edit="on"))

    @property
    def diff(self) -> Spectrum:
        """The difference spectrum ``on - off``."""
        return (self.on - self.off).replace(edit="diff")

    def __getitem__(self, state: EditState) -> Spectrum:
        if state == "off":
            return self.off
        if state == "on":
            return self.on
        if state == "diff":
            return self.diff
        raise KeyError(f"edit state {state!r}: expected one of {EDIT_STATES}")

    def map(self, fn: Any) -> EditedSpectra:
        """Apply ``fn(Spectrum) -> Spectrum`` to both sub-spectra."""
        return EditedSpectra(off=fn(self.off), on=fn(self.on))


__all__ = ["EditedSpectra", "Spectrum", "gaussian_decay", "lorentzian_decay"]

"""Eddy-current correction with a water reference, and residual water removal by HLSVD.

**Eddy currents** (Klose, MRM 1990) add the same time-dependent phase
``theta(t)`` to the water reference and the metabolite FIDs of a scan.
The water reference is a single strong line, so its own phase is
``theta(t) + 2 pi f_w t + phi_w``: :func:`eddy_current_phase` removes the
line's frequency ``f_w`` (peak of its spectrum) and keeps the rest, the
eddy-current phase plus a constant (so the result is also zero-order phased
on water). Where the water signal has decayed below ``min_fraction`` of its
start the phase is noise: it is held at its last reliable value.

**Residual water** is removed with HLSVD (Hankel-Lanczos SVD; Barkhuijsen et
al., JMR 1987; Pijnappel et al., JMR 1992): the first ``n_fit`` points form a
Hankel matrix whose ``rank`` dominant singular vectors span the signal's
damped exponentials; their poles follow from the shift invariance of the
left singular vectors, the complex amplitudes from a linear least-squares fit
of the whole FID; components whose frequency lies in the water band
(default 4.2-5.2 ppm) are subtracted. The partial SVD is Lanczos
(:func:`scipy.sparse.linalg.svds`) on the Hankel matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import hankel, lstsq
from scipy.sparse.linalg import svds

from .._threads import blas_threads
from ..errors import MRSDataError
from ..spectrum import Spectrum


def eddy_current_phase(
    water: np.ndarray, dwell_s: float, *, min_fraction: float = 0.05
) -> tuple[np.ndarray, float]:
    """Phase ``theta(t)`` (radians, ``[N]``) of a water FID without its frequency; and ``f_w``."""
    n = water.shape[-1]
    spec = np.fft.fftshift(np.fft.fft(water, n=4 * n))
    freqs = np.fft.fftshift(np.fft.fftfreq(4 * n, d=dwell_s))
    f_w = float(freqs[int(np.argmax(np.abs(spec)))])
    t = np.arange(n) * dwell_s
    demod = water * np.exp(-2j * np.pi * f_w * t)
    phase = np.unwrap(np.angle(demod))
    mag = np.abs(water)
    if mag[0] <= 0:
        raise MRSDataError("eddy-current correction: the water reference has no signal")
    bad = np.flatnonzero(mag < min_fraction * mag[0])
    if bad.size:
        phase[bad[0] :] = phase[max(bad[0] - 1, 0)]
    return phase, f_w


def correct_eddy_currents(fid: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """``fid[..., N] * exp(-i theta(t))``."""
    return fid * np.exp(-1j * phase)


@dataclass(frozen=True)
class HLSVDResult:
    """Components of one FID: frequencies (Hz), dampings (1/s), complex amplitudes; removed ones."""

    freq_hz: np.ndarray
    damping_per_s: np.ndarray
    amplitude: np.ndarray
    removed: np.ndarray

    def record(self) -> dict[str, object]:
        sel = self.removed
        return {
            "n_components": len(self.freq_hz),
            "n_removed": int(sel.sum()),
            "removed_freq_hz": np.round(self.freq_hz[sel], 3).tolist(),
            "removed_abs_amplitude": [float(f"{a:.6g}") for a in np.abs(self.amplitude[sel])],
        }


def hlsvd(
    fid: np.ndarray, dwell_s: float, *, rank: int = 25, n_fit: int = 1024
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Damped-exponential model of ``fid[N]``: ``(freq_hz, damping_per_s, amplitude)``.

    ``fid(t_n) ~ sum_k a_k exp((-d_k + 2 pi i f_k) t_n)``.
    """
    fid = np.asarray(fid, complex)
    if fid.ndim != 1:
        raise MRSDataError(f"hlsvd: expected one FID [N], got shape {fid.shape}")
    m = min(int(n_fit), fid.shape[-1])
    rows = m // 2
    rank = int(min(rank, rows - 2))
    if rank < 1:
        raise MRSDataError(f"hlsvd: {m} points are too few for a decomposition")
    h = hankel(fid[:rows], fid[rows - 1 : m])  # rows x (m - rows + 1)
    with blas_threads(1):  # small dense problems: more threads only contend
        if rank < min(h.shape) - 1:
            u, s, _vh = svds(h, k=rank, random_state=0)
            u = u[:, np.argsort(s)[::-1]]
        else:
            u = np.linalg.svd(h, full_matrices=False)[0][:, :rank]
        # shift invariance: u[1:] = u[:-1] Z; poles are the eigenvalues of Z
        z_mat = lstsq(u[:-1], u[1:])[0]
        poles = np.linalg.eigvals(z_mat)
        poles = poles[np.abs(poles) > 1e-12]
        n = np.arange(fid.shape[-1])
        with np.errstate(over="ignore", invalid="ignore"):
            basis = poles[None, :] ** n[:, None]
        ok = np.all(np.isfinite(basis), axis=0)
        poles, basis = poles[ok], basis[:, ok]
        amp = np.linalg.lstsq(basis, fid, rcond=None)[0]
    freq = np.angle(poles) / (2 * np.pi * dwell_s)
    damping = -np.log(np.abs(poles)) / dwell_s
    return freq, damping, amp


def remove_water(
    fid: np.ndarray,
    like: Spectrum,
    *,
    ppm_range: tuple[float, float] = (4.2, 5.2),
    rank: int = 25,
    n_fit: int = 1024,
) -> tuple[np.ndarray, HLSVDResult]:
    """Subtract the HLSVD components of ``fid[N]`` whose frequency is in ``ppm_range``."""
    freq, damping, amp = hlsvd(fid, like.dwell_s, rank=rank, n_fit=n_fit)
    ppm = like.hz_to_ppm(freq)
    lo, hi = sorted(ppm_range)
    removed = (ppm >= lo) & (ppm <= hi)
    t = np.arange(fid.shape[-1]) * like.dwell_s
    model = (
        amp[removed, None]
        * np.exp((-damping[removed, None] + 2j * np.pi * freq[removed, None]) * t)
    ).sum(0)
    return fid - model, HLSVDResult(freq, damping, amp, removed)


__all__ = [
    "HLSVDResult",
    "correct_eddy_currents",
    "eddy_current_phase",
    "hlsvd",
    "remove_water",
]

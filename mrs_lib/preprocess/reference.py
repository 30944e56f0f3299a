"""Frequency referencing (Cr 3.027 / NAA 2.008 ppm) and zero-order phasing.

Referencing cross-correlates the magnitude spectrum (phase-free) between
1.7 and 3.4 ppm with a template of two Lorentzians at the Cr CH3 (3.027 ppm)
and NAA CH3 (2.008 ppm) positions, over shifts up to ``max_shift_ppm``; a
pair of peaks 1.02 ppm apart cannot be mimicked by the water line (removed
before, and outside the window) or by lipids at 0.9-1.3 ppm (outside the
window for any allowed shift). The integer-bin estimate is refined by a
parabola through the correlation maximum on a 4x zero-filled grid.

Zero-order phase: the angle of the complex spectrum summed over narrow
windows around the referenced Cr and NAA peaks, less a straight baseline
through each window's ends (the tails of lipids and water), since the area of
a Lorentzian's complex spectrum has the line's phase; the spectrum is
multiplied by ``exp(-i phi0)``, making the singlets absorptive.
"""

from __future__ import annotations

import numpy as np

from ..errors import MRSDataError
from ..spectrum import Spectrum

CR_PPM = 3.027
NAA_PPM = 2.008


def _spectrum(fid: np.ndarray, zf: int) -> np.ndarray:
    return np.fft.fftshift(np.fft.fft(fid, n=zf * fid.shape[-1], axis=-1), axes=-1)


def find_reference_shift(
    fid: np.ndarray,
    like: Spectrum,
    *,
    peaks_ppm: tuple[float, ...] = (CR_PPM, NAA_PPM),
    window_ppm: tuple[float, float] = (1.7, 3.4),
    max_shift_ppm: float = 0.4,
    template_lw_hz: float = 6.0,
    zero_fill: int = 4,
) -> float:
    """Shift (Hz) that moves the peaks of ``fid[N]`` (OFF, water removed) onto ``peaks_ppm``.

    Positive = the spectrum must move to higher ppm (apply with a ``+`` shift).
    """
    n = fid.shape[-1] * zero_fill
    mag = np.abs(_spectrum(fid, zero_fill))
    hz = np.fft.fftshift(np.fft.fftfreq(n, d=like.dwell_s))
    ppm = like.hz_to_ppm(hz)
    step_hz = hz[1] - hz[0]
    max_bins = int(np.ceil(max_shift_ppm * like.larmor_mhz / step_hz))
    lo, hi = window_ppm
    sel = np.flatnonzero((ppm >= lo) & (ppm <= hi))
    if sel.size < 8 or sel[0] - max_bins < 0 or sel[-1] + max_bins >= n:
        raise MRSDataError(
            f"frequency referencing: the spectrum does not cover {lo - max_shift_ppm:.2f}-"
            f"{hi + max_shift_ppm:.2f} ppm"
        )
    gamma = template_lw_hz / 2.0
    template = sum(gamma**2 / ((hz[sel] - like.ppm_to_hz(p)) ** 2 + gamma**2) for p in peaks_ppm)
    template = np.asarray(template) - np.mean(template)
    lags = np.arange(-max_bins, max_bins + 1)
    # data observed at ppm p + lag: the peaks sit ``lag`` bins away from the template
    scores = np.array([np.dot(mag[sel + k] - mag[sel + k].mean(), template) for k in lags])
    i = int(np.argmax(scores))
    frac = 0.0
    if 0 < i < len(lags) - 1:
        y0, y1, y2 = scores[i - 1 : i + 2]
        den = y0 - 2 * y1 + y2
        frac = 0.5 * (y0 - y2) / den if den < 0 else 0.0
    found_hz = (lags[i] + frac) * step_hz
    return float(-found_hz)


def refine_peak_shift(
    fid: np.ndarray,
    like: Spectrum,
    peak_ppm: float = CR_PPM,
    half_width_ppm: float = 0.06,
    zero_fill: int = 8,
) -> float:
    """Residual shift (Hz) of the magnitude maximum near ``peak_ppm`` (parabolic interpolation)."""
    n = fid.shape[-1] * zero_fill
    mag = np.abs(_spectrum(fid, zero_fill))
    hz = np.fft.fftshift(np.fft.fftfreq(n, d=like.dwell_s))
    ppm = like.hz_to_ppm(hz)
    sel = np.flatnonzero(np.abs(ppm - peak_ppm) <= half_width_ppm)
    if sel.size < 3:
        return 0.0
    j = sel[int(np.argmax(mag[sel]))]
    frac = 0.0
    if 0 < j < n - 1:
        y0, y1, y2 = mag[j - 1 : j + 2]
        den = y0 - 2 * y1 + y2
        frac = 0.5 * (y0 - y2) / den if den < 0 else 0.0
    peak_hz = hz[j] + frac * (hz[1] - hz[0])
    return float(like.ppm_to_hz(peak_ppm) - peak_hz)


def zero_order_phase(
    fid: np.ndarray,
    like: Spectrum,
    *,
    peaks_ppm: tuple[float, ...] = (CR_PPM, NAA_PPM),
    half_width_ppm: float = 0.1,
) -> float:
    """Phase (degrees) to apply to ``fid[N]`` so that the referenced peaks are absorptive."""
    spec = np.fft.fftshift(np.fft.fft(fid))
    ppm = like.ppm_axis(fid.shape[-1])
    total = 0j
    for p in peaks_ppm:
        idx = np.flatnonzero(np.abs(ppm - p) <= half_width_ppm)
        if idx.size < 5:
            continue
        # the tails of other lines (lipids, water) are a smooth complex baseline under the
        # window: a straight line through its two ends is taken away before summing
        seg = spec[idx]
        edge = max(1, idx.size // 8)
        a, b = seg[:edge].mean(), seg[-edge:].mean()
        total += (seg - np.linspace(a, b, idx.size)).sum()
    if abs(total) == 0:
        raise MRSDataError("zero-order phase: no signal at the reference peaks")
    return float(-np.degrees(np.angle(total)))


__all__ = [
    "CR_PPM",
    "NAA_PPM",
    "find_reference_shift",
    "refine_peak_shift",
    "zero_order_phase",
]

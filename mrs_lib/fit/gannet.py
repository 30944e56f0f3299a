"""A Gannet-style GABA+/Cr peak fit (chapter 6 of the book).

The simple peer of the linear-combination fit: Gannet's method :cite:p:`edden2014`,
re-written from its published description (no Gannet code):

* GABA+: the real part of DIFF/2 (``(on - off) / 2``) over 2.79-3.55 ppm is
  fitted with ``F = A exp(B (f - f0)^2) + C (f - f0) + D`` (a Gaussian on a
  straight baseline; ``B = -1 / (2 sigma^2)``), the choline subtraction
  artefact at 3.16-3.285 ppm weighted 0.001. Area ``A sqrt(pi / -B)``.
* Cr: the real part of OFF over 2.6-3.6 ppm is fitted with two Lorentzians
  (Cr at ~3.02 ppm, Cho 0.18 ppm above it) sharing width and phase, on a
  straight baseline. Area of the Cr line ``A pi w / 2`` (``w`` = FWHM).
* GABA+/Cr = GABA area / Cr area (both in spectrum units x ppm).

The spectra are evaluated on a fine ppm grid with
:meth:`~mrs_lib.spectrum.Spectrum.to_grid` (the infinitely zero-filled
spectrum), so the areas do not depend on the acquisition's zero filling.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import least_squares

from ..errors import MRSDataError
from ..spectrum import EditedSpectra, Spectrum

GABA_RANGE_PPM = (2.79, 3.55)
CR_RANGE_PPM = (2.6, 3.6)
CHO_ARTEFACT_PPM = (3.16, 3.285)
CHO_OFFSET_PPM = 0.18
GRID_STEP_PPM = 0.002


@dataclass(frozen=True, eq=False)
class PeakFit:
    """One peak fit: parameters, area, fit error and the curves on its window."""

    params: np.ndarray
    area: float
    fwhm_ppm: float
    centre_ppm: float
    fit_error_percent: float
    ppm: np.ndarray
    data: np.ndarray
    model: np.ndarray


@dataclass(frozen=True, eq=False)
class GannetFit:
    """GABA+ (DIFF) and Cr (OFF) fits of one acquisition and their ratio."""

    gaba: PeakFit
    cr: PeakFit

    @property
    def gaba_cr(self) -> float:
        """GABA+/Cr area ratio (Gannet's headline number, no relaxation corrections)."""
        return self.gaba.area / self.cr.area if self.cr.area > 0 else float("nan")


def _require_signal(spectrum: Spectrum, what: str) -> None:
    """An all-zero spectrum has no peak to fit: refuse it rather than fit the initial guess."""
    if not np.any(spectrum.fid):
        raise MRSDataError(f"{what}: the spectrum is all zero (no signal to fit)")


def _grid(spectrum: Spectrum, ppm_range: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    n = round((ppm_range[1] - ppm_range[0]) / GRID_STEP_PPM) + 1
    ppm, spec = spectrum.to_grid(ppm_range, n)
    return ppm, spec.real


def gaussian_baseline(f: np.ndarray, p: np.ndarray) -> np.ndarray:
    """``A exp(B (f - f0)^2) + C (f - f0) + D`` with ``p = [A, B, f0, C, D]``."""
    a, b, f0, c, d = p
    return a * np.exp(b * (f - f0) ** 2) + c * (f - f0) + d


def fit_gaba(diff: Spectrum) -> PeakFit:
    """Gaussian + linear baseline fit of the GABA+ peak in DIFF/2 (module docstring).

    ``diff`` is the library's DIFF (``on - off``); it is halved here as Gannet does.
    """
    if diff.batch_shape:
        raise MRSDataError(f"fit_gaba: expected one spectrum, got batch shape {diff.batch_shape}")
    f, y = _grid(diff, GABA_RANGE_PPM)
    if not np.any(diff.fid):  # ON equals OFF (nothing edited): GABA+ is exactly 0, not a fit
        p = np.array([0.0, -90.0, 3.026, 0.0, 0.0])
        zero = np.zeros_like(f)
        fwhm = float(2.0 * np.sqrt(2.0 * np.log(2.0)) * np.sqrt(1.0 / 180.0))
        return PeakFit(p, 0.0, fwhm, 3.026, _fit_error(zero, zero, 0.0), f, zero, zero)
    y = 0.5 * y
    scale = float(np.max(np.abs(y))) or 1.0
    ys = y / scale
    slope = (ys[-1] - ys[0]) / (f[-1] - f[0])
    x0 = np.array([ys.max() - ys.min(), -90.0, 3.026, slope, 0.5 * (ys[0] + ys[-1])])
    lo = np.array([0.0, -200.0, 2.87, -np.inf, -np.inf])
    hi = np.array([4000.0 * max(ys.max(), 1e-12), -40.0, 3.12, np.inf, np.inf])
    x0 = np.clip(x0, lo + 1e-9, hi - 1e-9)
    w = np.where((f >= CHO_ARTEFACT_PPM[0]) & (f <= CHO_ARTEFACT_PPM[1]), 0.001, 1.0)
    res = least_squares(lambda p: w * (gaussian_baseline(f, p) - ys), x0, bounds=(lo, hi))
    p = res.x.copy()
    p[[0, 3, 4]] *= scale
    model = gaussian_baseline(f, p)
    area = float(p[0] * np.sqrt(np.pi / -p[1]))
    sigma = np.sqrt(-1.0 / (2.0 * p[1]))
    return PeakFit(
        params=p,
        area=area,
        fwhm_ppm=float(2.0 * np.sqrt(2.0 * np.log(2.0)) * sigma),
        centre_ppm=float(p[2]),
        fit_error_percent=_fit_error(y, model, p[0]),
        ppm=f,
        data=y,
        model=model,
    )


def two_lorentzians(f: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Cr + Cho Lorentzians (shared FWHM ``w`` and phase) on a line.

    ``p = [A_cr, A_cho, f0, w, phase_rad, C, D]``; each line is
    ``A Re{exp(i phase) (w/2) / (w/2 + i (f - f_k))}`` (peak height ``A`` in absorption; the
    FFT of ``exp(2 pi i f_k t - pi w t)`` in the library convention).
    """
    a_cr, a_cho, f0, w, ph, c, d = p
    out = c * (f - f0) + d
    for amp, fk in ((a_cr, f0), (a_cho, f0 + CHO_OFFSET_PPM)):
        out = out + amp * (np.exp(1j * ph) * (w / 2) / (w / 2 + 1j * (f - fk))).real
    return out


def fit_creatine(off: Spectrum) -> PeakFit:
    """Two-Lorentzian Cr/Cho fit of the OFF spectrum over 2.6-3.6 ppm (module docstring)."""
    if off.batch_shape:
        raise MRSDataError(
            f"fit_creatine: expected one spectrum, got batch shape {off.batch_shape}"
        )
    _require_signal(off, "fit_creatine (edit OFF)")
    f, y = _grid(off, CR_RANGE_PPM)
    scale = float(np.max(np.abs(y))) or 1.0
    ys = y / scale
    near = (f > 2.95) & (f < 3.1)
    f_peak = float(f[near][np.argmax(ys[near])]) if near.any() else 3.02
    x0 = np.array(
        [max(ys[near].max(), 1e-3) if near.any() else 1.0, 0.1, f_peak, 0.05, 0.0, 0.0, 0.0]
    )
    lo = np.array([0.0, 0.0, 2.94, 0.005, -np.pi, -np.inf, -np.inf])
    hi = np.array([np.inf, np.inf, 3.10, 0.3, np.pi, np.inf, np.inf])
    x0 = np.clip(x0, lo + 1e-9, hi - 1e-9)
    res = least_squares(lambda p: two_lorentzians(f, p) - ys, x0, bounds=(lo, hi))
    p = res.x.copy()
    p[[0, 1, 5, 6]] *= scale
    model = two_lorentzians(f, p)
    return PeakFit(
        params=p,
        area=float(p[0] * np.pi * p[3] / 2.0),
        fwhm_ppm=float(p[3]),
        centre_ppm=float(p[2]),
        fit_error_percent=_fit_error(y, model, p[0]),
        ppm=f,
        data=y,
        model=model,
    )


def _fit_error(y: np.ndarray, model: np.ndarray, height: float) -> float:
    """Residual SD as a percentage of the fitted peak height (Gannet's 'FitError' idea)."""
    if height <= 0:
        return float("inf")
    return float(100.0 * np.std(y - model) / height)


def plot_gannet(fit: GannetFit, axes: Any = None) -> Any:
    """Two panels: the GABA+ Gaussian on DIFF/2 and the Cr/Cho Lorentzians on OFF.

    The ppm axes run high to low.
    """
    # Imported on use: importing the fit should not load pyplot (nor choose its backend).
    import matplotlib.pyplot as plt

    if axes is None:
        _fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for ax, peak, title in ((axes[0], fit.gaba, "GABA+ (DIFF/2)"), (axes[1], fit.cr, "Cr (OFF)")):
        ax.plot(peak.ppm, peak.data, color="0.3", lw=1, label="data")
        ax.plot(peak.ppm, peak.model, color="C3", lw=1.2, label="model")
        ax.plot(peak.ppm, peak.data - peak.model, color="0.6", lw=0.8, label="residual")
        ax.set_xlim(peak.ppm.max(), peak.ppm.min())
        ax.set_xlabel("chemical shift (ppm)")
        ax.set_yticks([])
        ax.set_title(f"{title}: area {peak.area:.3g}, fit error {peak.fit_error_percent:.1f}%")
    axes[0].legend(fontsize="small", frameon=False)
    return axes


def fit_gannet(spectra: EditedSpectra) -> GannetFit:
    """GABA+ from DIFF/2 and Cr from OFF of one acquisition (no batch dimension).

    An all-zero OFF or ON spectrum raises :class:`~mrs_lib.errors.MRSDataError`:
    a fit of no signal returns its starting guess, not a measurement. ON equal
    to OFF (a zero DIFF) gives GABA+ = 0.
    """
    _require_signal(spectra.off, "fit_gannet (edit OFF)")
    _require_signal(spectra.on, "fit_gannet (edit ON)")
    return GannetFit(gaba=fit_gaba(spectra.diff), cr=fit_creatine(spectra.off))


__all__ = [
    "CHO_ARTEFACT_PPM",
    "CR_RANGE_PPM",
    "GABA_RANGE_PPM",
    "GannetFit",
    "PeakFit",
    "fit_creatine",
    "fit_gaba",
    "fit_gannet",
    "gaussian_baseline",
    "plot_gannet",
    "two_lorentzians",
]

"""Settings of the LCModel-style fitter: :class:`LCMConfig` and the per-mode defaults."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ...errors import MRSDataError
from .mimic import LCMODEL_PRESET

#: Named presets (``LCMConfig.preset``): field values applied before explicit overrides.
PRESETS: dict[str, dict[str, Any]] = {"lcmodel": LCMODEL_PRESET}

#: Default fitting windows (ppm, low-high) per edit state, as LCModel's defaults.
DEFAULT_PPM_RANGE: dict[str, tuple[float, float]] = {
    "off": (0.2, 4.0),
    "on": (0.2, 4.0),
    "diff": (1.95, 4.2),
}


@dataclass(frozen=True)
class LCMConfig:
    """Settings of :class:`~mrs_lib.fit.lcm.fitter.LCMFitter` (defaults mirror LCModel's).

    ``ppm_range`` and ``baseline`` default per mode: OFF/ON 0.2-4.0 ppm with a
    spline baseline, DIFF 1.95-4.2 ppm without ('mega-press-3').
    ``baseline_lambda`` scales the second-difference penalty relative to the
    number of spectral points per knot interval (larger = stiffer baseline);
    ``"auto"`` (default) chooses it per spectrum in LCModel's spirit: after a
    fit at ``1.0``, the stiffest value (of 1e-2 ... 1e4) that an F-test against
    the most flexible one does not reject at significance
    ``baseline_reject_prob``, then the nonlinear fit is refined with it.

    Priors (None = LCModel's): ``damping_mean_hz``/``damping_sd_hz`` of the
    per-metabolite damping (:meth:`~mrs_lib.fit.lcm.model.LCMModel.damping_prior`;
    the SD defaults to 0.5 Hz: LCModel's 0.15 Hz at 3 T shrinks noisy estimates
    so much that the %SD no longer grows in proportion to the noise),
    ``shift_sd_ppm`` with per-metabolite ``shift_sd_overrides``
    (:data:`~mrs_lib.fit.lcm.model.LCMODEL_SHIFT_SD`), ``phi1_sd_deg_per_ppm``.
    ``prior_sd="fit"`` weighs them against the fit's residual SD when that is
    larger than the noise (LCModel's ``SDREF``), ``"noise"`` against the noise.
    ``lineshape``: ``"voigt"`` (common Lorentzian and Gaussian) or ``"kernel"``
    (LCModel's model-free kernel, roughness weight ``kernel_alpha``:
    :mod:`~mrs_lib.fit.lcm.kernel`), sized from the Voigt's FWHM
    (``kernel_width="voigt"``) or from LCModel's preliminary Gaussian
    (``"lcmodel"``), or ``"voigt+kernel"``: the Voigt convolved with a kernel
    regularised about the identity (keeps the Lorentzian wings, models what a
    Voigt cannot, e.g. an eddy-current lineshape). ``baseline_lambda="lcmodel"``:
    LCModel's baseline penalty and its choice of ``alphaB``
    (:mod:`~mrs_lib.fit.lcm.mimic`).
    ``preset="lcmodel"`` sets all of LCModel's choices
    (:data:`~mrs_lib.fit.lcm.mimic.LCMODEL_PRESET`; fields given explicitly win):
    the fit then reproduces what LCModel does, Lorentzian wings lost to the
    baseline included; the default is the more accurate fit. ``sharpen`` lets the
    common Lorentzian go below zero, down to minus the basis's own linewidth
    (LCModel only broadens).
    """

    ppm_range: tuple[float, float] | None = None
    baseline: bool | None = None
    knot_spacing_ppm: float = 0.15
    baseline_lambda: float | str = "auto"
    baseline_reject_prob: float = 0.05
    zero_fill: int = 2
    damping_mean_hz: float | None = None
    damping_sd_hz: float | None = 0.5
    max_damping_hz: float = 20.0
    sharpen: bool = True
    shift_sd_ppm: float = 0.004
    shift_sd_overrides: Mapping[str, float] | None = None
    prior_sd: str = "fit"
    lineshape: str = "voigt"
    kernel_alpha: float = 1e3
    kernel_width: str = "voigt"
    preset: str | None = None
    max_shift_ppm: float = 0.1
    phi1_sd_deg_per_ppm: float | None = None
    max_gaussian_hz: float = 25.0
    n_starts: int = 3
    start_shifts_ppm: tuple[float, ...] = tuple(np.round(np.arange(-0.08, 0.0801, 0.02), 3))
    start_phases_deg: tuple[float, ...] = tuple(np.arange(0.0, 360.0, 30.0))
    pivot_ppm: float | None = None
    max_nfev: int = 200
    explore_nfev: int = 20
    blas_threads: int | None = 1
    ftol: float = 1e-6
    xtol: float = 1e-6


@dataclass(frozen=True, eq=False)
class RatioPrior:
    """A Gaussian prior on one fit's concentration *ratios* (e.g. a network's estimate).

    The fit adds, per metabolite ``j`` with a finite ``mean[j]``, the penalty
    ``((C_j - s mean_j) / (sd_j s_hat max(mean)))^2`` (weighted like every
    other prior of the fit, by the noise or the fit's residual SD) where the
    scale ``s >= 0`` is a free linear unknown, so only the *ratios* of
    ``mean`` matter (a network's sum-normalised fractions work as they are);
    ``s_hat`` is the least-squares scale of ``mean`` to the concentrations of
    the fit without the prior, so ``sd`` is an SD in units of the largest
    concentration (the paper's max-normalised metric). NaN in ``mean`` = no
    prior on that metabolite. The prior enters at the last stage of the fit
    (the concentrations are solved exactly for each nonlinear parameter
    vector, so there is nothing to initialise with it); the Cramér-Rao %SD
    leave it out.
    """

    mean: np.ndarray
    sd: float | np.ndarray = 0.1

    def __post_init__(self) -> None:
        mean = np.asarray(self.mean, dtype=float).ravel()
        sd = np.broadcast_to(np.asarray(self.sd, dtype=float), mean.shape).copy()
        finite = np.isfinite(mean)
        if np.any(mean[finite] < 0) or not np.any(mean[finite] > 0):
            raise MRSDataError(
                f"RatioPrior field 'mean': expected values >= 0 with at least one > 0, got {mean}"
            )
        if np.any(~(sd[finite] > 0)):
            raise MRSDataError(f"RatioPrior field 'sd': expected values > 0, got {sd}")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "sd", sd)

    def weights(self, s_hat: float, sigma: float) -> np.ndarray:
        """Row weights ``sigma / (sd_j s_hat max(mean))`` (0 where ``mean`` is NaN)."""
        finite = np.isfinite(self.mean)
        top = float(np.nanmax(self.mean)) * max(float(s_hat), 1e-300)
        return np.where(finite, sigma / (np.asarray(self.sd) * top), 0.0)


def resolve_config(mode: str, config: LCMConfig | None, overrides: Mapping[str, Any]) -> LCMConfig:
    """``config`` (default :class:`LCMConfig`) with ``overrides`` and the defaults of ``mode``.

    ``ppm_range`` and ``baseline`` left at None get :data:`DEFAULT_PPM_RANGE`
    and "a baseline except in DIFF mode". An unknown ``mode`` raises
    :class:`~mrs_lib.errors.MRSDataError`.
    """
    if mode not in DEFAULT_PPM_RANGE:
        raise MRSDataError(f"argument 'mode': expected 'off', 'on' or 'diff', got {mode!r}")
    base = config or LCMConfig()
    preset = overrides.get("preset", base.preset)
    if preset is not None:
        if preset not in PRESETS:
            raise MRSDataError(f"field 'preset': expected one of {sorted(PRESETS)}, got {preset!r}")
        base = replace(base, **PRESETS[preset])
    cfg = replace(base, **overrides)
    if cfg.ppm_range is None:
        cfg = replace(cfg, ppm_range=DEFAULT_PPM_RANGE[mode])
    if cfg.baseline is None:
        cfg = replace(cfg, baseline=mode != "diff")
    if cfg.lineshape not in ("voigt", "kernel", "voigt+kernel"):
        raise MRSDataError(
            "field 'lineshape': expected 'voigt', 'kernel' or 'voigt+kernel', got "
            f"{cfg.lineshape!r}"
        )
    if cfg.kernel_width not in ("voigt", "lcmodel"):
        raise MRSDataError(
            f"field 'kernel_width': expected 'voigt' or 'lcmodel', got {cfg.kernel_width!r}"
        )
    if isinstance(cfg.baseline_lambda, str) and cfg.baseline_lambda not in ("auto", "lcmodel"):
        raise MRSDataError(
            "field 'baseline_lambda': expected a number, 'auto' or 'lcmodel', got "
            f"{cfg.baseline_lambda!r}"
        )
    return cfg

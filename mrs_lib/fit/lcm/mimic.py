"""What LCModel 6.3 chooses per spectrum, for the fit's ``preset="lcmodel"``.

Three choices of LCModel's (``LCModel.f``) that the default fit makes otherwise:

* **the kernel's width** (:func:`preliminary_fwhm_hz`): LCModel sizes its
  lineshape kernel from the FWHM ``FWHMST`` of the extra *Gaussian*
  broadening of its preliminary fit (the basis times ``exp(-(a t)^2)``);
  :func:`~mrs_lib.fit.lcm.kernel.kernel_size` turns it into ``NSIDES`` and
  ``INCSID``. Here the Gaussian is the least-squares match (Parseval: in time)
  to the lines the Voigt starting fit found;
* **the baseline penalty** (:func:`regb_gram`): cubic B-splines scaled by
  ``RMSAMP / delta`` (rms of the complex data in the window over the knot
  spacing in ppm), penalised by ``(SDREF alphaB / delta^4)^2 beta' G beta``
  with ``G`` the Gram matrix of the splines' second derivatives (``REGB``:
  16, -9, 0, 1 in the interior; its square root is scaled by ``delta^-4`` for
  normalised B-splines) and ``SDREF`` the fit's residual SD: on splines in the
  fit's units the weight is ``(SDREF alphaB / (RMSAMP delta^3))^2``;
* **the baseline stiffness** (``LCMSolver.choose_alphab``): LCModel's criterion is
  CONTIN's: against the Reference Solution at the most flexible ``alphaB``
  (``ALPBMN``), the F-ratio ``((SSQ - SSQref) / NDFref) / (SSQref / (NY -
  NDFref))`` with ``NDFref`` the reference's effective number of parameters
  must have a "probability to reject" (its F cumulative probability) in
  ``PRMNMX = [0.02, 0.08]``; ``USEMXB``: the largest such ``alphaB``. The
  limits ``ALPBMN = 1.7e-3`` and ``ALPBMX = 0.84`` scale with
  ``(knot spacing / 0.075 ppm)^3``. LCModel searches by regula falsi over a
  few full refits; here the linear problem is re-solved on a grid of
  ``alphaB`` at the nonlinear parameters of the starting fit (then one refit).

LCModel's kernel roughness weight ``alphaS`` enters as ``(SDREF alphaS)^2``
times the squared second differences of the kernel, i.e. ``kernel_alpha =
alphaS^2`` in :class:`~mrs_lib.fit.lcm.kernel.Kernel`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.stats import f as f_dist

#: LCModel's ALPBMN, ALPBST, ALPBMX (for DKNTMN_STANDARD = 0.075 ppm) and ``PRMNMX(*, 1)``.
ALPHAB_MIN, ALPHAB_START, ALPHAB_MAX, KNOT_STANDARD_PPM = 1.7e-3, 2.5e-3, 0.84, 0.075
PREJ_RANGE = (0.02, 0.08)
#: Knot spacing (ppm) of LCModel's preliminary baseline: max(DKNTMN, RBACKG(1) x FWHMST input).
PRELIMINARY_KNOT_PPM = max(0.15, 6.0 * 0.04)

#: Settings of ``preset="lcmodel"`` (:func:`~mrs_lib.fit.lcm.config.resolve_config`): LCModel's
#: kernel sized by its rule, its baseline penalty and stiffness rule, its damping prior SD.
LCMODEL_PRESET: dict[str, Any] = {
    "lineshape": "kernel",
    "kernel_width": "lcmodel",
    "baseline_lambda": "lcmodel",
    "damping_sd_hz": None,
    "kernel_alpha": 1.0,
}

_FOUR_LN2 = 4.0 * np.log(2.0)


def regb_gram(n: int) -> np.ndarray:
    """LCModel's ``REGB`` for ``n >= 6`` cubic B-splines: 6 x the Gram matrix of their ``B''``.

    Interior rows ``(1, 0, -9, 16, -9, 0, 1)``; the first and last three
    diagonal entries 2, 8, 14 and off-diagonals -3, -6 (no boundary conditions).
    """
    if n < 6:
        raise ValueError(f"regb_gram: need at least 6 B-splines, got {n}")
    g = np.zeros((n, n))
    for i in range(n):
        g[i, i] = 16.0
        if i + 1 < n:
            g[i, i + 1] = -9.0
        if i + 3 < n:
            g[i, i + 3] = 1.0
    g[0, 0] = g[-1, -1] = 2.0
    g[0, 1] = g[-2, -1] = -3.0
    g[1, 1] = g[-2, -2] = 8.0
    g[1, 2] = g[-3, -2] = -6.0
    g[2, 2] = g[-3, -3] = 14.0
    return np.triu(g) + np.triu(g, 1).T


def penalty_rows(gram: np.ndarray) -> np.ndarray:
    """Rows ``R`` with ``R' R = gram`` (symmetric square root; ``gram`` is singular)."""
    w, v = np.linalg.eigh(gram)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def alphab_limits(knot_spacing_ppm: float) -> tuple[float, float, float]:
    """``(ALPBMN, ALPBMX, ALPBST)`` scaled by ``(knot spacing / 0.075)^3`` as LCModel does."""
    scale = (float(knot_spacing_ppm) / KNOT_STANDARD_PPM) ** 3
    return ALPHAB_MIN * scale, ALPHAB_MAX * scale, ALPHAB_START * scale


def penalty_weight(alphab: float, sdref: float, rmsamp: float, knot_step_ppm: float) -> float:
    """The fit's baseline weight ``(SDREF alphaB / (RMSAMP delta^3))^2`` for an ``alphaB``."""
    return float((sdref * alphab / (rmsamp * knot_step_ppm**3)) ** 2)


def probability_to_reject(ssq: float, ssq_ref: float, ndf_ref: float, n_data: int) -> float:
    """LCModel's ``PREJ``: F cumulative probability of the SSQ increase over the reference."""
    df2 = max(float(n_data) - ndf_ref, 1.0)
    if ssq_ref <= 0:
        return 0.0 if ssq <= ssq_ref else 1.0
    ratio = max(ssq - ssq_ref, 0.0) / ndf_ref / (ssq_ref / df2)
    return float(f_dist.cdf(ratio, ndf_ref, df2))


def pick_alphab(alphas: np.ndarray, prej: np.ndarray, upper: float = PREJ_RANGE[1]) -> int:
    """Index of the largest ``alphaB`` whose ``PREJ <= upper`` (the first when none is)."""
    ok = np.flatnonzero(np.asarray(prej) <= upper)
    if ok.size == 0:
        return 0
    return int(ok[np.argmax(np.asarray(alphas)[ok])])


def preliminary_fwhm_hz(
    extra_lor_hz: float, extra_gau_hz: float, base_lw_hz: float, baseline_hz: float = 0.0
) -> float:
    """FWHM (Hz) of LCModel's preliminary Gaussian broadening for the lines a Voigt fit found.

    Data lines decay as ``exp(-pi (b + L) t - (pi g t)^2 / 4 ln 2)`` (``b`` the
    basis's Lorentzian linewidth, ``L``, ``g`` the extra Lorentzian and
    Gaussian FWHM); LCModel's preliminary model is the basis times
    ``exp(-(pi G t)^2 / 4 ln 2)``. Returns the ``G`` of the least-squares
    match (amplitude free; Parseval: in time, up to 12 decay times). With a
    baseline (``baseline_hz`` > 0: LCModel's preliminary one has unregularised
    knots ``max(DKNTMN, RBACKG(1) FWHMST) = max(0.15, 6 x 0.04) ppm`` apart)
    the times below ``1 / (2 baseline_hz)``, the features broad enough for
    such a spline, are left out of the match.
    """
    b, lor, gau = max(base_lw_hz, 0.0), max(extra_lor_hz, 0.0), max(extra_gau_hz, 0.0)
    if lor <= 0 and gau <= 0:
        return 0.0
    rate = b + lor + 0.5 * gau
    t = np.linspace(0.0, 12.0 / (np.pi * max(rate, 1e-3)), 4000)
    if baseline_hz > 0:
        t = t[t >= 0.5 / baseline_hz]
    target = np.exp(-np.pi * (b + lor) * t - (np.pi * gau * t) ** 2 / _FOUR_LN2)
    base = np.exp(-np.pi * b * t)

    def cost(width: float) -> float:
        m = base * np.exp(-((np.pi * width * t) ** 2) / _FOUR_LN2)
        amp = float(m @ target) / float(m @ m)
        return float(np.sum((target - amp * m) ** 2))

    hi = 4.0 * (lor + gau) + 1.0
    res = minimize_scalar(cost, bounds=(0.0, hi), method="bounded", options={"xatol": 1e-4})
    return float(res.x)


__all__ = [
    "ALPHAB_MAX",
    "ALPHAB_MIN",
    "ALPHAB_START",
    "LCMODEL_PRESET",
    "PREJ_RANGE",
    "PRELIMINARY_KNOT_PPM",
    "alphab_limits",
    "penalty_rows",
    "penalty_weight",
    "pick_alphab",
    "preliminary_fwhm_hz",
    "probability_to_reject",
    "regb_gram",
]

"""An LCModel-style linear-combination fitter (chapter 6 of the book).

The model of the real part of the zero-filled spectrum over a ppm window is
(after :cite:t:`provencher1993`; chapter 6 derives it)::

    y(v) = Re{ exp(i(phi0 + phi1 (v - pivot))) sum_j C_j S_j(v) } + sum_l beta_l B_l(v)

    S_j = FFT[ b_j(t) exp(-pi (L + gamma_j) t) exp(-(pi g t)^2 / 4 ln 2)
                      exp(2 pi i (delta + eps_j) larmor t) ]

* ``b_j`` is the basis FID of metabolite ``j`` (ON, OFF or DIFF);
* ``gamma_j >= 0`` is an extra Lorentzian damping per metabolite (Hz FWHM)
  with LCModel's prior mean, an extra ``1/T2`` of 2/s scaled by
  ``sqrt(larmor / 85.16 MHz)`` (0.77 Hz at 3 T), and an SD of 0.5 Hz
  (LCModel's is 0.15 Hz: :class:`~mrs_lib.fit.lcm.config.LCMConfig`);
* ``eps_j`` is a small shift per metabolite with LCModel's prior ``0 +- 0.004``
  ppm (NAA 0.002; in the DIFF, 'mega-press-3', GABA 0.008); ``delta`` is the
  common referencing shift. The priors are weighted by the residual SD of the
  fit (LCModel's ``SDREF``) when that exceeds the noise;
* the common lineshape is a Voigt kernel (Lorentzian ``L`` and Gaussian ``g``
  FWHM in Hz), or with ``lineshape="kernel"`` LCModel's model-free,
  roughness-regularised convolution kernel (:mod:`~mrs_lib.fit.lcm.kernel`).
  The Voigt keeps the long wings of Lorentzian lines, which LCModel's short
  kernel gives to the baseline (chapter 6 measures it);
* ``phi0``, ``phi1`` are zero- and first-order phases (the :meth:`Spectrum.phase`
  convention: the fitted values are the phase *of the data*; the first-order
  phase has LCModel's prior, SD 20 deg/ppm, 4 in the DIFF);
* ``B_l`` are cubic B-splines with knots every ``knot_spacing_ppm``, their
  coefficients penalised by ``alpha * ||D2 beta||^2`` (a discrete
  ``integral b''^2``); no baseline in the DIFF mode (LCModel's 'mega-press-3').

A basis sampled otherwise than the data (bandwidth, length, field within 20 %)
is resampled to the data's grid as LCModel does (:mod:`~mrs_lib.fit.lcm.resample`).

Concentrations ``C_j >= 0`` and the baseline are linear: for each value of the
nonlinear parameters they are solved exactly (the baseline is projected out,
then NNLS), and :func:`scipy.optimize.least_squares` moves the nonlinear
parameters (variable projection, with Kaufman's Jacobian). Several starts
come from a coarse grid over (shift, phase). Cramér-Rao %SD follow from the
linearised covariance of all parameters scaled by the residual SD; a
concentration on its bound gets 999 (the covariance is that of the estimate
over noise draws: with informative priors smaller than the posterior one).

Modules: :mod:`~mrs_lib.fit.lcm.model` (the model, its Jacobian, bounds and
priors), :mod:`~mrs_lib.fit.lcm.solver` (starts, the least-squares loop, the
baseline stiffness, CRLB), :mod:`~mrs_lib.fit.lcm.fitter` (:class:`LCMFitter`,
:func:`fit_lcm`), :mod:`~mrs_lib.fit.lcm.config`, :mod:`~mrs_lib.fit.lcm.result`,
:mod:`~mrs_lib.fit.lcm.toy` (a test basis), :mod:`~mrs_lib.fit.lcm.plot`,
:mod:`~mrs_lib.fit.lcm.kernel` (LCModel's lineshape),
:mod:`~mrs_lib.fit.lcm.mimic` (LCModel's own per-spectrum choices: ``preset="lcmodel"``
reproduces real LCModel, wing losses included) and
:mod:`~mrs_lib.fit.lcm.resample` (another acquisition grid).
Every public name is importable from here.
"""

from __future__ import annotations

from ..._threads import blas_threads
from .config import DEFAULT_PPM_RANGE, LCMConfig, RatioPrior
from .fitter import LCMFitter, fit_lcm
from .model import bspline_design, second_difference
from .plot import plot_fit
from .result import SD_ON_BOUND, LCMFit, combine_edited
from .solver import noise_sd
from .toy import TOY_LINES, toy_basis

__all__ = [
    "DEFAULT_PPM_RANGE",
    "SD_ON_BOUND",
    "TOY_LINES",
    "LCMConfig",
    "LCMFit",
    "LCMFitter",
    "RatioPrior",
    "blas_threads",
    "bspline_design",
    "combine_edited",
    "fit_lcm",
    "noise_sd",
    "plot_fit",
    "second_difference",
    "toy_basis",
]

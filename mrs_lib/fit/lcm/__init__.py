"""An LCModel-style linear-combination fitter (chapter 6 of the book).

The model of the real part of the zero-filled spectrum over a ppm window is
(lcmodel.md, "The LCModel algorithm")::

    y(v) = Re{ exp(i(phi0 + phi1 (v - pivot))) sum_j C_j S_j(v) } + sum_l beta_l B_l(v)

    S_j = FFT[ b_j(t) exp(-pi (L + gamma_j) t) exp(-(pi g t)^2 / 4 ln 2)
                      exp(2 pi i (delta + eps_j) larmor t) ]

* ``b_j`` is the basis FID of metabolite ``j`` (ON, OFF or DIFF);
* ``gamma_j >= 0`` is an extra Lorentzian damping per metabolite (Hz FWHM),
  with a Gaussian prior of mean 0 and SD ``damping_sd_hz``;
* ``eps_j`` is a small shift per metabolite with prior ``0 +- shift_sd_ppm``
  (0.004 ppm as in LCModel); ``delta`` is the common referencing shift;
* the common lineshape is a Voigt kernel (Lorentzian ``L`` and Gaussian ``g``
  FWHM in Hz). This is a parametric stand-in for LCModel's model-free,
  roughness-regularised convolution kernel: it captures the symmetric
  broadening of simulated and phantom data with two parameters;
* ``phi0``, ``phi1`` are zero- and first-order phases (the :meth:`Spectrum.phase`
  convention: the fitted values are the phase *of the data*);
* ``B_l`` are cubic B-splines with knots every ``knot_spacing_ppm``, their
  coefficients penalised by ``alpha * ||D2 beta||^2`` (a discrete
  ``integral b''^2``); no baseline in the DIFF mode (LCModel's 'mega-press-3').

Concentrations ``C_j >= 0`` and the baseline are linear: for each value of the
nonlinear parameters they are solved exactly (the baseline is projected out,
then NNLS), and :func:`scipy.optimize.least_squares` moves the nonlinear
parameters (variable projection, with Kaufman's Jacobian). Several starts
come from a coarse grid over (shift, phase). Cramér-Rao %SD follow from the
linearised covariance of all parameters scaled by the residual SD; a
concentration on its bound gets 999.

Modules: :mod:`~mrs_lib.fit.lcm.model` (the model, its Jacobian, bounds and
priors), :mod:`~mrs_lib.fit.lcm.solver` (starts, the least-squares loop, the
baseline stiffness, CRLB), :mod:`~mrs_lib.fit.lcm.fitter` (:class:`LCMFitter`,
:func:`fit_lcm`), :mod:`~mrs_lib.fit.lcm.config`, :mod:`~mrs_lib.fit.lcm.result`,
:mod:`~mrs_lib.fit.lcm.toy` (a test basis) and :mod:`~mrs_lib.fit.lcm.plot`.
Every public name is importable from here.
"""

from __future__ import annotations

from ..._threads import blas_threads
from .config import DEFAULT_PPM_RANGE, LCMConfig
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
    "blas_threads",
    "bspline_design",
    "combine_edited",
    "fit_lcm",
    "noise_sd",
    "plot_fit",
    "second_difference",
    "toy_basis",
]

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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import scipy.fft as sfft
from scipy.interpolate import BSpline
from scipy.optimize import least_squares, nnls

from .._threads import blas_threads
from ..errors import MRSDataError
from ..sim.basis import Basis
from ..spectrum import Spectrum
from ..types import EditState

#: Cramér-Rao %SD reported for a concentration on its bound (LCModel's convention).
SD_ON_BOUND = 999.0

#: Default fitting windows (ppm, low-high) per edit state, as in lcmodel.md.
DEFAULT_PPM_RANGE: dict[str, tuple[float, float]] = {
    "off": (0.2, 4.0),
    "on": (0.2, 4.0),
    "diff": (1.95, 4.2),
}

_FOUR_LN2 = 4.0 * np.log(2.0)


@dataclass(frozen=True)
class LCMConfig:
    """Settings of :class:`LCMFitter` (defaults mirror LCModel's where it has them).

    ``ppm_range`` and ``baseline`` default per mode: OFF/ON 0.2-4.0 ppm with a
    spline baseline, DIFF 1.95-4.2 ppm without ('mega-press-3').
    ``baseline_lambda`` scales the second-difference penalty relative to the
    number of spectral points per knot interval (larger = stiffer baseline);
    ``"auto"`` (default) chooses it per spectrum in LCModel's spirit: after a
    fit at ``1.0``, the stiffest value (of 1e-2 ... 1e4) that an F-test against
    the most flexible one does not reject at significance
    ``baseline_reject_prob``, then the nonlinear fit is refined with it.
    """

    ppm_range: tuple[float, float] | None = None
    baseline: bool | None = None
    knot_spacing_ppm: float = 0.15
    baseline_lambda: float | str = "auto"
    baseline_reject_prob: float = 0.05
    zero_fill: int = 2
    damping_sd_hz: float = 3.0
    max_damping_hz: float = 20.0
    shift_sd_ppm: float = 0.004
    max_shift_ppm: float = 0.1
    phi1_sd_deg_per_ppm: float = 10.0
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
class LCMFit:
    """One fitted spectrum: concentrations, %SD, nonlinear parameters and curves.

    Concentrations are in basis units: ``data ~ sum_j C_j basis_j``. Curves are
    on ``ppm`` (ascending) in data units, phased like the data.
    """

    metabolites: tuple[str, ...]
    concentrations: np.ndarray
    sd_percent: np.ndarray
    mode: str
    phase0_deg: float
    phase1_deg_per_ppm: float
    pivot_ppm: float
    shift_ppm: float
    lorentzian_hz: float
    gaussian_hz: float
    damping_hz: np.ndarray
    shifts_ppm: np.ndarray
    ppm: np.ndarray
    data: np.ndarray
    fit: np.ndarray
    baseline: np.ndarray
    components: np.ndarray
    residual_sd: float
    noise_sd: float
    n_starts: int
    nfev: int
    success: bool
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def residual(self) -> np.ndarray:
        """Data minus fit (including baseline)."""
        return self.data - self.fit

    def table(self) -> list[tuple[str, float, float]]:
        """Rows ``(metabolite, concentration, %SD)`` in basis order."""
        return [
            (m, float(c), float(s))
            for m, c, s in zip(self.metabolites, self.concentrations, self.sd_percent, strict=True)
        ]


def bspline_design(x: np.ndarray, knot_spacing: float) -> np.ndarray:
    """Cubic B-spline design matrix on ``x`` with uniform knots about ``knot_spacing`` apart.

    Columns are the B-splines whose support meets ``[x.min(), x.max()]``; they
    sum to one everywhere on it (partition of unity).
    """
    lo, hi = float(x.min()), float(x.max())
    n_int = max(1, int(np.ceil((hi - lo) / knot_spacing - 1e-9)))
    h = (hi - lo) / n_int
    knots = lo + h * np.arange(-3, n_int + 4)
    return BSpline.design_matrix(x, knots, 3, extrapolate=True).toarray()


def second_difference(n: int) -> np.ndarray:
    """The ``(n-2, n)`` second-difference operator (penalty on spline curvature)."""
    return np.diff(np.eye(n), n=2, axis=0)


def noise_sd(spectrum: Spectrum, zero_fill: int = 2) -> float:
    """Noise SD of the real zero-filled spectrum, from signal-free bands.

    Uses the parts of the band below -0.5 ppm and above 9.0 ppm (no metabolite,
    water or lipid signal there), each detrended with a straight line. Returns
    NaN when fewer than 32 such points exist.
    """
    spec = np.fft.fftshift(np.fft.fft(spectrum.fid, n=zero_fill * spectrum.n_points))
    ppm = spectrum.ppm_axis(zero_fill * spectrum.n_points)
    pieces = []
    for mask in (ppm < -0.5, ppm > 9.0):
        if mask.sum() >= 16:
            x, y = ppm[mask], spec.real[mask]
            pieces.append(y - np.polyval(np.polyfit(x, y, 1), x))
    if not pieces or sum(p.size for p in pieces) < 32:
        return float("nan")
    return float(np.std(np.concatenate(pieces)))


class LCMFitter:
    """LCModel-style fitter for one basis and one edit state (module docstring).

    Precomputes everything that depends only on the basis and the data's
    acquisition grid; :meth:`fit` then fits one spectrum. Chapter 6 of the book
    builds it up from NNLS on a basis.

    Parameters
    ----------
    basis
        Basis set with the same dwell time and Larmor frequency as the data.
    mode
        ``"off"``, ``"on"`` or ``"diff"``: which basis spectra to fit with.
    config
        :class:`LCMConfig`; keyword overrides may be given as ``**overrides``.
    """

    def __init__(
        self,
        basis: Basis,
        mode: EditState = "off",
        config: LCMConfig | None = None,
        **overrides: Any,
    ) -> None:
        if mode not in DEFAULT_PPM_RANGE:
            raise MRSDataError(f"argument 'mode': expected 'off', 'on' or 'diff', got {mode!r}")
        cfg = replace(config or LCMConfig(), **overrides)
        if cfg.ppm_range is None:
            cfg = replace(cfg, ppm_range=DEFAULT_PPM_RANGE[mode])
        if cfg.baseline is None:
            cfg = replace(cfg, baseline=mode != "diff")
        self.config = cfg
        self.mode = mode
        self.basis = basis
        self.metabolites = basis.metabolites
        self._grid_key: tuple[float, ...] | None = None

    # ---------------------------------------------------------------- setup
    def _prepare(self, spectrum: Spectrum) -> None:
        """Align the basis with the data's grid and build the window, baseline and projector."""
        key = (spectrum.dwell_s, spectrum.larmor_mhz, spectrum.ppm_reference, spectrum.n_points)
        if key == self._grid_key:
            return
        cfg = self.config
        b = self.basis[self.mode]
        if not np.isclose(b.dwell_s, spectrum.dwell_s, rtol=1e-6):
            raise MRSDataError(
                f"field 'dwell_s': basis {b.dwell_s!r} s differs from the data {spectrum.dwell_s!r} s"
            )
        if not np.isclose(b.larmor_mhz, spectrum.larmor_mhz, rtol=1e-3):
            raise MRSDataError(
                f"field 'larmor_mhz': basis {b.larmor_mhz!r} differs from the data {spectrum.larmor_mhz!r}"
            )
        n = spectrum.n_points
        fid = b.fid[:, :n] if b.n_points >= n else np.pad(b.fid, [(0, 0), (0, n - b.n_points)])
        t = spectrum.time_s()
        # Re-reference the basis to the data's receiver frequency.
        d_ref_hz = (b.ppm_reference - spectrum.ppm_reference) * spectrum.larmor_mhz
        fid = fid * np.exp(2j * np.pi * d_ref_hz * t)
        nz = cfg.zero_fill * n
        freqs = np.fft.fftfreq(nz, d=spectrum.dwell_s)
        ppm_all = spectrum.hz_to_ppm(freqs)
        lo, hi = cfg.ppm_range  # type: ignore[misc]
        kidx = np.flatnonzero((ppm_all >= lo) & (ppm_all <= hi))
        kidx = kidx[np.argsort(ppm_all[kidx])]
        if kidx.size < 16:
            raise MRSDataError(f"ppm range {lo}-{hi}: only {kidx.size} spectral points in the band")
        self._t = t
        self._block = 64
        dt = spectrum.dwell_s
        self._t_lo = np.arange(self._block) * dt
        self._t_hi = np.arange(-(-t.size // self._block)) * self._block * dt
        self._fid = fid
        self._nz = nz
        self._kidx = kidx
        self._ppm = ppm_all[kidx]
        self._larmor = spectrum.larmor_mhz
        self._pivot = 0.5 * (lo + hi) if cfg.pivot_ppm is None else float(cfg.pivot_ppm)
        self._dppm = self._ppm - self._pivot
        n_win = kidx.size
        if cfg.baseline:
            bmat = bspline_design(self._ppm, cfg.knot_spacing_ppm)
            self._bmat, self._dmat = bmat, second_difference(bmat.shape[1])
            self._pts_per_knot = n_win / max(1, bmat.shape[1] - 3)
            lam = cfg.baseline_lambda
            self._set_lambda(1.0 if lam == "auto" else float(lam))
        else:
            self._bmat = np.zeros((n_win, 0))
            self._dmat = np.zeros((0, 0))
            self._alpha = 0.0
            self._q_top = np.zeros((n_win, 0))
            self._q_bot = np.zeros((0, 0))
        self._grid_key = key

    def _set_lambda(self, lam: float) -> None:
        """Baseline stiffness ``alpha = lam * points per knot interval``; rebuild the projector."""
        n_win = self._bmat.shape[0]
        self._lambda = float(lam)
        self._alpha = self._lambda * self._pts_per_knot
        q, _ = np.linalg.qr(np.vstack([self._bmat, np.sqrt(self._alpha) * self._dmat]))
        self._q_top, self._q_bot = q[:n_win], q[n_win:]

    def _baseline_dof(self) -> float:
        """Effective degrees of freedom of the penalised baseline, ``trace(B (B'B + a D'D)^-1 B')``."""
        b, d = self._bmat, self._dmat
        lhs = b.T @ b + self._alpha * d.T @ d
        return float(np.trace(np.linalg.solve(lhs, b.T @ b)))

    def _choose_lambda(self, theta: np.ndarray, y: np.ndarray) -> dict[str, float]:
        """The stiffest baseline the data allow, at fixed nonlinear parameters (LCModel's idea).

        For each candidate stiffness the linear problem is re-solved and an
        F-test compares its residual with that of the most flexible candidate
        (``F = (dRSS / d_dof) / (RSS_0 / dof_0)``, the degrees of freedom of the
        penalised spline being ``trace`` of its hat matrix). The stiffest
        candidate that is *not* rejected at significance ``baseline_reject_prob``
        (its F-test p-value stays above it) is kept. LCModel states its target as
        a "probability to reject" of 0.02-0.08; we read that as the significance
        level of this test.
        """
        from scipy.stats import f as f_dist

        cfg = self.config
        lams = np.logspace(-2, 4, 13)
        a = self._columns(theta)[0]
        rows = []
        for lam in lams:
            self._set_lambda(lam)
            c, _ = self._solve_linear(a, y)
            resid = y - a @ c
            lhs = self._bmat.T @ self._bmat + self._alpha * self._dmat.T @ self._dmat
            beta = np.linalg.solve(lhs, self._bmat.T @ resid)
            rss = float(np.sum((resid - self._bmat @ beta) ** 2))
            rows.append((lam, rss, self._baseline_dof()))
        lam0, rss0, dof0 = rows[0]
        dof_res = max(1.0, y.size - dof0 - theta.size - a.shape[1])
        chosen = (lam0, 1.0)
        for lam, rss, dof in rows[1:]:
            ddof = max(dof0 - dof, 1e-6)
            fstat = ((rss - rss0) / ddof) / (rss0 / dof_res) if rss0 > 0 else np.inf
            p_value = float(f_dist.sf(fstat, ddof, dof_res)) if np.isfinite(fstat) else 0.0
            if p_value >= cfg.baseline_reject_prob:
                chosen = (lam, p_value)
        self._set_lambda(chosen[0])
        return {"baseline_lambda": chosen[0], "baseline_p_value": chosen[1]}

    def _project(self, v: np.ndarray) -> np.ndarray:
        """``P [v; 0]``: remove the (penalised) baseline's reach from data-row vectors ``v``."""
        if self._q_top.shape[1] == 0:
            return v
        coef = self._q_top.T @ v
        return np.concatenate([v - self._q_top @ coef, -(self._q_bot @ coef)], axis=0)

    # ---------------------------------------------------------------- model
    def _unpack(
        self, theta: np.ndarray
    ) -> tuple[float, float, float, float, float, np.ndarray, np.ndarray]:
        j = len(self.metabolites)
        return (
            theta[0],
            theta[1],
            theta[2],
            theta[3],
            theta[4],
            theta[5 : 5 + j],
            theta[5 + j : 5 + 2 * j],
        )

    def _windowed(self, theta: np.ndarray) -> np.ndarray:
        """Modified basis FIDs ``b_j w_j(t)`` (before the FFT).

        ``w_j(t) = exp(a_j t) exp(-(pi g t)^2 / 4 ln 2)`` with complex
        ``a_j = -pi (L + gamma_j) + 2 pi i (delta + eps_j) larmor``; the
        exponential on the uniform time grid is built from two short tables
        (``exp(a k dt) = exp(a B q dt) exp(a r dt)``, ``k = B q + r``), which is
        exact to rounding and ~20x cheaper than a complex ``exp`` per sample.
        """
        _p0, _p1, delta, lor, gau2, gamma, eps = self._unpack(theta)
        a = -np.pi * (lor + gamma) + 2j * np.pi * (delta + eps) * self._larmor
        n = self._t.size
        lo = np.exp(a[:, None] * self._t_lo)
        hi = np.exp(a[:, None] * self._t_hi)
        lin = (hi[:, :, None] * lo[:, None, :]).reshape(a.size, -1)[:, :n]
        gauss = np.exp(-(np.pi**2 * gau2 / _FOUR_LN2) * self._t**2) if gau2 else 1.0
        return self._fid * lin * gauss

    def _fft_win(self, x: np.ndarray) -> np.ndarray:
        return sfft.fft(x, n=self._nz, axis=-1)[..., self._kidx]

    def _phase(self, theta: np.ndarray) -> np.ndarray:
        return np.exp(1j * (theta[0] + theta[1] * self._dppm))

    def _columns(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Real model columns ``A`` (n_win, J) and the windowed complex spectra (J, n_win)."""
        g = self._windowed(theta)
        s = self._fft_win(g)
        return (self._phase(theta) * s).real.T, s

    def _solve_linear(self, a: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """NNLS for concentrations with the baseline projected out; returns (c, reduced residual)."""
        pa, py = self._project(a), self._project(y)
        scale = np.linalg.norm(pa, axis=0)
        scale[scale == 0] = 1.0
        c, _ = nnls(pa / scale, py, maxiter=50 * a.shape[1])
        c = c / scale
        return c, py - pa @ c

    def _prior(self, theta: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
        """Prior residuals (in data units: sigma * z-score) and their derivative weights."""
        cfg = self.config
        j = len(self.metabolites)
        w = np.zeros(theta.size)
        w[1] = sigma / np.deg2rad(cfg.phi1_sd_deg_per_ppm)
        w[5 : 5 + j] = sigma / cfg.damping_sd_hz
        w[5 + j :] = sigma / cfg.shift_sd_ppm
        keep = w > 0
        return w[keep] * theta[keep], np.diag(w)[keep]

    def _state(self, theta: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
        """Everything at ``theta``: modified FIDs, spectra, NNLS concentrations, reduced residual."""
        g = self._windowed(theta)
        s = self._fft_win(g)
        a = (self._phase(theta) * s).real.T
        c, r = self._solve_linear(a, y)
        return {"g": g, "s": s, "c": c, "r": r}

    def _jacobian(self, theta: np.ndarray, st: dict[str, np.ndarray], sigma: float) -> np.ndarray:
        """Kaufman's VarPro Jacobian ``-P d(A c)/d(theta)`` plus the prior rows."""
        _prior_r, prior_j = self._prior(theta, sigma)
        jac_model = self._model_jacobian(theta, st["c"], st["s"], st["g"])
        return np.vstack([-self._project(jac_model), prior_j])

    def _model_jacobian(
        self, theta: np.ndarray, c: np.ndarray, s: np.ndarray, g: np.ndarray | None = None
    ) -> np.ndarray:
        """d(A c)/d(theta) at fixed concentrations, shape (n_win, n_theta), analytically."""
        j = len(self.metabolites)
        phase = self._phase(theta)
        g = self._windowed(theta) if g is None else g
        t = self._t
        d_gamma = self._fft_win(g * (-np.pi * t))  # d S_j / d gamma_j
        # d S_j / d eps_j = FFT(g 2 pi i larmor t) = -2 i larmor d S_j / d gamma_j
        d_eps = (-2j * self._larmor) * d_gamma
        d_gau2 = self._fft_win((c[:, None] * g).sum(axis=0) * (-(np.pi**2) / _FOUR_LN2 * t**2))
        total = c @ s
        cols = np.empty((self._kidx.size, 5 + 2 * j))
        cols[:, 0] = (1j * phase * total).real
        cols[:, 1] = (1j * self._dppm * phase * total).real
        per_gamma = (phase * (c[:, None] * d_gamma)).real.T
        per_eps = (phase * (c[:, None] * d_eps)).real.T
        cols[:, 2] = per_eps.sum(axis=1)
        cols[:, 3] = per_gamma.sum(axis=1)
        cols[:, 4] = (phase * d_gau2).real
        cols[:, 5 : 5 + j] = per_gamma
        cols[:, 5 + j :] = per_eps
        return cols

    # ---------------------------------------------------------------- fit
    def _bounds(self) -> tuple[np.ndarray, np.ndarray]:
        cfg = self.config
        j = len(self.metabolites)
        lo = np.concatenate(
            [
                [-np.inf, -np.deg2rad(10 * cfg.phi1_sd_deg_per_ppm), -cfg.max_shift_ppm - 0.02],
                [-self.basis.lw_hz, 0.0],
                np.zeros(j),
                np.full(j, -5 * cfg.shift_sd_ppm),
            ]
        )
        hi = np.concatenate(
            [
                [np.inf, np.deg2rad(10 * cfg.phi1_sd_deg_per_ppm), cfg.max_shift_ppm + 0.02],
                [cfg.max_damping_hz, cfg.max_gaussian_hz**2],
                np.full(j, cfg.max_damping_hz),
                np.full(j, 5 * cfg.shift_sd_ppm),
            ]
        )
        return lo, hi

    def _starts(self, y: np.ndarray) -> list[np.ndarray]:
        """Best distinct (shift, phase) grid points by reduced residual norm."""
        cfg = self.config
        j = len(self.metabolites)
        base = np.concatenate([[0.0, 0.0, 0.0, 1.0, 4.0], np.full(j, 0.5), np.zeros(j)])
        scored = []
        for d in cfg.start_shifts_ppm:
            theta = base.copy()
            theta[2] = d
            theta[0] = 0.0
            _a, s = self._columns(theta)
            for p in np.deg2rad(cfg.start_phases_deg):
                a = (np.exp(1j * p) * s).real.T
                _c, r = self._solve_linear(a, y)
                scored.append((float(r @ r), d, p))
        scored.sort()
        starts: list[np.ndarray] = []
        for _cost, d, p in scored:
            if any(
                abs(s[2] - d) < 0.015 and abs(np.angle(np.exp(1j * (s[0] - p)))) < 0.6
                for s in starts
            ):
                continue
            theta = base.copy()
            theta[0], theta[2] = p, d
            starts.append(theta)
            if len(starts) >= cfg.n_starts:
                break
        return starts

    def fit(self, spectrum: Spectrum) -> LCMFit:
        """Fit one spectrum (no batch dimension); see the module docstring for the model."""
        if spectrum.batch_shape:
            raise MRSDataError(
                f"argument 'spectrum': expected a single spectrum, got batch shape "
                f"{spectrum.batch_shape}; use fit_many()"
            )
        with blas_threads(self.config.blas_threads):
            return self._fit(spectrum)

    def _fit(self, spectrum: Spectrum) -> LCMFit:
        self._prepare(spectrum)
        cfg = self.config
        spec = np.fft.fft(spectrum.fid, n=self._nz)[self._kidx]
        scale = float(np.max(np.abs(spec.real))) or 1.0
        y = spec.real / scale
        sigma0 = noise_sd(spectrum, cfg.zero_fill) / scale
        sigma = sigma0 if np.isfinite(sigma0) else 1e-3
        sigma = max(sigma, 1e-9)
        lo, hi = self._bounds()
        cache: dict[bytes, dict[str, np.ndarray]] = {}

        def state(theta: np.ndarray) -> dict[str, np.ndarray]:
            key = theta.tobytes()
            if key not in cache:
                if len(cache) > 4:
                    cache.clear()
                cache[key] = self._state(theta, y)
            return cache[key]

        def fun(theta: np.ndarray) -> np.ndarray:
            return np.concatenate([state(theta)["r"], self._prior(theta, sigma)[0]])

        def jac(theta: np.ndarray) -> np.ndarray:
            return self._jacobian(theta, state(theta), sigma)

        # Every start gets a short run; the best one is then run to convergence.
        best = None
        nfev = 0
        starts = self._starts(y)
        for stage, x_list in (("explore", starts), ("refine", None)):
            if stage == "refine":
                if best is None or best.status != 0:
                    break  # already converged (or nothing to refine)
                x_list = [best.x]
            for x0 in x_list:
                x0 = np.clip(x0, lo + 1e-9, hi - 1e-9)
                res = least_squares(
                    fun,
                    x0,
                    jac=jac,
                    bounds=(lo, hi),
                    method="trf",
                    x_scale="jac",
                    max_nfev=cfg.explore_nfev
                    if stage == "explore" and len(starts) > 1
                    else cfg.max_nfev,
                    ftol=cfg.ftol,
                    xtol=cfg.xtol,
                )
                nfev += int(res.nfev)
                if best is None or res.cost <= best.cost or stage == "refine":
                    best = res
        assert best is not None
        chosen: dict[str, float] = {}
        if cfg.baseline and cfg.baseline_lambda == "auto":
            chosen = self._choose_lambda(best.x, y)
            cache.clear()
            res = least_squares(
                fun,
                best.x,
                jac=jac,
                bounds=(lo, hi),
                method="trf",
                x_scale="jac",
                max_nfev=cfg.max_nfev,
                ftol=cfg.ftol,
                xtol=cfg.xtol,
            )
            nfev += int(res.nfev)
            best = res
        out = self._finish(best, y, scale, sigma, len(starts), nfev)
        if chosen:
            out.extra.update(chosen)
            self._set_lambda(1.0)  # the next spectrum starts from the default again
        return out

    def _finish(
        self, res: Any, y: np.ndarray, scale: float, sigma: float, n_starts: int, nfev: int
    ) -> LCMFit:
        theta = res.x
        j = len(self.metabolites)
        a, s = self._columns(theta)
        c, _ = self._solve_linear(a, y)
        # Baseline coefficients given c: penalised least squares.
        resid_lin = y - a @ c
        if self._bmat.shape[1]:
            lhs = self._bmat.T @ self._bmat + self._alpha * self._dmat.T @ self._dmat
            beta = np.linalg.solve(lhs, self._bmat.T @ resid_lin)
        else:
            beta = np.zeros(0)
        baseline = self._bmat @ beta
        fit = a @ c + baseline
        resid = y - fit
        n_free = int(np.sum(c > 0)) + theta.size
        dof = max(1, y.size - n_free - (self._bmat.shape[1] if self._alpha == 0 else 0))
        residual_sd = float(np.sqrt(resid @ resid / dof))
        sd = self._crlb(theta, c, s, a, residual_sd, sigma)
        p0, p1, delta, lor, gau2, gamma, eps = self._unpack(theta)
        phase = self._phase(theta)
        return LCMFit(
            metabolites=self.metabolites,
            concentrations=c * scale,
            sd_percent=sd,
            mode=self.mode,
            phase0_deg=float(np.rad2deg(np.angle(np.exp(1j * p0)))),
            phase1_deg_per_ppm=float(np.rad2deg(p1)),
            pivot_ppm=self._pivot,
            shift_ppm=float(delta),
            lorentzian_hz=float(lor),
            gaussian_hz=float(np.sqrt(max(gau2, 0.0))),
            damping_hz=np.asarray(gamma, dtype=float).copy(),
            shifts_ppm=np.asarray(eps, dtype=float).copy(),
            ppm=self._ppm.copy(),
            data=y * scale,
            fit=fit * scale,
            baseline=baseline * scale,
            components=(phase * s).real * c[:, None] * scale,
            residual_sd=residual_sd * scale,
            noise_sd=sigma * scale,
            n_starts=n_starts,
            nfev=nfev,
            success=bool(res.success),
            extra={"cost": float(res.cost), "status": int(res.status), "n_theta": 5 + 2 * j},
        )

    def _crlb(
        self,
        theta: np.ndarray,
        c: np.ndarray,
        s: np.ndarray,
        a: np.ndarray,
        residual_sd: float,
        sigma: float,
    ) -> np.ndarray:
        """Cramér-Rao %SD from the linearised covariance of (C_free, beta, theta)."""
        j = len(self.metabolites)
        free = c > 1e-6 * max(float(c.max()), 1e-300)
        nb = self._bmat.shape[1]
        jm = self._model_jacobian(theta, c, s)
        _prior_r, prior_j = self._prior(theta, sigma)
        top = np.hstack([a[:, free], self._bmat, jm])
        rows = [top]
        if nb:
            pen = np.zeros((self._dmat.shape[0], top.shape[1]))
            pen[:, int(free.sum()) : int(free.sum()) + nb] = np.sqrt(self._alpha) * self._dmat
            rows.append(pen)
        pr = np.zeros((prior_j.shape[0], top.shape[1]))
        pr[:, int(free.sum()) + nb :] = prior_j
        rows.append(pr)
        jac = np.vstack(rows)
        # Nonlinear parameters pinned at a bound are held fixed.
        lo, hi = self._bounds()
        pinned = (theta <= lo + 1e-7) | (theta >= hi - 1e-7)
        keep = np.concatenate([np.ones(int(free.sum()) + nb, bool), ~pinned])
        jac = jac[:, keep]
        col = np.linalg.norm(jac, axis=0)
        col[col == 0] = 1.0
        fisher = (jac / col).T @ (jac / col)
        cov = np.linalg.pinv(fisher, rcond=1e-12, hermitian=True) / np.outer(col, col)
        var_c = np.diag(cov)[: int(free.sum())] * residual_sd**2
        sd = np.full(j, SD_ON_BOUND)
        with np.errstate(divide="ignore", invalid="ignore"):
            pct = 100.0 * np.sqrt(np.maximum(var_c, 0.0)) / c[free]
        sd[free] = np.minimum(np.where(np.isfinite(pct), pct, SD_ON_BOUND), SD_ON_BOUND)
        return sd

    def fit_many(self, spectra: Spectrum) -> list[LCMFit]:
        """Fit every spectrum of a batch (any batch shape, flattened in C order)."""
        if not spectra.batch_shape:
            return [self.fit(spectra)]
        flat = spectra.replace(fid=spectra.fid.reshape(-1, spectra.n_points))
        return [self.fit(flat[i]) for i in range(flat.batch_shape[0])]


#: Lines (ppm, relative protons) of the toy singlet basis; ``ON`` multiplies lines by factors.
TOY_LINES: dict[str, tuple[tuple[float, float, float], ...]] = {
    # name: ((ppm, protons, ON factor), ...): ON = factor * line; DIFF = (factor - 1) * line
    "Cr": ((3.03, 3.0, 1.0), (3.92, 2.0, 1.0)),
    "GABA": ((3.01, 2.0, 2.0), (2.28, 2.0, 1.0), (1.89, 2.0, 0.0)),
    "Gln": ((2.45, 2.0, 1.0), (3.77, 1.0, 1.2)),
    "Glu": ((2.35, 2.0, 1.0), (3.75, 1.0, 1.5)),
    "NAA": ((2.01, 3.0, 0.8), (2.60, 1.0, 1.0)),
}


def toy_basis(
    n_points: int = 1024,
    dwell_s: float = 1 / 2000,
    larmor_mhz: float = 123.2,
    lw_hz: float = 2.0,
    lines: dict[str, tuple[tuple[float, float, float], ...]] | None = None,
) -> Basis:
    """A basis of Lorentzian singlets (:data:`TOY_LINES`): a fast, exactly known test basis.

    Each metabolite's OFF FID is ``sum_k protons_k exp(2 pi i f_k t - pi lw t)``;
    its ON FID multiplies each line by its ON factor, so the DIFF has the
    edited lines only. Not a physical simulation (chapter 1 has that): it is
    for tests and the from-scratch demonstration of chapter 6.
    """
    table = TOY_LINES if lines is None else lines
    t = np.arange(n_points) * dwell_s
    off, on = [], []
    for name in table:
        o = np.zeros(n_points, complex)
        e = np.zeros(n_points, complex)
        for ppm, protons, factor in table[name]:
            line = protons * np.exp(2j * np.pi * (ppm - 4.65) * larmor_mhz * t - np.pi * lw_hz * t)
            o += line
            e += factor * line
        off.append(o)
        on.append(e)
    common = dict(dwell_s=dwell_s, larmor_mhz=larmor_mhz, ppm_reference=4.65, te_ms=68.0)
    return Basis(
        tuple(table),
        Spectrum(np.array(on), **common),
        Spectrum(np.array(off), **common),
        lw_hz=lw_hz,
        params={"source": "toy singlets (mrs_lib.fit.lcm.toy_basis)"},
    )


def plot_fit(
    fit: LCMFit, ax: Any = None, components: bool = True, offset: float | None = None
) -> Any:
    """Data, fit, baseline, per-metabolite curves and the residual of one :class:`LCMFit`.

    The residual is drawn above the spectrum (shifted by ``offset``, default
    0.6 x the data's range), LCModel style; the ppm axis runs high to low.
    Returns the matplotlib axes.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
    span = float(np.ptp(fit.data)) or 1.0
    off = 0.6 * span if offset is None else offset
    ax.plot(fit.ppm, fit.data, color="0.3", lw=1, label="data")
    ax.plot(fit.ppm, fit.fit, color="C3", lw=1.2, label="fit")
    if np.any(fit.baseline):
        ax.plot(fit.ppm, fit.baseline, color="C2", lw=1, label="baseline")
    if components:
        low = float(np.min(fit.data)) - 0.15 * span
        for i, (name, curve) in enumerate(zip(fit.metabolites, fit.components, strict=True)):
            if np.any(curve):
                ax.plot(fit.ppm, curve + low - 0.25 * span * i, lw=0.8, label=name)
    top = float(np.max(fit.data))
    ax.plot(fit.ppm, fit.residual + top + off, color="0.5", lw=0.8, label="residual")
    ax.set_xlim(fit.ppm.max(), fit.ppm.min())
    ax.set_xlabel("chemical shift (ppm)")
    ax.set_yticks([])
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
    ax.set_title(f"LCModel-style fit ({fit.mode.upper()})")
    return ax


def fit_lcm(
    spectrum: Spectrum,
    basis: Basis,
    mode: EditState | None = None,
    config: LCMConfig | None = None,
    **overrides: Any,
) -> LCMFit | list[LCMFit]:
    """Fit one spectrum (or each of a batch) with :class:`LCMFitter`.

    ``mode`` defaults to ``spectrum.edit`` (then ``"off"``).
    """
    m: EditState = mode or spectrum.edit or "off"
    fitter = LCMFitter(basis, m, config, **overrides)
    return fitter.fit(spectrum) if not spectrum.batch_shape else fitter.fit_many(spectrum)


def combine_edited(
    fit_off: LCMFit, fit_diff: LCMFit, from_diff: Sequence[str] = ("GABA",)
) -> tuple[np.ndarray, np.ndarray]:
    """Concentrations and %SD taking ``from_diff`` metabolites from the DIFF fit, the rest from OFF.

    Both fits use the same basis scale (DIFF basis = ON - OFF basis), so the
    numbers are directly comparable: this is how an edited acquisition is
    quantified with LCModel (GABA from the DIFF, the rest from the OFF).
    """
    conc = fit_off.concentrations.copy()
    sd = fit_off.sd_percent.copy()
    for m in from_diff:
        i = fit_off.metabolites.index(m)
        conc[i] = fit_diff.concentrations[fit_diff.metabolites.index(m)]
        sd[i] = fit_diff.sd_percent[fit_diff.metabolites.index(m)]
    return conc, sd


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

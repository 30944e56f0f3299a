"""The solver of the LCModel-style fitter: variable projection, starts, baseline stiffness, CRLB.

:class:`LCMSolver` fits an :class:`~mrs_lib.fit.lcm.model.LCMModel` to one
spectrum. For each value of the nonlinear parameters the concentrations and
baseline are solved exactly (the penalised baseline is projected out, then
NNLS); :func:`scipy.optimize.least_squares` moves the nonlinear parameters
(variable projection, with Kaufman's Jacobian) from the best few points of a
coarse (shift, phase) grid. The solver owns the baseline stiffness
(``alpha``) and chooses it per spectrum when ``baseline_lambda="auto"`` (or,
with ``"lcmodel"``, LCModel's penalty and ``alphaB`` rule: :mod:`~mrs_lib.fit.lcm.mimic`).
Cramér-Rao %SD follow from the linearised covariance of all parameters.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.optimize import OptimizeResult, least_squares, nnls
from scipy.stats import f as f_dist

from ...errors import MRSDataError
from ...spectrum import Spectrum
from .config import LCMConfig, RatioPrior
from .mimic import (
    alphab_limits,
    penalty_rows,
    penalty_weight,
    pick_alphab,
    probability_to_reject,
    regb_gram,
)
from .model import LCMModel
from .result import SD_ON_BOUND, LCMFit


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


class LCMSolver:
    """Fits one :class:`~mrs_lib.fit.lcm.model.LCMModel` to single spectra (module docstring).

    Keeps the baseline stiffness of the current grid: ``alpha = lam *
    points per knot interval`` and the QR factor of the penalised baseline
    design that projects the baseline out.
    """

    def __init__(self, model: LCMModel) -> None:
        self.model = model
        self.config = model.config
        self.lam = 0.0
        self.alpha = 0.0
        self._q_top = np.zeros((0, 0))
        self._q_bot = np.zeros((0, 0))
        #: Rows of the baseline penalty (``alpha ||rows beta||^2``).
        self._pen = np.zeros((0, 0))
        #: (row weights, prior mean) of the active :class:`RatioPrior`, or None.
        self._ratio: tuple[np.ndarray, np.ndarray] | None = None

    # ---------------------------------------------------------------- baseline stiffness
    def prepare(self, spectrum: Spectrum) -> None:
        """Prepare the model for ``spectrum``'s grid; on a new grid, reset the stiffness."""
        if not self.model.prepare(spectrum):
            return
        cfg = self.config
        if cfg.baseline:
            lam = cfg.baseline_lambda
            self.set_lambda(1.0 if isinstance(lam, str) else float(lam))
        else:
            n_win = self.model.grid.kidx.size
            self.alpha = 0.0
            self._q_top = np.zeros((n_win, 0))
            self._q_bot = np.zeros((0, 0))

    def set_lambda(self, lam: float) -> None:
        """Baseline stiffness ``alpha = lam * points per knot interval``; rebuild the projector."""
        grid = self.model.grid
        self.lam = float(lam)
        self.set_penalty(grid.dmat, self.lam * grid.pts_per_knot)

    def set_penalty(self, rows: np.ndarray, alpha: float) -> None:
        """Baseline penalty ``alpha ||rows beta||^2``; rebuild the projector."""
        bmat = self.model.grid.bmat
        self._pen, self.alpha = rows, float(alpha)
        q, _ = np.linalg.qr(np.vstack([bmat, np.sqrt(self.alpha) * rows]))
        self._q_top, self._q_bot = q[: bmat.shape[0]], q[bmat.shape[0] :]

    def baseline_dof(self) -> float:
        """Effective degrees of freedom of the penalised baseline.

        ``trace(B (B'B + a D'D)^-1 B')``.
        """
        b, d = self.model.grid.bmat, self._pen
        lhs = b.T @ b + self.alpha * d.T @ d
        return float(np.trace(np.linalg.solve(lhs, b.T @ b)))

    def baseline_coefficients(self, resid: np.ndarray) -> np.ndarray:
        """Penalised least-squares baseline coefficients for the residual ``resid``."""
        bmat, dmat = self.model.grid.bmat, self._pen
        lhs = bmat.T @ bmat + self.alpha * dmat.T @ dmat
        return np.linalg.solve(lhs, bmat.T @ resid)

    def choose_lambda(self, theta: np.ndarray, y: np.ndarray) -> dict[str, float]:
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
        cfg = self.config
        bmat = self.model.grid.bmat
        lams = np.logspace(-2, 4, 13)
        a = self.model.columns(theta)[0]
        rows = []
        for lam in lams:
            self.set_lambda(lam)
            c, _ = self.solve_linear(a, y)
            resid = y - a @ c
            beta = self.baseline_coefficients(resid)
            rss = float(np.sum((resid - bmat @ beta) ** 2))
            rows.append((lam, rss, self.baseline_dof()))
        lam0, rss0, dof0 = rows[0]
        dof_res = max(1.0, y.size - dof0 - theta.size - a.shape[1])
        chosen = (lam0, 1.0)
        for lam, rss, dof in rows[1:]:
            ddof = max(dof0 - dof, 1e-6)
            fstat = ((rss - rss0) / ddof) / (rss0 / dof_res) if rss0 > 0 else np.inf
            p_value = float(f_dist.sf(fstat, ddof, dof_res)) if np.isfinite(fstat) else 0.0
            if p_value >= cfg.baseline_reject_prob:
                chosen = (lam, p_value)
        self.set_lambda(chosen[0])
        return {"baseline_lambda": chosen[0], "baseline_p_value": chosen[1]}

    def set_lcmodel_alphab(self, alphab: float, sdref: float, rmsamp: float) -> None:
        """LCModel's baseline penalty for its ``alphaB`` (:mod:`~mrs_lib.fit.lcm.mimic`)."""
        grid = self.model.grid
        step = float(np.ptp(grid.ppm)) / max(1, grid.bmat.shape[1] - 3)
        rows = penalty_rows(regb_gram(grid.bmat.shape[1]))
        self.set_penalty(rows, penalty_weight(alphab, sdref, rmsamp, step))

    def choose_alphab(
        self, theta: np.ndarray, y: np.ndarray, sdref: float, rmsamp: float
    ) -> dict[str, float]:
        """LCModel's ``alphaB`` at fixed nonlinear parameters (:mod:`~mrs_lib.fit.lcm.mimic`).

        The Reference Solution is the most flexible baseline (``ALPBMN``); of 25
        log-spaced ``alphaB`` up to ``ALPBMX`` the largest whose probability to
        reject stays at most 0.08 is kept.
        """
        a = self.model.columns(theta)[0]
        lo, hi, _start = alphab_limits(self.config.knot_spacing_ppm)
        grid_ab = np.geomspace(lo, hi, 25)
        ssq, ndf_ref = [], 0.0
        for k, ab in enumerate(grid_ab):
            self.set_lcmodel_alphab(float(ab), sdref, rmsamp)
            c, r = self.solve_linear(a, y)
            ssq.append(float(r[: y.size] @ r[: y.size]))
            if k == 0:
                ndf_ref = self.baseline_dof() + float(np.sum(c > 0)) + theta.size
        prej = [probability_to_reject(v, ssq[0], ndf_ref, y.size) for v in ssq]
        k = pick_alphab(grid_ab, np.asarray(prej))
        self.set_lcmodel_alphab(float(grid_ab[k]), sdref, rmsamp)
        return {"baseline_alphab": float(grid_ab[k]), "baseline_prej": prej[k]}

    # ---------------------------------------------------------------- variable projection
    def project(self, v: np.ndarray) -> np.ndarray:
        """``P [v; 0]``: remove the (penalised) baseline's reach from data-row vectors ``v``."""
        if self._q_top.shape[1] == 0:
            return v
        coef = self._q_top.T @ v
        return np.concatenate([v - self._q_top @ coef, -(self._q_bot @ coef)], axis=0)

    def solve_linear(self, a: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """NNLS for concentrations, baseline projected out; returns (c, reduced residual).

        With an active :class:`~mrs_lib.fit.lcm.config.RatioPrior` its rows
        ``w_j (C_j - s m_j)`` and the free scale ``s`` join the NNLS (the residual
        gets those rows at its end; ``s`` is not returned).
        """
        pa, py = self.project(a), self.project(y)
        j = a.shape[1]
        if self._ratio is not None:
            w, m = self._ratio
            rows = np.flatnonzero(w > 0)
            prior_a = np.zeros((rows.size, j + 1))
            prior_a[np.arange(rows.size), rows] = w[rows]
            prior_a[:, j] = -w[rows] * m[rows]
            pa = np.vstack([np.hstack([pa, np.zeros((pa.shape[0], 1))]), prior_a])
            py = np.concatenate([py, np.zeros(rows.size)])
        scale = np.linalg.norm(pa, axis=0)
        scale[scale == 0] = 1.0
        c, _ = nnls(pa / scale, py, maxiter=50 * pa.shape[1])
        c = c / scale
        return c[:j], py - pa @ c

    def _ratio_rows(self) -> int:
        return 0 if self._ratio is None else int(np.count_nonzero(self._ratio[0] > 0))

    def set_ratio_prior(
        self, prior: RatioPrior | None, theta: np.ndarray, y: np.ndarray, sigma: float
    ) -> None:
        """Activate ``prior`` (None: none) scaled at the prior-free concentrations at ``theta``."""
        self._ratio = None
        if prior is None:
            return
        j = len(self.model.metabolites)
        if prior.mean.size != j:
            raise MRSDataError(
                f"RatioPrior field 'mean': expected {j} values for {self.model.metabolites}, "
                f"got {prior.mean.size}"
            )
        c, _ = self.solve_linear(self.model.columns(theta)[0], y)
        m = np.nan_to_num(prior.mean)
        s_hat = float(m @ c / (m @ m))
        if not s_hat > 0:
            s_hat = float(c.max()) / float(m.max()) if c.max() > 0 else 1.0
        self._ratio = (prior.weights(s_hat, sigma), m)

    def state(self, theta: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
        """Everything at ``theta``: modified FIDs, spectra, NNLS concentrations, reduced residual.

        Keys ``g`` (FIDs), ``s`` (windowed spectra), ``c`` and ``r``.
        """
        model = self.model
        g = model.windowed(theta)
        s = model.fft_win(g)
        a = (model.phase(theta) * s).real.T
        c, r = self.solve_linear(a, y)
        return {"g": g, "s": s, "c": c, "r": r}

    def jacobian(self, theta: np.ndarray, st: dict[str, np.ndarray], sigma: float) -> np.ndarray:
        """Kaufman's VarPro Jacobian ``-P d(A c)/d(theta)`` plus the prior rows."""
        _prior_r, prior_j = self.model.prior(theta, sigma)
        jac_model = self.model.model_jacobian(theta, st["c"], st["s"], st["g"])
        # the ratio prior's rows depend on theta only through c: zero in Kaufman's Jacobian
        ratio = np.zeros((self._ratio_rows(), theta.size))
        return np.vstack([-self.project(jac_model), ratio, prior_j])

    def fit_sd(self, theta: np.ndarray, reduced: np.ndarray, n_data: int) -> float:
        """Residual SD of the fit: data rows of the reduced residual over its degrees of freedom.

        Degrees of freedom: data points less the nonlinear parameters, the
        concentrations and the baseline's effective dimension.
        """
        r = reduced[:n_data]
        n_lin = len(self.model.metabolites)
        edf = self.baseline_dof() if self._q_top.shape[1] else 0.0
        dof = max(1.0, n_data - theta.size - n_lin - edf)
        return float(np.sqrt(r @ r / dof))

    # ---------------------------------------------------------------- fit
    def starts(self, y: np.ndarray) -> list[np.ndarray]:
        """Best distinct (shift, phase) grid points by reduced residual norm."""
        cfg = self.config
        base = self.model.initial_theta()
        scored = []
        for d in cfg.start_shifts_ppm:
            theta = base.copy()
            theta[2] = d
            theta[0] = 0.0
            _a, s = self.model.columns(theta)
            for p in np.deg2rad(cfg.start_phases_deg):
                a = (np.exp(1j * p) * s).real.T
                _c, r = self.solve_linear(a, y)
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

    def fit(self, spectrum: Spectrum, prior: RatioPrior | None = None) -> LCMFit:
        """Fit one spectrum (no batch dimension, BLAS threads set by the caller).

        ``prior``: a :class:`~mrs_lib.fit.lcm.config.RatioPrior` on the
        concentration ratios, active in the last stage of the fit.
        """
        self._ratio = None
        try:
            return self._fit(spectrum, prior)
        finally:
            self._ratio = None

    def _fit(self, spectrum: Spectrum, prior: RatioPrior | None) -> LCMFit:
        self.prepare(spectrum)
        model, cfg = self.model, self.config
        model.kernel = None  # the Voigt lineshape first; a kernel is sized per spectrum
        grid = model.grid
        spec = np.fft.fft(spectrum.fid, n=grid.nz)[grid.kidx]
        scale = float(np.max(np.abs(spec.real))) or 1.0
        y = spec.real / scale
        sigma0 = noise_sd(spectrum, cfg.zero_fill) / scale
        sigma = sigma0 if np.isfinite(sigma0) else 1e-3
        sigma = max(sigma, 1e-9)
        lo, hi = model.bounds()
        cache: dict[bytes, dict[str, np.ndarray]] = {}

        def state(theta: np.ndarray) -> dict[str, np.ndarray]:
            key = theta.tobytes()
            if key not in cache:
                if len(cache) > 4:
                    cache.clear()
                cache[key] = self.state(theta, y)
            return cache[key]

        # The priors are weighted by this SD: the noise's at first, then (LCModel's SDREF)
        # the fit's residual SD when that is larger (a basis that does not quite match).
        prior_sd = [sigma]

        def fun(theta: np.ndarray) -> np.ndarray:
            return np.concatenate([state(theta)["r"], model.prior(theta, prior_sd[0])[0]])

        def jac(theta: np.ndarray) -> np.ndarray:
            return self.jacobian(theta, state(theta), prior_sd[0])

        def run(x0: np.ndarray, max_nfev: int) -> OptimizeResult:
            return _least_squares(fun, jac, x0, bounds=(lo, hi), max_nfev=max_nfev, config=cfg)

        # Every start gets a short run; the best one is then run to convergence.
        best: OptimizeResult | None = None
        nfev = 0
        starts = self.starts(y)
        explore_nfev = cfg.explore_nfev if len(starts) > 1 else cfg.max_nfev
        for x0 in starts:
            res = run(np.clip(x0, lo + 1e-9, hi - 1e-9), explore_nfev)
            nfev += int(res.nfev)
            if best is None or res.cost <= best.cost:
                best = res
        if best is not None and best.status == 0:  # stopped by explore_nfev: refine
            best = run(np.clip(best.x, lo + 1e-9, hi - 1e-9), cfg.max_nfev)
            nfev += int(best.nfev)
        assert best is not None
        # The final stage starts from the best start: the priors weighted by the fit's SD,
        # the lineshape kernel sized from its linewidth, the baseline stiffness chosen at it;
        # then one run to convergence.
        x = best.x
        refit = False
        if cfg.prior_sd == "fit":
            fit_sd = self.fit_sd(x, state(x)["r"], y.size)
            if fit_sd > 1.05 * prior_sd[0]:
                prior_sd[0] = fit_sd
                refit = True
        if cfg.lineshape in ("kernel", "voigt+kernel"):
            x = model.enable_kernel(x, cfg.kernel_alpha)
            lo, hi = model.bounds()
            x = np.clip(x, lo + 1e-9, hi - 1e-9)
            refit = True
        if prior is not None:
            self.set_ratio_prior(prior, x, y, prior_sd[0])
            cache.clear()
            refit = True
        chosen: dict[str, float] = {}
        if cfg.baseline and cfg.baseline_lambda == "auto":
            chosen = self.choose_lambda(x, y)
            cache.clear()
            refit = True
        elif cfg.baseline and cfg.baseline_lambda == "lcmodel":
            # LCModel: a full fit at its starting alphaB, then alphaB chosen at that fit.
            rmsamp = float(np.sqrt(np.mean(np.abs(spec) ** 2))) / scale
            sdref = max(self.fit_sd(x, state(x)["r"], y.size), sigma)
            self.set_lcmodel_alphab(alphab_limits(cfg.knot_spacing_ppm)[2], sdref, rmsamp)
            cache.clear()
            best = run(x, cfg.max_nfev)
            nfev += int(best.nfev)
            x = best.x
            sdref = max(self.fit_sd(x, state(x)["r"], y.size), sigma)
            chosen = self.choose_alphab(x, y, sdref, rmsamp)
            cache.clear()
            refit = True
        if refit:
            best = run(x, cfg.max_nfev)
            nfev += int(best.nfev)
        out = self.finish(
            best, y, scale, sigma, n_starts=len(starts), nfev=nfev, prior_sigma=prior_sd[0]
        )
        if chosen:
            out.extra.update(chosen)
            self.set_lambda(1.0)  # the next spectrum starts from the default again
        return out

    def finish(
        self,
        res: OptimizeResult,
        y: np.ndarray,
        scale: float,
        sigma: float,
        *,
        n_starts: int,
        nfev: int,
        prior_sigma: float | None = None,
    ) -> LCMFit:
        """The :class:`LCMFit` at the solution ``res`` (concentrations, baseline, curves, %SD).

        ``sigma`` is the noise SD, ``prior_sigma`` the SD that weighted the priors
        (default ``sigma``).
        """
        model = self.model
        grid = model.grid
        theta = res.x
        a, s = model.columns(theta)
        c, _ = self.solve_linear(a, y)
        # Baseline coefficients given c: penalised least squares.
        resid_lin = y - a @ c
        if grid.bmat.shape[1]:
            beta = self.baseline_coefficients(resid_lin)
        else:
            beta = np.zeros(0)
        baseline = grid.bmat @ beta
        fit = a @ c + baseline
        resid = y - fit
        n_free = int(np.sum(c > 0)) + theta.size
        dof = max(1, y.size - n_free - (grid.bmat.shape[1] if self.alpha == 0 else 0))
        residual_sd = float(np.sqrt(resid @ resid / dof))
        prior_sigma = sigma if prior_sigma is None else prior_sigma
        sd = self.crlb(theta, c, s, a, residual_sd=residual_sd, sigma=prior_sigma)
        p0, p1, delta, lor, gau2, gamma, eps = model.unpack(theta)
        phase = model.phase(theta)
        voigt_off = model.kernel is not None and not model.voigt_with_kernel
        return LCMFit(
            metabolites=model.metabolites,
            concentrations=c * scale,
            sd_percent=sd,
            mode=model.mode,
            phase0_deg=float(np.rad2deg(np.angle(np.exp(1j * p0)))),
            phase1_deg_per_ppm=float(np.rad2deg(p1)),
            pivot_ppm=grid.pivot,
            shift_ppm=float(delta),
            lorentzian_hz=0.0 if voigt_off else float(lor),
            gaussian_hz=0.0 if voigt_off else float(np.sqrt(max(gau2, 0.0))),
            damping_hz=np.asarray(gamma, dtype=float).copy(),
            shifts_ppm=np.asarray(eps, dtype=float).copy(),
            ppm=grid.ppm.copy(),
            data=y * scale,
            fit=fit * scale,
            baseline=baseline * scale,
            components=(phase * s).real * c[:, None] * scale,
            residual_sd=residual_sd * scale,
            noise_sd=sigma * scale,
            n_starts=n_starts,
            nfev=nfev,
            success=bool(res.success),
            extra={"cost": float(res.cost), "status": int(res.status), "n_theta": theta.size}
            | self.kernel_info(theta),
        )

    def kernel_info(self, theta: np.ndarray) -> dict[str, float]:
        """The lineshape kernel's size and width at ``theta`` (empty without a kernel)."""
        kern = self.model.kernel
        if kern is None:
            return {}
        full = kern.full(self.model.kernel_part(theta))
        f = (np.arange(full.size) - kern.k) * kern.h_hz
        mean = float(full @ f)
        return {
            "kernel_points": float(full.size),
            "kernel_spacing_hz": kern.h_hz,
            "kernel_sd_hz": float(np.sqrt(max(full @ (f - mean) ** 2, 0.0))),
        }

    def crlb(
        self,
        theta: np.ndarray,
        c: np.ndarray,
        s: np.ndarray,
        a: np.ndarray,
        *,
        residual_sd: float,
        sigma: float,
    ) -> np.ndarray:
        """Cramér-Rao %SD from the linearised covariance of (C_free, beta, theta).

        The covariance is that of the estimate over noise draws: with ``A`` the
        normal matrix of every row (data, baseline penalty, priors) and ``F`` that
        of the data rows, ``A^-1 F A^-1`` times the residual variance (for weak
        priors this is ``F^-1``; an informative prior, like LCModel's on the
        dampings, shrinks the scatter below ``A^-1``). A concentration on its bound
        (zero) gets :data:`SD_ON_BOUND`.
        """
        model = self.model
        bmat, dmat = model.grid.bmat, self._pen
        j = len(model.metabolites)
        free = c > 1e-6 * max(float(c.max()), 1e-300)
        nb = bmat.shape[1]
        jm = model.model_jacobian(theta, c, s)
        _prior_r, prior_j = model.prior(theta, sigma)
        top = np.hstack([a[:, free], bmat, jm])
        rows = [top]
        if nb:
            pen = np.zeros((dmat.shape[0], top.shape[1]))
            pen[:, int(free.sum()) : int(free.sum()) + nb] = np.sqrt(self.alpha) * dmat
            rows.append(pen)
        pr = np.zeros((prior_j.shape[0], top.shape[1]))
        pr[:, int(free.sum()) + nb :] = prior_j
        rows.append(pr)
        jac = np.vstack(rows)
        # Nonlinear parameters pinned at a bound are held fixed.
        lo, hi = model.bounds()
        pinned = (theta <= lo + 1e-7) | (theta >= hi - 1e-7)
        keep = np.concatenate([np.ones(int(free.sum()) + nb, bool), ~pinned])
        jac = jac[:, keep]
        col = np.linalg.norm(jac, axis=0)
        col[col == 0] = 1.0
        scaled = jac / col
        data = scaled[: top.shape[0]]
        a_inv = np.linalg.pinv(scaled.T @ scaled, rcond=1e-12, hermitian=True)
        cov = (a_inv @ (data.T @ data) @ a_inv) / np.outer(col, col)
        var_c = np.diag(cov)[: int(free.sum())] * residual_sd**2
        sd = np.full(j, SD_ON_BOUND)
        with np.errstate(divide="ignore", invalid="ignore"):
            pct = 100.0 * np.sqrt(np.maximum(var_c, 0.0)) / c[free]
        sd[free] = np.minimum(np.where(np.isfinite(pct), pct, SD_ON_BOUND), SD_ON_BOUND)
        return sd


def _least_squares(
    fun: Callable[[np.ndarray], np.ndarray],
    jac: Callable[[np.ndarray], np.ndarray],
    x0: np.ndarray,
    *,
    bounds: tuple[np.ndarray, np.ndarray],
    max_nfev: int,
    config: LCMConfig,
) -> OptimizeResult:
    """One trust-region-reflective run with the fitter's tolerances."""
    return least_squares(
        fun,
        x0,
        jac=jac,
        bounds=bounds,
        method="trf",
        x_scale="jac",
        max_nfev=max_nfev,
        ftol=config.ftol,
        xtol=config.xtol,
    )

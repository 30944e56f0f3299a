"""The linear-combination model of the LCModel-style fitter: spectrum, Jacobian, bounds, priors.

:class:`LCMModel` holds one basis in one edit state and, once
:meth:`~LCMModel.prepare` has seen the data's acquisition grid, evaluates the
model of :mod:`mrs_lib.fit.lcm` (its docstring has the equations) for a
vector of nonlinear parameters::

    theta = (phi0, phi1, delta, L, g^2, gamma_1 ... gamma_J, eps_1 ... eps_J)

(radians, rad/ppm, ppm, Hz, Hz^2, Hz, ppm), followed by the ``2 K`` free
coefficients of LCModel's lineshape kernel when one is in use
(:meth:`~LCMModel.enable_kernel`; ``L`` and ``g`` are then unused). The
concentrations and baseline coefficients are linear and are not part of ``theta``:
the model gives the columns they multiply (:meth:`~LCMModel.columns`, :attr:`LCMGrid.bmat`), the
solver (:mod:`mrs_lib.fit.lcm.solver`) finds them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft as sfft
from scipy.interpolate import BSpline

from ...errors import MRSDataError
from ...sim.basis import Basis
from ...spectrum import Spectrum
from ...types import EditState
from .config import DEFAULT_PPM_RANGE, LCMConfig
from .kernel import Kernel, kernel_size
from .mimic import PRELIMINARY_KNOT_PPM, preliminary_fwhm_hz
from .resample import Zoom, resample_basis

#: LCModel's prior SDs of metabolite shifts (ppm) that differ from the default 0.004
#: (CHSDSH/ALSDSH; the DIFF per SPTYPE='mega-press-3').
LCMODEL_SHIFT_SD: dict[str, dict[str, float]] = {
    "off": {"NAA": 0.002, "NAAG": 0.002, "Cho": 0.008},
    "diff": {"NAA": 0.004, "NAAG": 0.01, "GABA": 0.008},
}

_FOUR_LN2 = 4.0 * np.log(2.0)

#: Samples per block of the two-table complex exponential (:meth:`LCMModel.windowed`).
_EXP_BLOCK = 64


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


@dataclass(frozen=True, eq=False)
class LCMGrid:
    """What depends only on the basis and the data's acquisition grid (:meth:`LCMModel.prepare`).

    ``fid`` are the basis FIDs cut or padded to the data's length (or, for a
    basis sampled otherwise, on its own time grid ``t`` in the data's time
    units: :mod:`~mrs_lib.fit.lcm.resample`) and moved to its receiver frequency; the
    window is ``kidx`` of the ``nz``-point zero-filled spectrum, at ascending
    ``ppm``; ``zoom`` evaluates it for a resampled basis. ``bmat`` is the B-spline
    baseline design on the window and ``dmat`` its second-difference penalty
    (both empty without a baseline); ``pts_per_knot`` scales the penalty.
    """

    key: tuple[float, ...]
    t: np.ndarray
    t_lo: np.ndarray
    t_hi: np.ndarray
    fid: np.ndarray
    nz: int
    kidx: np.ndarray
    ppm: np.ndarray
    larmor: float
    pivot: float
    dppm: np.ndarray
    bmat: np.ndarray
    dmat: np.ndarray
    pts_per_knot: float
    zoom: Zoom | None = None


class LCMModel:
    """The model spectrum of one basis in one edit state, its Jacobian, bounds and priors.

    Parameters
    ----------
    basis
        Basis set; one sampled otherwise than the data (dwell time, length,
        field within 20 %) is resampled (:mod:`~mrs_lib.fit.lcm.resample`).
    mode
        ``"off"``, ``"on"`` or ``"diff"``: which basis spectra to fit with.
    config
        Settings with the per-mode defaults filled in
        (:func:`~mrs_lib.fit.lcm.config.resolve_config`).
    """

    def __init__(self, basis: Basis, mode: EditState, config: LCMConfig) -> None:
        self.config = config
        self.mode = mode
        self.basis = basis
        self.metabolites = basis.metabolites
        self._grid: LCMGrid | None = None
        #: The lineshape kernel while one is in use (:meth:`enable_kernel`), else None.
        self.kernel: Kernel | None = None

    @property
    def n_theta(self) -> int:
        """Number of nonlinear parameters, ``5 + 2 J`` (plus ``2 K`` with a lineshape kernel)."""
        return 5 + 2 * len(self.metabolites) + (self.kernel.n_free if self.kernel else 0)

    @property
    def grid(self) -> LCMGrid:
        """The grid of the last :meth:`prepare` (which must have been called)."""
        if self._grid is None:
            raise RuntimeError("LCMModel.prepare(spectrum) has not been called")
        return self._grid

    # ---------------------------------------------------------------- setup
    def prepare(self, spectrum: Spectrum) -> bool:
        """Align the basis with the data's grid and build the window and baseline design.

        Returns True when the grid was (re)built, False when ``spectrum`` has
        the grid of the previous call (nothing to do). A basis sampled like the
        data is used as it is; any other is resampled
        (:func:`~mrs_lib.fit.lcm.resample.resample_basis`).
        """
        key = (spectrum.dwell_s, spectrum.larmor_mhz, spectrum.ppm_reference, spectrum.n_points)
        if self._grid is not None and key == self._grid.key:
            return False
        self.kernel = None
        cfg = self.config
        b = self.basis[self.mode]
        n = spectrum.n_points
        nz = cfg.zero_fill * n
        freqs = np.fft.fftfreq(nz, d=spectrum.dwell_s)
        ppm_all = spectrum.hz_to_ppm(freqs)
        lo, hi = cfg.ppm_range if cfg.ppm_range is not None else DEFAULT_PPM_RANGE[self.mode]
        kidx = np.flatnonzero((ppm_all >= lo) & (ppm_all <= hi))
        kidx = kidx[np.argsort(ppm_all[kidx])]
        if kidx.size < 16:
            raise MRSDataError(f"ppm range {lo}-{hi}: only {kidx.size} spectral points in the band")
        same = np.isclose(b.dwell_s, spectrum.dwell_s, rtol=1e-6) and np.isclose(
            b.larmor_mhz, spectrum.larmor_mhz, rtol=1e-6
        )
        if same:
            fid = b.fid[:, :n] if b.n_points >= n else np.pad(b.fid, [(0, 0), (0, n - b.n_points)])
            dt = spectrum.dwell_s
            t = spectrum.time_s()
            zoom: Zoom | None = None
        else:
            fid, dt, zoom = resample_basis(b, spectrum, freqs[kidx])
            t = np.arange(fid.shape[1]) * dt
        # Re-reference the basis to the data's receiver frequency.
        d_ref_hz = (b.ppm_reference - spectrum.ppm_reference) * spectrum.larmor_mhz
        fid = fid * np.exp(2j * np.pi * d_ref_hz * t)
        ppm = ppm_all[kidx]
        pivot = 0.5 * (lo + hi) if cfg.pivot_ppm is None else float(cfg.pivot_ppm)
        n_win = kidx.size
        if cfg.baseline:
            bmat = bspline_design(ppm, cfg.knot_spacing_ppm)
            dmat = second_difference(bmat.shape[1])
            pts_per_knot = n_win / max(1, bmat.shape[1] - 3)
        else:
            bmat, dmat, pts_per_knot = np.zeros((n_win, 0)), np.zeros((0, 0)), 0.0
        self._grid = LCMGrid(
            key=key,
            t=t,
            t_lo=np.arange(_EXP_BLOCK) * dt,
            t_hi=np.arange(-(-t.size // _EXP_BLOCK)) * _EXP_BLOCK * dt,
            fid=fid,
            nz=nz,
            kidx=kidx,
            ppm=ppm,
            larmor=spectrum.larmor_mhz,
            pivot=pivot,
            dppm=ppm - pivot,
            bmat=bmat,
            dmat=dmat,
            pts_per_knot=pts_per_knot,
            zoom=zoom,
        )
        return True

    # ---------------------------------------------------------------- model
    def unpack(
        self, theta: np.ndarray
    ) -> tuple[float, float, float, float, float, np.ndarray, np.ndarray]:
        """``(phi0, phi1, delta, L, g^2, gamma, eps)`` from ``theta``."""
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

    def initial_theta(self) -> np.ndarray:
        """Starting values: no phase or shift, 1 Hz Lorentzian, 2 Hz Gaussian, 0.5 Hz dampings."""
        j = len(self.metabolites)
        return np.concatenate([[0.0, 0.0, 0.0, 1.0, 4.0], np.full(j, 0.5), np.zeros(j)])

    def windowed(self, theta: np.ndarray) -> np.ndarray:
        """Modified basis FIDs ``b_j w_j(t)`` (before the FFT).

        ``w_j(t) = exp(a_j t) exp(-(pi g t)^2 / 4 ln 2)`` with complex
        ``a_j = -pi (L + gamma_j) + 2 pi i (delta + eps_j) larmor``; the
        exponential on the uniform time grid is built from two short tables
        (``exp(a k dt) = exp(a B q dt) exp(a r dt)``, ``k = B q + r``), which is
        exact to rounding and ~20x cheaper than a complex ``exp`` per sample.
        """
        return self.windowed_parts(theta)[0]

    def windowed_parts(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """``(g, raw)``: the modified FIDs of :meth:`windowed`, and the same before the kernel.

        With a lineshape kernel (:mod:`~mrs_lib.fit.lcm.kernel`) the Voigt
        terms ``L`` and ``g`` are not used and ``g = raw w(t)``; without one
        ``raw`` is None.
        """
        grid = self.grid
        _p0, _p1, delta, lor, gau2, gamma, eps = self.unpack(theta)
        if self.kernel is not None and not self.voigt_with_kernel:
            lor, gau2 = 0.0, 0.0
        a = -np.pi * (lor + gamma) + 2j * np.pi * (delta + eps) * grid.larmor
        n = grid.t.size
        lo = np.exp(a[:, None] * grid.t_lo)
        hi = np.exp(a[:, None] * grid.t_hi)
        lin = (hi[:, :, None] * lo[:, None, :]).reshape(a.size, -1)[:, :n]
        gauss = np.exp(-(np.pi**2 * gau2 / _FOUR_LN2) * grid.t**2) if gau2 else 1.0
        g = grid.fid * lin * gauss
        if self.kernel is None:
            return g, None
        w = self.kernel.time_factor(self.kernel_part(theta))
        return g * w, g

    def kernel_part(self, theta: np.ndarray) -> np.ndarray:
        """The free kernel coefficients in ``theta`` (empty without a kernel)."""
        return theta[5 + 2 * len(self.metabolites) :]

    def enable_kernel(self, theta: np.ndarray, alpha: float) -> np.ndarray:
        """Switch the common Voigt lineshape of ``theta`` to a kernel; returns the new ``theta``.

        The kernel's size follows LCModel's rule from the FWHM of the extra
        broadening at ``theta`` (:meth:`extra_fwhm_hz`); it starts as a Gaussian
        of that FWHM cut to its support.
        """
        grid = self.grid
        fwhm_hz = self.extra_fwhm_hz(theta)
        ppm_step = 1.0 / (grid.nz * self.dwell_data * grid.larmor)
        k, inc = kernel_size(fwhm_hz / grid.larmor, ppm_step)
        self.kernel = Kernel(
            k, inc, inc * ppm_step * grid.larmor, grid.t, alpha, self.voigt_with_kernel
        )
        if self.voigt_with_kernel:  # the Voigt stays; the kernel starts as the identity
            return np.concatenate([theta[: 5 + 2 * len(self.metabolites)], np.zeros(2 * k)])
        out = np.concatenate([theta[: 5 + 2 * len(self.metabolites)], self.kernel.initial(fwhm_hz)])
        out[3] = 0.0
        out[4] = 0.0
        return out

    def extra_fwhm_hz(self, theta: np.ndarray) -> float:
        """FWHM (Hz) of the extra broadening at ``theta`` that sizes the kernel.

        ``kernel_width="voigt"``: the Voigt of ``L`` plus the mean ``gamma_j``
        and ``g`` (Olivero's formula); ``"lcmodel"``: LCModel's ``FWHMST``, the
        Gaussian of its preliminary fit
        (:func:`~mrs_lib.fit.lcm.mimic.preliminary_fwhm_hz`).
        """
        _p0, _p1, _d, lor, gau2, gamma, _eps = self.unpack(theta)
        f_l = max(0.0, float(lor + np.mean(gamma)))
        f_g = float(np.sqrt(max(gau2, 0.0)))
        if self.config.kernel_width == "lcmodel":
            knots_hz = PRELIMINARY_KNOT_PPM * self.grid.larmor if self.config.baseline else 0.0
            return preliminary_fwhm_hz(f_l, f_g, self.basis.lw_hz, knots_hz)
        return float(0.5346 * f_l + np.sqrt(0.2166 * f_l**2 + f_g**2))

    @property
    def voigt_with_kernel(self) -> bool:
        """True for ``lineshape="voigt+kernel"``: the kernel convolves the Voigt (both fitted)."""
        return self.config.lineshape == "voigt+kernel"

    @property
    def dwell_data(self) -> float:
        """The data's dwell time (s) of the current grid."""
        return float(self.grid.key[0])

    def fft_win(self, x: np.ndarray) -> np.ndarray:
        """Zero-filled FFT of FIDs ``x`` (last axis), restricted to the fitting window.

        For a resampled basis, the DFT at the window's frequencies on the basis's
        own time grid, in the data's units (:class:`~mrs_lib.fit.lcm.resample.Zoom`).
        """
        grid = self.grid
        if grid.zoom is not None:
            return grid.zoom(x)
        return sfft.fft(x, n=grid.nz, axis=-1)[..., grid.kidx]

    def phase(self, theta: np.ndarray) -> np.ndarray:
        """The phase factor ``exp(i (phi0 + phi1 (ppm - pivot)))`` on the window."""
        return np.exp(1j * (theta[0] + theta[1] * self.grid.dppm))

    def columns(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Real model columns ``A`` (n_win, J) and the windowed complex spectra (J, n_win)."""
        g = self.windowed(theta)
        s = self.fft_win(g)
        return (self.phase(theta) * s).real.T, s

    def prior(self, theta: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
        """Prior residuals (in data units: sigma * z-score) and their derivative weights."""
        j = len(self.metabolites)
        w = np.zeros(theta.size)
        mu = np.zeros(theta.size)
        w[1] = sigma / np.deg2rad(self.phi1_prior()[0])
        mean_hz, sd_hz = self.damping_prior()
        w[5 : 5 + j] = sigma / sd_hz
        mu[5 : 5 + j] = mean_hz
        w[5 + j : 5 + 2 * j] = sigma / self.shift_sds()
        keep = w > 0
        res, rows = w[keep] * (theta - mu)[keep], np.diag(w)[keep]
        if self.kernel is None:
            return res, rows
        k_res, k_jac = self.kernel.roughness(self.kernel_part(theta), sigma)
        k_rows = np.zeros((k_res.size, theta.size))
        k_rows[:, 5 + 2 * j :] = k_jac
        return np.concatenate([res, k_res]), np.vstack([rows, k_rows])

    def shift_sds(self) -> np.ndarray:
        """Prior SD (ppm) of each metabolite's shift ``eps_j``.

        ``shift_sd_ppm`` for all, except those in ``shift_sd_overrides`` (default:
        LCModel's ``CHSDSH``/``ALSDSH``: NAA and NAAG 0.002, Cho 0.008 ppm; in the
        DIFF, 'mega-press-3': NAA 0.004, NAAG 0.01, GABA 0.008 ppm).
        """
        cfg = self.config
        table = cfg.shift_sd_overrides
        if table is None:
            table = LCMODEL_SHIFT_SD["diff" if self.mode == "diff" else "off"]
        return np.array([float(table.get(m, cfg.shift_sd_ppm)) for m in self.metabolites])

    def phi1_prior(self) -> tuple[float, float]:
        """SD and bound (deg/ppm) of the first-order phase.

        Default LCModel's: SD 20, bound 30 (SDDEGP, DGPPMX); in the DIFF
        ('mega-press-3') SD 4, bound 15.
        """
        cfg = self.config
        sd_def, bound_def = (4.0, 15.0) if self.mode == "diff" else (20.0, 30.0)
        sd = sd_def if cfg.phi1_sd_deg_per_ppm is None else float(cfg.phi1_sd_deg_per_ppm)
        bound = bound_def if cfg.phi1_sd_deg_per_ppm is None else 10.0 * sd
        return sd, bound

    def damping_prior(self) -> tuple[float, float]:
        """Mean and SD (Hz FWHM) of the prior of the per-metabolite damping ``gamma_j``.

        Defaults are LCModel's (its ``EXRT2`` = 2/s and ``SDRT2`` = 0.4/s for the
        extra ``1/T2``, scaled by ``sqrt(larmor / 85.16 MHz)``), in Hz: ``1/(pi T2)``.
        """
        cfg = self.config
        scale = np.sqrt(self.grid.larmor / 85.16) / np.pi
        mean = 2.0 * scale if cfg.damping_mean_hz is None else float(cfg.damping_mean_hz)
        sd = 0.4 * scale if cfg.damping_sd_hz is None else float(cfg.damping_sd_hz)
        return mean, sd

    def model_jacobian(
        self, theta: np.ndarray, c: np.ndarray, s: np.ndarray, g: np.ndarray | None = None
    ) -> np.ndarray:
        """d(A c)/d(theta) at fixed concentrations, shape (n_win, n_theta), analytically.

        ``s`` are the windowed spectra of :meth:`columns` at ``theta``; ``g`` the
        modified FIDs of :meth:`windowed` when already at hand.
        """
        grid = self.grid
        j = len(self.metabolites)
        phase = self.phase(theta)
        raw = None
        if g is None or self.kernel is not None:
            g, raw = self.windowed_parts(theta)
        t = grid.t
        d_gamma = self.fft_win(g * (-np.pi * t))  # d S_j / d gamma_j
        # d S_j / d eps_j = FFT(g 2 pi i larmor t) = -2 i larmor d S_j / d gamma_j
        d_eps = (-2j * grid.larmor) * d_gamma
        d_gau2 = self.fft_win((c[:, None] * g).sum(axis=0) * (-(np.pi**2) / _FOUR_LN2 * t**2))
        total = c @ s
        cols = np.empty((grid.kidx.size, theta.size))
        cols[:, 0] = (1j * phase * total).real
        cols[:, 1] = (1j * grid.dppm * phase * total).real
        per_gamma = (phase * (c[:, None] * d_gamma)).real.T
        per_eps = (phase * (c[:, None] * d_eps)).real.T
        cols[:, 2] = per_eps.sum(axis=1)
        cols[:, 3] = per_gamma.sum(axis=1)
        cols[:, 4] = (phase * d_gau2).real
        cols[:, 5 : 5 + j] = per_gamma
        cols[:, 5 + j : 5 + 2 * j] = per_eps
        if self.kernel is not None and raw is not None:
            if not self.voigt_with_kernel:
                cols[:, 3:5] = 0.0  # no Voigt terms beside the kernel
            # d/dS_k: the total without the kernel, times exp(2 pi i k h t) - 1.
            total_raw = c @ raw
            d_kernel = self.fft_win(total_raw[None, :] * self.kernel.shifted())
            cols[:, 5 + 2 * j :] = (phase * d_kernel).real.T
        return cols

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds of ``theta``."""
        cfg = self.config
        j = len(self.metabolites)
        phi1_max = np.deg2rad(self.phi1_prior()[1])
        eps_max = 5 * self.shift_sds()
        lo = np.concatenate(
            [
                [-np.inf, -phi1_max, -cfg.max_shift_ppm - 0.02],
                [-self.basis.lw_hz if cfg.sharpen else 0.0, 0.0],
                np.zeros(j),
                -eps_max,
                np.full(self.kernel.n_free if self.kernel else 0, -1.0),
            ]
        )
        hi = np.concatenate(
            [
                [np.inf, phi1_max, cfg.max_shift_ppm + 0.02],
                [cfg.max_damping_hz, cfg.max_gaussian_hz**2],
                np.full(j, cfg.max_damping_hz),
                eps_max,
                np.full(self.kernel.n_free if self.kernel else 0, 1.0),
            ]
        )
        return lo, hi

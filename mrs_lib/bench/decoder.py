"""A linear-combination (physics) decoder adapted to each test spectrum (chapter 7).

The decoder maps concentrations and nuisance parameters to the complex
edit-OFF and edit-ON spectra over a ppm window, with the basis spectra of the
fitters (the project's ``paper`` protocol at the data's field)::

    Y_s(v) = exp(i (phi0 + phi1 (ppm - pivot) + [s = on] dphi))
             sum_j C_j FFT[ b_j^s(t) exp(-pi L t - (pi G t)^2 / 4 ln 2
                            - pi l_j t + 2 pi i (delta + eps_j + [s = on] ddelta) t) ](v)

* ``b_j^s`` the basis FID of metabolite ``j`` in edit state ``s``; OFF and ON
  share the concentrations ``C_j`` (one sample, two acquisitions);
* ``delta`` (Hz) a frequency offset and ``eps_j`` a small shift per metabolite
  (prior SD ``metabolite_shift_sd_ppm``: another simulation puts peaks a
  little elsewhere), ``phi0``/``phi1`` zero/first-order phase, ``L``/``G``
  extra Lorentzian/Gaussian FWHM (Hz; ``L`` may go down to minus the basis
  line), ``l_j`` an extra Lorentzian per metabolite (prior SD
  ``metabolite_damping_sd_hz``, as LCModel's per-metabolite damping: T2
  differs between metabolites), ``ddelta``/``dphi`` a small ON-against-OFF
  mismatch.

The rows fitted are the OFF spectrum and the DIFF (``ON - OFF``, where the
edited signals are), each with a smooth complex cubic B-spline baseline
(knots every ``knot_spacing_ppm``, curvature penalised; much stiffer in the
DIFF, where the baselines of ON and OFF mostly cancel). The nuisance
parameters are shared; the concentrations are solved per row set (OFF, DIFF)
and GABA reported from the DIFF, the rest from the OFF (``from_diff``), as
edited spectra are quantified with LCModel: in the OFF, GABA's 3.0 ppm
multiplet under Cr would absorb any misfit of the Cr line.

Test-time adaptation (:meth:`LCDecoder.fit`): the concentrations and the
baselines are linear, so for each value of the nonlinear parameters they are
solved exactly (the baselines projected out: variable projection); a few dozen
trust-region (Gauss-Newton) steps of :func:`scipy.optimize.least_squares`
with Kaufman's analytic Jacobian adapt the nonlinear ones. A network's
estimate enters as a Gaussian prior on the concentration *ratios*,
``w_j (C_j - s m_j)`` with a free scale ``s`` (as
:class:`~mrs_lib.fit.lcm.config.RatioPrior`), ``prior_sd`` being its SD in
units of the largest concentration, weighted like LCModel's priors by the
larger of the noise and the residual SD of a first fit without it (a basis
that does not quite match); without a prior the decoder is a plain
linear-combination fit. The starting offset and phase come from the Cr/NAA
referencing of :mod:`mrs_lib.preprocess.reference`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft as sfft
from scipy.optimize import least_squares, nnls

from .._threads import blas_threads
from ..errors import MRSDataError
from ..fit.lcm import bspline_design, noise_sd, second_difference
from ..preprocess.reference import find_reference_shift, refine_peak_shift, zero_order_phase
from ..sim.basis import Basis
from ..spectrum import EditedSpectra, Spectrum

_FOUR_LN2 = 4.0 * np.log(2.0)
#: Names of the nonlinear parameters, in the order of ``theta``.
THETA_NAMES: tuple[str, ...] = (
    "shift_hz",
    "phase0_deg",
    "phase1_deg_per_ppm",
    "lorentzian_hz",
    "gaussian_hz",
    "on_shift_hz",
    "on_phase_deg",
)


@dataclass(frozen=True, eq=False)
class DecoderFit:
    """One spectrum decoded: concentrations (basis units) and the adapted nuisance parameters.

    ``shift_hz``/``phase0_deg`` are those *of the data* (undo them with
    ``shift(-shift_hz)`` and ``phase(-phase0_deg)``); ``residual_sd`` and
    ``noise_sd`` are relative to the largest OFF point in the window.
    """

    metabolites: tuple[str, ...]
    concentrations: np.ndarray
    shift_hz: float
    phase0_deg: float
    phase1_deg_per_ppm: float
    lorentzian_hz: float
    gaussian_hz: float
    on_shift_hz: float
    on_phase_deg: float
    residual_sd: float
    noise_sd: float
    nfev: int
    success: bool


def reference_offset_phase(off: Spectrum, max_shift_ppm: float = 0.1) -> tuple[float, float]:
    """Offset (Hz) and zero-order phase (deg) *of* one OFF spectrum from its Cr/NAA singlets.

    Coarse: :func:`~mrs_lib.preprocess.reference.find_reference_shift` (Cr + NAA
    template on the magnitude), :func:`~mrs_lib.preprocess.reference.refine_peak_shift`
    on Cr, then :func:`~mrs_lib.preprocess.reference.zero_order_phase` (Cr and NAA
    windows of +-0.05 ppm). Accurate to ~0.3 Hz and ~5 deg on edited phantoms
    (multiplets under the windows bias the phase); :class:`LCDecoder` refines them.
    """
    t = off.time_s()
    f = find_reference_shift(off.fid, off, max_shift_ppm=max_shift_ppm)
    fid = off.fid * np.exp(2j * np.pi * f * t)
    f += refine_peak_shift(fid, off)
    fid = off.fid * np.exp(2j * np.pi * f * t)
    try:
        ph = zero_order_phase(fid, off, half_width_ppm=0.05)
    except MRSDataError:
        ph = 0.0
    return -float(f), -float(ph)


class LCDecoder:
    """The differentiable linear-combination decoder of one basis (module docstring).

    The defaults of the baseline and of the per-metabolite priors were chosen on
    a development bench of simulated spectra only: the Swansea design at level
    (c) rendered from three basis variants drawn with held-out seeds
    (:func:`mrs_lib.bench.sensitivity.heldout_source`, ``k = 0, 1, 2``), never
    from the external basis. Knots every 0.15 ppm (LCModel's spacing) instead of
    0.4, shift SD 0.005 instead of 0.01 ppm and a damping SD of 0.25 Hz took
    the mean MAE over the five metabolites from 0.061 (the first two
    variants) to 0.038 (all three; the LCModel-style fit: 0.054).

    Parameters
    ----------
    basis
        Basis sampled like the data (same dwell time and field; the length may
        differ: FIDs are cut or zero-padded).
    ppm_range
        Window fitted in both states.
    states
        ``("off", "on")`` (default) or ``("off",)``.
    knot_spacing_ppm, baseline_lambda, diff_baseline_lambda
        Baseline B-spline knots and curvature penalty (relative to points per knot)
        of the OFF and (stiffer: baselines of ON and OFF mostly cancel) the DIFF rows.
    max_nfev
        Model evaluations of the nonlinear adaptation.
    zero_fill
        Zero-filling factor of the spectra.
    phase1_sd_deg_per_ppm, mismatch_sd_hz, mismatch_sd_deg, metabolite_shift_sd_ppm
        Prior SDs of the first-order phase, the ON/OFF mismatch and a shift per
        metabolite (0 = no per-metabolite shifts; bounds at 3 SD): the basis's
        peaks may sit a little away from the data's (another simulation).
    metabolite_damping_sd_hz
        Prior SD of an extra Lorentzian per metabolite (0 = none; bounds at
        3 SD, and at most half the basis line below zero).
    from_diff
        Metabolites reported from the DIFF rows' concentrations (the rest from
        the OFF rows'), as the LCModel-style fit's ``off+diff`` strategy.
    """

    def __init__(
        self,
        basis: Basis,
        *,
        ppm_range: tuple[float, float] = (1.8, 4.2),
        states: tuple[str, ...] = ("off", "on"),
        knot_spacing_ppm: float = 0.15,
        baseline_lambda: float = 1.0,
        diff_baseline_lambda: float = 100.0,
        max_nfev: int = 60,
        zero_fill: int = 1,
        phase1_sd_deg_per_ppm: float = 5.0,
        mismatch_sd_hz: float = 0.5,
        mismatch_sd_deg: float = 3.0,
        metabolite_shift_sd_ppm: float = 0.005,
        metabolite_damping_sd_hz: float = 0.25,
        from_diff: tuple[str, ...] = ("GABA",),
    ) -> None:
        if not set(states) <= {"off", "on"} or "off" not in states:
            raise MRSDataError(
                f"argument 'states': expected ('off',) or ('off', 'on'), got {states}"
            )
        self.basis = basis
        self.metabolites = basis.metabolites
        self.ppm_range = (float(ppm_range[0]), float(ppm_range[1]))
        self.states = tuple(states)
        self.knot_spacing_ppm = float(knot_spacing_ppm)
        self.baseline_lambda = float(baseline_lambda)
        self.diff_baseline_lambda = float(diff_baseline_lambda)
        self.max_nfev = int(max_nfev)
        self.zero_fill = int(zero_fill)
        self.prior_sds = np.array([phase1_sd_deg_per_ppm, mismatch_sd_hz, mismatch_sd_deg])
        self.metabolite_shift_sd_ppm = float(metabolite_shift_sd_ppm)
        self.metabolite_damping_sd_hz = float(metabolite_damping_sd_hz)
        if self.metabolite_shift_sd_ppm < 0 or self.metabolite_damping_sd_hz < 0:
            raise MRSDataError(
                "fields 'metabolite_shift_sd_ppm', 'metabolite_damping_sd_hz': expected >= 0"
            )
        self.from_diff = tuple(from_diff)
        self._eps_sd_hz = 0.0
        self._key: tuple[float, ...] | None = None

    # ---------------------------------------------------------------- grid
    def _prepare(self, like: Spectrum) -> None:
        key = (like.dwell_s, like.larmor_mhz, like.ppm_reference, float(like.n_points))
        if key == self._key:
            return
        b = self.basis
        if not (
            np.isclose(b.off.dwell_s, like.dwell_s, rtol=1e-6)
            and np.isclose(b.off.larmor_mhz, like.larmor_mhz, rtol=1e-6)
        ):
            raise MRSDataError(
                f"decoder basis: sampled at {1 / b.off.dwell_s:.1f} Hz and {b.off.larmor_mhz} MHz, "
                f"the data at {like.bw_hz:.1f} Hz and {like.larmor_mhz} MHz (expected the same)"
            )
        n = like.n_points
        t = like.time_s()
        d_ref_hz = (b.off.ppm_reference - like.ppm_reference) * like.larmor_mhz
        fids = []
        for s in self.states:
            f = b[s].fid  # type: ignore[index]
            f = f[:, :n] if f.shape[1] >= n else np.pad(f, [(0, 0), (0, n - f.shape[1])])
            fids.append(f * np.exp(2j * np.pi * d_ref_hz * t))
        self._fid = np.stack(fids)  # [state, J, n]
        self._t = t
        self._nz = self.zero_fill * n
        ppm_all = like.hz_to_ppm(np.fft.fftfreq(self._nz, d=like.dwell_s))
        lo, hi = self.ppm_range
        kidx = np.flatnonzero((ppm_all >= lo) & (ppm_all <= hi))
        self._kidx = kidx[np.argsort(ppm_all[kidx])]
        if self._kidx.size < 32:
            raise MRSDataError(f"decoder window {lo}-{hi} ppm: only {self._kidx.size} points")
        self._ppm = ppm_all[self._kidx]
        self._dppm = self._ppm - 0.5 * (lo + hi)
        bmat = bspline_design(self._ppm, self.knot_spacing_ppm)
        dmat = second_difference(bmat.shape[1])
        per_knot = self._kidx.size / max(1, bmat.shape[1] - 3)
        pen = np.sqrt(self.baseline_lambda * per_knot) * dmat
        # every (state, real/imag) block has its own penalised spline baseline: the same
        # projector removes each block's baseline reach (variable projection)
        tops, bots = [], []
        for lam in (1.0, self.diff_baseline_lambda / self.baseline_lambda)[: len(self.states)]:
            q, _ = np.linalg.qr(np.vstack([bmat, np.sqrt(lam) * pen]))
            tops += [q[: bmat.shape[0]]] * 2  # real and imaginary part
            bots += [q[bmat.shape[0] :]] * 2
        self._qt, self._qb = np.stack(tops), np.stack(bots)
        self._key = key

    def project(self, v: np.ndarray) -> np.ndarray:
        """``P [v; 0]`` for stacked block rows ``v[2 S W, ...]``: each block's baseline removed."""
        w = self._qt.shape[1]
        blocks = v.reshape(-1, w, *v.shape[1:])
        coef = np.einsum("bwk,bw...->bk...", self._qt, blocks)
        data = blocks - np.einsum("bwk,bk...->bw...", self._qt, coef)
        pen = -np.einsum("bpk,bk...->bp...", self._qb, coef)
        return np.concatenate([data.reshape(-1, *v.shape[1:]), pen.reshape(-1, *v.shape[1:])])

    def spectra(self, spectra: EditedSpectra) -> np.ndarray:
        """The data's complex window ``[row, point]``: OFF (and DIFF = ON - OFF), unscaled."""
        self._prepare(spectra.off)
        acq = np.stack(
            [sfft.fft(spectra[s].fid, n=self._nz)[self._kidx] for s in self.states]  # type: ignore[index]
        )
        return self._rows(acq)

    def _rows(self, z: np.ndarray) -> np.ndarray:
        """Per-acquisition arrays ``[acq, ...]`` -> fitted rows ``[OFF, DIFF]`` (OFF alone)."""
        return z if z.shape[0] == 1 else np.stack([z[0], z[1] - z[0]])

    def _windowed(self, theta: np.ndarray) -> np.ndarray:
        """Modified basis FIDs ``g[state, J, t]`` (before the FFT and the phase)."""
        d, _p0, _p1, lor, gau, d_on, _p_on = theta[: len(THETA_NAMES)]
        eps, damp = self._per_metabolite(theta)
        t = self._t
        w = np.exp(-np.pi * lor * t - (np.pi * gau * t) ** 2 / _FOUR_LN2 + 2j * np.pi * d * t)
        if eps.size or damp.size:
            j = self._fid.shape[1]
            e = eps if eps.size else np.zeros(j)
            dl = damp if damp.size else np.zeros(j)
            w = w * np.exp((2j * np.pi * e[:, None] - np.pi * dl[:, None]) * t)
        else:
            w = w[None, :]
        g = self._fid * w[None]
        if "on" in self.states:
            g[self.states.index("on")] *= np.exp(2j * np.pi * d_on * t)
        return g

    @property
    def _n_eps(self) -> int:
        """Per-metabolite shifts in ``theta`` (one per metabolite, or none)."""
        return len(self.metabolites) if self.metabolite_shift_sd_ppm > 0 else 0

    @property
    def _n_damp(self) -> int:
        """Per-metabolite dampings in ``theta`` (one per metabolite, or none)."""
        return len(self.metabolites) if self.metabolite_damping_sd_hz > 0 else 0

    def _per_metabolite(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The per-metabolite shifts ``eps_j`` and dampings ``l_j`` in ``theta`` (maybe empty)."""
        k = len(THETA_NAMES)
        return theta[k : k + self._n_eps], theta[k + self._n_eps :]

    def _phase(self, theta: np.ndarray) -> np.ndarray:
        """Phase factors ``[state, point]``."""
        _d, p0, p1, _l, _g, _d_on, p_on = theta[: len(THETA_NAMES)]
        base = np.deg2rad(p0 + p1 * self._dppm)
        return np.stack([np.exp(1j * (base + np.deg2rad(p_on if s == "on" else 0.0)))
                         for s in self.states])  # fmt: skip

    def _fft(self, x: np.ndarray) -> np.ndarray:
        return sfft.fft(x, n=self._nz, axis=-1)[..., self._kidx]

    def components(self, theta: np.ndarray) -> np.ndarray:
        """Complex basis spectra ``[row, J, point]`` (OFF, DIFF) at the nonlinear parameters."""
        return self._rows(self._phase(theta)[:, None, :] * self._fft(self._windowed(theta)))

    @staticmethod
    def _real(z: np.ndarray) -> np.ndarray:
        """Complex ``[state, ..., point]`` -> real rows ``[(state, re/im, point), ...]``."""
        parts = np.stack([z.real, z.imag], axis=1)  # [S, 2, ..., W]
        parts = np.moveaxis(parts, -1, 2)  # [S, 2, W, ...]
        return parts.reshape(-1, *z.shape[1:-1])

    def _split(self, a: np.ndarray) -> np.ndarray:
        """Real design rows ``[rows, J]`` -> ``[rows, J]`` (OFF only) or ``[rows, 2 J]``: the
        OFF rows' and the DIFF rows' own concentrations (as LCModel's OFF and DIFF fits)."""
        if len(self.states) == 1:
            return a
        half = a.shape[0] // 2
        out = np.zeros((a.shape[0], 2 * a.shape[1]))
        out[:half, : a.shape[1]] = a[:half]
        out[half:, a.shape[1] :] = a[half:]
        return out

    def _linear(
        self, pa: np.ndarray, py: np.ndarray, prior: tuple[np.ndarray, np.ndarray] | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Concentrations >= 0 (NNLS, baselines projected out, optional ratio prior) and the
        residual. The ratio prior has one free scale for every concentration set (OFF, DIFF)."""
        j = pa.shape[1]
        if prior is not None:
            w, m = prior
            sets = j // w.size
            rows = np.zeros((j, j + 1))
            rows[:, :j] = np.diag(np.tile(w, sets))
            rows[:, j] = -np.tile(w * m, sets)
            pa = np.vstack([np.hstack([pa, np.zeros((pa.shape[0], 1))]), rows])
            py = np.concatenate([py, np.zeros(j)])
        scale = np.linalg.norm(pa, axis=0)
        scale[scale == 0] = 1.0
        x = nnls(pa / scale, py, maxiter=50 * pa.shape[1])[0] / scale
        return x[:j], py - pa @ x

    def _jacobian(self, theta: np.ndarray, x: np.ndarray, g: np.ndarray) -> np.ndarray:
        """Kaufman's VarPro Jacobian ``-P d(A x)/d(theta)`` of the data rows (theta's units)."""
        j = len(self.metabolites)
        if len(self.states) == 1:
            rows = self._dz(theta, x, g)
        else:  # OFF rows with the OFF concentrations, DIFF rows with the DIFF ones
            d_off, d_diff = self._dz(theta, x[:j], g), self._dz(theta, x[j:], g)
            rows = np.stack([d_off[0], d_diff[1] - d_diff[0]])
        return -self.project(self._real(rows))

    def _dz(self, theta: np.ndarray, c: np.ndarray, g: np.ndarray) -> np.ndarray:
        """``d(sum_j c_j z_j)/d(theta)`` per acquisition ``[acq, n_theta, point]`` (complex)."""
        ph = self._phase(theta)  # [S, W]
        t = self._t
        tj = self._fft(g * t)  # [S, J, W]: FFT(g_j t)
        model = ph * np.einsum("j,sjw->sw", c, self._fft(g))
        total_t = ph * np.einsum("j,sjw->sw", c, tj)
        gau = theta[4]
        u = ph * self._fft(np.einsum("j,sjt->st", c, g) * t**2)
        deg = np.pi / 180.0
        cols = [
            2j * np.pi * total_t,  # shift
            1j * deg * model,  # phase0
            1j * deg * self._dppm * model,  # phase1
            -np.pi * total_t,  # Lorentzian
            -(2 * np.pi**2 * gau / _FOUR_LN2) * u,  # Gaussian
        ]
        on = np.zeros(len(self.states))
        if "on" in self.states:
            on[self.states.index("on")] = 1.0
        cols += [on[:, None] * 2j * np.pi * total_t, on[:, None] * 1j * deg * model]
        per_met = ph[:, None, :] * c[None, :, None] * tj  # [S, J, W]
        eps, damp = self._per_metabolite(theta)
        dz = np.stack(cols, axis=1)  # [S, 7, W]
        parts = [dz]
        if eps.size:
            parts.append(2j * np.pi * per_met)
        if damp.size:
            parts.append(-np.pi * per_met)
        return np.concatenate(parts, axis=1)

    # ---------------------------------------------------------------- fit
    def fit(
        self,
        spectra: EditedSpectra,
        prior_mean: np.ndarray | None = None,
        prior_sd: float = 0.1,
        init: dict[str, float] | None = None,
    ) -> DecoderFit:
        """Adapt the decoder to one acquisition (see ``_fit``); BLAS runs on one thread
        (small matrices: threads only cost here)."""
        with blas_threads(1):
            return self._fit(spectra, prior_mean, prior_sd, init)

    def _fit(
        self,
        spectra: EditedSpectra,
        prior_mean: np.ndarray | None,
        prior_sd: float,
        init: dict[str, float] | None,
    ) -> DecoderFit:
        """Adapt the decoder to one acquisition (no batch dimension).

        ``prior_mean``: relative concentrations (basis order; any scale, e.g. a
        network's fractions) the ratios are pulled towards with SD ``prior_sd``
        (units of the largest concentration). ``init`` overrides starting values
        of :data:`THETA_NAMES` (default offset and phase from
        :func:`reference_offset_phase`, ``L = 1``, ``G = 2`` Hz, no mismatch).
        """
        if spectra.off.batch_shape:
            raise MRSDataError(
                f"decoder: expected one acquisition, got batch shape {spectra.off.batch_shape}"
            )
        self._prepare(spectra.off)
        data = self.spectra(spectra)
        scale = float(np.abs(data[0]).max()) or 1.0
        y = np.concatenate([np.concatenate([d.real, d.imag]) for d in data]) / scale
        sigma = noise_sd(spectra.off, self.zero_fill) * np.sqrt(self.zero_fill) / scale
        sigma = float(sigma) if np.isfinite(sigma) and sigma > 0 else 1e-3
        start = dict(zip(THETA_NAMES, (0.0, 0.0, 0.0, 1.0, 2.0, 0.0, 0.0), strict=True))
        if init is None or not {"shift_hz", "phase0_deg"} <= set(init):
            start["shift_hz"], start["phase0_deg"] = reference_offset_phase(spectra.off)
        start.update(init or {})
        j = len(self.metabolites)
        n_eps, n_damp = self._n_eps, self._n_damp
        eps_max = 3.0 * self.metabolite_shift_sd_ppm * spectra.off.larmor_mhz
        lw = self.basis.lw_hz
        damp_hi = 3.0 * self.metabolite_damping_sd_hz
        damp_lo = min(damp_hi, 0.5 * lw)
        x0 = np.array([start[k] for k in THETA_NAMES] + [0.0] * (n_eps + n_damp), dtype=float)
        lo = np.array(
            [x0[0] - 8.0, -np.inf, -45.0, -0.9 * lw, 0.0, -3.0, -30.0]
            + [-eps_max] * n_eps
            + [-damp_lo] * n_damp
        )
        hi = np.array(
            [x0[0] + 8.0, np.inf, 45.0, 30.0, 30.0, 3.0, 30.0]
            + [eps_max] * n_eps
            + [damp_hi] * n_damp
        )
        x0 = np.clip(x0, lo + 1e-6, hi - 1e-6)
        self._eps_sd_hz = self.metabolite_shift_sd_ppm * spectra.off.larmor_mhz
        raw = None if prior_mean is None else np.asarray(prior_mean, dtype=float).ravel()
        if raw is not None:
            m = np.nan_to_num(raw)
            if m.size != j or np.any(m < 0) or not np.any(m > 0):
                raise MRSDataError(
                    f"decoder prior_mean: expected {j} values >= 0 (one > 0) for "
                    f"{self.metabolites}, got {prior_mean}"
                )
        if "on" not in self.states:  # no ON: its mismatch is not identifiable, hold it at zero
            lo[5:7], hi[5:7], x0[5:7] = -1e-9, 1e-9, 0.0
        # stage 1 without the prior; stage 2 with it, every prior weighted (LCModel's SDREF)
        # by the larger of the noise and the residual SD of stage 1 (basis mismatch)
        py = self.project(y)
        theta, nfev, ok = self._adapt(x0, (lo, hi), py, sigma, None)
        x, r = self._at(theta, py, None)
        n_data = y.size  # the first rows of the residual are the data's
        dof = max(1, n_data - x.size - theta.size - self._qt.shape[0] * self._qt.shape[2])
        fit_sd = float(np.sqrt(r[:n_data] @ r[:n_data] / dof))
        if raw is not None:
            sigma_ref = max(sigma, fit_sd)
            c1 = self._combine(x)
            s_hat = float(m @ c1 / (m @ m))
            if not s_hat > 0:
                s_hat = max(float(c1.max()), 1e-12) / float(m.max())
            w = np.where(np.isfinite(raw), sigma_ref / (prior_sd * s_hat * m.max()), 0.0)
            theta, nfev2, ok = self._adapt(theta, (lo, hi), py, sigma_ref, (w, m))
            nfev += nfev2
            x, r = self._at(theta, py, (w, m))
            fit_sd = float(np.sqrt(r[:n_data] @ r[:n_data] / dof))
        conc = np.maximum(self._combine(x), 0.0) * scale
        res_sd, res_nfev, res_ok = fit_sd, nfev, ok
        nuisance = {k: float(v) for k, v in zip(THETA_NAMES, theta, strict=False)}
        return DecoderFit(
            self.metabolites,
            conc,
            **nuisance,
            residual_sd=res_sd,
            noise_sd=sigma,
            nfev=res_nfev,
            success=res_ok,
        )

    def _combine(self, x: np.ndarray) -> np.ndarray:
        """One concentration per metabolite: the OFF set's, ``from_diff`` from the DIFF set's."""
        j = len(self.metabolites)
        c = x[:j].copy()
        if x.size >= 2 * j:
            for k, name in enumerate(self.metabolites):
                if name in self.from_diff:
                    c[k] = x[j + k]
        return c

    def _at(
        self, theta: np.ndarray, py: np.ndarray, prior: tuple[np.ndarray, np.ndarray] | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Concentrations and residual at ``theta`` (projected data ``py``)."""
        pa = self.project(self._split(self._real(self.components(theta))))
        return self._linear(pa, py, prior)

    def _adapt(
        self,
        x0: np.ndarray,
        bounds: tuple[np.ndarray, np.ndarray],
        py: np.ndarray,
        sigma: float,
        prior: tuple[np.ndarray, np.ndarray] | None,
    ) -> tuple[np.ndarray, int, bool]:
        """Trust-region steps on the nonlinear parameters; residuals and priors over ``sigma``.

        Variable projection with Kaufman's analytic Jacobian (the concentrations are
        re-solved at every step; their dependence on ``theta`` is left out of it).
        """
        extra_idx = [2, 5, 6] if "on" in self.states else [2]
        extra_sd = self.prior_sds[: len(extra_idx)]
        n_per = x0.size - len(THETA_NAMES)
        per_sd = np.concatenate(
            [
                np.full(self._n_eps, max(self._eps_sd_hz, 1e-12)),
                np.full(n_per - self._n_eps, max(self.metabolite_damping_sd_hz, 1e-12)),
            ]
        )
        n_prior = 0 if prior is None else prior[0].size * len(self.states)
        cache: dict[bytes, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

        def state(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            key = theta.tobytes()
            if key not in cache:
                cache.clear()
                g = self._windowed(theta)
                z = self._rows(self._phase(theta)[:, None, :] * self._fft(g))
                c, r = self._linear(self.project(self._split(self._real(z))), py, prior)
                cache[key] = (c, r, g)
            return cache[key]

        def fun(theta: np.ndarray) -> np.ndarray:
            _c, r, _g = state(theta)
            extra = theta[extra_idx] / extra_sd
            return np.concatenate([r / sigma, extra, theta[len(THETA_NAMES) :] / per_sd])

        def jac(theta: np.ndarray) -> np.ndarray:
            c, _r, g = state(theta)
            data = self._jacobian(theta, c, g) / sigma
            rows = [data, np.zeros((n_prior, theta.size))]
            ex = np.zeros((len(extra_idx), theta.size))
            ex[np.arange(len(extra_idx)), extra_idx] = 1.0 / extra_sd
            eps = np.zeros((n_per, theta.size))
            eps[np.arange(n_per), len(THETA_NAMES) + np.arange(n_per)] = 1.0 / per_sd
            return np.vstack([*rows, ex, eps])

        res = least_squares(
            fun,
            x0,
            jac=jac,
            bounds=bounds,
            method="trf",
            x_scale=np.array([0.3, 3.0, 3.0, 1.0, 1.0, 0.3, 3.0] + [0.3] * n_per),
            max_nfev=self.max_nfev,
        )
        return res.x, int(res.nfev), bool(res.success)


__all__ = ["THETA_NAMES", "DecoderFit", "LCDecoder", "reference_offset_phase"]

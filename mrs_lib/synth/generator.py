"""Batched synthesis of MEGA-PRESS training spectra from a basis (chapter 2).

Pipeline (everything is linear until the normalisation, so it is done on
batches of FIDs with elementwise products and two FFTs per transform):

1. concentrations (:class:`~mrs_lib.synth.config.ConcentrationPrior`: Sobol
   points in [0, 1)^5 as in the paper, uniform, phantom-like or in-vivo-like);
2. per-metabolite augmentations, then mixing ``fid = sum_m c_m basis_m``
   (a complex matrix product);
3. additive signals (macromolecules, water), then time-domain factors common
   to the whole acquisition (linewidth, shift, phase, eddy currents);
4. exact resampling to the network grid
   (:class:`~mrs_lib.synth.grid.GridTransform`);
5. grid-domain augmentations (first-order phase, baseline);
6. noise (time-domain complex Gaussian, transformed to the grid; see "Fast
   paths" in :mod:`mrs_lib.synth.grid`);
7. the paper's normalisation (:func:`~mrs_lib.synth.inputs.normalise_rows`).

Where things live: the grid, the noise transform and the fast paths in
:mod:`mrs_lib.synth.grid`; the working state of a block in
:mod:`mrs_lib.synth.state`; the augmentations in :mod:`mrs_lib.synth.augment`;
configs and presets in :mod:`mrs_lib.synth.config`; network input and
normalisation in :mod:`mrs_lib.synth.inputs`. This module runs the pipeline
(:class:`Synthesizer`, :func:`generate`, :func:`example`) and measures
linewidths of the result (:func:`measure_linewidth`).
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy.optimize import curve_fit

from ..errors import MRSDataError
from ..sim.basis import Basis
from .augment import (
    STAGES,
    Baseline,
    FrequencyShift,
    Linewidth,
    Noise,
    ZeroOrderPhase,
)
from .config import SynthConfig, as_config
from .grid import complex_normal, feasible_grids
from .inputs import grid_rows, normalise_rows, sum_normalise
from .plan import GridPlan
from .state import SynthState

#: Spectra per block: each block has its own child generator, so results do not
#: depend on the number of worker threads.
BLOCK_SIZE = 32


def measure_linewidth(
    ppm: np.ndarray,
    y: np.ndarray,
    centre_ppm: float,
    larmor_mhz: float,
    *,
    half_width_ppm: float = 0.08,
) -> tuple[float, float, float]:
    """Lorentzian fit of one line: ``(fwhm_hz, centre_ppm, r2)``.

    Fits ``a g^2 / ((x - x0)^2 + g^2) + b`` (absorption Lorentzian plus offset)
    to the real spectrum ``y`` within ``centre_ppm +- half_width_ppm``; the
    sim-to-real analysis of the paper estimates linewidths this way (fits
    kept when R^2 > 0.5). A negative line (NAA in DIFF) is fitted as such.
    """
    x = np.asarray(ppm, dtype=float)
    sel = np.abs(x - centre_ppm) <= half_width_ppm
    xs, ys = x[sel], np.asarray(y, dtype=float)[sel]
    if xs.size < 5:
        raise MRSDataError(
            f"measure_linewidth: fewer than 5 points within {half_width_ppm} ppm of {centre_ppm}"
        )
    sign = 1.0 if ys.max() >= -ys.min() else -1.0
    ys = sign * ys
    i = int(np.argmax(ys))

    def model(v: np.ndarray, a: float, x0: float, g: float, b: float) -> np.ndarray:
        return a * g * g / ((v - x0) ** 2 + g * g) + b

    p0 = [ys[i] - np.median(ys), xs[i], 0.02, float(np.median(ys))]
    try:
        (a, x0, g, b), _ = curve_fit(model, xs, ys, p0=p0, maxfev=5000)
    except RuntimeError:
        return float("nan"), float("nan"), 0.0
    resid = ys - model(xs, a, x0, g, b)
    r2 = 1.0 - float(resid @ resid) / float(((ys - ys.mean()) ** 2).sum())
    return float(2 * abs(g) * larmor_mhz), float(x0), r2


# ============================================================================ batch
@dataclass(frozen=True, eq=False)
class SynthBatch:
    """A batch of synthetic spectra.

    ``x`` float32 ``[n, rows, M]`` noisy network input; ``clean`` the same
    without noise (same normalisation; ``None`` if ``keep_clean=False``);
    ``concentrations`` ``[n, n_met]`` true values (order ``metabolites``);
    ``targets`` float32 concentrations / sum; ``snr`` ``[n]`` (defined in
    :class:`~mrs_lib.synth.augment.Noise`; without a clean copy the peak is
    read from the noisy spectrum, as on real data); ``scale`` ``[n]`` the normalisation
    divisor (grid spectrum units); ``params`` the drawn augmentation parameters
    (arrays with first axis ``n``); ``ppm`` the grid.
    """

    x: np.ndarray
    clean: np.ndarray | None
    concentrations: np.ndarray
    targets: np.ndarray
    snr: np.ndarray
    scale: np.ndarray
    params: dict[str, np.ndarray]
    metabolites: tuple[str, ...]
    channels: tuple[str, ...]
    ppm: np.ndarray

    def __len__(self) -> int:
        return int(self.x.shape[0])


class _Block(NamedTuple):
    """What :meth:`Synthesizer._block` returns besides the rows it writes."""

    snr: np.ndarray
    scale: np.ndarray
    params: dict[str, np.ndarray]


class Synthesizer:
    """A basis and a config with everything precomputed; :meth:`generate` makes batches."""

    def __init__(self, basis: Basis | Sequence[Basis], config: SynthConfig | str = "paper") -> None:
        cfg = as_config(config)
        bases = (basis,) if isinstance(basis, Basis) else tuple(basis)
        if not bases:
            raise MRSDataError("argument 'basis': expected a basis or a non-empty list of bases")
        basis = bases[0]
        for other in bases[1:]:
            if other.metabolites != basis.metabolites or (other.n_points, other.dwell_s) != (
                basis.n_points,
                basis.dwell_s,
            ):
                raise MRSDataError(
                    f"argument 'basis': every basis needs the metabolites {basis.metabolites} and "
                    f"the grid of {basis!r}, got {other!r}"
                )
        n_met = len(basis.metabolites)
        augs = []
        for a in cfg.augmentations:
            n_old = getattr(a, "n_metabolites", None)  # per-metabolite augmentations
            if n_old is not None and n_old != n_met:
                a = dataclasses.replace(a, n_metabolites=n_met)  # type: ignore[call-arg]
            augs.append(a)
        self.config = cfg
        self.basis = basis
        #: the bases drawn per spectrum (one: the single-basis path, no draw)
        self.bases = bases
        self.stages = {s: [a for a in augs if a.stage == s] for s in STAGES}
        grids: tuple[tuple[float, int] | None, ...] = (None,)
        #: grids of the config that the basis cannot provide exactly (see resample_fid)
        self.skipped_grids: list[tuple[float, int]] = []
        if cfg.grids is not None:
            ok = feasible_grids(basis, cfg.grids)
            self.skipped_grids = [g for g in cfg.grids if g not in ok]
            if not ok:
                raise MRSDataError(
                    f"config {cfg.name!r}: none of the acquisition grids {cfg.grids} can be made "
                    f"from {basis!r} by exact decimation; simulate the basis at 20000 Hz"
                )
            grids = tuple(ok)
        self.grids = grids
        #: one plan per (basis, grid), basis-major: plan ``b * len(grids) + g``; a basis
        #: object listed more than once (``"bank+paper"``) shares its plans
        shared: dict[tuple[int, tuple[float, int] | None], GridPlan] = {}
        for b in bases:
            for g in grids:
                if (id(b), g) not in shared:
                    shared[id(b), g] = GridPlan(
                        b, g, base_lw_hz=cfg.base_lw_hz, ppm_range=cfg.ppm_range,
                        n_points=cfg.n_points,
                    )  # fmt: skip
        self.plans = [shared[id(b), g] for b in bases for g in grids]
        #: noise transformed at a decimated rate (GridNoise) rather than exactly
        self.fast_noise = not cfg.exact
        #: clean spectra from the Chebyshev linewidth expansion (LorentzianExpansion)
        self.fast_clean = False
        self._fast_lw: Linewidth | None = None
        if self.fast_noise:
            for plan in self.plans:
                _ = plan.noise
            time_augs = self.stages["time"]
            lw = time_augs[0] if len(time_augs) == 1 else None
            lorentz = lw if isinstance(lw, Linewidth) and lw.gaussian_hz == (0.0, 0.0) else None
            if not (self.stages["component"] or self.stages["signal"] or self.stages["grid"]) and (
                not time_augs or lorentz is not None
            ):
                lo, hi = lorentz.lorentzian_hz if lorentz is not None else (0.0, 0.0)
                self.fast_clean = all(plan.expansion(lo, hi).ok for plan in self.plans)
                self._fast_lw = lorentz

    # ------------------------------------------------------------------ one block
    def run_state(self, state: SynthState, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Run every stage on ``state``; return the drawn parameters."""
        params: dict[str, np.ndarray] = {}
        state.exact_noise = not self.fast_noise
        if self.fast_clean:
            return self._run_fast(state, rng)
        for aug in self.stages["component"]:
            params.update(aug(state, rng))
        state.mix()
        for stage in ("signal", "time"):
            for aug in self.stages[stage]:
                params.update(aug(state, rng))
        noise = self.config.noise
        fuse = not (self.fast_noise and self.config.keep_clean)  # else GridNoise is cheaper
        if noise is not None and noise.mode == "relative" and not self.stages["grid"] and fuse:
            # sigma is known before the transform and nothing acts on the grid: draw the
            # noise now (the same draws, in the same order, as the Noise stage would make)
            # and transform it in the same FFT pass; without a clean copy add it to the
            # signal first, Z(s) + Z(n) = Z(s + n), which halves the transforms
            p = noise.draw(rng, state.n)
            state.sigma = noise.sigma(state, p)
            white = complex_normal(rng, (state.n, 2, state.plan.n_time))
            white *= state.sigma[..., np.newaxis]
            state.transform(noise=white, separate=self.config.keep_clean)
            params.update(p)
            return params
        state.transform()
        for aug in self.stages["grid"]:
            params.update(aug(state, rng))
        for aug in self.stages["noise"]:
            params.update(aug(state, rng))
        return params

    def _run_fast(self, state: SynthState, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Linewidth + noise configs: clean spectra by the Chebyshev expansion, noise by GridNoise.

        Draws from ``rng`` in the same order as the stage-by-stage path.
        """
        params: dict[str, np.ndarray] = {}
        plan = state.plan
        lw = self._fast_lw
        if lw is not None:
            p = lw.draw(rng, state.n)
            params.update(p)
            exp = plan.expansion(*lw.lorentzian_hz)
            lor = p["lorentzian_hz"]
        else:
            exp = plan.expansion(0.0, 0.0)
            lor = np.zeros(state.n)
        state.spec = exp.spectra(state.conc, lor)
        state.peak_off = plan.peak_off(state.spec)
        noise = self.config.noise
        if noise is not None:
            if noise.mode == "relative":
                state.ref_amplitude = _max_abs_mix(state.conc, plan)
            params.update(noise(state, rng))
        return params

    def _block(
        self,
        conc: np.ndarray,
        grid_idx: np.ndarray,
        rng: np.random.Generator,
        x: np.ndarray,
        clean: np.ndarray | None,
    ) -> _Block:
        """Synthesise one block into the output views ``x`` and ``clean``."""
        n = conc.shape[0]
        cfg = self.config
        snr = np.empty(n)
        scale = np.empty(n)
        sig = np.zeros((n, 2))
        params: dict[str, np.ndarray] = {}
        for g in np.unique(grid_idx):
            rows = np.flatnonzero(grid_idx == g)
            # one grid: write the outputs in place, no gather/scatter
            sel: np.ndarray | slice = slice(None) if len(rows) == n else rows
            plan = self.plans[int(g)]
            state = SynthState(plan, conc[sel])
            p = self.run_state(state, rng)
            assert state.spec is not None and state.peak_off is not None
            if state.noise is None:
                noisy = state.spec
            else:  # the noise array is ours: add in place
                noisy = state.noise
                noisy += state.spec
            if isinstance(sel, slice):
                _, scale[sel] = normalise_rows(noisy, cfg.channels, out=x)
                if clean is not None:
                    grid_rows(state.spec, cfg.channels, scale, out=clean)
            else:
                x[sel], scale[sel] = normalise_rows(noisy, cfg.channels)
                if clean is not None:
                    clean[sel] = grid_rows(state.spec, cfg.channels, scale[sel])
            sigma = state.sigma if state.sigma is not None else np.zeros((state.n, 2))
            sig[sel] = sigma
            with np.errstate(divide="ignore"):
                snr[sel] = state.peak_off / (sigma[:, 0] * np.sqrt(plan.n_time))
            if self.grids != (None,):
                p["grid_bw_hz"] = np.full(state.n, plan.bw_hz)
                p["grid_n_points"] = np.full(state.n, plan.n_time)
            if len(self.bases) > 1:
                p["basis_index"] = np.full(state.n, int(g) // len(self.grids))
            for k, v in p.items():
                if k not in params:
                    params[k] = np.zeros((n, *np.shape(v)[1:]), dtype=np.asarray(v).dtype)
                params[k][sel] = v
        params["sigma_off"], params["sigma_on"] = sig[:, 0], sig[:, 1]
        return _Block(snr=snr, scale=scale, params=params)

    # ------------------------------------------------------------------ public
    def generate(
        self,
        n: int,
        rng: np.random.Generator | int,
        *,
        concentrations: np.ndarray | None = None,
        workers: int | None = None,
    ) -> SynthBatch:
        """``n`` spectra; deterministic given ``rng`` (independent of ``workers``)."""
        rng = np.random.default_rng(rng)
        n = int(n)
        if n < 1:
            raise MRSDataError(f"argument 'n': expected >= 1, got {n}")
        cfg = self.config
        if concentrations is None:
            conc = cfg.prior.sample(rng, n, self.basis.metabolites)
        else:
            conc = np.asarray(concentrations, dtype=float)
            if conc.shape != (n, len(self.basis.metabolites)):
                raise MRSDataError(
                    "argument 'concentrations': expected shape "
                    f"{(n, len(self.basis.metabolites))}, got {conc.shape}"
                )
        n_grids = len(self.grids)
        grid_idx = rng.integers(n_grids, size=n) if n_grids > 1 else np.zeros(n, dtype=int)
        if len(self.bases) > 1:  # drawn only then: the single-basis path is unchanged
            grid_idx = grid_idx + n_grids * rng.integers(len(self.bases), size=n)
        starts = list(range(0, n, BLOCK_SIZE))
        child = rng.spawn(len(starts))
        x = np.empty((n, len(cfg.channels), cfg.n_points), dtype=np.float32)
        clean = np.empty_like(x) if cfg.keep_clean else None
        jobs = [
            (
                conc[s : s + BLOCK_SIZE],
                grid_idx[s : s + BLOCK_SIZE],
                r,
                x[s : s + BLOCK_SIZE],
                None if clean is None else clean[s : s + BLOCK_SIZE],
            )
            for s, r in zip(starts, child, strict=True)
        ]
        nw = default_workers() if workers is None else max(1, int(workers))
        if nw > 1 and len(jobs) > 1:
            with ThreadPoolExecutor(max_workers=min(nw, len(jobs))) as pool:
                parts = list(pool.map(lambda j: self._block(*j), jobs))
        else:
            parts = [self._block(*j) for j in jobs]
        params = {k: np.concatenate([p.params[k] for p in parts]) for k in parts[0].params}
        return SynthBatch(
            x=x,
            clean=clean,
            concentrations=conc,
            targets=sum_normalise(conc).astype(np.float32),
            snr=np.concatenate([p.snr for p in parts]),
            scale=np.concatenate([p.scale for p in parts]),
            params=params,
            metabolites=tuple(self.basis.metabolites),
            channels=cfg.channels,
            ppm=self.plans[0].grid_ppm,
        )


def _max_abs_mix(conc: np.ndarray, plan: GridPlan) -> np.ndarray:
    """``max_t |sum_m c_m basis_m(t)|`` ``[n, 2]`` (OFF, ON).

    What :meth:`~mrs_lib.synth.state.SynthState.mix` records.

    Exact, but cheap: the maximum over the first ``H`` samples is compared with the
    bound ``sum_m |c_m| max_{t >= H} |basis_m(t)|`` on the rest; only rows where the
    bound could win are mixed in full.
    """
    c = np.asarray(conc, dtype=np.float32)
    H = plan.head_len
    head_fid = (
        np.einsum("nm,mk->nk", c, plan.head_real).view(np.complex64).reshape(c.shape[0], 2, H)
    )
    head = np.abs(head_fid).max(axis=-1)
    if H == plan.n_time:
        return head
    tail = np.abs(c) @ plan.tail_max  # [n, 2]
    redo = np.flatnonzero((head < tail).any(axis=-1))
    if redo.size:
        full = np.einsum("nm,mk->nk", c[redo], plan.basis_pre_real)
        head[redo] = np.abs(full.view(np.complex64).reshape(redo.size, 2, plan.n_time)).max(axis=-1)
    return head


def default_workers() -> int:
    """Threads used by :meth:`Synthesizer.generate`: the CPUs this process may use (at most 8)."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        n = os.cpu_count() or 1
    return max(1, min(8, n))


@functools.lru_cache(maxsize=8)
def _synthesizer(basis: Basis | Sequence[Basis], config: SynthConfig) -> Synthesizer:
    return Synthesizer(basis, config)


def generate(
    basis: Basis | Sequence[Basis],
    n: int,
    rng: np.random.Generator | int,
    config: SynthConfig | str = "paper",
    *,
    concentrations: np.ndarray | None = None,
    workers: int | None = None,
) -> SynthBatch:
    """Generate ``n`` synthetic MEGA-PRESS spectra from ``basis`` (chapter 2).

    ``config`` is a :class:`SynthConfig` or a preset name (``"paper"``,
    ``"paper-no-lw"``, ``"full"``). The plan (resampled basis, chirp-z
    constants) is cached per (basis object, config). Metabolite order is
    ``basis.metabolites``. A list of bases (e.g. the variants of
    :func:`mrs_lib.sim.variants.build_bank`) gives each spectrum one of them,
    drawn uniformly (``params["basis_index"]``).
    """
    return _synthesizer(basis, as_config(config)).generate(
        n, rng, concentrations=concentrations, workers=workers
    )


def example(
    basis: Basis,
    concentrations: Sequence[float],
    *,
    lorentzian_hz: float = 0.0,
    gaussian_hz: float = 0.0,
    shift_hz: float = 0.0,
    phase_deg: float = 0.0,
    baseline_level: float = 0.0,
    snr: float | None = None,
    seed: int = 0,
    config: SynthConfig | str = "paper",
) -> SynthBatch:
    """One spectrum with *chosen* augmentation values (for figures and widgets).

    Applies :class:`Linewidth`, :class:`FrequencyShift`, :class:`ZeroOrderPhase`,
    :class:`Baseline` (shape drawn from ``seed``) and, if ``snr`` is given,
    :class:`Noise` in SNR mode, with the given values; the acquisition grid and
    base linewidth come from ``config``.
    """
    cfg = as_config(config)
    synth = _synthesizer(
        basis, cfg.replace(augmentations=(), grids=cfg.grids[:1] if cfg.grids else None)
    )
    plan = synth.plans[0]
    rng = np.random.default_rng(seed)
    state = SynthState(plan, np.asarray(concentrations, dtype=float)[np.newaxis])
    state.mix()
    one = np.ones(1)
    Linewidth((0, 0)).apply(
        state, {"lorentzian_hz": lorentzian_hz * one, "gaussian_hz": gaussian_hz * one}
    )
    FrequencyShift().apply(state, {"shift_hz": shift_hz * one})
    ZeroOrderPhase().apply(state, {"phase_deg": phase_deg * one})
    state.transform()
    bl = Baseline()
    p = bl.draw(rng, 1)
    p["baseline_level"] = baseline_level * one
    bl.apply(state, p)
    params: dict[str, np.ndarray] = {
        "lorentzian_hz": lorentzian_hz * one,
        "shift_hz": shift_hz * one,
        "phase_deg": phase_deg * one,
        **p,
    }
    if snr is not None:
        noise = Noise("snr", snr=(snr, snr))
        params.update(noise(state, rng))
    assert state.spec is not None and state.peak_off is not None
    noisy = state.spec if state.noise is None else state.spec + state.noise
    x, scale = normalise_rows(noisy, cfg.channels)
    clean = grid_rows(state.spec, cfg.channels, scale)
    sigma = state.sigma[:, 0] if state.sigma is not None else np.zeros(1)
    with np.errstate(divide="ignore"):
        snr_meas = state.peak_off / (sigma * np.sqrt(plan.n_time))
    conc = np.asarray(concentrations, dtype=float)[np.newaxis]
    return SynthBatch(
        x,
        clean,
        conc,
        sum_normalise(conc).astype(np.float32),
        snr_meas,
        scale,
        params,
        tuple(basis.metabolites),
        cfg.channels,
        plan.grid_ppm,
    )


__all__ = [
    "BLOCK_SIZE",
    "SynthBatch",
    "Synthesizer",
    "default_workers",
    "example",
    "generate",
    "measure_linewidth",
]

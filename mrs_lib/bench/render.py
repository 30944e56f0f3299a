"""Render a phantom design into digital MEGA-PRESS scans under given bench conditions.

:func:`render` runs one signal chain per series (all phantoms of a series
share an acquisition and the series' draws) on the generator's working state
(:class:`~mrs_lib.synth.state.SynthState` on a
:class:`~mrs_lib.synth.plan.GridPlan` of the acquisition), with the
project's augmentation callables where one exists:

1. per metabolite: T2 attenuation ``exp(-TE/T2)`` and broadening ``1/(pi T2)``
   (:class:`~mrs_lib.synth.augment.MetaboliteLinewidth`); then the mixture,
   with editing efficiency ``ON' = OFF + e (ON - OFF)`` per metabolite;
2. residual water (:class:`~mrs_lib.synth.augment.ResidualWater`);
3. every line of the scan: Voigt linewidth
   (:class:`~mrs_lib.synth.augment.Linewidth`), frequency offset
   (:class:`~mrs_lib.synth.augment.FrequencyShift`), zero-order phase
   (:class:`~mrs_lib.synth.augment.ZeroOrderPhase`), eddy currents
   (:class:`~mrs_lib.synth.augment.EddyCurrent`);
4. ON against OFF: frequency and phase mismatch (``Spectrum.shift`` and
   ``Spectrum.phase``, half each way);
5. baseline humps (ranges of :class:`~mrs_lib.synth.augment.Baseline`, drawn by
   it, rendered as broad Gaussian lines in the time domain so that fitters get
   FIDs);
6. noise: complex white Gaussian in the time domain, its SD from the SNR
   (:meth:`~mrs_lib.synth.augment.Noise.sigma`, SNR mode).

**Seeds.** Each factor draws from its own stream,
``default_rng([seed, factor number, crc32(series)])``, so a scan's offset is
the same at level (b), at level (c) and with the offset alone, a series gets
the same spectra whichever other series are rendered, and the white noise is
the same realisation at every level (only its SD follows the drawn SNR).
The truth is the design's concentrations.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import MRSDataError
from ..io.phantoms import PhantomDesign, PhantomScan
from ..spectrum import EditedSpectra, Spectrum
from ..synth.augment import (
    Baseline,
    EddyCurrent,
    FrequencyShift,
    Linewidth,
    MetaboliteLinewidth,
    Noise,
    ResidualWater,
    ZeroOrderPhase,
)
from ..synth.plan import GridPlan
from ..synth.state import SynthState
from ..validation import DEFAULT_ACQUISITION, SERIES_ACQUISITION
from .conditions import FACTORS, GEL_SERIES, BenchConditions, BenchRanges
from .sources import NATIVE_ACQUISITION, Source, get_source

#: Random streams, one per factor plus the noise realisation (their numbers seed them).
STREAMS: tuple[str, ...] = (*FACTORS, "white")

_PLANS: dict[int, tuple[Any, GridPlan]] = {}


def _plan(basis: Any) -> GridPlan:
    """The generator's plan of ``basis`` on its own acquisition (cached per basis object)."""
    hit = _PLANS.get(id(basis))
    if hit is None or hit[0] is not basis:
        hit = (basis, GridPlan(basis, base_lw_hz=basis.lw_hz))
        _PLANS[id(basis)] = hit
    return hit[1]


def _rng(seed: int, stream: str, series: str) -> np.random.Generator:
    return np.random.default_rng([int(seed), STREAMS.index(stream), zlib.crc32(series.encode())])


def series_acquisition(series: str, conditions: BenchConditions) -> tuple[float, int]:
    """(bandwidth Hz, points) of a series: its own with ``bandwidth``, else the native one."""
    if conditions.has("bandwidth"):
        return SERIES_ACQUISITION.get(series, DEFAULT_ACQUISITION)
    return NATIVE_ACQUISITION


def _mix_edited(state: SynthState, efficiency: np.ndarray) -> None:
    """:meth:`SynthState.mix` with ``ON' = OFF + e (ON - OFF)`` per spectrum and metabolite."""
    plan = state.plan
    w = state.conc[:, :, np.newaxis].astype(np.complex64)
    if state.comp is not None:
        w = w * state.comp
    else:
        w = np.broadcast_to(w, (*w.shape[:2], plan.n_time))
    e = np.asarray(efficiency, dtype=np.float32)[:, :, np.newaxis]
    b_off, b_on = plan.basis_pre_met[:, 0], plan.basis_pre_met[:, 1]
    off = np.einsum("nmt,mt->nt", w, b_off)
    on = np.einsum("nmt,mt->nt", w * e, b_on) + np.einsum("nmt,mt->nt", w * (1 - e), b_off)
    state.fid = np.stack([off, on], axis=1).astype(np.complex64)
    state.comp = None
    state.ref_amplitude = np.abs(state.fid).max(axis=-1)


def _baseline_fids(
    plan: GridPlan, ranges: BenchRanges, rng: np.random.Generator, peak_off: np.ndarray
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Baseline humps ``[n, 2, T]`` (plain convention) scaled to ``level x peak_off``."""
    n = peak_off.shape[0]
    bl = Baseline(level=ranges.baseline_level, fwhm_ppm=ranges.baseline_fwhm_ppm)
    p = bl.draw(rng, n)
    lo, hi = float(plan.grid_ppm[0]), float(plan.grid_ppm[-1])
    f_hz = (lo + p["baseline_centre"] * (hi - lo) - plan.ppm_reference) * plan.larmor_mhz
    fwhm_hz = p["baseline_fwhm_ppm"] * plan.larmor_mhz
    t = plan.t
    arg = 2j * np.pi * f_hz[..., np.newaxis] * t - (np.pi * fwhm_hz[..., np.newaxis] * t) ** 2 / (
        4 * np.log(2)
    )
    humps = (p["baseline_amp"][..., np.newaxis] * np.exp(arg)).sum(axis=-2)  # [n, 2, T]
    peak = np.abs(plan.gt(humps)).max(axis=-1)  # [n, 2] tallest point in the window
    humps = humps / np.where(peak > 0, peak, 1.0)[..., np.newaxis]
    scale = p["baseline_level"] * peak_off * np.exp(1j * np.deg2rad(p["baseline_phase_deg"]))
    off = humps[:, 0] * scale[:, np.newaxis]
    on = off + bl.diff_fraction * humps[:, 1] * scale[:, np.newaxis]
    return np.stack([off, on], axis=1), {
        "baseline_level": p["baseline_level"],
        "baseline_phase_deg": p["baseline_phase_deg"],
    }


def render_series(
    series: str,
    concentrations: np.ndarray,
    conditions: BenchConditions,
    source: Source,
    seed: int = 0,
    *,
    noise: bool = True,
    gel: bool | None = None,
) -> tuple[EditedSpectra, dict[str, np.ndarray]]:
    """Scans ``[n]`` of one series with ``concentrations [n, n_met]`` (mM, source order).

    Returns the edited spectra and the drawn parameters (arrays with first
    axis ``n``; per-metabolite ones ``[n, n_met]``). ``noise=False`` leaves the
    noise out (for oracles); ``gel`` defaults to ``series in GEL_SERIES``.
    """
    rg = conditions.ranges
    gel = series in GEL_SERIES if gel is None else gel
    bw, n_points = series_acquisition(series, conditions)
    basis = source.basis(bw, n_points)
    plan = _plan(basis)
    conc = np.asarray(concentrations, dtype=float)
    n, m = conc.shape[0], len(basis.metabolites)
    if conc.ndim != 2 or conc.shape[1] != m:
        raise MRSDataError(
            f"argument 'concentrations': expected shape (n, {m}) for {basis.metabolites}, "
            f"got {conc.shape}"
        )
    p: dict[str, np.ndarray] = {}

    def rng(stream: str) -> np.random.Generator:
        return _rng(seed, stream, series)

    scale = np.ones((n, m))
    if conditions.has("t2"):
        t2_ms = rng("t2").uniform(*(rg.gel_t2_ms if gel else rg.solution_t2_ms), size=m)
        te_ms = basis.on.te_ms if basis.on.te_ms is not None else 68.0
        scale = np.broadcast_to(np.exp(-te_ms / t2_ms), (n, m)).copy()
        p["t2_ms"] = np.broadcast_to(t2_ms, (n, m)).copy()
    state = SynthState(plan, conc * scale)
    if conditions.has("t2"):
        met_lw = {
            "met_lorentzian_hz": 1e3 / (np.pi * p["t2_ms"]),
            "met_gaussian_hz": np.zeros((n, m)),
        }
        MetaboliteLinewidth(n_metabolites=m).apply(state, met_lw)
    if conditions.has("editing"):
        p["edit_efficiency"] = rng("editing").uniform(*rg.editing_efficiency, size=(n, m))
        _mix_edited(state, p["edit_efficiency"])
    else:
        state.mix()
    if conditions.has("water"):
        p.update(ResidualWater(level=rg.water_level)(state, rng("water")))
    if conditions.has("linewidth"):
        lor = rg.gel_lorentzian_hz if gel else rg.solution_lorentzian_hz
        gau = rg.gel_gaussian_hz if gel else rg.solution_gaussian_hz
        extra = (lor[0] - basis.lw_hz, lor[1] - basis.lw_hz)
        drawn = Linewidth(lorentzian_hz=extra, gaussian_hz=gau)(state, rng("linewidth"))
        p["lorentzian_hz"] = drawn["lorentzian_hz"] + basis.lw_hz  # total, basis included
        p["gaussian_hz"] = drawn["gaussian_hz"]
    if conditions.has("offset"):
        p.update(FrequencyShift(shift_hz=rg.offset_hz)(state, rng("offset")))
    if conditions.has("phase"):
        p.update(ZeroOrderPhase(phase_deg=rg.phase_deg)(state, rng("phase")))
    if conditions.has("eddy"):
        p.update(EddyCurrent(amplitude_hz=rg.eddy_hz, tau_s=rg.eddy_tau_s)(state, rng("eddy")))
    state.transform()  # the grid spectrum: the SNR's and the baseline's reference peak
    assert state.peak_off is not None
    fid = state.plain_fid().astype(np.complex128)
    common: dict[str, Any] = dict(
        dwell_s=basis.dwell_s,
        larmor_mhz=basis.larmor_mhz,
        ppm_reference=basis.on.ppm_reference,
        te_ms=basis.on.te_ms,
    )
    off = Spectrum(fid[:, 0], edit="off", **common)
    on = Spectrum(fid[:, 1], edit="on", **common)
    if conditions.has("mismatch"):
        r = rng("mismatch")
        d_hz = np.asarray(r.uniform(*rg.mismatch_hz, size=n))
        d_deg = np.asarray(r.uniform(*rg.mismatch_deg, size=n))
        off = off.shift(hz=-0.5 * d_hz).phase(-0.5 * d_deg)
        on = on.shift(hz=0.5 * d_hz).phase(0.5 * d_deg)
        p["mismatch_hz"], p["mismatch_deg"] = d_hz, d_deg
    if conditions.has("baseline"):
        humps, bp = _baseline_fids(plan, rg, rng("baseline"), state.peak_off.astype(float))
        off = off.replace(fid=off.fid + humps[:, 0])
        on = on.replace(fid=on.fid + humps[:, 1])
        p.update(bp)
    noise_model = Noise("snr", snr=rg.snr if conditions.has("noise") else rg.snr_clean)
    drawn_snr = noise_model.draw(rng("noise"), n)
    p["snr"] = drawn_snr["snr_target"]
    p["sigma"] = noise_model.sigma(state, drawn_snr)[:, 0].astype(float)
    if noise:
        white = rng("white").standard_normal((2, n, n_points, 2)) @ np.array([1.0, 1j])
        sd = p["sigma"][:, np.newaxis]
        off = off.replace(fid=off.fid + sd * white[0])
        on = on.replace(fid=on.fid + sd * white[1])
    p["peak_off"] = state.peak_off.astype(float)
    return EditedSpectra(off=off, on=on), p


def render(
    design: Sequence[PhantomDesign],
    conditions: BenchConditions,
    *,
    source: str | Source = "fida",
    seed: int = 0,
    repeats: int = 2,
    noise: bool = True,
) -> list[PhantomScan]:
    """Digital scans of a phantom design under ``conditions`` (``repeats`` scans per phantom).

    ``source`` is ``"fida"`` (the external FID-A basis: a test, never training
    data), ``"paper"`` (the project's own basis) or a :class:`Source`. Each
    scan's ``metadata`` holds its drawn parameters (per metabolite as
    ``<name>_<metabolite>``), the acquisition and the medium. Deterministic given
    ``seed`` (see the module docstring).
    """
    src = get_source(source) if isinstance(source, str) else source
    if int(repeats) < 1:
        raise MRSDataError(f"argument 'repeats': expected >= 1, got {repeats}")
    by_series: dict[str, list[PhantomDesign]] = {}
    for d in design:
        by_series.setdefault(d.series, []).append(d)
    scans: list[PhantomScan] = []
    for series, items in by_series.items():
        rows = [(d, r) for d in items for r in range(int(repeats))]
        basis_mets = src.basis(*series_acquisition(series, conditions)).metabolites
        conc = np.array([d.vector(basis_mets) for d, _ in rows])
        spectra, params = render_series(series, conc, conditions, src, seed, noise=noise)
        bw, n_points = series_acquisition(series, conditions)
        for i, (d, r) in enumerate(rows):
            meta: dict[str, Any] = {
                "source": src.name,
                "conditions": conditions.name,
                "repeat": r,
                "bw_hz": bw,
                "n_points": n_points,
                "medium": "gel" if series in GEL_SERIES else "solution",
            }
            for k, v in params.items():
                if v.ndim == 1:
                    meta[k] = float(v[i])
                else:
                    meta.update(
                        {f"{k}_{met}": float(x) for met, x in zip(basis_mets, v[i], strict=True)}
                    )
            scan_id = d.phantom_id if repeats == 1 else f"{d.phantom_id}#{r}"
            scans.append(
                PhantomScan(
                    series,
                    scan_id,
                    EditedSpectra(off=spectra.off[i], on=spectra.on[i]),
                    dict(d.concentrations_mm),
                    None,
                    meta,
                )
            )
    return scans


__all__ = ["STREAMS", "render", "render_series", "series_acquisition"]

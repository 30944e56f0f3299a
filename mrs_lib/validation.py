"""Phantom validation (chapter 5): digital phantom series and scoring every quantifier on them.

The paper's decisive test is 144 spectra of 112 Swansea phantoms with known
concentrations, where networks trained on simulations lose accuracy (GABA
MAE 0.151-0.160 for the best networks, 0.220 for LCModel, max-normalised;
:ref:`method-results`). Those spectra are not public. This module provides

* :func:`digital_phantoms` - the *design* of the Swansea series E1-E4d
  (:func:`mrs_lib.io.phantoms.load_design`) turned into MEGA-PRESS scans
  with the imperfections real phantom scans have and the training data of the
  paper lacked: phantom linewidths (Lorentzian plus a Gaussian part from
  imperfect shimming), a residual frequency offset after referencing, an
  uncorrected zero-order phase, ON/OFF frequency drift, a per-series
  acquisition bandwidth (1250 Hz for E1, 2000 Hz for the others) and noise;
* :func:`score_scans` - any set of quantifiers (:mod:`mrs_lib.quantify`) run on
  phantom scans (digital ones or a user's real ones from
  :func:`mrs_lib.io.phantoms.load_phantom_folder`), scored with the paper's
  max-normalised metric, one row per method x scan x metabolite;
* :func:`sweep_imperfections` - the same scoring with one imperfection at a
  time (phase, frequency shift, ON/OFF drift, linewidth) moved over a range
  of values, summarised by :func:`sweep_mae` and drawn by :func:`plot_sweep`
  (error against value) and :func:`plot_sweep_estimates` (one view of
  chapter 5's widget: every method's error per phantom at one setting).

The numbers on digital phantoms measure robustness to *modelled*
imperfections; they are not the paper's phantom numbers and the chapter says so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import MRSDataError
from .io.phantoms import PhantomDesign, PhantomScan
from .metrics import max_normalise
from .quantify import Quantifier
from .sim.basis import Basis
from .spectrum import EditedSpectra, Spectrum
from .types import METABOLITES, EditState

#: Acquisition (bandwidth Hz, points) per Swansea series
#: (the paper: 1250 Hz for E1, 2000 Hz elsewhere; :ref:`method-phantoms`).
SERIES_ACQUISITION: dict[str, tuple[float, int]] = {"E1": (1250.0, 2048)}
DEFAULT_ACQUISITION: tuple[float, int] = (2000.0, 4096)


@dataclass(frozen=True)
class PhantomConditions:
    """Ranges (uniform) of the imperfections of a digital phantom scan.

    Defaults follow :ref:`physics-beyond` and :ref:`method-phantoms`: solution phantoms have
    ~1-4 Hz lines at 3 T; the paper's real spectra were only referenced (to NAA
    or Cr), not phase-corrected, so a residual offset of a fraction of a hertz
    and a zero-order phase error remain; ON and OFF are interleaved, so slow
    drift shifts them slightly against each other. Noise is complex Gaussian
    in the time domain with SD = ``noise_rel`` x max|FID| of the OFF scan (the
    paper's relative definition; 0.005-0.02 gives SNRs typical of phantoms).
    """

    lorentzian_hz: tuple[float, float] = (1.0, 4.0)
    gaussian_hz: tuple[float, float] = (0.0, 3.0)
    shift_hz: tuple[float, float] = (-1.0, 1.0)
    drift_hz: tuple[float, float] = (-0.5, 0.5)
    phase_deg: tuple[float, float] = (-15.0, 15.0)
    noise_rel: tuple[float, float] = (0.005, 0.02)

    def replace(self, **changes: Any) -> PhantomConditions:
        return dataclasses.replace(self, **changes)

    @classmethod
    def ideal(cls) -> PhantomConditions:
        """Phantoms exactly like the paper's training data: 2 Hz lines, no offsets, no phase."""
        return cls((2.0, 2.0), (0.0, 0.0), (0.0, 0.0), (0.0, 0.0), (0.0, 0.0), (0.005, 0.02))

    @classmethod
    def gel(cls) -> PhantomConditions:
        """Gel phantoms: broader lines (gels are broader than solutions)."""
        return cls(lorentzian_hz=(3.0, 7.0), gaussian_hz=(2.0, 5.0))


def _uniform(rng: np.random.Generator, bounds: tuple[float, float], n: int) -> np.ndarray:
    lo, hi = float(bounds[0]), float(bounds[1])
    if hi < lo:
        raise MRSDataError(f"range {bounds!r}: expected (low, high) with low <= high")
    return rng.uniform(lo, hi, size=n)


def phantom_scans(
    basis: Basis,
    concentrations_mm: np.ndarray,
    rng: np.random.Generator | int,
    conditions: PhantomConditions = PhantomConditions(),
) -> tuple[EditedSpectra, dict[str, np.ndarray]]:
    """MEGA-PRESS scans of phantoms with the given concentrations ``[n, n_met]`` (mM).

    Returns the edited spectra (batch ``(n,)``) and the drawn parameters. The
    basis's own ``lw_hz`` counts towards the Lorentzian width. Each
    imperfection is drawn per scan; the drift moves ON against OFF by the
    drawn amount (half each way).
    """
    rng = np.random.default_rng(rng)
    conc = np.asarray(concentrations_mm, dtype=float)
    if conc.ndim != 2 or conc.shape[1] != len(basis):
        raise MRSDataError(
            f"argument 'concentrations_mm': expected shape (n, {len(basis)}) "
            f"for {basis.metabolites}, "
            f"got {conc.shape}"
        )
    n = conc.shape[0]
    p = {
        "lorentzian_hz": _uniform(rng, conditions.lorentzian_hz, n),
        "gaussian_hz": _uniform(rng, conditions.gaussian_hz, n),
        "shift_hz": _uniform(rng, conditions.shift_hz, n),
        "drift_hz": _uniform(rng, conditions.drift_hz, n),
        "phase_deg": _uniform(rng, conditions.phase_deg, n),
        "noise_rel": _uniform(rng, conditions.noise_rel, n),
    }
    extra_lor = np.maximum(p["lorentzian_hz"] - basis.lw_hz, 0.0)
    clean = basis.mix(conc)
    out: dict[EditState, Spectrum] = {}
    sign_of: tuple[tuple[EditState, float], ...] = (("off", -0.5), ("on", 0.5))
    for state, sign in sign_of:
        s = clean[state].broaden(extra_lor, p["gaussian_hz"])
        out[state] = s.shift(hz=p["shift_hz"] + sign * p["drift_hz"]).phase(p["phase_deg"])
    sigma = p["noise_rel"] * np.abs(out["off"].fid).max(axis=-1)
    noisy = {}
    for state in ("off", "on"):
        s = out[state]
        white = rng.standard_normal(s.fid.shape) + 1j * rng.standard_normal(s.fid.shape)
        noisy[state] = s.replace(fid=s.fid + sigma[:, np.newaxis] * white / np.sqrt(2.0))
    p["sigma"] = sigma
    return EditedSpectra(off=noisy["off"], on=noisy["on"]), p


def digital_phantoms(
    design: Sequence[PhantomDesign],
    basis_for: Any,
    rng: np.random.Generator | int,
    conditions: PhantomConditions | Mapping[str, PhantomConditions] = PhantomConditions(),
) -> list[PhantomScan]:
    """Digital scans of a phantom design (e.g. the Swansea series E1-E4d).

    ``basis_for(bw_hz, n_points) -> Basis`` supplies the basis of each series'
    acquisition (:data:`SERIES_ACQUISITION`; sample one simulated line list at
    several bandwidths with :func:`mrs_lib.sim.basis.basis_from_lines`).
    ``conditions`` may differ per series (a mapping series -> conditions,
    missing series get the defaults).
    """
    rng = np.random.default_rng(rng)
    scans: list[PhantomScan] = []
    by_series: dict[str, list[PhantomDesign]] = {}
    for d in design:
        by_series.setdefault(d.series, []).append(d)
    for series, items in by_series.items():
        bw, n_points = SERIES_ACQUISITION.get(series, DEFAULT_ACQUISITION)
        basis = basis_for(bw, n_points)
        cond = (
            conditions.get(series, PhantomConditions())
            if isinstance(conditions, Mapping)
            else conditions
        )
        conc = np.array([d.vector(basis.metabolites) for d in items])
        spectra, params = phantom_scans(basis, conc, rng, cond)
        for i, d in enumerate(items):
            scans.append(
                PhantomScan(
                    series,
                    d.phantom_id,
                    EditedSpectra(off=spectra.off[i], on=spectra.on[i]),
                    dict(d.concentrations_mm),
                    None,
                    {k: float(v[i]) for k, v in params.items()}
                    | {"bw_hz": bw, "n_points": n_points},
                )
            )
    return scans


def series_bases(
    preset: str = "paper",
    *,
    refocusing: str | None = None,
    grid_points: int | None = None,
    lw_hz: float = 2.0,
    progress: bool = True,
) -> Any:
    """``basis_for(bw_hz, n_points) -> Basis`` for :func:`digital_phantoms`.

    Simulates (or loads from the cache) the preset's line lists once and samples
    them at each requested acquisition, with the paper's 2 Hz basis line.
    """
    from .sim.basis import basis_from_lines, simulate_lines
    from .sim.presets import get_preset

    pre = get_preset(preset, refocusing=refocusing, grid_points=grid_points)
    lines = simulate_lines(pre, progress=progress)
    cache: dict[tuple[float, int], Basis] = {}

    def basis_for(bw_hz: float, n_points: int) -> Basis:
        key = (float(bw_hz), int(n_points))
        if key not in cache:
            cache[key] = basis_from_lines(
                lines, pre.replace(bw_hz=key[0]), n_points=key[1], lw_hz=lw_hz
            )
        return cache[key]

    return basis_for


class PerAcquisition:
    """A quantifier made afresh for each acquisition (bandwidth, points) it meets.

    Fitters need a basis sampled like the data; the Swansea series differ in
    bandwidth (E1: 1250 Hz). ``make(bw_hz, n_points) -> Quantifier`` builds
    one per acquisition, cached.
    """

    def __init__(self, make: Any, name: str | None = None) -> None:
        self.make = make
        self.name = name or "per-acquisition"
        self._cache: dict[tuple[float, int], Quantifier] = {}

    def quantify(self, spectra: EditedSpectra) -> Any:
        key = (round(spectra.off.bw_hz, 6), spectra.off.n_points)
        if key not in self._cache:
            self._cache[key] = self.make(*key)
        return self._cache[key].quantify(spectra)


def _stack(scans: Sequence[PhantomScan]) -> EditedSpectra:
    first = scans[0].spectra
    return EditedSpectra(
        off=first.off.replace(fid=np.stack([s.spectra.off.fid for s in scans])),
        on=first.on.replace(fid=np.stack([s.spectra.on.fid for s in scans])),
    )


def _groups(scans: Sequence[PhantomScan]) -> list[list[int]]:
    """Indices of scans sharing acquisition parameters (so they can be quantified as one batch)."""
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, s in enumerate(scans):
        o = s.spectra.off
        groups.setdefault((o.n_points, o.dwell_s, o.larmor_mhz, o.ppm_reference), []).append(i)
    return list(groups.values())


def score_scans(
    quantifiers: Mapping[str, Quantifier],
    scans: Sequence[PhantomScan],
    metabolites: Sequence[str] = METABOLITES,
) -> Any:
    """Quantify every scan with every method; a long pandas table with the paper's metric.

    Columns: ``method, series, scan, metabolite, true_mm, estimate, true_norm,
    estimate_norm, abs_error`` where ``*_norm`` are max-normalised per scan
    (:ref:`method-metric`) and ``abs_error = |estimate_norm - true_norm|``. A method that
    does not report a metabolite (the Gannet-style fit reports GABA and Cr)
    gets NaN there, and both its estimates and the truth are max-normalised
    over the metabolites it does report.
    """
    import pandas as pd

    if not scans:
        raise MRSDataError("argument 'scans': expected at least one phantom scan")
    mets = tuple(metabolites)
    truth = np.array([s.vector(mets) for s in scans])
    rows: list[dict[str, Any]] = []
    for label, q in quantifiers.items():
        est = np.full((len(scans), len(mets)), np.nan)
        for idx in _groups(scans):
            result = q.quantify(_stack([scans[i] for i in idx]))
            for j, m in enumerate(mets):
                if m in result.metabolites:
                    est[idx, j] = result.concentrations[:, result.metabolites.index(m)]
        # max-normalise over the metabolites this method reports, truth and estimate alike
        reported = ~np.isnan(est).all(axis=0)
        est_norm = np.full_like(est, np.nan)
        true_norm = np.full_like(est, np.nan)
        est_norm[:, reported] = max_normalise(np.nan_to_num(est[:, reported]))
        true_norm[:, reported] = max_normalise(truth[:, reported])
        for i, s in enumerate(scans):
            for j, m in enumerate(mets):
                rows.append(
                    {
                        "method": label,
                        "series": s.series,
                        "scan": s.scan_id,
                        "metabolite": m,
                        "true_mm": truth[i, j],
                        "estimate": est[i, j],
                        "true_norm": true_norm[i, j],
                        "estimate_norm": est_norm[i, j],
                        "abs_error": abs(est_norm[i, j] - true_norm[i, j]),
                    }
                )
    return pd.DataFrame(rows)


def mae_table(scores: Any, by: Iterable[str] = ("method",)) -> Any:
    """Mean absolute (max-normalised) error per metabolite, one row per group of ``by``."""
    return scores.pivot_table(
        index=list(by), columns="metabolite", values="abs_error", aggfunc="mean"
    )


#: The imperfections :func:`sweep_imperfections` moves one at a time:
#: name -> (field of :class:`PhantomConditions`, unit).
IMPERFECTIONS: dict[str, tuple[str, str]] = {
    "phase": ("phase_deg", "deg"),
    "shift": ("shift_hz", "Hz"),
    "drift": ("drift_hz", "Hz"),
    "linewidth": ("lorentzian_hz", "Hz"),
}


def sweep_imperfections(
    quantifiers: Mapping[str, Quantifier],
    design: Sequence[PhantomDesign],
    basis_for: Any,
    sweeps: Mapping[str, Sequence[float]],
    *,
    seed: int = 0,
    base: PhantomConditions | None = None,
    metabolites: Sequence[str] = METABOLITES,
) -> Any:
    """Score every method with one imperfection at a time swept over its values (chapter 5).

    ``sweeps`` maps names of :data:`IMPERFECTIONS` (``"phase"`` in degrees,
    ``"shift"``, ``"drift"`` and ``"linewidth"`` in Hz; the linewidth is the
    total Lorentzian FWHM, basis line included) to the values to visit. Every
    other imperfection stays at ``base`` (default :meth:`PhantomConditions.ideal`:
    2 Hz lines, no phase, shift or drift, phantom-like noise). Each setting
    simulates the phantoms of ``design`` with the same ``seed``, so the noise
    is the same at every value and a change of error is the imperfection's
    alone (common random numbers).

    Returns the long table of :func:`score_scans` with two more columns,
    ``imperfection`` and ``value`` (summarise it with :func:`sweep_mae`).
    """
    import pandas as pd

    base = PhantomConditions.ideal() if base is None else base
    unknown = sorted(set(sweeps) - set(IMPERFECTIONS))
    if unknown:
        raise MRSDataError(
            f"argument 'sweeps': unknown imperfection(s) {unknown}, "
            f"expected some of {sorted(IMPERFECTIONS)}"
        )
    tables = []
    for name, values in sweeps.items():
        field = IMPERFECTIONS[name][0]
        for value in values:
            v = float(value)
            cond = base.replace(**{field: (v, v)})
            scans = digital_phantoms(design, basis_for, rng=seed, conditions=cond)
            scores = score_scans(quantifiers, scans, metabolites)
            scores.insert(0, "value", v)
            scores.insert(0, "imperfection", name)
            tables.append(scores)
    if not tables:
        raise MRSDataError("argument 'sweeps': expected at least one imperfection with values")
    return pd.concat(tables, ignore_index=True)


def sweep_mae(sweep: Any) -> Any:
    """Tidy summary of :func:`sweep_imperfections`: one row per imperfection, value, method
    and metabolite with the ``mae`` (mean absolute max-normalised error), the ``bias`` (mean
    signed error, estimate minus truth) and ``n`` (scans). Metabolites a method does not
    report are dropped."""
    scored = sweep.dropna(subset=["abs_error"])
    signed = scored["estimate_norm"] - scored["true_norm"]
    grouped = scored.assign(signed=signed).groupby(
        ["imperfection", "value", "method", "metabolite"], sort=False
    )
    return grouped.agg(
        mae=("abs_error", "mean"), bias=("signed", "mean"), n=("abs_error", "size")
    ).reset_index()


#: Axis labels of the imperfections in :func:`plot_sweep`.
_AXIS_LABELS = {
    "phase": "zero-order phase (°)",
    "shift": "frequency offset (Hz)",
    "drift": "ON-OFF drift (Hz)",
    "linewidth": "Lorentzian linewidth, FWHM (Hz)",
}


def _unit(imperfection: str) -> str:
    unit = IMPERFECTIONS[imperfection][1]
    return "°" if unit == "deg" else f" {unit}"


def plot_sweep(errors: Any, metabolite: str = "GABA") -> Any:
    """One panel per imperfection: ``metabolite``'s MAE against the imperfection's value,
    one line per method (the table of :func:`sweep_mae`). Returns the figure."""
    import matplotlib.pyplot as plt

    rows = errors[errors.metabolite == metabolite]
    names = [n for n in IMPERFECTIONS if n in set(rows.imperfection)]
    if not names:
        raise MRSDataError(f"sweep table: no rows for metabolite {metabolite!r}")
    methods = list(dict.fromkeys(rows.method))
    fig, axes = plt.subplots(
        1, len(names), figsize=(3.2 * len(names) + 1.8, 3.4), sharey=True, layout="constrained"
    )
    axes = np.atleast_1d(axes)
    top = float(rows.mae.max()) * 1.08
    for ax, name in zip(axes, names, strict=True):
        part = rows[rows.imperfection == name]
        for k, method in enumerate(methods):
            line = part[part.method == method].sort_values("value")
            ax.plot(line.value, line.mae, "o-", ms=3, color=f"C{k}", label=method)
        ax.set(title=name, xlabel=_AXIS_LABELS[name], ylim=(0, top))
    axes[0].set_ylabel(f"{metabolite} MAE (max-normalised)")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside right center", frameon=False)
    return fig


def sweep_ylim(sweep: Any, metabolite: str = "GABA") -> tuple[float, float]:
    """Limits that hold every signed error (estimate - truth) of ``metabolite`` in ``sweep``,
    so all views of :func:`plot_sweep_estimates` share one axis and keep their data inside."""
    rows = sweep[(sweep.metabolite == metabolite) & sweep.abs_error.notna()]
    signed = (rows.estimate_norm - rows.true_norm).to_numpy()
    lo, hi = min(float(signed.min()), 0.0), max(float(signed.max()), 0.0)
    pad = 0.06 * (hi - lo) or 0.05
    return lo - pad, hi + pad


def plot_sweep_estimates(
    sweep: Any,
    imperfection: str,
    value: float,
    metabolite: str = "GABA",
    ylim: tuple[float, float] | None = None,
) -> Any:
    """Every method's ``metabolite`` error per phantom (estimate - truth, max-normalised) at
    one setting of :func:`sweep_imperfections`: a dot per phantom, a bar at each method's
    mean. ``ylim`` defaults to :func:`sweep_ylim` of the whole sweep. Returns the figure."""
    import matplotlib.pyplot as plt

    rows = sweep[
        (sweep.imperfection == imperfection)
        & np.isclose(sweep.value, value)
        & (sweep.metabolite == metabolite)
        & sweep.abs_error.notna()
    ]
    if rows.empty:
        raise MRSDataError(f"sweep table: no {metabolite} rows for {imperfection} = {value:g}")
    ylim = sweep_ylim(sweep, metabolite) if ylim is None else ylim
    methods = list(dict.fromkeys(sweep.method))
    fig, ax = plt.subplots(figsize=(8.5, 3.6), layout="constrained")
    jitter = np.random.default_rng(0).uniform(-0.15, 0.15, size=len(rows))
    for k, method in enumerate(methods):
        part = rows[rows.method == method]
        signed = (part.estimate_norm - part.true_norm).to_numpy()
        if signed.size:
            ax.plot(k + jitter[: signed.size], signed, "o", ms=4, alpha=0.7, color=f"C{k}")
            ax.plot([k - 0.3, k + 0.3], [signed.mean()] * 2, color=f"C{k}", lw=3)
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set(
        xticks=range(len(methods)),
        ylim=ylim,
        xlim=(-0.5, len(methods) - 0.5),
        ylabel=f"{metabolite} estimate - truth\n(max-normalised)",
        title=f"{imperfection} {value:g}{_unit(imperfection)}: {metabolite} error per phantom",
    )
    ax.set_xticklabels([m.replace(" (", "\n(") for m in methods], fontsize=8)
    return fig


__all__ = [
    "DEFAULT_ACQUISITION",
    "IMPERFECTIONS",
    "SERIES_ACQUISITION",
    "PerAcquisition",
    "PhantomConditions",
    "digital_phantoms",
    "mae_table",
    "phantom_scans",
    "plot_sweep",
    "plot_sweep_estimates",
    "score_scans",
    "series_bases",
    "sweep_imperfections",
    "sweep_mae",
    "sweep_ylim",
]

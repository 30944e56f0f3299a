"""One parameter at a time: how each method's estimate moves (chapter 7's widget).

The bench's decomposition (:func:`~mrs_lib.bench.gap.decompose`) draws every
imperfection at random within its range; this module moves **one** parameter
deterministically over a grid of values, renders the same phantoms at each
value with the bench's renderer (:func:`~mrs_lib.bench.render.render`, level
(a) otherwise: 2 Hz lines, NAA SNR 1000) and records every method's estimate.
The spectra come from the project's own ``paper`` basis
(:class:`~mrs_lib.bench.sources.SimulatedSource`), so at the nominal value of
every parameter nothing is mismatched at all, and whatever moves an estimate
is that parameter alone. Every value reuses the same noise realisation
(the renderer's per-series streams), so the curves are free of sampling noise
between values.

The parameters (:data:`PARAMETERS`):

``gaba_shift``
    GABA's basis spectra (ON and OFF) moved by a number of ppm, every other
    metabolite in place (:class:`ShiftedSource`): a GABA chemical shift that
    the simulator got wrong by that much. Literature values of GABA's shifts
    differ by up to about 0.02 ppm (Govindaraju 2000, Kaiser 2008, Near 2013).
``edit_centre``
    The ON editing pulse moved from 1.9 ppm by a number of ppm, the basis
    re-simulated with :class:`~mrs_lib.sim.variants.VariantParams` (the OFF
    pulse stays at 7.4 ppm): an editing pulse placed slightly off, or a B0
    drift during the scan.
``linewidth``
    The total Lorentzian FWHM of every line (Hz, the basis's 2 Hz included).
``phase``
    A zero-order phase (degrees) of ON and OFF alike.
``offset``
    A frequency offset (Hz) of ON and OFF alike.

:func:`sweep_parameters` does the rendering and scoring (a
:class:`ParameterSweep`), :func:`plot_parameter` draws one view of the widget
(the DIFF spectrum at the extreme values beside every method's error against
the value) and :func:`parameter_effects` sums a sweep up as the largest move of
each method's mean error away from its value at the nominal setting.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import MRSDataError
from ..io.phantoms import PhantomDesign
from ..quantify import Quantifier
from ..sim.basis import Basis
from ..sim.presets import Preset
from ..validation import score_scans
from .conditions import BenchConditions, BenchRanges
from .render import render
from .sources import SimulatedSource, Source, get_source


@dataclass(frozen=True)
class Parameter:
    """One parameter of the sweep: its title, unit, default values and nominal value."""

    title: str
    unit: str
    values: tuple[float, ...]
    nominal: float = 0.0

    def label(self, value: float) -> str:
        """``value`` with its unit, e.g. ``"+0.015 ppm"`` or ``"10°"``."""
        number = f"{value:+g}" if self.nominal == 0.0 and value != 0 else f"{value:g}"
        return f"{number}°" if self.unit == "deg" else f"{number} {self.unit}"


#: The parameters :func:`sweep_parameters` moves (module docstring), with default values.
PARAMETERS: dict[str, Parameter] = {
    "gaba_shift": Parameter("GABA chemical shift", "ppm", (-0.03, -0.015, 0.0, 0.015, 0.03)),
    "edit_centre": Parameter("editing (ON) pulse shift", "ppm", (-0.03, -0.015, 0.0, 0.015, 0.03)),
    "linewidth": Parameter("Lorentzian linewidth", "Hz", (2.0, 4.0, 6.0, 8.0), nominal=2.0),
    "phase": Parameter("zero-order phase", "deg", (-20.0, -10.0, 0.0, 10.0, 20.0)),
    "offset": Parameter("frequency offset", "Hz", (-6.0, -3.0, 0.0, 3.0, 6.0)),
}


def _parameter(name: str) -> Parameter:
    if name not in PARAMETERS:
        raise MRSDataError(f"parameter {name!r}: expected one of {tuple(PARAMETERS)}")
    return PARAMETERS[name]


# ---------------------------------------------------------------------------- sources
class ShiftedSource:
    """``inner``'s basis with one metabolite's ON and OFF spectra moved by ``ppm``.

    Every other metabolite is ``inner``'s, bit for bit; positive ``ppm`` moves
    the lines to higher ppm (:meth:`mrs_lib.spectrum.Spectrum.shift`).
    """

    def __init__(self, inner: Source, metabolite: str, ppm: float) -> None:
        self.inner = inner
        self.metabolite = metabolite
        self.ppm = float(ppm)
        self.name = f"{inner.name}, {metabolite} {self.ppm:+g} ppm"
        self.larmor_mhz = inner.larmor_mhz
        self._cache: dict[tuple[float, int], Basis] = {}

    def basis(self, bw_hz: float, n_points: int) -> Basis:
        key = (float(bw_hz), int(n_points))
        if key not in self._cache:
            b = self.inner.basis(*key)
            moves = np.zeros(len(b))
            moves[b.index(self.metabolite)] = self.ppm
            self._cache[key] = b.map(lambda s: s.shift(ppm=moves))
        return self._cache[key]


class PresetSource(SimulatedSource):
    """A :class:`~mrs_lib.bench.sources.SimulatedSource` of any :class:`~mrs_lib.sim.presets.Preset`
    (2 Hz lines), named ``name``."""

    def __init__(self, preset: Preset, name: str) -> None:
        self.preset = preset
        self.name = name
        self.larmor_mhz = preset.sequence.larmor_mhz
        self._lines: Any = None
        self._cache: dict[tuple[float, int], Basis] = {}


#: First seed of the held-out basis variants of :func:`heldout_source` (the training bank
#: of :func:`mrs_lib.sim.variants.build_bank` uses seed 0).
HELDOUT_SEED = 31337


def heldout_source(k: int, seed: int = HELDOUT_SEED) -> PresetSource:
    """Basis variant ``k`` drawn with the held-out seed ``seed + k``: a development source.

    Not the external basis and not in the training bank, so that settings (the
    decoder's, for one) can be chosen on spectra rendered from it (``render(...,
    source=heldout_source(k))``) without touching the test bench. The decoder's
    defaults were chosen on the Swansea design at level (c) from ``k = 0, 1, 2``
    (render seeds ``500 + k``, one scan per phantom).
    """
    from ..sim.variants import draw_variant

    params = draw_variant(np.random.default_rng(int(seed) + int(k)))
    return PresetSource(params.preset("paper"), f"held-out variant {int(seed) + int(k)}")


_SOURCES: dict[tuple[str, float, str, int | None], Source] = {}


def parameter_source(
    parameter: str, value: float, source: str = "paper", *, grid_points: int | None = None
) -> Source:
    """The source of one setting: ``source`` itself unless the parameter is in the basis.

    ``gaba_shift`` wraps ``source`` in a :class:`ShiftedSource`; ``edit_centre``
    re-simulates the ``paper`` protocol with the ON pulse moved (only
    ``source="paper"``; ``grid_points`` of the shaped refocusing, default the
    preset's, see :meth:`~mrs_lib.sim.variants.VariantParams.preset`). Sources
    are built once per process and setting.
    """
    from ..sim.variants import VariantParams

    _parameter(parameter)
    v = float(value)
    if parameter == "gaba_shift" and v != 0.0:
        key: tuple[str, float, str, int | None] = (parameter, v, source, None)
        if key not in _SOURCES:
            _SOURCES[key] = ShiftedSource(get_source(source), "GABA", v)
        return _SOURCES[key]
    if parameter == "edit_centre":
        if source != "paper":
            raise MRSDataError(
                f"parameter 'edit_centre' re-simulates the project's basis: expected "
                f"source 'paper', got {source!r}"
            )
        if v == 0.0 and grid_points is None:
            return get_source("paper")
        key = (parameter, v, source, grid_points)
        if key not in _SOURCES:
            nominal = VariantParams.nominal("paper")
            params = dataclasses.replace(nominal, edit_on_ppm=nominal.edit_on_ppm + v)
            name = f"paper, ON pulse at {params.edit_on_ppm:.3f} ppm"
            _SOURCES[key] = PresetSource(params.preset("paper", grid_points=grid_points), name)
        return _SOURCES[key]
    return get_source(source)


def parameter_conditions(parameter: str, value: float) -> BenchConditions:
    """Level (a) with ``linewidth``, ``phase`` or ``offset`` fixed at ``value`` (else level (a)).

    The linewidth is the total Lorentzian FWHM for solution and gel series
    alike (no Gaussian part); the phase and the offset apply to ON and OFF.
    """
    _parameter(parameter)
    v = float(value)
    fixed = (v, v)
    ranges = {
        "linewidth": BenchRanges(
            solution_lorentzian_hz=fixed,
            gel_lorentzian_hz=fixed,
            solution_gaussian_hz=(0.0, 0.0),
            gel_gaussian_hz=(0.0, 0.0),
        ),
        "phase": BenchRanges(phase_deg=fixed),
        "offset": BenchRanges(offset_hz=fixed),
    }
    if parameter not in ranges:
        return BenchConditions(frozenset(), BenchRanges(), f"{parameter}={v:g}")
    return BenchConditions(frozenset({parameter}), ranges[parameter], f"{parameter}={v:g}")


# ---------------------------------------------------------------------------- the sweep
@dataclass(frozen=True)
class ParameterSweep:
    """Every method's estimates as each parameter moves, and what the spectrum does.

    ``scores`` is :func:`mrs_lib.validation.score_scans`'s long table with three
    more columns: ``parameter``, ``value`` and ``signed`` (``estimate_norm -
    true_norm``). ``spectra[(parameter, value)]`` is the real DIFF spectrum
    ``(ppm, values)`` of the ``shown`` scan over ``window_ppm``.
    """

    scores: Any
    spectra: Mapping[tuple[str, float], tuple[np.ndarray, np.ndarray]]
    shown: str
    window_ppm: tuple[float, float]

    @property
    def parameters(self) -> list[str]:
        return list(dict.fromkeys(self.scores["parameter"]))

    @property
    def methods(self) -> list[str]:
        return list(dict.fromkeys(self.scores["method"]))

    def values(self, parameter: str) -> list[float]:
        rows = self.scores[self.scores["parameter"] == parameter]
        return sorted(set(rows["value"].tolist()))

    def ylim(self, metabolite: str = "GABA", pad: float = 0.06) -> tuple[float, float]:
        """Limits holding every signed error of ``metabolite`` (and 0) in the whole sweep."""
        rows = self.scores[(self.scores["metabolite"] == metabolite) & self.scores.signed.notna()]
        if rows.empty:
            raise MRSDataError(f"parameter sweep: no {metabolite} estimates")
        lo, hi = min(float(rows.signed.min()), 0.0), max(float(rows.signed.max()), 0.0)
        margin = pad * (hi - lo) or 0.05
        return lo - margin, hi + margin


def sweep_parameters(
    quantifiers: Mapping[str, Quantifier],
    design: Sequence[PhantomDesign],
    values: Mapping[str, Sequence[float]] | None = None,
    *,
    source: str = "paper",
    seed: int = 0,
    grid_points: int | None = None,
    window_ppm: tuple[float, float] = (2.6, 4.1),
) -> ParameterSweep:
    """Render ``design`` (one scan per phantom) at each value of each parameter and score it.

    ``values`` maps names of :data:`PARAMETERS` to the values to visit (default:
    every parameter with its default values). The spectrum kept for display is
    the DIFF of the phantom with the most GABA. ``grid_points`` is passed to
    :func:`parameter_source` (the ``edit_centre`` simulations).
    """
    import pandas as pd

    design = list(design)
    if not design:
        raise MRSDataError("argument 'design': expected at least one phantom")
    grid = {n: p.values for n, p in PARAMETERS.items()} if values is None else dict(values)
    shown = max(range(len(design)), key=lambda i: design[i].concentrations_mm.get("GABA", 0.0))
    tables, spectra = [], {}
    for name, vals in grid.items():
        _parameter(name)
        if not len(vals):
            raise MRSDataError(f"parameter {name!r}: expected at least one value")
        for value in vals:
            v = float(value)
            src = parameter_source(name, v, source, grid_points=grid_points)
            scans = render(design, parameter_conditions(name, v), source=src, seed=seed, repeats=1)
            scores = score_scans(quantifiers, scans)
            scores.insert(0, "value", v)
            scores.insert(0, "parameter", name)
            tables.append(scores)
            diff = scans[shown].spectra.diff
            ppm = diff.ppm_axis()
            inside = (ppm >= window_ppm[0]) & (ppm <= window_ppm[1])
            spectra[(name, v)] = (ppm[inside], diff.spectrum().real[inside])
    table = pd.concat(tables, ignore_index=True)
    table["signed"] = table["estimate_norm"] - table["true_norm"]
    d = design[shown]
    label = f"series {d.series}, GABA {d.concentrations_mm.get('GABA', 0.0):g} mM"
    return ParameterSweep(table, spectra, label, (float(window_ppm[0]), float(window_ppm[1])))


def parameter_effects(sweep: ParameterSweep, metabolite: str = "GABA") -> Any:
    """The largest move of each method's mean error away from its value at the nominal setting.

    One row per method, one column per parameter: ``max_v |bias(v) - bias(nominal)|``
    where ``bias`` is the mean signed error of ``metabolite`` over the phantoms
    (max-normalised). The nominal setting is :data:`PARAMETERS`' ``nominal`` (or
    the swept value closest to it).
    """
    import pandas as pd

    rows = sweep.scores[(sweep.scores.metabolite == metabolite) & sweep.scores.signed.notna()]
    out: dict[str, dict[str, float]] = {}
    for name in sweep.parameters:
        part = rows[rows.parameter == name]
        bias = part.groupby(["method", "value"])["signed"].mean().unstack("value")
        vals = np.array(bias.columns, dtype=float)
        ref = bias.columns[int(np.argmin(np.abs(vals - PARAMETERS[name].nominal)))]
        out[name] = (bias.sub(bias[ref], axis=0)).abs().max(axis=1).to_dict()
    table = pd.DataFrame(out)
    return table.loc[[m for m in sweep.methods if m in table.index]]


def plot_parameter(
    sweep: ParameterSweep,
    parameter: str,
    metabolite: str = "GABA",
    ylim: tuple[float, float] | None = None,
) -> Any:
    """One view of chapter 7's widget: what ``parameter`` does to the spectrum and the estimates.

    Left: the DIFF spectrum of the shown phantom at the smallest, the nominal and
    the largest value. Right: every method's ``metabolite`` error (estimate -
    truth, max-normalised) against the value, a dot per phantom and a line
    through the means (the bias); the methods are drawn side by side around
    each value. ``ylim`` defaults to :meth:`ParameterSweep.ylim` of the whole
    sweep, so every view shares one scale. Returns the figure.
    """
    import matplotlib.pyplot as plt

    from ..widgets import shared_limits

    par = _parameter(parameter)
    vals = sweep.values(parameter)
    if not vals:
        raise MRSDataError(f"parameter sweep: no rows for {parameter!r}")
    ylim = sweep.ylim(metabolite) if ylim is None else ylim
    nominal = min(vals, key=lambda v: abs(v - par.nominal))
    shown = list(dict.fromkeys([vals[0], nominal, vals[-1]]))
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 3.8), width_ratios=(2, 3), layout="constrained")
    colours = {vals[0]: "C0", nominal: "k", vals[-1]: "C3"}
    curves = []
    for v in shown:
        ppm, y = sweep.spectra[(parameter, v)]
        ax.plot(ppm, y, color=colours[v], lw=1.0, label=par.label(v))
        curves.append(y)
    lo, hi = sweep.window_ppm
    ax.set(xlim=(hi, lo), ylim=shared_limits(curves), xlabel="ppm", yticks=[])
    ax.set_title(f"DIFF spectrum, {sweep.shown}", fontsize=9)
    ax.legend(fontsize=8, frameon=False, loc="upper left")

    rows = sweep.scores[
        (sweep.scores.parameter == parameter)
        & (sweep.scores.metabolite == metabolite)
        & sweep.scores.signed.notna()
    ]
    methods = [m for m in sweep.methods if m in set(rows.method)]
    span = (vals[-1] - vals[0]) or 1.0
    step = 0.3 * (min(np.diff(vals)) if len(vals) > 1 else span) / max(len(methods), 1)
    for k, method in enumerate(methods):
        part = rows[rows.method == method]
        dx = (k - (len(methods) - 1) / 2) * step
        bx.plot(part.value + dx, part.signed, "o", ms=3, alpha=0.45, color=f"C{k}")
        bias = part.groupby("value")["signed"].mean()
        bx.plot(bias.index + dx, bias.to_numpy(), "-o", ms=4, color=f"C{k}", label=method)
    bx.axhline(0.0, color="0.3", lw=0.8)
    edge = 0.08 * span + step * len(methods) / 2
    bx.set(
        xlim=(vals[0] - edge, vals[-1] + edge),
        ylim=ylim,
        xticks=vals,
        xlabel=f"{par.title} ({'°' if par.unit == 'deg' else par.unit})",
        ylabel=f"{metabolite} estimate - truth\n(max-normalised)",
    )
    bx.set_title(f"{metabolite} error per phantom (dots) and mean (lines)", fontsize=9)
    fig.legend(
        *bx.get_legend_handles_labels(), loc="outside right center", frameon=False, fontsize=8
    )
    fig.suptitle(
        f"{par.title}: {par.label(vals[0])} to {par.label(vals[-1])}, everything else nominal",
        fontsize=11,
    )
    return fig


__all__ = [
    "HELDOUT_SEED",
    "PARAMETERS",
    "Parameter",
    "ParameterSweep",
    "PresetSource",
    "ShiftedSource",
    "heldout_source",
    "parameter_conditions",
    "parameter_effects",
    "parameter_source",
    "plot_parameter",
    "sweep_parameters",
]

"""Scoring the bench and decomposing the sim-to-real gap (chapter 7).

* :func:`make_quantifiers` - the methods by name: the shipped networks
  (:data:`SHIPPED_NETWORKS`), the LCModel-style fit ``lcm``, the Gannet-style
  fit ``gannet`` and real LCModel ``lcmodel``; the fitters get the project's
  ``paper`` basis simulated at the data's field
  (:func:`~mrs_lib.bench.sources.fitter_bases`);
* :func:`score_bench` - render one variant and score every method on it with
  the paper's metric (max-normalised MAE per metabolite,
  :func:`mrs_lib.validation.score_scans`), timing the rendering and each method;
* :func:`decompose` - the levels and one imperfection at a time, from the
  external basis and from the project's own: a tidy table
  (``source, variant, method, metabolite, mae, n_scans``);
* :func:`plot_gap` - that table as heatmaps (variants x methods), one per source;
* :func:`run_bench` - what ``mrs validate --bench`` prints (:func:`report_table` turns
  its JSON back into the tidy table).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..io.phantoms import PhantomDesign, load_design
from ..quantify import Quantifier, get_quantifier
from ..types import METABOLITES
from ..validation import PerAcquisition, score_scans
from .conditions import LEVEL_TITLES, BenchConditions, variants
from .render import render
from .sources import get_source

#: The networks shipped with the library (``mrs_lib/assets``).
SHIPPED_NETWORKS: tuple[str, ...] = (
    "cnn-cpu",
    "cnn-cpu-no-lw",
    "yae-paper",
    "yae-paper-no-lw",
    "fcnn-cpu",
    "cnn-robust",
    "cnn-robust-ref",
    "yae-robust",
)
#: Shipped networks trained for the spectra the referencing route leaves (``robust-ref``
#: preset, residual offset and phase only): scored as ``ref+<name>`` by default.
REF_NETWORKS: tuple[str, ...] = ("cnn-robust-ref", "yae-robust")
FITTERS: tuple[str, ...] = ("lcm", "gannet", "lcmodel")
SOURCE_TITLES: dict[str, str] = {
    "fida": "external FID-A basis",
    "paper": "project's own paper basis",
}


def default_methods() -> list[str]:
    """Every shipped network (:data:`REF_NETWORKS` behind ``ref+``), ``lcm``, ``gannet``, and
    ``lcmodel`` when a binary is found."""
    from ..fit.lcmodel import lcmodel_available

    fitters = [m for m in FITTERS if m != "lcmodel" or lcmodel_available()]
    nets = [f"ref+{n}" if n in REF_NETWORKS else n for n in SHIPPED_NETWORKS]
    return [*nets, *fitters]


_NETWORKS: dict[str, Quantifier] = {}


def make_quantifiers(
    methods: Iterable[str], larmor_mhz: float, fit_basis: str = "paper"
) -> dict[str, Quantifier]:
    """Quantifiers by name for data at ``larmor_mhz``.

    Fitters are built per acquisition (:class:`~mrs_lib.validation.PerAcquisition`)
    with ``fit_basis`` (``"paper"`` or ``"fida"``, see
    :func:`~mrs_lib.bench.sources.fitter_bases`); names with an ingredient prefix
    (``ref+``, ``hybrid+``, ``tta+``: :mod:`mrs_lib.bench.ingredients`) wrap a
    network and fit with the same basis; anything else is a network
    checkpoint name or path (loaded once per process).
    """
    from .ingredients import make_wrapped, split_method
    from .sources import fitter_bases

    out: dict[str, Quantifier] = {}
    for m in methods:
        if split_method(m)[0] is not None:
            out[m] = make_wrapped(m, fitter_bases(larmor_mhz, fit_basis), networks=_NETWORKS)
        elif m in FITTERS:
            basis_for = fitter_bases(larmor_mhz, fit_basis)
            out[m] = PerAcquisition(
                lambda bw, n, m=m, basis_for=basis_for: get_quantifier(m, basis=basis_for(bw, n)),
                m,
            )
        else:
            if m not in _NETWORKS:
                _NETWORKS[m] = get_quantifier("network", model=m, name=m)
            out[m] = _NETWORKS[m]
    return out


@dataclass(frozen=True)
class BenchScore:
    """One variant scored: the per-scan table and the timings."""

    conditions: BenchConditions
    source: str
    scores: Any  # pandas DataFrame of score_scans
    n_scans: int
    render_s: float
    method_s: dict[str, float]

    def mae(self) -> Any:
        """MAE per method (rows) and metabolite (columns)."""
        return self.scores.pivot_table(
            index="method", columns="metabolite", values="abs_error", aggfunc="mean"
        )


def score_bench(
    methods: Sequence[str],
    conditions: BenchConditions,
    *,
    source: str = "fida",
    seed: int = 0,
    repeats: int = 2,
    design: Sequence[PhantomDesign] | None = None,
    fit_basis: str = "paper",
    quantifiers: Mapping[str, Quantifier] | None = None,
) -> BenchScore:
    """Render ``conditions`` from ``source`` and score each method on the scans.

    ``design`` defaults to the Swansea design (76 phantoms; ``repeats=2`` gives
    152 scans). ``quantifiers`` (name -> quantifier) overrides ``methods``.
    """
    import pandas as pd

    design = list(load_design() if design is None else design)
    t0 = time.perf_counter()
    scans = render(design, conditions, source=source, seed=seed, repeats=repeats)
    render_s = time.perf_counter() - t0
    qs = (
        dict(quantifiers)
        if quantifiers is not None
        else make_quantifiers(methods, get_source(source).larmor_mhz, fit_basis)
    )
    parts, method_s = [], {}
    for name, q in qs.items():
        t0 = time.perf_counter()
        parts.append(score_scans({name: q}, scans))
        method_s[name] = time.perf_counter() - t0
    scores = pd.concat(parts, ignore_index=True)
    return BenchScore(conditions, source, scores, len(scans), render_s, method_s)


def decompose(
    methods: Sequence[str] | None = None,
    *,
    sources: Sequence[str] = ("fida", "paper"),
    conditions: Sequence[BenchConditions] | None = None,
    seed: int = 0,
    repeats: int = 2,
    design: Sequence[PhantomDesign] | None = None,
    fit_basis: str = "paper",
    progress: bool = False,
) -> Any:
    """The gap decomposed: MAE per source, variant, method and metabolite (a tidy DataFrame).

    ``conditions`` defaults to :func:`~mrs_lib.bench.conditions.variants`: levels
    (a), (b), (c), then level (a) with one imperfection at a time. Rendering
    from ``"paper"`` (the project's own basis, at its own field 123.23 MHz)
    removes the basis mismatch, so the rows of the two sources separate what
    the basis costs from what each imperfection costs. Columns: ``source,
    variant, method, metabolite, mae, n_scans, render_s, method_s``. Methods
    that do not report a metabolite (``gannet``: GABA and Cr only) have no row there.
    """
    import pandas as pd

    methods = list(default_methods() if methods is None else methods)
    conds = list(variants() if conditions is None else conditions)
    rows: list[dict[str, Any]] = []
    for src in sources:
        qs = make_quantifiers(methods, get_source(src).larmor_mhz, fit_basis)
        for cond in conds:
            res = score_bench(
                methods,
                cond,
                source=src,
                seed=seed,
                repeats=repeats,
                design=design,
                quantifiers=qs,
            )
            table = res.mae()
            for method in table.index:
                for met in table.columns:
                    v = table.loc[method, met]
                    if np.isfinite(v):
                        rows.append(
                            {
                                "source": src,
                                "variant": cond.name,
                                "method": method,
                                "metabolite": met,
                                "mae": float(v),
                                "n_scans": res.n_scans,
                                "render_s": res.render_s,
                                "method_s": res.method_s[method],
                            }
                        )
            if progress:
                gaba = table["GABA"].round(3).to_dict() if "GABA" in table else {}
                print(f"# {src} {cond.name}: GABA {gaba}", flush=True)
    return pd.DataFrame(rows)


def report_table(report: Mapping[str, Any]) -> Any:
    """:func:`decompose`'s tidy table from a :func:`run_bench` report (``mrs validate --bench
    ... --json``), so a saved report can be plotted with :func:`plot_gap`."""
    import pandas as pd

    rows = [
        {
            "source": report["source"],
            "variant": name,
            "method": method,
            "metabolite": met,
            "mae": value,
            "n_scans": v["n_scans"],
            "render_s": v["render_s"],
            "method_s": r["seconds"],
        }
        for name, v in report["variants"].items()
        for method, r in v["methods"].items()
        for met, value in r["mae"].items()
    ]
    return pd.DataFrame(rows)


def gap_matrix(table: Any, metabolite: str = "GABA", source: str = "fida") -> Any:
    """``variant x method`` MAE of one metabolite and source (rows in the table's order)."""
    sub = table[(table["source"] == source) & (table["metabolite"] == metabolite)]
    mat = sub.pivot_table(index="variant", columns="method", values="mae", aggfunc="mean")
    order_rows = list(dict.fromkeys(sub["variant"]))
    order_cols = list(dict.fromkeys(sub["method"]))
    return mat.loc[order_rows, order_cols]


def plot_gap(
    table: Any,
    metabolite: str = "GABA",
    sources: Sequence[str] | None = None,
    *,
    vmax: float | None = None,
) -> Any:
    """Heatmaps of :func:`decompose`'s table: variants (rows) x methods (columns), one per source.

    Each cell is the max-normalised MAE of ``metabolite``, written in the cell;
    one colour scale for all panels so the sources compare directly. Returns
    the matplotlib figure.
    """
    import matplotlib.pyplot as plt

    srcs = list(dict.fromkeys(table["source"])) if sources is None else list(sources)
    mats = [gap_matrix(table, metabolite, s) for s in srcs]
    top = vmax if vmax is not None else max(float(np.nanmax(m.to_numpy())) for m in mats)
    n_rows = max(m.shape[0] for m in mats)
    fig, axes = plt.subplots(
        1,
        len(mats),
        figsize=(1.0 + 0.9 * sum(m.shape[1] for m in mats) + 2.0 * len(mats), 0.9 + 0.38 * n_rows),
        squeeze=False,
    )
    image = None
    for ax, mat, src in zip(axes[0], mats, srcs, strict=True):
        data = mat.to_numpy(dtype=float)
        image = ax.imshow(data, cmap="viridis", vmin=0.0, vmax=top, aspect="auto")
        ax.set_xticks(range(mat.shape[1]), list(mat.columns), rotation=45, ha="right")
        same_rows = ax is not axes[0][0] and list(mat.index) == list(mats[0].index)
        ax.set_yticks(range(mat.shape[0]), [] if same_rows else list(mat.index))
        for (i, j), v in np.ndenumerate(data):
            if np.isfinite(v):
                colour = "white" if v < 0.6 * top else "black"
                ax.text(j, i, f"{v:.3f}", ha="center", va="center", fontsize=7, color=colour)
        ax.set_title(f"{metabolite} MAE, {SOURCE_TITLES.get(src, src)}", fontsize=9)
    if image is not None:
        fig.colorbar(image, ax=list(axes[0]), shrink=0.8, label="max-normalised MAE")
    return fig


def run_bench(
    methods: Sequence[str],
    levels: Sequence[str] = ("a", "b", "c"),
    *,
    source: str = "fida",
    factors: Sequence[str] = (),
    seed: int = 0,
    repeats: int = 2,
    series: Sequence[str] | None = None,
    fit_basis: str = "paper",
) -> dict[str, Any]:
    """The JSON report of ``mrs validate --bench``: per variant, method and metabolite MAE.

    ``{"bench", "source", "seed", "repeats", "fit_basis", "metabolites", "variants":
    {name: {"title", "n_scans", "render_s", "spectra_per_s", "methods": {method:
    {"mae": {metabolite: value}, "seconds"}}}}}``; ``factors`` adds level (a) with
    each of them alone. A metabolite a method does not report is left out.
    """
    design = [d for d in load_design() if series is None or d.series in series]
    if not design:
        from ..errors import MRSError

        raise MRSError(f"no phantoms of the design in series {list(series or [])}")
    conds = [BenchConditions.level(lv) for lv in levels]
    conds += [BenchConditions.only(f) for f in factors]
    qs = make_quantifiers(methods, get_source(source).larmor_mhz, fit_basis)
    out: dict[str, Any] = {
        "bench": "external" if source == "fida" else "own",
        "source": source,
        "seed": seed,
        "repeats": repeats,
        "fit_basis": fit_basis,
        "metabolites": list(METABOLITES),
        "variants": {},
    }
    for cond in conds:
        res = score_bench(
            methods, cond, source=source, seed=seed, repeats=repeats, design=design, quantifiers=qs
        )
        table = res.mae()
        entry: dict[str, Any] = {
            "title": LEVEL_TITLES.get(cond.name, f"level (a) + {cond.name[2:]} only"),
            "n_scans": res.n_scans,
            "render_s": round(res.render_s, 3),
            "spectra_per_s": round(res.n_scans / max(res.render_s, 1e-9), 1),
            "methods": {},
        }
        for method in table.index:
            mae = {m: float(v) for m, v in table.loc[method].items() if np.isfinite(v)}
            entry["methods"][method] = {"mae": mae, "seconds": round(res.method_s[method], 3)}
        out["variants"][cond.name] = entry
    return out


__all__ = [
    "FITTERS",
    "REF_NETWORKS",
    "SHIPPED_NETWORKS",
    "SOURCE_TITLES",
    "BenchScore",
    "decompose",
    "default_methods",
    "gap_matrix",
    "make_quantifiers",
    "plot_gap",
    "report_table",
    "run_bench",
    "score_bench",
]

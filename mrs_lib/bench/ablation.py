"""What each test-time ingredient buys on the bench and costs in distribution (chapter 7).

:func:`ablation` scores methods named as in :mod:`mrs_lib.bench.ingredients`
(``cnn-cpu``, ``ref+cnn-cpu``, ``hybrid+cnn-cpu``, ``tta+cnn-cpu``, the fitters)
at the bench's levels and on simulated in-distribution spectra, in one tidy
table; :func:`plot_ablation` draws it. In distribution means the paper's
simulated test spectra in the time domain (:func:`~mrs_lib.quantify.paper_test_set`
on the project's ``paper`` basis: lines 2-8 Hz, noise 0-3 % of the FID's
maximum, no offset or phase), so wrappers and fitters meet the same spectra as
the bare network; bare networks also get ``mrs evaluate``'s number
(:func:`~mrs_lib.train.evaluate.evaluate_checkpoint`, grid-domain synthesis) as
level ``"evaluate"``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..io.phantoms import PhantomDesign, load_design
from .conditions import BenchConditions
from .gap import FITTERS, decompose
from .ingredients import make_wrapped, split_method

#: Level names of the in-distribution rows.
IN_DISTRIBUTION = "in-dist"
EVALUATE = "evaluate"


def describe(method: str) -> tuple[str, str]:
    """``(network, ingredient)`` of a method name: ``"hybrid+ref+cnn-cpu"`` ->
    ``("cnn-cpu", "hybrid+ref")``; a bare network -> ``(name, "none")``; a fitter ->
    ``(name, "fit")``."""
    if method in FITTERS:
        return method, "fit"
    chain = []
    rest = method
    while True:
        prefix, rest = split_method(rest)
        if prefix is None:
            break
        chain.append(prefix)
    return rest, "+".join(chain) or "none"


def in_distribution(
    methods: Sequence[str], n: int = 200, seed: int = 123, *, evaluate: bool = True
) -> Any:
    """MAE of each method on ``n`` simulated paper-preset spectra (time domain, ``seed``).

    Tidy rows ``method, network, ingredient, level, metabolite, mae, n, seconds``
    with level :data:`IN_DISTRIBUTION`; with ``evaluate`` each bare network also
    gets level :data:`EVALUATE` (``mrs evaluate --n n --seed seed``).
    """
    import pandas as pd

    from ..io.bases import PAPER_NAME, resolve_basis
    from ..quantify import LCMQuantifier, Quantifier, paper_test_set, score
    from ..train.evaluate import evaluate_checkpoint

    basis = resolve_basis(PAPER_NAME)
    test = paper_test_set(basis, n, seed)
    rows: list[dict[str, Any]] = []
    nets: dict[str, Quantifier] = {}
    for m in methods:
        network, ingredient = describe(m)
        q: Quantifier
        if m == "lcm":
            q = LCMQuantifier(basis)
        elif m in FITTERS:
            continue  # the Gannet-style fit and real LCModel: not part of the ablation
        else:
            q = make_wrapped(m, basis, networks=nets)
        t0 = time.perf_counter()
        res = q.quantify(test.spectra)
        seconds = time.perf_counter() - t0
        truth = np.array(
            [test.concentrations[:, test.metabolites.index(x)] for x in res.metabolites]
        )
        scored = score(res, truth.T)
        for met, v in scored["mae"].items():
            rows.append(
                dict(method=m, network=network, ingredient=ingredient, level=IN_DISTRIBUTION,
                     metabolite=met, mae=float(v), n=n, seconds=seconds)
            )  # fmt: skip
        if evaluate and ingredient == "none" and m not in FITTERS:
            t0 = time.perf_counter()
            ev = evaluate_checkpoint(m, n=n, seed=seed)
            seconds = time.perf_counter() - t0
            for met, v in _per_metabolite_mae(ev).items():
                rows.append(
                    dict(method=m, network=network, ingredient=ingredient, level=EVALUATE,
                         metabolite=met, mae=v, n=n, seconds=seconds)
                )  # fmt: skip
    return pd.DataFrame(rows)


def _per_metabolite_mae(summary: dict[str, Any]) -> dict[str, float]:
    """``{metabolite: mae}`` from :func:`mrs_lib.metrics.summarise`'s output."""
    return {str(k): float(v) for k, v in summary["mae"].items()}


def ablation(
    methods: Sequence[str],
    levels: Sequence[str] = ("a", "b", "c"),
    *,
    source: str = "fida",
    seed: int = 0,
    repeats: int = 2,
    design: Sequence[PhantomDesign] | None = None,
    fit_basis: str = "paper",
    in_dist_n: int = 200,
    in_dist_seed: int = 123,
    progress: bool = False,
) -> Any:
    """The ablation table: each method's MAE per bench level and in distribution.

    Tidy DataFrame ``method, network, ingredient, level, metabolite, mae, n, seconds``
    (``network``/``ingredient`` from :func:`describe`; ``level`` is ``a``/``b``/``c``,
    :data:`IN_DISTRIBUTION` or :data:`EVALUATE`). ``in_dist_n=0`` skips the
    in-distribution rows. The bench is a test set: compare, never tune on it.
    """
    import pandas as pd

    scored = decompose(
        methods,
        sources=(source,),
        conditions=[BenchConditions.level(lv) for lv in levels],
        seed=seed,
        repeats=repeats,
        design=list(load_design() if design is None else design),
        fit_basis=fit_basis,
        progress=progress,
    )
    out = scored.rename(columns={"variant": "level", "n_scans": "n", "method_s": "seconds"})
    described = out["method"].map(describe)
    out.insert(1, "network", described.str[0])
    out.insert(2, "ingredient", described.str[1])
    out = out[["method", "network", "ingredient", "level", "metabolite", "mae", "n", "seconds"]]
    if in_dist_n:
        out = pd.concat([out, in_distribution(methods, in_dist_n, in_dist_seed)], ignore_index=True)
    return out


def ablation_matrix(table: Any, metabolite: str = "GABA") -> Any:
    """``method x level`` MAE of one metabolite (methods and levels in the table's order)."""
    sub = table[table["metabolite"] == metabolite]
    mat = sub.pivot_table(index="method", columns="level", values="mae", aggfunc="mean")
    return mat.loc[list(dict.fromkeys(sub["method"])), list(dict.fromkeys(sub["level"]))]


def plot_ablation(table: Any, metabolite: str = "GABA") -> Any:
    """Grouped bars: one panel per network, levels on the x axis, one bar per ingredient.

    The fitters (ingredient ``fit``) appear in every panel as dashed reference
    levels per level group. Returns the matplotlib figure.
    """
    import matplotlib.pyplot as plt

    sub = table[table["metabolite"] == metabolite]
    levels = list(dict.fromkeys(sub["level"]))
    networks = [n for n in dict.fromkeys(sub["network"]) if n not in FITTERS]
    fits = sub[sub["ingredient"] == "fit"]
    fig, axes = plt.subplots(
        1, max(1, len(networks)), figsize=(4.2 * max(1, len(networks)) + 1.5, 3.4),
        sharey=True, squeeze=False, layout="constrained",
    )  # fmt: skip
    for ax, net in zip(axes[0], networks, strict=False):
        part = sub[sub["network"] == net]
        ings = list(dict.fromkeys(part["ingredient"]))
        width = 0.8 / max(1, len(ings))
        for k, ing in enumerate(ings):
            vals = [
                part[(part["ingredient"] == ing) & (part["level"] == lv)]["mae"].mean()
                for lv in levels
            ]
            x = np.arange(len(levels)) + (k - (len(ings) - 1) / 2) * width
            ax.bar(x, vals, width, label=ing, color=f"C{k}")
        for j, fit in enumerate(dict.fromkeys(fits["method"])):
            for i, lv in enumerate(levels):
                v = fits[(fits["method"] == fit) & (fits["level"] == lv)]["mae"]
                if len(v):
                    ax.hlines(float(v.mean()), i - 0.45, i + 0.45, colors="k",
                              linestyles=["--", ":", "-."][j % 3],
                              label=fit if i == 0 else None)  # fmt: skip
        ax.set_xticks(range(len(levels)), levels)
        ax.set_title(net, fontsize=9)
        ax.set_xlabel("bench level / in distribution")
    axes[0][0].set_ylabel(f"{metabolite} MAE (max-normalised)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right center", frameon=False, fontsize=8)
    return fig


__all__ = [
    "EVALUATE",
    "IN_DISTRIBUTION",
    "ablation",
    "ablation_matrix",
    "describe",
    "in_distribution",
    "plot_ablation",
]

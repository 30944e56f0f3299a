"""Reading a finished study: best configurations, summary, tables, figures, the paper's numbers.

pandas and matplotlib are imported inside the functions that draw or tabulate:
this package is imported by every ``mrs`` command line (its parser lists the
search options), and those two libraries would add about half a second to each.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from ..types import MODEL_NAMES
from .spaces import config_from_params

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

#: The paper's best total simulated validation MAE (sum over the five metabolites).
PAPER_BEST_VAL_MAE: dict[str, tuple[float, float]] = {
    "cnn": (0.0073, 0.0080),
    "yae": (0.0105, 0.0107),
}


# --------------------------------------------------------------------------- reading studies
def _value(trial: FrozenTrial) -> float:
    """The objective value of a complete trial (typed ``float | None``; never ``None`` here)."""
    return cast(float, trial.value)


def best_configs(study: optuna.Study, k: int = 1) -> list[dict[str, Any]]:
    """The ``k`` best complete trials: number, value, params and the rebuilt model config."""
    done = sorted(study.get_trials(states=(TrialState.COMPLETE,)), key=_value)
    cfg = study.user_attrs.get("search_config", {})
    family, space = cfg.get("family"), cfg.get("space", "cpu")
    out = []
    for t in done[:k]:
        entry: dict[str, Any] = {"number": t.number, "value": t.value, "params": dict(t.params)}
        if family in MODEL_NAMES:
            entry["model_config"] = config_from_params(family, t.params, space)
        out.append(entry)
    return out


def summary(study: optuna.Study) -> dict[str, Any]:
    """Counts per state, the best value and the study's search configuration."""
    counts = {s.name: 0 for s in TrialState}
    for t in study.get_trials(deepcopy=False):
        counts[t.state.name] += 1
    best = best_configs(study, 1)
    return {
        "study": study.study_name,
        "trials": counts,
        "best": best[0] if best else None,
        "search_config": study.user_attrs.get("search_config"),
    }


# --------------------------------------------------------------------------- figures and tables
def trials_frame(study: optuna.Study) -> pd.DataFrame:
    """A pandas table of the finished trials: number, state, value, params, epochs reported."""
    import pandas as pd

    rows = []
    for t in study.get_trials(deepcopy=False):
        if not t.state.is_finished():
            continue
        rows.append(
            {
                "number": t.number,
                "state": t.state.name,
                "value": t.value,
                "epochs": len(t.intermediate_values),
                "duration_s": t.duration.total_seconds() if t.duration else math.nan,
                **{f"params_{k}": v for k, v in t.params.items()},
            }
        )
    return pd.DataFrame(rows)


def plot_history(study: optuna.Study, ax: Axes | None = None, *, title: str | None = None) -> Axes:
    """Optimisation history: every trial's score and the best so far.

    Pruned trials are drawn at their last reported value.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    done = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    pruned = [
        t
        for t in study.get_trials(deepcopy=False)
        if t.state == TrialState.PRUNED and t.intermediate_values
    ]
    ax.scatter([t.number for t in done], [_value(t) for t in done], s=14, label="complete")
    if pruned:
        last = [t.intermediate_values[max(t.intermediate_values)] for t in pruned]
        ax.scatter(
            [t.number for t in pruned],
            last,
            s=14,
            marker="x",
            color="0.5",
            label="pruned (last report)",
        )
    if done:
        order = sorted(done, key=lambda t: t.number)
        best = np.minimum.accumulate([_value(t) for t in order])
        ax.step([t.number for t in order], best, where="post", color="C3", label="best so far")
    ax.set_yscale("log")
    ax.set_xlabel("trial")
    ax.set_ylabel("total val MAE (max-normalised)")
    ax.set_title(title or study.study_name)
    ax.legend(fontsize=8)
    return ax


def param_importances(study: optuna.Study) -> dict[str, float]:
    """PED-ANOVA importances of the searched parameters for the validation MAE (sum to 1).

    PED-ANOVA (Watanabe et al. 2023) asks which parameters separate the best
    10 % of trials from the rest; it needs no extra package (Optuna's default
    fANOVA evaluator needs scikit-learn, not a dependency of this book).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        evaluator = optuna.importance.PedAnovaImportanceEvaluator()
        return dict(optuna.importance.get_param_importances(study, evaluator=evaluator))


def plot_importances(study: optuna.Study, ax: Axes | None = None) -> Axes:
    """Horizontal bars of :func:`param_importances`, most important on top."""
    import matplotlib.pyplot as plt

    imp = param_importances(study)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 0.3 * len(imp) + 1))
    names = list(imp)[::-1]
    ax.barh(names, [imp[n] for n in names], color="C0")
    ax.set_xlabel("PED-ANOVA importance")
    ax.set_title(study.study_name)
    return ax


def plot_slices(
    study: optuna.Study,
    params: Sequence[str] | None = None,
    *,
    k: int = 4,
    axes: Sequence[Axes] | np.ndarray | None = None,
) -> Sequence[Axes] | np.ndarray:
    """Score against each parameter (the ``k`` most important by default); colour = trial number.

    Returns ``axes``, or the row of new axes (a numpy array of them) when none are given.
    """
    import matplotlib.pyplot as plt

    if params is None:
        params = list(param_importances(study))[:k]
    done = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    if axes is None:
        _, grid = plt.subplots(
            1, len(params), figsize=(3 * len(params), 3), sharey=True, squeeze=False
        )
        axes = grid[0]
    for ax, name in zip(axes, params, strict=False):
        pts = [(t.params[name], t.value, t.number) for t in done if name in t.params]
        xs = [p[0] for p in pts]
        if xs and all(isinstance(v, str | bool) for v in xs):
            cats = sorted({str(v) for v in xs})
            xs = [cats.index(str(v)) for v in xs]
            ax.set_xticks(range(len(cats)), cats, rotation=30)
        ax.scatter(xs, [p[1] for p in pts], c=[p[2] for p in pts], cmap="viridis", s=14)
        if name == "lr":
            ax.set_xscale("log")
        ax.set_xlabel(name)
        ax.set_yscale("log")
    axes[0].set_ylabel("total val MAE")
    return axes


def compare_with_paper(studies: Mapping[str, optuna.Study]) -> pd.DataFrame:
    """Table per family: trials, best total val MAE, the paper's range, the ratio to its midpoint.

    ``studies`` maps a family name to its study.
    """
    import pandas as pd

    rows = []
    for family, study in studies.items():
        s = summary(study)
        best = s["best"]["value"] if s["best"] else math.nan
        lo, hi = PAPER_BEST_VAL_MAE.get(family, (math.nan, math.nan))
        rows.append(
            {
                "family": family,
                "complete": s["trials"]["COMPLETE"],
                "pruned": s["trials"]["PRUNED"],
                "best val MAE (here)": best,
                "paper best val MAE": f"{lo}-{hi}" if math.isfinite(lo) else "not reported",
                "here / paper": best / ((lo + hi) / 2) if math.isfinite(lo) else math.nan,
            }
        )
    return pd.DataFrame(rows).set_index("family")


__all__ = [
    "PAPER_BEST_VAL_MAE",
    "best_configs",
    "compare_with_paper",
    "param_importances",
    "plot_history",
    "plot_importances",
    "plot_slices",
    "summary",
    "trials_frame",
]

"""The Optuna samplers and pruners a search can use, by name (chapter 3)."""

from __future__ import annotations

import warnings
from typing import Any, Literal, get_args

import optuna

from .errors import check_choice

SamplerName = Literal["tpe", "gp", "random"]
SAMPLERS: tuple[SamplerName, ...] = get_args(SamplerName)
PrunerName = Literal["median", "hyperband", "none"]
PRUNERS: tuple[PrunerName, ...] = get_args(PrunerName)


def make_sampler(
    name: SamplerName = "tpe", seed: int | None = None, **kwargs: Any
) -> optuna.samplers.BaseSampler:
    """An Optuna sampler: ``"tpe"`` (multivariate TPE), ``"gp"`` (Gaussian process) or ``"random"``.

    ``GPSampler`` uses torch and scipy (both dependencies); without the optional
    ``greenlet`` package it logs that it falls back to sequential L-BFGS-B.
    ``kwargs`` go to the sampler's constructor (TPE and GP only).
    """
    check_choice(name, SAMPLERS, "sampler")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if name == "tpe":
            return optuna.samplers.TPESampler(
                seed=seed,
                multivariate=True,
                group=True,
                constant_liar=True,
                **{"n_startup_trials": 10, **kwargs},
            )
        if name == "gp":
            return optuna.samplers.GPSampler(seed=seed, **{"n_startup_trials": 10, **kwargs})
        return optuna.samplers.RandomSampler(seed=seed)


def make_pruner(
    name: PrunerName = "median", *, max_epochs: int = 50, **kwargs: Any
) -> optuna.pruners.BasePruner:
    """An Optuna pruner fed by the per-epoch validation MAE.

    ``"median"`` stops a trial whose value is worse than the median of earlier
    trials at the same epoch (after 5 complete trials and 2 epochs);
    ``"hyperband"`` allocates epochs by successive halving up to ``max_epochs``.
    """
    check_choice(name, PRUNERS, "pruner")
    if name == "median":
        warmup = 1 if max_epochs <= 5 else 2
        opts = {"n_startup_trials": 5, "n_warmup_steps": warmup, **kwargs}
        return optuna.pruners.MedianPruner(**opts)
    if name == "hyperband":
        opts = {"min_resource": 1, "max_resource": max(int(max_epochs), 1), **kwargs}
        return optuna.pruners.HyperbandPruner(**opts)
    return optuna.pruners.NopPruner()


__all__ = ["PRUNERS", "SAMPLERS", "PrunerName", "SamplerName", "make_pruner", "make_sampler"]

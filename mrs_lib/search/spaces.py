"""Search spaces of the three network families and the training hyper-parameters (chapter 3).

Each family is a template with holes that an Optuna trial fills
(:func:`suggest_config`), in two sizes: ``"paper"`` (the published ranges) and
``"cpu"`` (narrow enough that a trial trains in seconds on a laptop CPU). A
finished trial's ``params`` rebuild the same configuration
(:func:`config_from_params`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal, get_args

import optuna
from optuna.trial import BaseTrial

from ..types import MODEL_NAMES, ModelName
from .errors import check_choice

SearchSpace = Literal["cpu", "paper"]
SEARCH_SPACES: tuple[SearchSpace, ...] = get_args(SearchSpace)


def _cnn(trial: BaseTrial, space: SearchSpace) -> dict[str, Any]:
    """CNN of the authors: (1, k) convs, row-collapsing (rows, k) convs, pairs of (1, k) convs.

    Keys are those of :class:`mrs_lib.models.CNNConfig`; ``pool`` < 0 is a
    stride, > 0 a max-pool size.
    """
    if space == "paper":
        return {
            "c1": trial.suggest_categorical("c1", [3, 5, 7, 9, 11]),
            "c2": trial.suggest_categorical("c2", [3, 5, 7, 9, 11]),
            "c3": trial.suggest_categorical("c3", [3, 5, 7, 9]),
            "c4": trial.suggest_categorical("c4", [1, 3, 5]),
            "f1": trial.suggest_categorical("f1", [64, 128, 256, 512]),
            "f2": trial.suggest_categorical("f2", [128, 256, 512, 1024]),
            **_cnn_downsampling(trial),
            "dense": trial.suggest_categorical("dense", [256, 512, 1024, 2048]),
            "norm": trial.suggest_categorical("norm", ["batch", "dropout"]),
            "dropout": trial.suggest_float("dropout", 0.0, 0.5, step=0.1),
            "output": trial.suggest_categorical("output", ["linear", "sigmoid", "softmax"]),
        }
    return {
        "c1": trial.suggest_categorical("c1", [3, 5, 7, 9]),
        "c2": trial.suggest_categorical("c2", [3, 5, 7, 9]),
        "c3": trial.suggest_categorical("c3", [3, 5, 7]),
        "c4": trial.suggest_categorical("c4", [1, 3]),
        "f1": trial.suggest_categorical("f1", [8, 16, 24]),
        "f2": trial.suggest_categorical("f2", [16, 32, 48]),
        **_cnn_downsampling(trial),
        "dense": trial.suggest_categorical("dense", [64, 128, 256]),
        "norm": trial.suggest_categorical("norm", ["batch", "dropout"]),
        "dropout": trial.suggest_float("dropout", 0.0, 0.5, step=0.1),
        "output": trial.suggest_categorical("output", ["linear", "sigmoid", "softmax"]),
    }


def _cnn_downsampling(trial: BaseTrial) -> dict[str, int]:
    """Stride or pool ``pool`` and the number of conv ``pairs`` (3 + 2 * pairs blocks).

    Every block downsamples by ``|pool|``; a second pair is offered only for a
    factor of 2, so that at least ~8 of the 2048 points survive the stack.
    """
    pool = trial.suggest_categorical("pool", [-2, -3, 2, 3])
    pairs = trial.suggest_int("pairs", 1, 2) if abs(pool) == 2 else 1
    return {"pool": pool, "pairs": pairs}


def _fcnn(trial: BaseTrial, space: SearchSpace) -> dict[str, Any]:
    """FCNN of Hatami et al.: [Conv1D, CReLU, MaxPool(2)] stages with doubling widths.

    Keys are those of :class:`mrs_lib.models.FCNNConfig`; the searched
    ``n_stages`` and ``base_filters`` become ``filters = base * 2**i``.
    """
    if space == "paper":
        n = trial.suggest_int("n_stages", 3, 6)
        base = trial.suggest_categorical("base_filters", [16, 32, 64])
        dense = trial.suggest_categorical("dense", [256, 512, 1024, 2048])
        pool = trial.suggest_categorical("pool_before_dense", [1, 2, 4])
    else:
        n = trial.suggest_int("n_stages", 3, 6)
        base = trial.suggest_categorical("base_filters", [4, 8, 16])
        dense = trial.suggest_categorical("dense", [64, 128, 256])
        pool = trial.suggest_categorical("pool_before_dense", [4, 8, 16])
    return {
        "filters": [base * 2**i for i in range(n)],
        "kernel": trial.suggest_categorical("kernel", [3, 5, 7]),
        "dense": dense,
        "pool_before_dense": pool,
        "dropout": trial.suggest_float("dropout", 0.0, 0.5, step=0.1),
        "batch_norm": trial.suggest_categorical("batch_norm", [False, True]),
        "output": trial.suggest_categorical("output", ["linear", "sigmoid", "softmax"]),
    }


def _yae(trial: BaseTrial, space: SearchSpace) -> dict[str, Any]:
    """Y-shaped autoencoder: per-row MLP encoder, decoder branch, quantifier branch.

    Keys are those of :class:`mrs_lib.models.YAEConfig`; the searched
    ``enc_first``, ``enc_depth`` and ``latent`` become the halving ``encoder``
    widths ending at the latent size.
    """
    if space == "paper":
        first = trial.suggest_categorical("enc_first", [512, 1024, 2048])
        depth = trial.suggest_int("enc_depth", 2, 4)
        latent = trial.suggest_categorical("latent", [64, 128, 256])
        hidden = trial.suggest_categorical("quantifier", [128, 256, 384, 512])
    else:
        first = trial.suggest_categorical("enc_first", [128, 256, 512])
        depth = trial.suggest_int("enc_depth", 1, 3)
        latent = trial.suggest_categorical("latent", [16, 32, 64])
        hidden = trial.suggest_categorical("quantifier", [32, 64, 128])
    return {
        "encoder": _encoder_widths(first, depth, latent),
        "quantifier": hidden,
        "activation": trial.suggest_categorical("activation", ["tanh", "relu", "gelu"]),
        "dropout": trial.suggest_float("dropout", 0.0, 0.4, step=0.1),
        "output": trial.suggest_categorical("output", ["sigmoid", "softmax"]),
    }


def _encoder_widths(first: int, depth: int, latent: int) -> list[int]:
    """``depth`` halving hidden widths from ``first`` (each above ``latent``), then ``latent``."""
    hidden = [first >> i for i in range(depth)]
    return [w for w in hidden if w > latent] + [latent]


_SPACES: dict[str, Callable[[BaseTrial, SearchSpace], dict[str, Any]]] = {
    "cnn": _cnn,
    "fcnn": _fcnn,
    "yae": _yae,
}


def suggest_config(
    trial: BaseTrial, family: ModelName, space: SearchSpace = "cpu"
) -> dict[str, Any]:
    """Sample one architecture of ``family`` from ``space`` with an Optuna ``trial``.

    Returns a plain dict (JSON-serialisable) of the model configuration, the
    ``config`` argument of :func:`mrs_lib.models.build_model`. ``"paper"`` holds
    the published ranges (up to the ~39 M-parameter CNN); ``"cpu"`` narrows the
    widths so that a trial trains in seconds (chapter 3 explains both).
    """
    check_choice(family, MODEL_NAMES, "family")
    check_choice(space, SEARCH_SPACES, "space")
    return _SPACES[family](trial, space)


def suggest_train(trial: BaseTrial, space: SearchSpace = "cpu") -> dict[str, Any]:
    """Training hyper-parameters searched beside the architecture (learning rate, batch size)."""
    if space == "paper":
        return {
            "lr": trial.suggest_float("lr", 1e-5, 1e-3, log=True),
            "batch_size": trial.suggest_categorical("batch_size", [16, 32, 64]),
        }
    return {
        "lr": trial.suggest_float("lr", 1e-4, 3e-3, log=True),
        "batch_size": trial.suggest_categorical("batch_size", [32, 64]),
    }


def config_from_params(
    family: ModelName, params: Mapping[str, Any], space: SearchSpace = "cpu"
) -> dict[str, Any]:
    """Rebuild the model configuration of a finished trial from its ``params``."""
    return suggest_config(optuna.trial.FixedTrial(dict(params)), family, space)


__all__ = [
    "SEARCH_SPACES",
    "SearchSpace",
    "config_from_params",
    "suggest_config",
    "suggest_train",
]

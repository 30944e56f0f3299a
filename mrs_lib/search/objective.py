"""What a trial is scored on: validation splits, the search configuration, the objectives.

The paper scored each candidate by the *total max-normalised validation MAE*
(:func:`total_max_normalised_mae`) on 10,000 simulated spectra
(:func:`search_data`). :func:`make_objective` trains one sampled configuration
with :func:`mrs_lib.train.train_model` on a holdout split or k folds
(:func:`split_indices`) and reports the validation MAE after every epoch, so
that a pruner can stop a hopeless trial; :func:`proxy_objective` is a cheap
stand-in that trains nothing.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol, get_args

import numpy as np
import numpy.typing as npt
import optuna

from ..metrics import mae
from ..scale import pick
from ..synth import SynthBatch, synthesize
from ..types import METABOLITES, MODEL_NAMES, ModelName
from .errors import SearchError, check_choice
from .samplers import PRUNERS, SAMPLERS, PrunerName, SamplerName
from .spaces import SEARCH_SPACES, SearchSpace, suggest_config, suggest_train

Validation = Literal["holdout", "kfold"]
VALIDATIONS: tuple[Validation, ...] = get_args(Validation)

#: A search objective: an Optuna trial in, the score to minimise out.
Objective = Callable[[optuna.Trial], float]


class SpectraLike(Protocol):
    """Simulated spectra as the objective reads them: a :class:`mrs_lib.synth.SynthBatch` or alike.

    ``x`` is ``[n, rows, 2048]`` and ``targets`` ``[n, 5]``; an optional
    ``clean`` attribute (the noiseless copy the YAE needs) is read when present.
    """

    @property
    def x(self) -> np.ndarray: ...

    @property
    def targets(self) -> np.ndarray: ...


#: The data of :func:`make_objective`: spectra-like, or a tuple ``(x, targets[, clean])``.
SearchData = SpectraLike | tuple[np.ndarray, ...] | list[np.ndarray]


# --------------------------------------------------------------------------- validation splits
def split_indices(
    n: int,
    validation: Validation = "holdout",
    *,
    val_fraction: float = 0.2,
    n_folds: int = 5,
    rng: np.random.Generator,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(train_idx, val_idx)`` pairs: one 80/20-style holdout split, or ``n_folds`` folds.

    The indices are a permutation of ``range(n)`` drawn from ``rng``; the
    validation sets of k folds are disjoint and cover every sample once.
    """
    check_choice(validation, VALIDATIONS, "validation")
    perm = rng.permutation(n)
    if validation == "holdout":
        n_val = round(n * val_fraction)
        if not 0 < n_val < n:
            raise SearchError(
                f"holdout of {n} samples with val_fraction={val_fraction}: empty split"
            )
        return [(np.sort(perm[n_val:]), np.sort(perm[:n_val]))]
    if not 2 <= n_folds <= n:
        raise SearchError(f"k-fold with n_folds={n_folds} on {n} samples: expected 2 <= k <= n")
    folds = np.array_split(perm, n_folds)
    return [
        (np.sort(np.concatenate(folds[:k] + folds[k + 1 :])), np.sort(folds[k]))
        for k in range(n_folds)
    ]


# --------------------------------------------------------------------------- objective
def total_max_normalised_mae(pred: npt.ArrayLike, truth: npt.ArrayLike) -> float:
    """Sum over metabolites of the mean ``|pred/max(pred) - truth/max(truth)|`` (per spectrum).

    The paper's model-selection score (:func:`mrs_lib.metrics.mae` summed):
    0.0073-0.0080 for its best CNN.
    """
    return float(mae(pred, truth).sum())


@dataclass(frozen=True)
class SearchConfig:
    """Everything a search needs besides the data; stored in the study's user attributes.

    ``train_spectra`` and ``val_spectra`` cap the spectra of each trial at a
    fixed subset of the training and validation splits (``None`` = all): CPU
    budget knobs for the shipped study, not part of the paper's method.
    """

    family: ModelName = "cnn"
    space: SearchSpace = "cpu"
    sampler: SamplerName = "tpe"
    pruner: PrunerName = "median"
    validation: Validation = "holdout"
    val_fraction: float = 0.2
    n_folds: int = 5
    epochs: int = 20
    patience: int = 5
    train_spectra: int | None = None
    val_spectra: int | None = None
    seed: int = 0
    train_overrides: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_choice(self.family, MODEL_NAMES, "family")
        check_choice(self.space, SEARCH_SPACES, "space")
        check_choice(self.sampler, SAMPLERS, "sampler")
        check_choice(self.pruner, PRUNERS, "pruner")
        check_choice(self.validation, VALIDATIONS, "validation")
        if not (isinstance(self.seed, int) and 0 <= self.seed < 2**32):
            raise SearchError(f"search config, seed: expected 0 .. 2**32 - 1, got {self.seed!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (for provenance sidecars and study attributes)."""
        d = asdict(self)
        d["train_overrides"] = dict(self.train_overrides)
        return d


def proxy_objective(
    family: ModelName, space: SearchSpace = "cpu", *, steps: int = 5, sleep_s: float = 0.0
) -> Objective:
    """A cheap stand-in objective (no training): a smooth, deterministic function of the config.

    It samples from the real search space and reports a decreasing "learning
    curve" at every step, so storage, resume, workers and pruning can be tested
    and demonstrated in milliseconds (``mrs search --objective proxy``).
    """

    def objective(trial: optuna.Trial) -> float:
        config = suggest_config(trial, family, space)
        train = suggest_train(trial, space)
        digest = hashlib.sha256(repr(sorted(config.items())).encode()).digest()
        jitter = int.from_bytes(digest[:4], "little") / 2**32
        final = 0.01 + 0.02 * jitter + 0.005 * abs(math.log10(train["lr"]) + 3.0)
        value = final
        for step in range(steps):
            value = final * (1.0 + 2.0 / (step + 1))
            trial.report(value, step)
            if sleep_s:
                time.sleep(sleep_s)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return value

    return objective


def make_objective(
    config: SearchConfig, data: SearchData, *, num_threads: int | None = None
) -> Objective:
    """The paper's objective: train a sampled model, return its total max-normalised val MAE.

    ``data`` holds simulated spectra: a :class:`mrs_lib.synth.SynthBatch` (or
    any object with ``x [n, rows, 2048]``, ``targets [n, 5]`` and ``clean``) or
    a tuple ``(x, targets[, clean])``. Each trial samples an architecture and
    its learning rate and batch size, seeds training with
    ``config.seed + trial.number``, and trains with
    :func:`mrs_lib.train.train_model` for ``config.epochs`` epochs (early
    stopping after ``config.patience``) on the holdout split, or on each of the
    k folds (the score is then their mean). The score of a run is the best
    epoch's validation MAE summed over the five metabolites. During the first
    fold every epoch's value is reported to the pruner.
    """
    # Imported here, not at the top: mrs_lib.train loads torch (about a second), and this
    # package is imported by every `mrs` command line (its parser lists the search options)
    # and by readers of shipped studies, which never train.
    from ..train import TrainConfig, train_model

    x, y, clean = _arrays(data)
    n = len(x)
    if n < 2:
        raise SearchError(f"search data holds {n} spectra: expected at least 2")
    splits = split_indices(
        n,
        config.validation,
        val_fraction=config.val_fraction,
        n_folds=config.n_folds,
        rng=np.random.default_rng(config.seed),
    )
    rows = int(x.shape[1])

    splits = [(tr[: config.train_spectra], va[: config.val_spectra]) for tr, va in splits]

    def part(idx: np.ndarray) -> tuple[np.ndarray, ...]:
        return (x[idx], y[idx]) if clean is None else (x[idx], y[idx], clean[idx])

    def objective(trial: optuna.Trial) -> float:
        model_config = {**suggest_config(trial, config.family, config.space), "rows": rows}
        train_params = {**suggest_train(trial, config.space), **dict(config.train_overrides)}
        train_config = TrainConfig.from_dict(
            {
                "max_epochs": config.epochs,
                "patience": config.patience,
                "seed": config.seed + trial.number,
                "num_threads": num_threads,
                **train_params,
            }
        )
        trial.set_user_attr("model_config", to_jsonable(model_config))
        scores = []
        for fold, (tr, va) in enumerate(splits):

            def on_epoch(epoch: int, metrics: Mapping[str, float], _fold: int = fold) -> None:
                value = float(metrics["val_mae"])
                if _fold == 0 and math.isfinite(value):
                    trial.report(value, epoch)
                    if trial.should_prune():
                        raise optuna.TrialPruned(f"epoch {epoch}: val MAE {value:.4f}")

            result = train_model(
                config.family,
                model_config,
                train_config,
                train_data=part(tr),
                val_data=part(va),
                on_epoch=on_epoch,
                progress=False,
            )
            scores.append(float(result.best_metrics.get("val_mae", math.nan)))
            if fold == 0:
                trial.set_user_attr(
                    "val_mae_per_metabolite",
                    {
                        m: float(result.best_metrics.get(f"val_mae_{m}", math.nan))
                        for m in METABOLITES
                    },
                )
                trial.set_user_attr("best_epoch", int(result.best_epoch))
        score = float(np.mean(scores))
        trial.set_user_attr("fold_scores", scores)
        if not math.isfinite(score):
            raise SearchError(f"trial {trial.number}: non-finite validation MAE {score}")
        return score

    return objective


def _arrays(data: SearchData) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    if hasattr(data, "x") and hasattr(data, "targets"):
        return np.asarray(data.x), np.asarray(data.targets), getattr(data, "clean", None)
    if isinstance(data, tuple | list) and len(data) in (2, 3):
        return np.asarray(data[0]), np.asarray(data[1]), None if len(data) == 2 else data[2]
    raise SearchError(
        "search data: expected a SynthBatch-like object (x, targets, clean) "
        "or a tuple (x, y[, clean])"
    )


def to_jsonable(obj: object) -> object:
    """``obj`` with mappings as ``str``-keyed dicts, tuples as lists and numpy scalars as Python."""
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


# --------------------------------------------------------------------------- data and sizes
def default_epochs(scale: str | None = None) -> int:
    """Epochs per trial by ``MRS_SCALE`` (the paper trained 40-100 epochs per trial)."""
    return pick(tiny=2, book=6, paper=40, scale=scale)


def default_spectra(scale: str | None = None) -> int:
    """Simulated spectra a search runs on by ``MRS_SCALE`` (the paper: 10,000)."""
    return pick(tiny=256, book=10_000, paper=10_000, scale=scale)


def search_data(
    n: int | None = None, *, seed: int = 0, synth: str = "paper", basis: str = "paper"
) -> SynthBatch:
    """``n`` simulated spectra (default :func:`default_spectra`) for the search objective.

    The paper's set (:func:`mrs_lib.synth.synthesize` with the ``"paper"``
    synthesis preset: Sobol concentrations, 2 Hz Lorentzian basis, time-domain
    noise up to 3 % of the FID maximum), with the clean copy the YAE needs.
    """
    return synthesize(default_spectra() if n is None else int(n), seed, synth=synth, basis=basis)


__all__ = [
    "VALIDATIONS",
    "Objective",
    "SearchConfig",
    "SearchData",
    "SpectraLike",
    "Validation",
    "default_epochs",
    "default_spectra",
    "make_objective",
    "proxy_objective",
    "search_data",
    "split_indices",
    "to_jsonable",
    "total_max_normalised_mae",
]

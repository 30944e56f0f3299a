"""Architecture search with Optuna: search spaces, objective, storage, workers (chapter 3).

The paper chose its networks by Bayesian optimisation over architecture
strings, scoring each candidate by the *total max-normalised validation MAE*
(the sum over Cr, GABA, Gln, Glu and NAA of the mean absolute error after each
spectrum's prediction and truth are divided by their own maximum) on 10,000
simulated spectra. This module reproduces that machinery:

* :func:`suggest_config` - the search spaces of CNN, FCNN and YAE, each in two
  sizes: ``"paper"`` (the published ranges) and ``"cpu"`` (narrow enough that a
  trial trains in seconds on a laptop CPU).
* :func:`make_objective` - trains one sampled configuration with
  :func:`mrs_lib.train.train_model` on a holdout split or k folds, reports the
  validation MAE after every epoch so that a pruner can stop a hopeless trial.
* :func:`run_study` - opens (or resumes) a study in any Optuna storage (an
  SQLite file by default, ``postgresql://...`` to share it between machines)
  and runs trials until the study holds ``n_trials`` of them *in total*, however
  many workers run at the same time.

Several workers
---------------
Workers coordinate only through the storage. Before it asks for a new trial, a
worker takes a lock on the study (a file lock beside an SQLite database, a
PostgreSQL advisory lock otherwise), counts the trials that are finished or
running, and asks only while that count is below ``n_trials``; so two workers
never overshoot the total. Every running trial records a heartbeat: a trial
left ``RUNNING`` by a killed worker is marked ``FAIL`` once its heartbeat is
older than the grace period, and the next worker replaces it. A resumed study
therefore continues the count where it stopped. Other storage back-ends (MySQL,
in-memory) run the same loop without the lock: the total can then exceed
``n_trials`` by at most the number of workers minus one.

The command line is ``mrs search --model cnn --trials N --storage URL --study NAME``.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import socket
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np

from .errors import MRSError
from .types import METABOLITES, MODEL_NAMES, ModelName

SearchSpace = Literal["cpu", "paper"]
SEARCH_SPACES: tuple[SearchSpace, ...] = get_args(SearchSpace)
SamplerName = Literal["tpe", "gp", "random"]
SAMPLERS: tuple[SamplerName, ...] = get_args(SamplerName)
PrunerName = Literal["median", "hyperband", "none"]
PRUNERS: tuple[PrunerName, ...] = get_args(PrunerName)
Validation = Literal["holdout", "kfold"]
VALIDATIONS: tuple[Validation, ...] = get_args(Validation)

#: Trial states that count towards a study's total (a failed trial is replaced).
COUNTED_STATES = ("COMPLETE", "PRUNED", "RUNNING")

#: The paper's best total simulated validation MAE (sum over the five metabolites).
PAPER_BEST_VAL_MAE: dict[str, tuple[float, float]] = {
    "cnn": (0.0073, 0.0080),
    "yae": (0.0105, 0.0107),
}

log = logging.getLogger(__name__)

Objective = Callable[[Any], float]


class SearchError(MRSError):
    """A search cannot start: unknown family/space/sampler, bad storage URL, empty data."""


# --------------------------------------------------------------------------- search spaces
def _cnn(trial: Any, space: SearchSpace) -> dict[str, Any]:
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


def _cnn_downsampling(trial: Any) -> dict[str, int]:
    """Stride or pool ``pool`` and the number of conv ``pairs`` (3 + 2 * pairs blocks).

    Every block downsamples by ``|pool|``; a second pair is offered only for a
    factor of 2, so that at least ~8 of the 2048 points survive the stack.
    """
    pool = trial.suggest_categorical("pool", [-2, -3, 2, 3])
    pairs = trial.suggest_int("pairs", 1, 2) if abs(pool) == 2 else 1
    return {"pool": pool, "pairs": pairs}


def _fcnn(trial: Any, space: SearchSpace) -> dict[str, Any]:
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


def _yae(trial: Any, space: SearchSpace) -> dict[str, Any]:
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


_SPACES: dict[str, Callable[[Any, SearchSpace], dict[str, Any]]] = {
    "cnn": _cnn,
    "fcnn": _fcnn,
    "yae": _yae,
}


def suggest_config(trial: Any, family: ModelName, space: SearchSpace = "cpu") -> dict[str, Any]:
    """Sample one architecture of ``family`` from ``space`` with an Optuna ``trial``.

    Returns a plain dict (JSON-serialisable) of the model configuration, the
    ``config`` argument of :func:`mrs_lib.models.build_model`. ``"paper"`` holds
    the published ranges (up to the ~39 M-parameter CNN); ``"cpu"`` narrows the
    widths so that a trial trains in seconds (chapter 3 explains both).
    """
    _check(family, MODEL_NAMES, "family")
    _check(space, SEARCH_SPACES, "space")
    return _SPACES[family](trial, space)


def suggest_train(trial: Any, space: SearchSpace = "cpu") -> dict[str, Any]:
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
    import optuna

    return suggest_config(optuna.trial.FixedTrial(dict(params)), family, space)


def _check(value: str, allowed: Sequence[str], what: str) -> None:
    if value not in allowed:
        raise SearchError(f"{what} {value!r}: expected one of {', '.join(allowed)}")


# --------------------------------------------------------------------------- samplers, pruners
def make_sampler(name: SamplerName = "tpe", seed: int | None = None, **kwargs: Any) -> Any:
    """An Optuna sampler: ``"tpe"`` (multivariate TPE), ``"gp"`` (Gaussian process) or ``"random"``.

    ``GPSampler`` uses torch and scipy (both dependencies); without the optional
    ``greenlet`` package it logs that it falls back to sequential L-BFGS-B.
    """
    import optuna

    _check(name, SAMPLERS, "sampler")
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


def make_pruner(name: PrunerName = "median", *, max_epochs: int = 50, **kwargs: Any) -> Any:
    """An Optuna pruner fed by the per-epoch validation MAE.

    ``"median"`` stops a trial whose value is worse than the median of earlier
    trials at the same epoch (after 5 complete trials and 2 epochs);
    ``"hyperband"`` allocates epochs by successive halving up to ``max_epochs``.
    """
    import optuna

    _check(name, PRUNERS, "pruner")
    if name == "median":
        warmup = 1 if max_epochs <= 5 else 2
        opts = {"n_startup_trials": 5, "n_warmup_steps": warmup, **kwargs}
        return optuna.pruners.MedianPruner(**opts)
    if name == "hyperband":
        opts = {"min_resource": 1, "max_resource": max(int(max_epochs), 1), **kwargs}
        return optuna.pruners.HyperbandPruner(**opts)
    return optuna.pruners.NopPruner()


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
    _check(validation, VALIDATIONS, "validation")
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
def total_max_normalised_mae(pred: Any, truth: Any) -> float:
    """Sum over metabolites of the mean |pred/max(pred) - truth/max(truth)| (per spectrum).

    The paper's model-selection score (:func:`mrs_lib.metrics.mae` summed):
    0.0073-0.0080 for its best CNN.
    """
    from .metrics import mae

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
        _check(self.family, MODEL_NAMES, "family")
        _check(self.space, SEARCH_SPACES, "space")
        _check(self.sampler, SAMPLERS, "sampler")
        _check(self.pruner, PRUNERS, "pruner")
        _check(self.validation, VALIDATIONS, "validation")

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
    import time

    import optuna

    def objective(trial: Any) -> float:
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


def make_objective(config: SearchConfig, data: Any, *, num_threads: int | None = None) -> Objective:
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
    import optuna

    from .train import TrainConfig, train_model

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

    def part(idx: np.ndarray) -> tuple[Any, ...]:
        return (x[idx], y[idx]) if clean is None else (x[idx], y[idx], clean[idx])

    def objective(trial: Any) -> float:
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
        trial.set_user_attr("model_config", _jsonable(model_config))
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
                part(tr),
                part(va),
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


def _arrays(data: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    if hasattr(data, "x") and hasattr(data, "targets"):
        return np.asarray(data.x), np.asarray(data.targets), getattr(data, "clean", None)
    if isinstance(data, tuple | list) and len(data) in (2, 3):
        return np.asarray(data[0]), np.asarray(data[1]), None if len(data) == 2 else data[2]
    raise SearchError(
        "search data: expected a SynthBatch-like object (x, targets, clean) or a tuple (x, y[, clean])"
    )


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def default_epochs(scale: str | None = None) -> int:
    """Epochs per trial by ``MRS_SCALE`` (the paper trained 40-100 epochs per trial)."""
    from .scale import pick

    return pick(tiny=2, book=6, paper=40, scale=scale)


def default_spectra(scale: str | None = None) -> int:
    """Simulated spectra a search runs on by ``MRS_SCALE`` (the paper: 10,000)."""
    from .scale import pick

    return pick(tiny=256, book=10_000, paper=10_000, scale=scale)


def search_data(
    n: int | None = None, *, seed: int = 0, synth: str = "paper", basis: str = "paper"
) -> Any:
    """``n`` simulated spectra (default :func:`default_spectra`) for the search objective.

    The paper's set (:func:`mrs_lib.train.synthesize` with the ``"paper"``
    synthesis preset: Sobol concentrations, 2 Hz Lorentzian basis, time-domain
    noise up to 3 % of the FID maximum), with the clean copy the YAE needs.
    """
    from .train import synthesize

    return synthesize(default_spectra() if n is None else int(n), seed, synth=synth, basis=basis)


# --------------------------------------------------------------------------- storage
def default_storage(family: str, directory: str | os.PathLike[str] | None = None) -> str:
    """``sqlite:///<dir>/studies/<family>.db``, ``<dir>`` the user artifact directory by default.

    The working database lives in a sub-folder so that it never shadows a
    shipped study of the same name (``search-<family>.db``, see :func:`export_study`).
    """
    from .artifacts import user_dir

    d = Path(directory) if directory is not None else user_dir()
    return storage_url(d / "studies" / f"{family}.db")


def storage_url(storage: str | os.PathLike[str]) -> str:
    """An Optuna storage URL: URLs pass through; a path becomes ``sqlite:///<absolute path>``."""
    s = os.fspath(storage)
    if "://" in s:
        return s
    path = Path(s).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def _sqlite_path(url: str) -> Path | None:
    if url.startswith("sqlite:///") and ":memory:" not in url:
        return Path(url[len("sqlite:///") :].split("?", 1)[0])
    return None


def _sqlite_connect(path: Path) -> Any:
    import sqlite3

    conn = sqlite3.connect(path, timeout=60.0, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def sqlite_to_single_file(path: str | os.PathLike[str]) -> None:
    """Checkpoint the write-ahead log into an SQLite study file and leave it in rollback mode.

    Run before shipping a study database: afterwards the ``.db`` file alone holds everything.
    """
    import sqlite3

    conn = sqlite3.connect(os.fspath(path), timeout=60.0)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute("VACUUM")
    finally:
        conn.close()


def make_storage(storage: str | os.PathLike[str], *, heartbeat_s: int = 30) -> Any:
    """An :class:`optuna.storages.RDBStorage` with heartbeats (stale trials fail after 4 beats)."""
    import optuna

    url = storage_url(storage)
    engine_kwargs: dict[str, Any] = {}
    path = _sqlite_path(url)
    if path is not None:
        # Several processes write to one file: wait for the lock instead of failing, and
        # use the write-ahead log (one fsync per checkpoint, not per commit; same host only).
        engine_kwargs["creator"] = lambda: _sqlite_connect(path)
    else:
        engine_kwargs["pool_pre_ping"] = True
    for attempt in range(3):
        try:
            with (
                _file_lock(path) if path is not None else contextlib.nullcontext(),
                warnings.catch_warnings(),
            ):
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    url,
                    engine_kwargs=engine_kwargs,
                    heartbeat_interval=heartbeat_s,
                    grace_period=4 * heartbeat_s,
                )
        except Exception as exc:  # several workers creating the schema at once: one wins
            if attempt == 2 or not any(
                m in str(exc) for m in ("already exists", "UniqueViolation", "UNIQUE constraint")
            ):
                raise
            log.info("storage schema created by another worker; retrying (%s)", type(exc).__name__)
    raise AssertionError("unreachable")


def open_study(
    study_name: str,
    storage: str | os.PathLike[str] | Any,
    *,
    sampler: Any = None,
    pruner: Any = None,
    attrs: Mapping[str, Any] | None = None,
) -> Any:
    """Create the study ``study_name`` (minimising) or load it if it exists; store ``attrs`` once."""
    import optuna

    st = make_storage(storage) if isinstance(storage, str | os.PathLike) else storage
    study = optuna.create_study(
        study_name=study_name,
        storage=st,
        sampler=sampler,
        pruner=pruner,
        direction="minimize",
        load_if_exists=True,
    )
    if attrs:
        existing = study.user_attrs
        for key, value in attrs.items():
            if key not in existing:
                study.set_user_attr(key, value)
    return study


@contextlib.contextmanager
def _file_lock(db: Path) -> Iterator[None]:
    """Exclusive ``flock`` on ``<db>.lock`` (POSIX; the SQLite file itself stays unlocked)."""
    import fcntl

    db.parent.mkdir(parents=True, exist_ok=True)
    with open(db.with_name(db.name + ".lock"), "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextlib.contextmanager
def _study_lock(study: Any) -> Iterator[bool]:
    """Exclusive lock on ``study`` across processes and machines; yields whether one was taken."""
    storage = study._storage
    url = str(getattr(storage, "url", ""))
    path = _sqlite_path(url)
    if path is not None:
        with _file_lock(path):
            yield True
        return
    if url.startswith("postgresql"):
        import sqlalchemy

        key = int.from_bytes(
            hashlib.sha256(f"mrs_lib.search:{study.study_name}".encode()).digest()[:8],
            "big",
            signed=True,
        )
        with storage.engine.connect() as conn:
            conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": key})
            try:
                yield True
            finally:
                conn.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
        return
    yield False


def count_trials(study: Any, states: Sequence[str] = COUNTED_STATES) -> int:
    """Trials of ``study`` in ``states`` (by default finished or running: what counts to the total)."""
    from optuna.trial import TrialState

    wanted = tuple(TrialState[s] for s in states)
    return len(study.get_trials(deepcopy=False, states=wanted))


def worker_id() -> str:
    """``host:pid`` of this worker, stored in every trial's ``worker`` user attribute."""
    return f"{socket.gethostname()}:{os.getpid()}"


class _Heartbeat:
    """Records a trial's heartbeat every interval, from a daemon thread, while the trial runs."""

    def __init__(self, storage: Any, trial_id: int) -> None:
        self._storage = storage
        self._trial_id = trial_id
        self._stop = threading.Event()
        interval = (
            storage.get_heartbeat_interval() if hasattr(storage, "get_heartbeat_interval") else None
        )
        self._interval = interval
        self._thread: threading.Thread | None = None

    def __enter__(self) -> _Heartbeat:
        if self._interval:
            self._storage.record_heartbeat(self._trial_id)
            self._thread = threading.Thread(target=self._beat, daemon=True)
            self._thread.start()
        return self

    def _beat(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._storage.record_heartbeat(self._trial_id)
            except Exception as exc:  # a missed beat is retried at the next interval
                log.warning("heartbeat of trial id %d failed: %r", self._trial_id, exc)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def _fail_stale(study: Any) -> None:
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def optimize_until(
    study: Any,
    objective: Objective,
    n_trials: int,
    *,
    timeout_s: float | None = None,
    catch: tuple[type[Exception], ...] = (),
    callbacks: Sequence[Callable[[Any, Any], None]] = (),
) -> int:
    """Run trials of ``study`` until it holds ``n_trials`` finished or running ones; return how many ran here.

    Safe to call from several processes on one study: the count and the ask of
    a new trial happen under :func:`_study_lock`. A trial whose objective raises
    :class:`optuna.TrialPruned` is recorded as pruned; any other exception marks
    it failed and is re-raised unless it is an instance of ``catch``.
    """
    import time

    import optuna
    from optuna.trial import TrialState

    start = time.monotonic()
    ran = 0
    while timeout_s is None or time.monotonic() - start < timeout_s:
        with _study_lock(study):
            _fail_stale(study)
            if count_trials(study) >= n_trials:
                break
            with warnings.catch_warnings():
                # we record heartbeats ourselves (_Heartbeat) around the objective
                warnings.filterwarnings("ignore", message="Heartbeat of storage")
                trial = study.ask()
            trial.set_user_attr("worker", worker_id())
        state, value = TrialState.FAIL, None
        try:
            with _Heartbeat(study._storage, trial._trial_id):
                value = float(objective(trial))
            state = TrialState.COMPLETE if math.isfinite(value) else TrialState.FAIL
        except optuna.TrialPruned:
            state = TrialState.PRUNED
        except catch as exc:
            log.warning("trial %d failed: %r", trial.number, exc)
        except BaseException:
            study.tell(trial, state=TrialState.FAIL)
            raise
        finally:
            ran += 1
        frozen = study.tell(trial, value if state == TrialState.COMPLETE else None, state=state)
        for cb in callbacks:
            cb(study, frozen)
    return ran


def run_study(
    config: SearchConfig,
    n_trials: int,
    *,
    storage: str | os.PathLike[str] | None = None,
    study_name: str | None = None,
    data: Any = None,
    objective: Objective | None = None,
    timeout_s: float | None = None,
    seed: int | None = None,
) -> Any:
    """Open or resume a study and run it until it holds ``n_trials`` trials in total; return it.

    ``storage`` is an Optuna URL or an SQLite file path (default
    :func:`default_storage`); ``study_name`` defaults to ``"<family>-<space>"``.
    ``objective`` defaults to :func:`make_objective` on ``data`` (a dataset of
    simulated spectra); pass any ``trial -> float`` to search something cheaper
    (tests use :func:`proxy_objective`). ``seed`` seeds this worker's sampler
    (default ``config.seed``): give concurrent workers different seeds.
    """
    if n_trials < 0:
        raise SearchError(f"n_trials={n_trials}: expected a non-negative count")
    url = storage_url(storage) if storage is not None else default_storage(config.family)
    name = study_name or f"{config.family}-{config.space}"
    sampler = make_sampler(config.sampler, config.seed if seed is None else seed)
    pruner = make_pruner(config.pruner, max_epochs=config.epochs)
    study = open_study(
        name, url, sampler=sampler, pruner=pruner, attrs={"search_config": config.to_dict()}
    )
    if objective is None:
        if data is None:
            raise SearchError("run_study: pass the simulated spectra (data=...) or an objective")
        objective = make_objective(config, data)
    optimize_until(study, objective, n_trials, timeout_s=timeout_s)
    return study


def export_study(
    study: Any, path: str | os.PathLike[str], *, seed: int | None = None, **extra: Any
) -> dict[str, Any]:
    """Copy ``study`` (any storage) into a fresh single-file SQLite database with a provenance sidecar.

    The result is what the package ships (``mrs_lib/assets/search-<family>.db``)
    and what :func:`load_study` reads; ``extra`` goes into the sidecar
    (the command line, data size, ...). Returns the provenance record.
    """
    import optuna

    from .artifacts import save

    dest = Path(path).expanduser().resolve()
    dest.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm", ".lock"):
        Path(f"{dest}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{dest}"
    optuna.copy_study(
        from_study_name=study.study_name,
        from_storage=study._storage,
        to_storage=url,
        to_study_name=study.study_name,
    )
    # copy_study keeps only study user attributes and trials; engines hold the file open
    sqlite_to_single_file(dest)
    counts = summary(study)["trials"]
    config = dict(study.user_attrs.get("search_config", {}))
    return save(
        dest,
        config,
        seed,
        study=study.study_name,
        trials=counts,
        best=_jsonable(best_configs(study, 1)),
        **extra,
    )


# --------------------------------------------------------------------------- reading studies
def load_study(name: str, study_name: str | None = None) -> Any:
    """Load a (shipped) study database by artifact name, checking its sha256 (read-only use).

    ``name`` is e.g. ``"search-cnn.db"``; the study defaults to the only one in
    the file. The database is copied to a temporary file first, so reading
    never modifies the shipped artifact.
    """
    import shutil
    import tempfile

    import optuna

    from .artifacts import load

    path, _record = load(name)
    tmp = Path(tempfile.mkdtemp(prefix="mrs-study-")) / path.name
    shutil.copyfile(path, tmp)
    url = f"sqlite:///{tmp}"
    if study_name is None:
        names = optuna.get_all_study_names(url)
        if len(names) != 1:
            raise SearchError(f"artifact '{name}' holds studies {names}: pass study_name")
        study_name = names[0]
    return optuna.load_study(study_name=study_name, storage=url)


def best_configs(study: Any, k: int = 1) -> list[dict[str, Any]]:
    """The ``k`` best complete trials: number, value, params and the rebuilt model config."""
    from optuna.trial import TrialState

    done = sorted(study.get_trials(states=(TrialState.COMPLETE,)), key=lambda t: t.value)
    cfg = study.user_attrs.get("search_config", {})
    family, space = cfg.get("family"), cfg.get("space", "cpu")
    out = []
    for t in done[:k]:
        entry: dict[str, Any] = {"number": t.number, "value": t.value, "params": dict(t.params)}
        if family in MODEL_NAMES:
            entry["model_config"] = config_from_params(family, t.params, space)
        out.append(entry)
    return out


def summary(study: Any) -> dict[str, Any]:
    """Counts per state, the best value and the study's search configuration."""
    from optuna.trial import TrialState

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
def trials_frame(study: Any) -> Any:
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


def plot_history(study: Any, ax: Any = None, *, title: str | None = None) -> Any:
    """Optimisation history: every trial's score (pruned ones at their last report) and the best so far."""
    import matplotlib.pyplot as plt
    from optuna.trial import TrialState

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    done = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    pruned = [
        t
        for t in study.get_trials(deepcopy=False)
        if t.state == TrialState.PRUNED and t.intermediate_values
    ]
    ax.scatter([t.number for t in done], [t.value for t in done], s=14, label="complete")
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
        best = np.minimum.accumulate([t.value for t in order])
        ax.step([t.number for t in order], best, where="post", color="C3", label="best so far")
    ax.set_yscale("log")
    ax.set_xlabel("trial")
    ax.set_ylabel("total val MAE (max-normalised)")
    ax.set_title(title or study.study_name)
    ax.legend(fontsize=8)
    return ax


def param_importances(study: Any) -> dict[str, float]:
    """PED-ANOVA importances of the searched parameters for the validation MAE (sum to 1).

    PED-ANOVA (Watanabe et al. 2023) asks which parameters separate the best
    10 % of trials from the rest; it needs no extra package (Optuna's default
    fANOVA evaluator needs scikit-learn, not a dependency of this book).
    """
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        evaluator = optuna.importance.PedAnovaImportanceEvaluator()
        return dict(optuna.importance.get_param_importances(study, evaluator=evaluator))


def plot_importances(study: Any, ax: Any = None) -> Any:
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
    study: Any, params: Sequence[str] | None = None, *, k: int = 4, axes: Any = None
) -> Any:
    """Score against each parameter (the ``k`` most important by default); colour = trial number."""
    import matplotlib.pyplot as plt
    from optuna.trial import TrialState

    if params is None:
        params = list(param_importances(study))[:k]
    done = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    if axes is None:
        _, axes = plt.subplots(
            1, len(params), figsize=(3 * len(params), 3), sharey=True, squeeze=False
        )
        axes = axes[0]
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


def compare_with_paper(studies: Mapping[str, Any]) -> Any:
    """Table per family: trials, best total val MAE, the paper's range and the ratio to its midpoint."""
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
    "COUNTED_STATES",
    "PAPER_BEST_VAL_MAE",
    "PRUNERS",
    "SAMPLERS",
    "SEARCH_SPACES",
    "VALIDATIONS",
    "PrunerName",
    "SamplerName",
    "SearchConfig",
    "SearchError",
    "SearchSpace",
    "Validation",
    "best_configs",
    "compare_with_paper",
    "config_from_params",
    "count_trials",
    "default_epochs",
    "default_spectra",
    "default_storage",
    "export_study",
    "load_study",
    "make_objective",
    "make_pruner",
    "make_sampler",
    "make_storage",
    "open_study",
    "optimize_until",
    "param_importances",
    "plot_history",
    "plot_importances",
    "plot_slices",
    "proxy_objective",
    "run_study",
    "search_data",
    "split_indices",
    "storage_url",
    "suggest_config",
    "suggest_train",
    "summary",
    "total_max_normalised_mae",
    "trials_frame",
    "worker_id",
]

"""How workers share a study: the run loop, seeds, heartbeats, termination (chapter 3).

:func:`run_study` opens (or resumes) a study in any Optuna storage
(:mod:`mrs_lib.search.storage`) and runs trials until the study holds
``n_trials`` of them *in total*, however many workers run at the same time
(:func:`optimize_until`).

Workers coordinate only through the storage. Before it asks for a new trial, a
worker takes a lock on the study (a file lock beside an SQLite database, a
PostgreSQL advisory lock otherwise), counts the trials that are finished or
running, and asks only while that count is below ``n_trials``; so two workers
never overshoot the total. Every running trial records a heartbeat: a trial
left ``RUNNING`` by a killed worker is marked ``FAIL`` once its heartbeat is
older than the grace period, and the next worker replaces it. A resumed study
therefore continues the count where it stopped. A worker that receives SIGTERM
or SIGINT marks its running trial ``FAIL`` before it exits, so the trial is
replaced at once. Other storage back-ends (MySQL, in-memory) run the same loop
without the lock: the total can then exceed ``n_trials`` by at most the number
of workers minus one.

Each worker joins the study (:func:`join_study`: its index among all workers
that ever ran it) and, unless given a seed, seeds its sampler with
:func:`worker_seed` of the search seed and that index: the first worker uses the
search seed itself, every later or concurrent one a distinct seed, so two
workers never replay the same sequence of configurations. The index and the
seed are recorded in every trial's user attributes.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, cast

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from .._signals import terminate_raises
from .errors import SearchError
from .objective import Objective, SearchConfig, SearchData, make_objective
from .samplers import make_pruner, make_sampler
from .storage import _study_lock, default_storage, open_study, storage_url

#: Trial states that count towards a study's total (a failed trial is replaced).
COUNTED_STATES = ("COMPLETE", "PRUNED", "RUNNING")

log = logging.getLogger(__name__)


def count_trials(study: optuna.Study, states: Sequence[str] = COUNTED_STATES) -> int:
    """Trials of ``study`` in ``states``.

    By default the finished or running ones: what counts towards the total.
    """
    wanted = tuple(TrialState[s] for s in states)
    return len(study.get_trials(deepcopy=False, states=wanted))


def worker_id() -> str:
    """``host:pid`` of this worker, stored in every trial's ``worker`` user attribute."""
    return f"{socket.gethostname()}:{os.getpid()}"


#: the study user attribute counting the workers that joined it (:func:`join_study`)
WORKERS_ATTR = "workers_joined"


def join_study(study: optuna.Study) -> int:
    """Register a new worker with ``study``; return its 0-based index among all that joined.

    The count lives in the study (user attribute :data:`WORKERS_ATTR`) and is
    read and raised under the study's lock (a file lock for SQLite, an advisory
    lock for PostgreSQL, see :mod:`mrs_lib.search.storage`), so concurrent workers on SQLite
    or PostgreSQL get distinct indices; a worker that resumes a study later
    gets the next one.
    """
    with _study_lock(study):
        n = int(study.user_attrs.get(WORKERS_ATTR, 0))
        study.set_user_attr(WORKERS_ATTR, n + 1)
    return n


def worker_seed(seed: int, index: int) -> int:
    """The sampler seed of worker ``index`` of a search seeded with ``seed``.

    ``seed`` itself for the first worker (index 0), so a study run by one
    worker is reproducible from the search seed; for every later index a
    distinct 32-bit seed derived from ``(seed, index)`` with
    :class:`numpy.random.SeedSequence`.
    """
    if index == 0:
        return int(seed)
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0])


class _HeartbeatStorage(Protocol):
    """The heartbeat methods of an Optuna storage (those of Optuna's RDB storages)."""

    def get_heartbeat_interval(self) -> int | None: ...

    def record_heartbeat(self, trial_id: int) -> None: ...


class _Heartbeat:
    """Records a trial's heartbeat every interval, from a daemon thread, while the trial runs."""

    def __init__(self, storage: optuna.storages.BaseStorage, trial_id: int) -> None:
        # used only when the storage has heartbeats (``get_heartbeat_interval``)
        self._storage = cast(_HeartbeatStorage, storage)
        self._trial_id = trial_id
        self._stop = threading.Event()
        interval = (
            self._storage.get_heartbeat_interval()
            if hasattr(storage, "get_heartbeat_interval")
            else None
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


def _fail_stale(study: optuna.Study) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def _fail_trial(study: optuna.Study, trial: optuna.Trial) -> None:
    """Mark ``trial`` failed while an exception unwinds (a trial already told stays as told)."""
    try:
        study.tell(trial, state=TrialState.FAIL)
    except Exception as exc:  # already finished, or the storage is gone: keep the first error
        log.warning("could not mark trial %d failed: %r", trial.number, exc)


def _ask(study: optuna.Study, n_trials: int, attrs: Mapping[str, Any]) -> optuna.Trial | None:
    """A new trial of ``study`` with this worker's ``attrs``, or ``None`` when it is full."""
    trial: optuna.Trial | None = None
    try:
        with _study_lock(study):
            _fail_stale(study)
            if count_trials(study) >= n_trials:
                return None
            with warnings.catch_warnings():
                # we record heartbeats ourselves (_Heartbeat) around the objective
                warnings.filterwarnings("ignore", message="Heartbeat of storage")
                trial = study.ask()
            for key, value in {"worker": worker_id(), **attrs}.items():
                trial.set_user_attr(key, value)
        return trial
    except BaseException:
        if trial is not None:
            _fail_trial(study, trial)
        raise


def _run_trial(
    study: optuna.Study,
    trial: optuna.Trial,
    objective: Objective,
    catch: tuple[type[Exception], ...],
) -> FrozenTrial:
    """Run ``objective`` on ``trial`` and tell the study how it ended."""
    try:
        state, value = TrialState.FAIL, None
        try:
            with _Heartbeat(study._storage, trial._trial_id):
                value = float(objective(trial))
            state = TrialState.COMPLETE if math.isfinite(value) else TrialState.FAIL
        except optuna.TrialPruned:
            state = TrialState.PRUNED
        except catch as exc:
            log.warning("trial %d failed: %r", trial.number, exc)
        return study.tell(trial, value if state == TrialState.COMPLETE else None, state=state)
    except BaseException:  # KeyboardInterrupt, Terminated (SIGTERM), an error not caught
        _fail_trial(study, trial)
        raise


def optimize_until(
    study: optuna.Study,
    objective: Objective,
    n_trials: int,
    *,
    timeout_s: float | None = None,
    catch: tuple[type[Exception], ...] = (),
    callbacks: Sequence[Callable[[optuna.Study, FrozenTrial], None]] = (),
    trial_attrs: Mapping[str, Any] | None = None,
) -> int:
    """Run trials of ``study`` until it holds ``n_trials`` finished or running ones.

    Returns how many trials ran here. Safe to call from several processes on
    one study: the count and the ask of a new trial happen under
    ``_study_lock``. A trial whose objective raises
    :class:`optuna.TrialPruned` is recorded as pruned; any other exception marks
    it failed and is re-raised unless it is an instance of ``catch``. So does
    SIGINT (Ctrl-C) and SIGTERM (raised as ``mrs_lib._signals.Terminated``
    in the main thread): the running trial is marked failed before the worker
    exits, not left running until its heartbeat goes stale. ``trial_attrs``
    are set on every trial besides ``worker`` (:func:`worker_id`).
    """
    start = time.monotonic()
    ran = 0
    attrs = dict(trial_attrs or {})
    with terminate_raises():
        while timeout_s is None or time.monotonic() - start < timeout_s:
            trial = _ask(study, n_trials, attrs)
            if trial is None:
                break
            ran += 1
            frozen = _run_trial(study, trial, objective, catch)
            for cb in callbacks:
                cb(study, frozen)
    return ran


def run_study(
    config: SearchConfig,
    n_trials: int,
    *,
    storage: str | os.PathLike[str] | None = None,
    study_name: str | None = None,
    data: SearchData | None = None,
    objective: Objective | None = None,
    timeout_s: float | None = None,
    seed: int | None = None,
) -> optuna.Study:
    """Open or resume a study and run it until it holds ``n_trials`` trials in total; return it.

    ``storage`` is an Optuna URL or an SQLite file path (default
    :func:`default_storage`); ``study_name`` defaults to ``"<family>-<space>"``.
    ``objective`` defaults to :func:`mrs_lib.search.objective.make_objective` on
    ``data`` (a dataset of simulated spectra); pass any ``trial -> float`` to
    search something cheaper (tests use
    :func:`mrs_lib.search.objective.proxy_objective`).

    ``seed`` seeds this worker's sampler. By default (``None``) the worker
    joins the study (:func:`join_study`) and uses :func:`worker_seed` of
    ``config.seed`` and its index: ``config.seed`` for the first worker of a
    study, a distinct seed for every other (concurrent, or resuming later),
    so workers never replay each other's configurations. Every trial records
    ``worker_index``, ``sampler_seed`` and ``sampler_seed_from``
    (``"derived"`` or ``"given"``) in its user attributes.
    """
    if n_trials < 0:
        raise SearchError(f"n_trials={n_trials}: expected a non-negative count")
    if objective is None and data is None:
        raise SearchError("run_study: pass the simulated spectra (data=...) or an objective")
    url = storage_url(storage) if storage is not None else default_storage(config.family)
    name = study_name or f"{config.family}-{config.space}"
    pruner = make_pruner(config.pruner, max_epochs=config.epochs)
    study = open_study(name, url, pruner=pruner, attrs={"search_config": config.to_dict()})
    index = join_study(study)
    sampler_seed = worker_seed(config.seed, index) if seed is None else int(seed)
    study.sampler = make_sampler(config.sampler, sampler_seed)
    if objective is None:
        assert data is not None  # checked above
        objective = make_objective(config, data)
    attrs = {
        "worker_index": index,
        "sampler_seed": sampler_seed,
        "sampler_seed_from": "derived" if seed is None else "given",
    }
    optimize_until(study, objective, n_trials, timeout_s=timeout_s, trial_attrs=attrs)
    return study


__all__ = [
    "COUNTED_STATES",
    "WORKERS_ATTR",
    "count_trials",
    "join_study",
    "optimize_until",
    "run_study",
    "worker_id",
    "worker_seed",
]

"""Where studies live and how workers share them: storage URLs, locks, heartbeats, the run loop.

:func:`run_study` opens (or resumes) a study in any Optuna storage (an SQLite
file by default, ``postgresql://...`` to share it between machines) and runs
trials until the study holds ``n_trials`` of them *in total*, however many
workers run at the same time (:func:`optimize_until`). :func:`export_study`
copies a study into the single SQLite file the package ships and
:func:`load_study` reads one back.

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
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import shutil
import socket
import sqlite3
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, cast

import optuna
from optuna.trial import FrozenTrial, TrialState

from .. import artifacts
from .errors import SearchError
from .objective import Objective, SearchConfig, SearchData, make_objective, to_jsonable
from .report import best_configs, summary
from .samplers import make_pruner, make_sampler

#: Trial states that count towards a study's total (a failed trial is replaced).
COUNTED_STATES = ("COMPLETE", "PRUNED", "RUNNING")

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- storage
def default_storage(family: str, directory: str | os.PathLike[str] | None = None) -> str:
    """``sqlite:///<dir>/studies/<family>.db``, ``<dir>`` the user artifact directory by default.

    The working database lives in a sub-folder so that it never shadows a
    shipped study of the same name (``search-<family>.db``, see :func:`export_study`).
    """
    d = Path(directory) if directory is not None else artifacts.user_dir()
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


def _sqlite_connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=60.0, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def sqlite_to_single_file(path: str | os.PathLike[str]) -> None:
    """Checkpoint the write-ahead log into an SQLite study file and leave it in rollback mode.

    Run before shipping a study database: afterwards the ``.db`` file alone holds everything.
    """
    conn = sqlite3.connect(os.fspath(path), timeout=60.0)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute("VACUUM")
    finally:
        conn.close()


def make_storage(
    storage: str | os.PathLike[str], *, heartbeat_s: int = 30
) -> optuna.storages.RDBStorage:
    """An :class:`optuna.storages.RDBStorage` with heartbeats (stale trials fail after 4 beats)."""
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
    storage: str | os.PathLike[str] | optuna.storages.BaseStorage,
    *,
    sampler: optuna.samplers.BaseSampler | None = None,
    pruner: optuna.pruners.BasePruner | None = None,
    attrs: Mapping[str, Any] | None = None,
) -> optuna.Study:
    """Create the study ``study_name`` (minimising) or load it if it exists.

    ``attrs`` become study user attributes, each written only if not already there.
    """
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


# --------------------------------------------------------------------------- locks
@contextlib.contextmanager
def _file_lock(db: Path) -> Iterator[None]:
    """Exclusive ``flock`` on ``<db>.lock`` (POSIX; the SQLite file itself stays unlocked)."""
    # Imported here: fcntl exists on POSIX only, and only SQLite storages take this lock.
    import fcntl

    db.parent.mkdir(parents=True, exist_ok=True)
    with open(db.with_name(db.name + ".lock"), "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _backend(storage: optuna.storages.BaseStorage) -> optuna.storages.BaseStorage:
    """The storage that holds the data: optuna wraps an RDB storage in a cache that has no
    ``url``, and a lock looked up on the wrapper would silently never be taken."""
    while (inner := getattr(storage, "_backend", None)) is not None:
        storage = inner
    return storage


@contextlib.contextmanager
def _study_lock(study: optuna.Study) -> Iterator[bool]:
    """Exclusive lock on ``study`` across processes and machines; yields whether one was taken."""
    storage = _backend(study._storage)
    url = str(getattr(storage, "url", ""))
    path = _sqlite_path(url)
    if path is not None:
        with _file_lock(path):
            yield True
        return
    if url.startswith("postgresql"):
        # Imported here: only this PostgreSQL branch uses SQLAlchemy directly (about 0.1 s to
        # import, which every `mrs` command line would pay otherwise).
        import sqlalchemy

        key = int.from_bytes(
            hashlib.sha256(f"mrs_lib.search:{study.study_name}".encode()).digest()[:8],
            "big",
            signed=True,
        )
        # a storage with a PostgreSQL ``url`` is an RDBStorage
        engine = cast(optuna.storages.RDBStorage, storage).engine
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": key})
            try:
                yield True
            finally:
                conn.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
        return
    yield False


# --------------------------------------------------------------------------- workers
def count_trials(study: optuna.Study, states: Sequence[str] = COUNTED_STATES) -> int:
    """Trials of ``study`` in ``states``.

    By default the finished or running ones: what counts towards the total.
    """
    wanted = tuple(TrialState[s] for s in states)
    return len(study.get_trials(deepcopy=False, states=wanted))


def worker_id() -> str:
    """``host:pid`` of this worker, stored in every trial's ``worker`` user attribute."""
    return f"{socket.gethostname()}:{os.getpid()}"


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


def optimize_until(
    study: optuna.Study,
    objective: Objective,
    n_trials: int,
    *,
    timeout_s: float | None = None,
    catch: tuple[type[Exception], ...] = (),
    callbacks: Sequence[Callable[[optuna.Study, FrozenTrial], None]] = (),
) -> int:
    """Run trials of ``study`` until it holds ``n_trials`` finished or running ones.

    Returns how many trials ran here. Safe to call from several processes on
    one study: the count and the ask of a new trial happen under
    :func:`_study_lock`. A trial whose objective raises
    :class:`optuna.TrialPruned` is recorded as pruned; any other exception marks
    it failed and is re-raised unless it is an instance of ``catch``.
    """
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
    :func:`mrs_lib.search.objective.proxy_objective`). ``seed`` seeds this
    worker's sampler (default ``config.seed``): give concurrent workers
    different seeds.
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


# --------------------------------------------------------------------------- shipped studies
def export_study(
    study: optuna.Study, path: str | os.PathLike[str], *, seed: int | None = None, **extra: Any
) -> dict[str, Any]:
    """Copy ``study`` (any storage) into a fresh single-file SQLite database with provenance.

    The result is what the package ships (``mrs_lib/assets/search-<family>.db``)
    and what :func:`load_study` reads; ``extra`` goes into the provenance sidecar
    (the command line, data size, ...). Returns the provenance record.
    """
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
    return artifacts.save(
        dest,
        config,
        seed,
        study=study.study_name,
        trials=counts,
        best=to_jsonable(best_configs(study, 1)),
        **extra,
    )


def load_study(name: str, study_name: str | None = None) -> optuna.Study:
    """Load a (shipped) study database by artifact name, checking its sha256 (read-only use).

    ``name`` is e.g. ``"search-cnn.db"``; the study defaults to the only one in
    the file. The database is copied to a temporary file first, so reading
    never modifies the shipped artifact.
    """
    path, _record = artifacts.load(name)
    tmp = Path(tempfile.mkdtemp(prefix="mrs-study-")) / path.name
    shutil.copyfile(path, tmp)
    url = f"sqlite:///{tmp}"
    if study_name is None:
        names = optuna.get_all_study_names(url)
        if len(names) != 1:
            raise SearchError(f"artifact '{name}' holds studies {names}: pass study_name")
        study_name = names[0]
    return optuna.load_study(study_name=study_name, storage=url)


__all__ = [
    "COUNTED_STATES",
    "count_trials",
    "default_storage",
    "export_study",
    "load_study",
    "make_storage",
    "open_study",
    "optimize_until",
    "run_study",
    "sqlite_to_single_file",
    "storage_url",
    "worker_id",
]

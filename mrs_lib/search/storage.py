"""Where studies live: storage URLs, locks, and the single-file studies the package ships.

:func:`storage_url` and :func:`make_storage` open any Optuna storage (an SQLite
file by default, ``postgresql://...`` to share a study between machines);
:func:`open_study` creates or resumes a study there; ``_study_lock`` is the
lock under which workers count and ask for trials (a file lock beside an SQLite
database, a PostgreSQL advisory lock otherwise; see
:mod:`mrs_lib.search.workers` for the run loop). :func:`export_study` copies a
study into the single SQLite file the package ships and :func:`load_study`
reads one back (into memory, leaving no temporary file behind).

A storage is checked before it is opened: a URL scheme other than
:data:`STORAGE_SCHEMES`, a directory, or an existing file that is not an SQLite
database is refused with a :class:`~mrs_lib.search.SearchError`. The package's
shipped studies (``mrs_lib/assets``) are read-only: a storage or an export
there is refused (:func:`mrs_lib.artifacts.ensure_writable`).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
import sqlite3
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, cast

import optuna

from .. import artifacts
from .errors import SearchError
from .objective import to_jsonable
from .report import best_configs, summary

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- storage
def default_storage(family: str, directory: str | os.PathLike[str] | None = None) -> str:
    """``sqlite:///<dir>/studies/<family>.db``, ``<dir>`` the user artifact directory by default.

    The working database lives in a sub-folder so that it never shadows a
    shipped study of the same name (``search-<family>.db``, see :func:`export_study`).
    """
    d = Path(directory) if directory is not None else artifacts.user_dir()
    return storage_url(d / "studies" / f"{family}.db")


#: URL schemes of the Optuna storages a search can use (SQLAlchemy dialects, any driver)
STORAGE_SCHEMES = ("sqlite", "postgresql", "mysql")
_SQLITE_MAGIC = b"SQLite format 3\x00"


def _hide_password(url: str) -> str:
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)


def _check_sqlite_file(path: Path, given: str) -> None:
    """Refuse a storage file that is a directory, not an SQLite database, or shipped."""
    artifacts.ensure_writable(path, "storage")
    if path.is_dir():
        raise SearchError(
            f"storage '{given}': expected an SQLite file or an Optuna URL, got a directory"
        )
    if path.is_file() and path.stat().st_size > 0:
        with open(path, "rb") as fh:
            head = fh.read(len(_SQLITE_MAGIC))
        if head != _SQLITE_MAGIC:
            raise SearchError(
                f"storage '{given}': expected an SQLite database (a file starting with "
                f"'SQLite format 3'), got another kind of file starting with {head[:12]!r}"
            )


def storage_url(storage: str | os.PathLike[str]) -> str:
    """An Optuna storage URL: URLs pass through; a path becomes ``sqlite:///<absolute path>``.

    Raises :class:`SearchError` for a URL scheme other than
    :data:`STORAGE_SCHEMES`, or a path (or ``sqlite:///`` URL) that is a
    directory or an existing file that is not an SQLite database, and
    :class:`~mrs_lib.artifacts.ArtifactError` for a shipped study.
    """
    s = os.fspath(storage)
    if not s.strip():
        raise SearchError("storage '': expected an SQLite file path or an Optuna URL")
    if "://" in s:
        scheme = s.split("://", 1)[0].split("+", 1)[0].lower()
        if scheme not in STORAGE_SCHEMES:
            raise SearchError(
                f"storage '{_hide_password(s)}': expected a URL of "
                f"{', '.join(f'{x}://' for x in STORAGE_SCHEMES)} or an SQLite file path, "
                f"got scheme '{scheme}'"
            )
        path = _sqlite_path(s)
        if path is not None:
            _check_sqlite_file(path, s)
        return s
    path = Path(s).expanduser().resolve()
    _check_sqlite_file(path, s)
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
                text = " ".join(str(exc).split())[:300]
                raise SearchError(
                    f"storage '{_hide_password(url)}': cannot open it as an Optuna storage "
                    f"({type(exc).__name__}: {text})"
                ) from exc
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


# --------------------------------------------------------------------------- shipped studies
def export_study(
    study: optuna.Study, path: str | os.PathLike[str], *, seed: int | None = None, **extra: Any
) -> dict[str, Any]:
    """Copy ``study`` (any storage) into a fresh single-file SQLite database with provenance.

    The result is what the package ships (``mrs_lib/assets/search-<family>.db``)
    and what :func:`load_study` reads; ``extra`` goes into the provenance sidecar
    (the command line, data size, ...). Returns the provenance record.
    """
    dest = artifacts.ensure_writable(Path(path).expanduser().resolve(), "export")
    if dest.is_dir():
        raise SearchError(f"export '{path}': expected an SQLite file path, got a directory")
    source = _sqlite_path(str(getattr(_backend(study._storage), "url", "")))
    if source is not None and source.resolve() == dest:
        raise SearchError(
            f"export '{path}': expected a file other than the study's own storage "
            "(exporting replaces the file it writes)"
        )
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
    the file. The database is copied to a temporary folder (so reading never
    modifies the shipped artifact), the study copied from there into memory
    (:class:`optuna.storages.InMemoryStorage`), and the folder removed: nothing
    is left behind.
    """
    path, _record = artifacts.load(name)
    with tempfile.TemporaryDirectory(prefix="mrs-study-") as tmpdir:
        tmp = Path(tmpdir) / path.name
        shutil.copyfile(path, tmp)
        url = f"sqlite:///{tmp}"
        storage = optuna.storages.RDBStorage(url)
        try:
            names = [s.study_name for s in storage.get_all_studies()]
            if study_name is None:
                if len(names) != 1:
                    raise SearchError(f"artifact '{name}' holds studies {names}: pass study_name")
                study_name = names[0]
            elif study_name not in names:
                raise SearchError(
                    f"artifact '{name}', study {study_name!r}: expected one of {names}"
                )
            memory = optuna.storages.InMemoryStorage()
            verbosity = optuna.logging.get_verbosity()
            optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "new study created" line
            try:
                optuna.copy_study(
                    from_study_name=study_name,
                    from_storage=storage,
                    to_storage=memory,
                    to_study_name=study_name,
                )
            finally:
                optuna.logging.set_verbosity(verbosity)
        finally:
            storage.remove_session()
            storage.engine.dispose()
    return optuna.load_study(study_name=study_name, storage=memory)


__all__ = [
    "STORAGE_SCHEMES",
    "default_storage",
    "export_study",
    "load_study",
    "make_storage",
    "open_study",
    "sqlite_to_single_file",
    "storage_url",
]

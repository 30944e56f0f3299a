"""Expensive results (datasets, checkpoints, studies) stored with provenance, loaded by name.

Every artifact is a file plus a JSON *sidecar* ``<file>.json`` holding its
sha256 and provenance: library version, git sha of the code that produced it
(with a ``dirty`` flag), the configuration, the seed, the date, and the Python,
numpy and torch versions. :func:`save` writes the sidecar after the file;
:func:`load` resolves a name and refuses a file whose sha256 differs from its
sidecar's.

Names resolve, in order, in

1. ``$MRS_ARTIFACTS_DIR`` (what a user produced with the project's commands),
2. ``<cache dir>/artifacts`` (``$MRS_CACHE_DIR`` or the OS cache of ``mrs_lib``),
3. the artifacts shipped inside the package (``mrs_lib/assets``).

A name is the file name without directories (``"yae-paper.pt"``). The shipped
artifacts are read-only: every writer of the library and every ``mrs`` command
refuses to write inside ``mrs_lib/assets`` (:func:`ensure_writable`).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import MRSError

ENV_ARTIFACTS_DIR = "MRS_ARTIFACTS_DIR"
SIDECAR_SUFFIX = ".json"
SHIPPED_DIR = Path(__file__).resolve().parent / "assets"


class ArtifactError(MRSError):
    """An artifact is missing, lacks its sidecar, or fails its sha256 check."""


def sha256_of(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def git_revision(cwd: str | os.PathLike[str] | None = None) -> tuple[str | None, bool | None]:
    """``(sha, dirty)`` of the git checkout holding this package, or ``(None, None)``."""
    where = Path(cwd) if cwd is not None else Path(__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=where,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=where,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None, None
    return sha or None, bool(status.strip())


def provenance(
    config: Mapping[str, Any] | None = None, seed: int | None = None, **extra: Any
) -> dict[str, Any]:
    """The provenance record written into every sidecar."""
    from . import __version__

    sha, dirty = git_revision()
    record: dict[str, Any] = {
        "mrs_lib_version": __version__,
        "git_sha": sha,
        "git_dirty": dirty,
        "created_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "seed": seed,
        "config": dict(config or {}),
        "python": platform.python_version(),
    }
    for module in ("numpy", "torch"):
        try:
            record[module] = __import__(module).__version__
        except ImportError:  # pragma: no cover - both are dependencies
            record[module] = None
    record.update(extra)
    return record


def is_shipped(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` lies inside the package's shipped artifacts (``mrs_lib/assets``).

    Symbolic links and ``..`` are resolved first, so no spelling of a shipped
    file escapes the check.
    """
    try:
        resolved = Path(path).expanduser().resolve()
    except (OSError, RuntimeError):  # a symlink loop cannot be a shipped file
        return False
    return resolved == SHIPPED_DIR or SHIPPED_DIR in resolved.parents


def ensure_writable(path: str | os.PathLike[str], what: str = "output") -> Path:
    """Refuse to write ``path`` when it is a shipped artifact; return it otherwise.

    Shipped artifacts (``mrs_lib/assets``) are read-only to every command and
    function of the library: writing one would break its recorded sha256 for
    every later user. ``what`` names the argument in the error (``"--storage"``).
    Raises :class:`ArtifactError` naming the file and what to do instead.
    """
    p = Path(path)
    if is_shipped(p):
        raise ArtifactError(
            f"{what} '{p}': expected a path outside the package's shipped artifacts "
            f"({SHIPPED_DIR}), which are read-only; copy the file elsewhere "
            f"(cp '{p}' my-{p.name}) and use the copy, or choose another output path"
        )
    return p


def sidecar_path(path: str | os.PathLike[str]) -> Path:
    """``<file>.json`` beside the artifact."""
    p = Path(path)
    return p.with_name(p.name + SIDECAR_SUFFIX)


def save(
    path: str | os.PathLike[str],
    config: Mapping[str, Any] | None = None,
    seed: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Write the sidecar of an artifact already written at ``path``; return the record.

    ``config`` must be JSON-serialisable (it is what reproduces the artifact).
    """
    p = ensure_writable(path, "artifact")
    if not p.is_file():
        raise ArtifactError(f"artifact '{p}' does not exist: write the file before its sidecar")
    record = provenance(config, seed, **extra)
    record["file"] = p.name
    record["sha256"] = sha256_of(p)
    record["bytes"] = p.stat().st_size
    sidecar_path(p).write_text(json.dumps(record, indent=2, sort_keys=True, default=str) + "\n")
    return record


def read_sidecar(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The provenance record of an artifact (without checking the file)."""
    side = sidecar_path(path)
    try:
        record = json.loads(side.read_text())
    except FileNotFoundError:
        raise ArtifactError(f"artifact '{path}' has no provenance sidecar '{side}'") from None
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"sidecar '{side}': not valid JSON ({exc})") from None
    if not isinstance(record, dict) or "sha256" not in record:
        raise ArtifactError(f"sidecar '{side}', field 'sha256': expected the artifact's hex sha256")
    return record


def verify(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Check ``path`` against its sidecar's sha256; return the record."""
    record = read_sidecar(path)
    digest = sha256_of(path)
    if digest != record["sha256"]:
        raise ArtifactError(
            f"artifact '{path}': sha256 {digest} does not match its sidecar's {record['sha256']}"
        )
    return record


def search_dirs() -> list[Path]:
    """Where :func:`locate` looks, in order."""
    from .data import cache_dir

    dirs: list[Path] = []
    user = os.environ.get(ENV_ARTIFACTS_DIR)
    if user:
        dirs.append(Path(user).expanduser())
    dirs.append(cache_dir().parent / "artifacts")
    dirs.append(SHIPPED_DIR)
    return dirs


def user_dir() -> Path:
    """Where the project's commands write new artifacts by default (created if needed).

    Never the shipped artifacts: ``$MRS_ARTIFACTS_DIR`` there raises :class:`ArtifactError`.
    """
    d = ensure_writable(search_dirs()[0], f"${ENV_ARTIFACTS_DIR}")
    d.mkdir(parents=True, exist_ok=True)
    return d


def locate(name: str) -> Path:
    """Path of the artifact called ``name`` (first hit in ``search_dirs()``), not verified."""
    if Path(name).name != name:
        raise ArtifactError(f"artifact name '{name}': expected a bare file name, not a path")
    for d in search_dirs():
        candidate = d / name
        if candidate.is_file():
            return candidate
    looked = ", ".join(str(d) for d in search_dirs())
    raise ArtifactError(f"artifact '{name}' not found (looked in {looked})")


def load(name: str) -> tuple[Path, dict[str, Any]]:
    """Resolve ``name`` and verify its sha256; return ``(path, provenance record)``."""
    path = locate(name)
    return path, verify(path)


def available() -> dict[str, Path]:
    """Every artifact with a sidecar in the search path (first hit per name)."""
    found: dict[str, Path] = {}
    for d in search_dirs():
        if not d.is_dir():
            continue
        for side in sorted(d.glob(f"*{SIDECAR_SUFFIX}")):
            target = side.with_name(side.name[: -len(SIDECAR_SUFFIX)])
            if target.is_file():
                found.setdefault(target.name, target)
    return found


def seed_everything(seed: int) -> Any:
    """Seed Python's ``random``, numpy's legacy global state and torch.

    Returns ``np.random.default_rng(seed)``.

    Library functions take an explicit ``rng``/``seed``; this helper is for
    scripts and chapters that also drive third-party code (torch initialisers,
    data loaders) which draw from global state.
    """
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - third-party code reads the legacy global state
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:  # pragma: no cover
        pass
    return np.random.default_rng(seed)


__all__ = [
    "ENV_ARTIFACTS_DIR",
    "SHIPPED_DIR",
    "ArtifactError",
    "available",
    "ensure_writable",
    "is_shipped",
    "load",
    "locate",
    "provenance",
    "read_sidecar",
    "save",
    "seed_everything",
    "sha256_of",
    "sidecar_path",
    "user_dir",
    "verify",
]

"""A deep ensemble shipped as one file: packing members, loading, member predictions.

The file (:data:`ENSEMBLE_FORMAT`, written with ``torch.save`` and read with
``weights_only=True``) holds the members as model dictionaries of
:func:`mrs_lib.train.checkpoint.model_blob` (float16 weights), the data facts
they share (synthesis preset, basis, input channels), and, once
:func:`mrs_lib.uncertainty.calibration.calibrate` has run, the
calibration of the spread and the training-domain limits
(:mod:`mrs_lib.uncertainty.domain`). The ensemble's estimate is the member
mean (Lakshminarayanan et al., 2017); its spread, the standard deviation over
the members, is scaled per metabolite by the calibration.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import artifacts
from ..errors import MRSError, MRSFormatError
from ..models import QuantNet
from ..train.checkpoint import load_model, model_blob, model_from_blob
from ..train.evaluate import predict
from ..types import METABOLITES

ENSEMBLE_FORMAT = "mrs_lib.ensemble/1"
#: the member facts that must agree across members
_SHARED = ("synth", "basis", "channels")


@dataclass(eq=False)
class Ensemble:
    """Members (networks in eval mode) and what the file says about them.

    ``data`` are the shared data facts (``synth``, ``basis``, ``channels``);
    ``members_meta`` one dict per member (seed, validation metrics, data);
    ``calibration`` and ``domain`` are ``None`` before calibration.
    """

    members: list[QuantNet]
    data: dict[str, Any]
    members_meta: list[dict[str, Any]]
    calibration: dict[str, Any] | None = None
    domain: dict[str, Any] | None = None
    path: str | None = None
    provenance: dict[str, Any] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.members)

    @property
    def channels(self) -> list[str]:
        return list(self.data.get("channels") or ["off:real", "on:real"])

    def predict_members(self, x: np.ndarray) -> np.ndarray:
        """Sum-normalised fractions of every member, ``[members, batch, 5]``."""
        return np.stack([predict(m, x) for m in self.members]).astype(float)


def _check_members(paths: Sequence[Path], metas: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    first = metas[0]
    shared = {k: (first.get("data") or {}).get(k) for k in _SHARED}
    for p, meta in zip(paths[1:], metas[1:], strict=True):
        for key, want in (
            ("model_name", first.get("model_name")),
            ("model_config", first.get("model_config")),
        ):
            if meta.get(key) != want:
                raise MRSFormatError(p, key, f"{want!r} (as {paths[0]})", meta.get(key))
        data = meta.get("data") or {}
        for key in _SHARED:
            if data.get(key) != shared[key]:
                raise MRSFormatError(
                    p, f"data.{key}", f"{shared[key]!r} (as {paths[0]})", data.get(key)
                )
    seeds = [(m.get("train_config") or {}).get("seed") for m in metas]
    if len(set(seeds)) != len(seeds):
        raise MRSError(f"ensemble members: expected distinct training seeds, got {seeds}")
    return shared


def pack_blob(member_paths: Sequence[str | os.PathLike[str]]) -> dict[str, Any]:
    """The ensemble dictionary of the checkpoints ``member_paths`` (``best.pt`` files).

    Members must share the network, its configuration and the data facts, and
    differ in their seeds. Weights are stored as float16.
    """
    paths = [Path(p) for p in member_paths]
    if len(paths) < 2:
        raise MRSError(f"an ensemble needs at least 2 members, got {len(paths)}")
    models, metas = zip(*(load_model(p) for p in paths), strict=True)
    shared = _check_members(paths, metas)
    blobs = []
    for model, meta in zip(models, metas, strict=True):
        keep = {k: meta[k] for k in ("train_config", "val_metrics", "data") if k in meta}
        prov = meta.get("provenance") or {}
        keep["trained"] = {k: prov.get(k) for k in ("git_sha", "git_dirty", "created_utc")}
        blobs.append(model_blob(model, meta["model_name"], meta["model_config"], half=True, **keep))
    return {
        "format": ENSEMBLE_FORMAT,
        "members": blobs,
        "data": shared,
        "metabolites": list(METABOLITES),
    }


def pack_ensemble(
    member_paths: Sequence[str | os.PathLike[str]],
    dst: str | os.PathLike[str],
    **provenance_extra: Any,
) -> dict[str, Any]:
    """Write :func:`pack_blob` of ``member_paths`` to ``dst``; return the sidecar record."""
    return write_ensemble(pack_blob(member_paths), dst, **provenance_extra)


def write_ensemble(
    blob: Mapping[str, Any], dst: str | os.PathLike[str], **provenance_extra: Any
) -> dict[str, Any]:
    """Save an ensemble dictionary with its provenance sidecar; return the record."""
    p = artifacts.ensure_writable(dst, "ensemble")
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    torch.save(dict(blob), tmp)
    os.replace(tmp, p)
    members = blob["members"]
    config = {
        "members": len(members),
        "model": members[0]["model_name"],
        "model_config": members[0]["model_config"],
        "data": blob["data"],
        "member_seeds": [m.get("train_config", {}).get("seed") for m in members],
        "member_val_mae": [m.get("val_metrics", {}).get("val_mae") for m in members],
        "calibration": blob.get("calibration"),
        "domain": blob.get("domain"),
    }
    seeds = [s for s in config["member_seeds"] if isinstance(s, int)]
    return artifacts.save(p, config=config, seed=seeds[0] if seeds else None, **provenance_extra)


def read_ensemble_blob(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The dictionary of an ensemble file (``torch.load(..., weights_only=True)``), checked."""
    p = Path(path)
    expected = f"a {ENSEMBLE_FORMAT} file (torch.save zip)"
    try:
        blob = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # OSError, BadZipFile, UnpicklingError, RuntimeError ...
        first = (str(exc).strip().splitlines() or [""])[0]
        raise MRSFormatError(p, "file", expected, f"{type(exc).__name__}: {first}") from None
    if not isinstance(blob, dict) or blob.get("format") != ENSEMBLE_FORMAT:
        found = blob.get("format") if isinstance(blob, dict) else type(blob).__name__
        raise MRSFormatError(p, "format", repr(ENSEMBLE_FORMAT), found)
    members = blob.get("members")
    if not isinstance(members, list) or len(members) < 2:
        raise MRSFormatError(p, "members", "a list of at least 2 model dictionaries", members)
    return blob


def _resolve(name_or_path: str | os.PathLike[str]) -> tuple[Path, dict[str, Any] | None]:
    p = Path(name_or_path)
    if p.is_file():
        record = artifacts.verify(p) if artifacts.sidecar_path(p).is_file() else None
        return p, record
    if p.exists():
        raise MRSFormatError(p, "file", "an ensemble file (.pt)", "not a regular file")
    name = str(name_or_path)
    if p.name != name:
        raise MRSFormatError(p, "file", "an existing ensemble file (.pt)", "no such file")
    try:
        return artifacts.load(name)
    except artifacts.ArtifactError:
        if name.endswith(".pt"):
            raise
        return artifacts.load(name + ".pt")


def is_ensemble(name_or_path: str | os.PathLike[str]) -> bool:
    """Whether ``name_or_path`` names an ensemble file (by its sidecar or its content)."""
    try:
        path, record = _resolve(name_or_path)
    except (MRSError, OSError):
        return False
    if record is not None:
        return "members" in (record.get("config") or {})
    try:
        read_ensemble_blob(path)
    except MRSError:
        return False
    return True


def load_ensemble(name_or_path: str | os.PathLike[str]) -> Ensemble:
    """Load an ensemble by shipped name (``cnn-ensemble``) or path; sha256-checked by sidecar."""
    path, record = _resolve(name_or_path)
    return ensemble_from_blob(read_ensemble_blob(path), path, record)


def ensemble_from_blob(
    blob: Mapping[str, Any], path: Path | None = None, record: dict[str, Any] | None = None
) -> Ensemble:
    """The :class:`Ensemble` of an ensemble dictionary (``path`` names it in errors)."""
    path = path or Path("<ensemble>")
    members, metas = [], []
    for i, member in enumerate(blob["members"]):
        if not isinstance(member, dict):
            raise MRSFormatError(path, f"members[{i}]", "a model dictionary", type(member).__name__)
        model = model_from_blob(path, member)
        model.eval()
        members.append(model)
        metas.append({k: v for k, v in member.items() if k != "state_dict"})
    data = blob.get("data")
    if not isinstance(data, dict):
        raise MRSFormatError(path, "data", "a dict of data facts", type(data).__name__)
    return Ensemble(
        members,
        dict(data),
        metas,
        blob.get("calibration"),
        blob.get("domain"),
        None if str(path) == "<ensemble>" else str(path),
        record,
    )


__all__ = [
    "ENSEMBLE_FORMAT",
    "Ensemble",
    "ensemble_from_blob",
    "is_ensemble",
    "load_ensemble",
    "pack_blob",
    "pack_ensemble",
    "read_ensemble_blob",
    "write_ensemble",
]

"""Checkpoint files: model files with provenance, and the resumable state of a training run.

Two formats, both holding tensors, numbers and strings only, so they load
with ``torch.load(..., weights_only=True)``:

* a model file (:data:`CHECKPOINT_FORMAT`): weights plus the network's name
  and configuration and JSON-like facts (training settings, validation
  metrics, data), with a provenance sidecar (:mod:`mrs_lib.artifacts`).
  :func:`save_model`, :func:`load_model` and :func:`export_model` write and
  read them; the training loop writes ``best.pt`` (:func:`write_best`).
* the training state ``last.pt`` (:data:`STATE_FORMAT`): model, optimiser,
  scheduler, random state and the run's bookkeeping (:class:`RunState`),
  written every epoch (:func:`write_state`) so an interrupted run resumes
  where it stopped (:func:`resume_run`).
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn
from torch.optim.lr_scheduler import ReduceLROnPlateau

from .. import artifacts
from ..errors import MRSError
from ..models import QuantNet, build_model, model_name_of
from ..types import METABOLITES
from .config import TrainConfig, resolve_device

CHECKPOINT_FORMAT = "mrs_lib.checkpoint/1"
STATE_FORMAT = "mrs_lib.train-state/1"


def model_blob(
    model: nn.Module,
    name: str,
    model_config: Mapping[str, Any],
    *,
    half: bool = False,
    **meta: Any,
) -> dict[str, Any]:
    """The :data:`CHECKPOINT_FORMAT` dictionary of ``model`` (CPU weights, float16 if ``half``)."""
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    return {
        "format": CHECKPOINT_FORMAT,
        "model_name": name,
        "model_config": dict(model_config),
        "state_dict": state,
        "weights_dtype": "float16" if half else "float32",
        "metabolites": list(METABOLITES),
        **meta,
    }


def save_model(
    model: nn.Module,
    path: str | os.PathLike[str],
    *,
    half: bool = False,
    seed: int | None = None,
    **meta: Any,
) -> dict[str, Any]:
    """Write ``model`` (weights + configuration + ``meta``) to ``path`` with a provenance sidecar.

    ``half=True`` stores float16 weights (half the size; :func:`load_model`
    casts back to float32). ``meta`` values must be JSON-like (numbers,
    strings, lists, dicts): they go into the file and, as ``config``, into the
    sidecar. Returns the sidecar record.
    """
    name = model_name_of(model)  # raises for anything but a mrs_lib network
    cfg = cast(QuantNet, model).config.to_dict()
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model_blob(model, name, cfg, half=half, **meta), p)
    return artifacts.save(p, config={"model": name, "model_config": cfg, **meta}, seed=seed)


def load_model(
    name_or_path: str | os.PathLike[str], device: str = "cpu"
) -> tuple[QuantNet, dict[str, Any]]:
    """Load a checkpoint by artifact name (``"yae-paper.pt"``, or without ``.pt``) or path.

    Names resolve through :func:`mrs_lib.artifacts.load` (sha256-checked);
    a path is checked against its sidecar when it has one. Weights load with
    ``torch.load(..., weights_only=True)``. Returns ``(model in eval mode,
    meta)`` where ``meta`` holds the file's configuration entries plus
    ``path`` and ``provenance`` (the sidecar record, or ``None``).
    """
    p = Path(name_or_path)
    record: dict[str, Any] | None
    if p.is_file():
        record = artifacts.verify(p) if artifacts.sidecar_path(p).is_file() else None
        path = p
    else:
        name = str(name_or_path)
        try:
            path, record = artifacts.load(name)
        except artifacts.ArtifactError:
            if name.endswith(".pt"):
                raise
            path, record = artifacts.load(name + ".pt")
    blob = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(blob, dict) or blob.get("format") != CHECKPOINT_FORMAT:
        raise MRSError(f"checkpoint '{path}': not a {CHECKPOINT_FORMAT} model file")
    model = build_model(blob["model_name"], blob["model_config"])
    state = {k: v.float() if v.is_floating_point() else v for k, v in blob["state_dict"].items()}
    model.load_state_dict(state)
    model.to(resolve_device(device)).eval()
    meta = {k: v for k, v in blob.items() if k != "state_dict"}
    data = meta.get("data") or {}
    if "channels" in data:  # what mrs_lib.synth.network_input must build for this network
        meta["channels"] = list(data["channels"])
    meta["path"] = str(path)
    meta["provenance"] = record
    return model, meta


def export_model(
    src: str | os.PathLike[str], dst: str | os.PathLike[str], *, half: bool = True, **extra: Any
) -> dict[str, Any]:
    """Copy checkpoint ``src`` to ``dst`` for shipping (float16 weights by default), new sidecar.

    The configuration, training settings, validation metrics and data facts
    of ``src`` are carried over; ``extra`` (e.g. where it was trained, test
    metrics) is added. Returns the new sidecar record.
    """
    model, meta = load_model(src)
    keep = {
        k: v
        for k, v in meta.items()
        if k
        not in (
            "format",
            "model_name",
            "model_config",
            "weights_dtype",
            "metabolites",
            "path",
            "provenance",
        )
    }
    prov = meta.get("provenance") or {}
    keep["trained"] = {k: prov.get(k) for k in ("git_sha", "git_dirty", "created_utc", "torch")}
    seed = (meta.get("train_config") or {}).get("seed")
    return save_model(model, dst, half=half, seed=seed, **keep, **extra)


def write_best(
    model: QuantNet,
    state: Mapping[str, torch.Tensor],
    path: Path,
    *,
    train_config: TrainConfig,
    metrics: Mapping[str, float],
    meta: Mapping[str, Any],
) -> None:
    """Write weights ``state`` of ``model`` to ``path`` (``best.pt``) with a provenance sidecar.

    The file also holds the training settings, the validation ``metrics`` of
    that epoch and the data facts ``meta`` (key ``"data"``).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    shadow = copy.deepcopy(model)
    shadow.load_state_dict(state)
    tmp = path.with_name(path.name + ".tmp")
    name, cfg = model.name, model.config.to_dict()
    extra: dict[str, Any] = {
        "train_config": train_config.to_dict(),
        "val_metrics": dict(metrics),
        "data": dict(meta),
    }
    torch.save(model_blob(shadow, name, cfg, **extra), tmp)
    os.replace(tmp, path)
    artifacts.save(
        path, config={"model": name, "model_config": cfg, **extra}, seed=train_config.seed
    )


@dataclass
class RunState:
    """The bookkeeping of a training run that ``last.pt`` holds besides the weights.

    ``best_state`` are the weights of the best epoch so far (``best_epoch``,
    1-based, 0 = none yet, with monitored score ``best_score``);
    ``bad_epochs`` counts the epochs since; ``epoch`` is the number of
    epochs done; ``history`` their metrics.
    """

    best_state: Mapping[str, torch.Tensor]
    best_score: float = math.inf
    best_epoch: int = 0
    bad_epochs: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    epoch: int = 0


def write_state(
    ckdir: Path,
    model: QuantNet,
    opt: torch.optim.Optimizer,
    sched: ReduceLROnPlateau,
    run: RunState,
) -> None:
    """Write the resumable training state to ``ckdir/last.pt`` (atomically)."""
    ckdir.mkdir(parents=True, exist_ok=True)
    state = {
        "format": STATE_FORMAT,
        "model_name": model.name,
        "model_config": model.config.to_dict(),
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
        "best_state": {k: v.detach().cpu() for k, v in run.best_state.items()},
        "best_score": float(run.best_score),
        "best_epoch": int(run.best_epoch),
        "bad_epochs": int(run.bad_epochs),
        "history": run.history,
        "epoch": int(run.epoch),
        "torch_rng": torch.get_rng_state(),
    }
    tmp = ckdir / "last.pt.tmp"
    torch.save(state, tmp)
    os.replace(tmp, ckdir / "last.pt")


def resume_run(
    path: Path, model: QuantNet, opt: torch.optim.Optimizer, sched: ReduceLROnPlateau
) -> RunState:
    """Restore ``model``, ``opt``, ``sched`` and torch's random state from ``last.pt`` at ``path``.

    Raises :class:`~mrs_lib.errors.MRSError` when the file is not a training
    state or belongs to another network or configuration.
    """
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state.get("format") != STATE_FORMAT:
        raise MRSError(f"checkpoint '{path}': not a {STATE_FORMAT} training state")
    name, cfg = model.name, model.config.to_dict()
    if state["model_name"] != name or state["model_config"] != cfg:
        raise MRSError(
            f"checkpoint '{path}' belongs to {state['model_name']} "
            f"{state['model_config']}, not {name} {cfg}: use another directory "
            "or resume=False"
        )
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    sched.load_state_dict(state["scheduler"])
    run = RunState(
        best_state=state["best_state"],
        best_score=state["best_score"],
        best_epoch=state["best_epoch"],
        bad_epochs=state["bad_epochs"],
        history=list(state["history"]),
        epoch=int(state["epoch"]),
    )
    torch.set_rng_state(state["torch_rng"])
    return run


__all__ = [
    "CHECKPOINT_FORMAT",
    "STATE_FORMAT",
    "RunState",
    "export_model",
    "load_model",
    "model_blob",
    "resume_run",
    "save_model",
    "write_best",
    "write_state",
]

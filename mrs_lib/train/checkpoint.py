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
  where it stopped (:func:`resume_run`). It also holds the run's settings
  (:func:`run_settings`: network, training settings, data facts and a
  fingerprint of the data); a run resumes only under the same ones
  (:func:`setting_changes`), except the rules that only decide when it stops
  (:data:`STOPPING_KEYS`), and is then bit-exact.
"""

from __future__ import annotations

import copy
import json
import math
import os
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn
from torch.optim.lr_scheduler import ReduceLROnPlateau

from .. import artifacts
from ..errors import MRSError, MRSFormatError
from ..models import QuantNet, build_model, model_name_of
from ..types import METABOLITES, MODEL_NAMES
from .config import TrainConfig, resolve_device

CHECKPOINT_FORMAT = "mrs_lib.checkpoint/1"
STATE_FORMAT = "mrs_lib.train-state/2"
#: the training-state format before the run's settings were stored (cannot be checked on resume)
_STATE_FORMAT_1 = "mrs_lib.train-state/1"
#: training settings that only decide when a run stops or how fast it runs: a resumed run may
#: change them (``max_epochs`` only under the plateau schedule: the cosine follows it)
STOPPING_KEYS = ("max_epochs", "max_time_s", "patience", "num_threads")


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
    p = artifacts.ensure_writable(path, "checkpoint")
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
    if p.exists() and not p.is_file():
        raise MRSFormatError(p, "file", "a checkpoint file (.pt)", "not a regular file")
    if not p.exists() and p.name != str(name_or_path):
        raise MRSFormatError(p, "file", "an existing checkpoint file (.pt)", "no such file")
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
    blob = read_checkpoint(path)
    model = model_from_blob(path, blob)
    model.to(resolve_device(device)).eval()
    meta = {k: v for k, v in blob.items() if k != "state_dict"}
    data = meta.get("data")
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise MRSFormatError(path, "data", "a dict of data facts", type(data).__name__)
    if "channels" in data:  # what mrs_lib.synth.network_input must build for this network
        channels = data["channels"]
        if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
            raise MRSFormatError(path, "data.channels", "a list of channel names", channels)
        meta["channels"] = list(channels)
    meta["path"] = str(path)
    meta["provenance"] = record
    return model, meta


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The dictionary inside a model file, read with ``torch.load(..., weights_only=True)``.

    Checked before and after loading: a non-empty zip-format file (what
    ``torch.save`` writes; legacy pickles are refused unread) whose members fit
    in the file, which loads without executing code and holds a dict with
    ``format`` = :data:`CHECKPOINT_FORMAT`. Anything else raises
    :class:`~mrs_lib.errors.MRSFormatError` naming the file and what was found.
    """
    p = Path(path)
    expected = f"a {CHECKPOINT_FORMAT} model file (torch.save zip)"
    try:
        size = p.stat().st_size
        with p.open("rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise MRSFormatError(p, "file", expected, f"{type(exc).__name__}: {exc}") from None
    if size == 0:
        raise MRSFormatError(p, "file", expected, "an empty file")
    if head != b"PK\x03\x04":
        kind = "a legacy pickle" if head[:1] == b"\x80" else f"content starting {head!r}"
        raise MRSFormatError(p, "file", expected, kind)
    try:
        with zipfile.ZipFile(p) as zf:
            infos = zf.infolist()
        if not any(i.filename.endswith("data.pkl") for i in infos):
            raise MRSFormatError(p, "file", expected, "a zip archive without data.pkl")
        too_big = [i.filename for i in infos if i.file_size > size]
        if too_big:
            raise MRSFormatError(p, too_big[0], "a member no larger than the file", "larger")
        blob = torch.load(p, map_location="cpu", weights_only=True)
    except MRSError:
        raise
    except Exception as exc:  # BadZipFile, RuntimeError, UnpicklingError, EOFError, ...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise MRSFormatError(p, "file", expected, f"{type(exc).__name__}: {first}") from None
    if not isinstance(blob, dict):
        raise MRSFormatError(p, "top level", f"a dict ({CHECKPOINT_FORMAT})", type(blob).__name__)
    if blob.get("format") != CHECKPOINT_FORMAT:
        hint = " (this is a training state last.pt: load best.pt)"
        hint = hint if blob.get("format") == STATE_FORMAT else ""
        raise MRSFormatError(p, "format", repr(CHECKPOINT_FORMAT) + hint, blob.get("format"))
    return blob


def model_from_blob(path: Path, blob: Mapping[str, Any]) -> QuantNet:
    """The network a checkpoint dictionary ``blob`` (read from ``path``, named in errors)
    describes, with its weights loaded (float32)."""
    name = blob.get("model_name")
    if not isinstance(name, str) or name not in MODEL_NAMES:
        found = name if "model_name" in blob else "missing"
        raise MRSFormatError(path, "model_name", f"one of {', '.join(MODEL_NAMES)}", found)
    cfg = blob.get("model_config")
    if not isinstance(cfg, dict):
        raise MRSFormatError(path, "model_config", "a dict of network settings", cfg)
    try:
        model = build_model(cast(Any, name), cfg)
    except Exception as exc:  # ModelConfigError, TypeError from a wrong value type, ...
        raise MRSFormatError(
            path, "model_config", f"a valid {name} configuration", str(exc)
        ) from None
    state = blob.get("state_dict")
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        found = type(state).__name__ if "state_dict" in blob else "missing"
        raise MRSFormatError(path, "state_dict", "a dict of named tensors", found)
    want = model.state_dict()
    missing, extra = sorted(set(want) - set(state)), sorted(set(state) - set(want))
    if missing or extra:
        raise MRSFormatError(
            path,
            "state_dict",
            f"the {len(want)} weights of a {name} with this model_config",
            f"missing {missing[:3]}, unexpected {extra[:3]}",
        )
    for key, ref in want.items():
        value = state[key]
        if value.shape != ref.shape or value.is_floating_point() != ref.is_floating_point():
            raise MRSFormatError(
                path,
                f"state_dict[{key!r}]",
                f"a {'floating-point' if ref.is_floating_point() else ref.dtype} tensor "
                f"of shape {tuple(ref.shape)}",
                f"{value.dtype} {tuple(value.shape)}",
            )
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise MRSFormatError(path, f"state_dict[{key!r}]", "finite weights", "NaN/inf")
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    return model


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


def _plain(obj: Any) -> Any:
    """``obj`` as JSON-like values (tuples -> lists, paths -> strings), keys sorted."""
    return json.loads(json.dumps(obj, sort_keys=True, default=str))


def run_settings(
    model: QuantNet,
    config: TrainConfig,
    meta: Mapping[str, Any] | None = None,
    fingerprints: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything that defines a training run, as stored in ``last.pt`` and compared on resume.

    ``model`` (name and configuration), ``train`` (the :class:`TrainConfig`
    without :data:`STOPPING_KEYS`, the device as its type: ``"cpu"``,
    ``"cuda"``), ``data`` (the caller's data facts ``meta``: synthesis
    preset, basis, sizes, seeds) and ``data_fingerprint`` (sizes and sha256 of
    sample spectra, :func:`mrs_lib.train.data.fingerprint`, so a change of the
    data is caught even when ``meta`` does not describe it).
    """
    train = config.to_dict()
    free = set(STOPPING_KEYS) - ({"max_epochs"} if config.schedule == "cosine" else set())
    for key in free:
        train.pop(key, None)
    train["device"] = resolve_device(config.device).type
    train["effective_lr"] = config.effective_lr
    return _plain(
        {
            "model": model.name,
            "model_config": model.config.to_dict(),
            "train": train,
            "data": dict(meta or {}),
            "data_fingerprint": dict(fingerprints or {}),
        }
    )


def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, Mapping) and obj:
        out: dict[str, Any] = {}
        for key, value in obj.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: obj}


_ABSENT = object()


def setting_changes(saved: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """``"key: old -> new"`` for every setting (dotted path) that differs, in key order."""

    def show(value: Any) -> str:
        text = "(absent)" if value is _ABSENT else repr(value)
        return text if len(text) <= 60 else text[:57] + "..."

    def same(a: Any, b: Any) -> bool:
        nan = isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)
        return nan or (a is not _ABSENT and b is not _ABSENT and bool(a == b))

    old, new = _flatten(saved), _flatten(current)
    changes = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key, _ABSENT), new.get(key, _ABSENT)
        if not same(a, b):
            changes.append(f"{key}: {show(a)} -> {show(b)}")
    return changes


def write_state(
    ckdir: Path,
    model: QuantNet,
    opt: torch.optim.Optimizer,
    sched: ReduceLROnPlateau,
    run: RunState,
    settings: Mapping[str, Any] | None = None,
) -> None:
    """Write the resumable training state to ``ckdir/last.pt`` (atomically).

    ``settings`` (:func:`run_settings`) are stored for :func:`resume_run` to compare.
    """
    ckdir.mkdir(parents=True, exist_ok=True)
    state = {
        "format": STATE_FORMAT,
        "settings": _plain(dict(settings or {})),
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


class ResumeError(MRSError):
    """A training state cannot be resumed: another network, other settings or other data."""


_FRESH_HINT = (
    "use another directory, or start afresh with --fresh (resume=False), "
    "which replaces last.pt and best.pt"
)


def resume_run(
    path: Path,
    model: QuantNet,
    opt: torch.optim.Optimizer,
    sched: ReduceLROnPlateau,
    settings: Mapping[str, Any] | None = None,
) -> RunState:
    """Restore ``model``, ``opt``, ``sched`` and torch's random state from ``last.pt`` at ``path``.

    With ``settings`` (:func:`run_settings` of the run about to continue), the
    stored settings must equal them: otherwise :class:`ResumeError` lists every
    differing setting as ``key: old -> new`` (continuing would train under a
    mix of both and record settings the model was mostly not trained with).
    Raises :class:`ResumeError` too when the file is not a training state, was
    written without its settings (an older version), or belongs to another
    network or configuration.
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated, not a zip, pickled objects, ...
        raise ResumeError(
            f"checkpoint '{path}': expected a {STATE_FORMAT} training state, got an unreadable "
            f"file ({type(exc).__name__}); {_FRESH_HINT}"
        ) from None
    fmt = state.get("format") if isinstance(state, dict) else None
    if fmt == _STATE_FORMAT_1 and settings is not None:
        raise ResumeError(
            f"checkpoint '{path}' was written without its training settings (format "
            f"{_STATE_FORMAT_1}), so resuming it cannot be checked; {_FRESH_HINT}"
        )
    if fmt not in (STATE_FORMAT, _STATE_FORMAT_1):
        raise ResumeError(f"checkpoint '{path}': not a {STATE_FORMAT} training state")
    name, cfg = model.name, model.config.to_dict()
    if state["model_name"] != name or state["model_config"] != cfg:
        raise ResumeError(
            f"checkpoint '{path}' belongs to {state['model_name']} "
            f"{state['model_config']}, not {name} {cfg}: {_FRESH_HINT}"
        )
    if settings is not None:
        changes = setting_changes(state.get("settings") or {}, _plain(dict(settings)))
        if changes:
            raise ResumeError(
                f"checkpoint '{path}' belongs to a run with other settings (saved -> now): "
                + "; ".join(changes)
                + f". Resuming would mix them: {_FRESH_HINT}"
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
    "STOPPING_KEYS",
    "ResumeError",
    "RunState",
    "export_model",
    "load_model",
    "model_blob",
    "model_from_blob",
    "read_checkpoint",
    "resume_run",
    "run_settings",
    "save_model",
    "setting_changes",
    "write_best",
    "write_state",
]

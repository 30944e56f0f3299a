"""Training loop, checkpoints with provenance, loading and prediction (chapter 4).

:func:`train_model` trains one network of :mod:`mrs_lib.models` the way the
paper does: Adam (learning rate 1e-4 at batch 16, scaled with the batch
size), gradient clipping at norm 1, the learning rate halved after 20 epochs
without improvement (down to 1e-7), early stopping after 25 such epochs with
the best weights restored. CNN and FCNN minimise the MSE of the
concentrations (divided by their sum); the YAE minimises a Huber loss on its
reconstruction of the clean spectrum plus a Huber loss on the concentrations
whose weight ramps from 0.1 to 1.0 over 25 epochs. The monitored score is the
validation MAE in max-normalised space summed over the metabolites (the
paper's model-selection objective, :func:`mrs_lib.metrics.mae`).

Every epoch writes ``last.pt`` (model, optimiser, scheduler, random state,
history) into ``checkpoint_dir``, so an interrupted run resumes where it
stopped, and ``best.pt`` (weights plus configuration) with a provenance
sidecar (:mod:`mrs_lib.artifacts`). Checkpoints hold tensors, numbers and
strings only and load with ``torch.load(..., weights_only=True)``.

Training data can be a :class:`mrs_lib.synth.SynthBatch`-like object
(attributes ``x``, ``targets`` and optionally ``clean``), a tuple
``(x, y[, clean])`` of arrays or tensors, or any torch ``Dataset`` whose items
are such tuples.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from . import artifacts
from .errors import MRSDataError, MRSError
from .metrics import mae as _mae
from .models import build_model, model_name_of, resolve_config
from .types import METABOLITES, ModelName

CHECKPOINT_FORMAT = "mrs_lib.checkpoint/1"
STATE_FORMAT = "mrs_lib.train-state/1"

Monitor = Literal["val_mae", "val_loss"]
Loss = Literal["auto", "mse", "huber"]
Schedule = Literal["plateau", "cosine"]


class TrainConfigError(MRSError, ValueError):
    """A training setting is unknown or out of range."""


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (defaults: the paper's, at batch 64).

    Attributes
    ----------
    lr
        Adam learning rate; ``None`` = 1e-4 x batch_size / 16 (the paper's
        1e-4 at batch 16, scaled linearly with the batch).
    batch_size
        Spectra per step.
    max_epochs
        Upper bound on epochs.
    patience
        Early stopping: epochs without improvement of the monitored score
        before training stops (the best weights are restored).
    schedule
        ``"plateau"`` (the paper's: multiply the learning rate by
        ``plateau_factor`` after ``plateau_patience`` stagnant epochs, not
        below ``min_lr``) or ``"cosine"`` (half a cosine from ``lr`` in the
        first epoch down to ``min_lr`` after ``max_epochs``; a pure function
        of the epoch, so a fixed budget ends annealed and resumes exactly).
    plateau_patience, plateau_factor, min_lr
        Settings of the schedules (see ``schedule``).
    clip_norm
        Gradient clipping by global norm (``None`` = off).
    seed
        Seeds weights, shuffling and dropout.
    device
        ``"auto"`` (CUDA if available, else CPU), ``"cpu"``, ``"cuda"``, ...
    amp
        Mixed precision: ``"auto"`` = on for CUDA (bfloat16 where supported,
        else float16 with loss scaling), off on the CPU.
    loss
        Concentration loss: ``"auto"`` = MSE for CNN/FCNN, Huber for the YAE.
    huber_delta
        Huber transition point (Keras default 1.0).
    recon_weight
        YAE reconstruction-loss weight.
    quant_weight_start, quant_weight_end, quant_weight_epochs
        YAE quantifier-loss weight, ramped linearly over the first
        ``quant_weight_epochs`` epochs.
    monitor
        Score for early stopping, the schedule and the best weights:
        ``"val_mae"`` (summed max-normalised MAE) or ``"val_loss"``.
    max_time_s
        Wall-clock budget of this call; training stops after the epoch that
        exceeds it (``None`` = no limit).
    num_threads
        ``torch.set_num_threads`` for this run (``None`` = leave as is).
    eval_batch_size
        Batch size for validation.
    epoch_size
        Spectra per epoch (``None`` = the whole training set). Smaller epochs
        walk through successive slices of one shuffled pass over the data
        (then the next pass), so validation, checkpoints, the schedule and the
        wall-clock check come more often on a slow machine.
    """

    lr: float | None = None
    batch_size: int = 64
    max_epochs: int = 200
    patience: int = 25
    schedule: Schedule = "plateau"
    plateau_patience: int = 20
    plateau_factor: float = 0.5
    min_lr: float = 1e-7
    clip_norm: float | None = 1.0
    seed: int = 0
    device: str = "auto"
    amp: bool | Literal["auto"] = "auto"
    loss: Loss = "auto"
    huber_delta: float = 1.0
    recon_weight: float = 1.0
    quant_weight_start: float = 0.1
    quant_weight_end: float = 1.0
    quant_weight_epochs: int = 25
    monitor: Monitor = "val_mae"
    max_time_s: float | None = None
    num_threads: int | None = None
    eval_batch_size: int = 512
    epoch_size: int | None = None

    def __post_init__(self) -> None:
        def check(cond: bool, key: str, expected: str) -> None:
            if not cond:
                raise TrainConfigError(
                    f"train config, key '{key}': expected {expected}, got {getattr(self, key)!r}"
                )

        check(self.lr is None or self.lr > 0, "lr", "a positive number or None")
        for key in ("batch_size", "max_epochs", "eval_batch_size"):
            check(
                isinstance(getattr(self, key), int) and getattr(self, key) >= 1,
                key,
                "an integer >= 1",
            )
        for key in ("patience", "plateau_patience", "quant_weight_epochs"):
            check(
                isinstance(getattr(self, key), int) and getattr(self, key) >= 0,
                key,
                "an integer >= 0",
            )
        check(0 < self.plateau_factor < 1, "plateau_factor", "a number in (0, 1)")
        check(self.min_lr >= 0, "min_lr", "a number >= 0")
        check(
            self.clip_norm is None or self.clip_norm > 0, "clip_norm", "a positive number or None"
        )
        check(self.amp in (True, False, "auto"), "amp", "true, false or 'auto'")
        check(self.loss in ("auto", "mse", "huber"), "loss", "'auto', 'mse' or 'huber'")
        check(self.huber_delta > 0, "huber_delta", "a positive number")
        check(self.monitor in ("val_mae", "val_loss"), "monitor", "'val_mae' or 'val_loss'")
        check(self.schedule in ("plateau", "cosine"), "schedule", "'plateau' or 'cosine'")
        check(
            self.max_time_s is None or self.max_time_s > 0,
            "max_time_s",
            "a positive number or None",
        )
        check(
            self.num_threads is None or self.num_threads >= 1,
            "num_threads",
            "an integer >= 1 or None",
        )
        check(
            self.epoch_size is None or self.epoch_size >= 1, "epoch_size", "an integer >= 1 or None"
        )

    @property
    def effective_lr(self) -> float:
        """The learning rate actually used (see ``lr``)."""
        return self.lr if self.lr is not None else 1e-4 * self.batch_size / 16

    def cosine_lr(self, epoch: int) -> float:
        """Learning rate of (0-based) ``epoch`` under ``schedule="cosine"``."""
        frac = min(epoch / self.max_epochs, 1.0)
        lo = min(self.min_lr, self.effective_lr)
        return lo + (self.effective_lr - lo) * 0.5 * (1.0 + math.cos(math.pi * frac))

    def quant_weight(self, epoch: int) -> float:
        """YAE quantifier weight in (0-based) ``epoch``: linear ramp, then constant."""
        if self.quant_weight_epochs <= 0:
            return self.quant_weight_end
        frac = min(epoch / self.quant_weight_epochs, 1.0)
        return self.quant_weight_start + frac * (self.quant_weight_end - self.quant_weight_start)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> TrainConfig:
        """Build from a mapping; unknown keys raise :class:`TrainConfigError`."""
        data = dict(data or {})
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise TrainConfigError(f"train config: unknown key(s) {unknown}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return asdict(self)


@dataclass
class TrainResult:
    """What :func:`train_model` returns.

    ``model`` carries the best weights (in eval mode, on the training
    device); ``best_metrics`` are the validation metrics of its epoch;
    ``history`` has one dict per epoch; ``stopped`` says why training ended
    (``"early"``, ``"max_epochs"`` or ``"time"``).
    """

    model: nn.Module
    model_name: ModelName
    model_config: dict[str, Any]
    train_config: TrainConfig
    best_epoch: int
    best_metrics: dict[str, float]
    history: list[dict[str, float]] = field(default_factory=list)
    stopped: str = "max_epochs"
    checkpoint: Path | None = None


# ---------------------------------------------------------------------------- data
class _Tensors:
    """In-memory ``(x, y, clean)`` with fast shuffled batches (no per-item Python calls)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, clean: torch.Tensor | None) -> None:
        self.x, self.y, self.clean = x, y, clean

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def rows(self) -> int:
        return int(self.x.shape[1])

    def batches(
        self, batch_size: int, generator: torch.Generator | None, order: torch.Tensor | None = None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]]:
        n = len(self)
        if order is None:
            order = (
                torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
            )
        for i in range(0, len(order), batch_size):
            idx = order[i : i + batch_size]
            yield self.x[idx], self.y[idx], None if self.clean is None else self.clean[idx]


class _Loader:
    """A generic torch ``Dataset`` of ``(x, y[, clean])`` items through a DataLoader."""

    def __init__(self, dataset: torch.utils.data.Dataset) -> None:
        self.dataset = dataset
        first = dataset[0]
        self._rows = int(torch.as_tensor(np.asarray(first[0])).shape[0])

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    @property
    def rows(self) -> int:
        return self._rows

    def batches(
        self, batch_size: int, generator: torch.Generator | None, order: torch.Tensor | None = None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]]:
        ds = (
            self.dataset if order is None else torch.utils.data.Subset(self.dataset, order.tolist())
        )
        loader = torch.utils.data.DataLoader(
            ds,
            batch_size=batch_size,
            shuffle=generator is not None and order is None,
            generator=generator,
        )
        for item in loader:
            x, y = item[0].float(), item[1].float()
            clean = item[2].float() if len(item) > 2 else None
            yield x, y, clean


def _tensor(a: Any, what: str) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(a) if not isinstance(a, torch.Tensor) else a)
    if t.is_complex():
        raise MRSDataError(f"{what}: expected real network input, got a complex array")
    t = t.float()
    if not torch.isfinite(t).all():
        raise MRSDataError(f"{what}: expected finite values, got NaN or inf")
    return t


def as_training_data(data: Any, what: str = "data") -> _Tensors | _Loader:
    """Wrap ``data`` (SynthBatch-like, tuple of arrays, or torch Dataset) for the loop."""
    if hasattr(data, "x") and hasattr(data, "targets"):
        x, y, clean = data.x, data.targets, getattr(data, "clean", None)
    elif isinstance(data, torch.utils.data.TensorDataset):
        x, y, *rest = data.tensors
        clean = rest[0] if rest else None
    elif isinstance(data, tuple | list) and len(data) in (2, 3):
        x, y = data[0], data[1]
        clean = data[2] if len(data) == 3 else None
    elif isinstance(data, torch.utils.data.Dataset):
        return _Loader(data)
    else:
        raise MRSDataError(
            f"{what}: expected a SynthBatch, a tuple (x, y[, clean]) or a torch Dataset, "
            f"got {type(data).__name__}"
        )
    xt, yt = _tensor(x, f"{what} x"), _tensor(y, f"{what} y")
    ct = None if clean is None else _tensor(clean, f"{what} clean")
    if xt.ndim != 3:
        raise MRSDataError(f"{what} x: expected shape [n, rows, points], got {tuple(xt.shape)}")
    if yt.ndim != 2 or yt.shape[0] != xt.shape[0]:
        raise MRSDataError(
            f"{what} y: expected shape [{xt.shape[0]}, n_outputs], got {tuple(yt.shape)}"
        )
    if ct is not None and ct.shape != xt.shape:
        raise MRSDataError(f"{what} clean: expected shape {tuple(xt.shape)}, got {tuple(ct.shape)}")
    return _Tensors(xt, yt, ct)


# ---------------------------------------------------------------------------- helpers
def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else is passed to ``torch.device``."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _amp_dtype(cfg: TrainConfig, device: torch.device) -> torch.dtype | None:
    use = device.type == "cuda" if cfg.amp == "auto" else bool(cfg.amp)
    if not use or device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def _concentration_loss(
    name: str, cfg: TrainConfig
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    kind = cfg.loss if cfg.loss != "auto" else ("huber" if name == "yae" else "mse")
    if kind == "huber":
        return nn.HuberLoss(delta=cfg.huber_delta)
    return nn.MSELoss()


def _batch_loss(
    model: nn.Module,
    name: str,
    cfg: TrainConfig,
    closs: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    clean: torch.Tensor | None,
    quant_weight: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """``(total loss, predictions, reconstruction loss or None)``."""
    if name == "yae":
        pred, recon = model.forward_both(x)  # type: ignore[operator]
        q = closs(pred.float(), y)
        if clean is None:
            return q, pred, None
        r = nn.functional.huber_loss(recon.float(), clean, delta=cfg.huber_delta)
        return quant_weight * q + cfg.recon_weight * r, pred, r
    pred = model(x)
    return closs(pred.float(), y), pred, None


def _evaluate(
    model: nn.Module,
    name: str,
    cfg: TrainConfig,
    closs: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    data: _Tensors | _Loader,
    device: torch.device,
    amp: torch.dtype | None,
    quant_weight: float,
) -> dict[str, float]:
    model.eval()
    preds, trues = [], []
    total = recon = 0.0
    n = 0
    with torch.no_grad():
        for x, y, clean in data.batches(cfg.eval_batch_size, None):
            x, y = x.to(device), y.to(device)
            clean = None if clean is None else clean.to(device)
            with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
                loss, pred, r = _batch_loss(model, name, cfg, closs, x, y, clean, quant_weight)
            b = x.shape[0]
            total += float(loss) * b
            recon += float(r) * b if r is not None else 0.0
            n += b
            preds.append(pred.float().cpu().numpy())
            trues.append(y.cpu().numpy())
    p, t = np.concatenate(preds), np.concatenate(trues)
    per = _mae(p, t)
    out = {"val_loss": total / n, "val_mae": float(per.sum())}
    if name == "yae":
        out["val_recon_loss"] = recon / n
    names = METABOLITES if per.size == len(METABOLITES) else [str(i) for i in range(per.size)]
    out.update({f"val_mae_{m}": float(v) for m, v in zip(names, per, strict=True)})
    return out


def _model_blob(
    model: nn.Module,
    name: str,
    model_config: Mapping[str, Any],
    *,
    half: bool = False,
    **meta: Any,
) -> dict[str, Any]:
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
    name = model_name_of(model)
    cfg = model.config.to_dict()  # type: ignore[union-attr]
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    torch.save(_model_blob(model, name, cfg, half=half, **meta), p)
    return artifacts.save(p, config={"model": name, "model_config": cfg, **meta}, seed=seed)


def _epoch_order(n: int, epoch_size: int, epoch: int, seed: int) -> torch.Tensor:
    """Indices of (0-based) ``epoch``: the slice ``[epoch * size, (epoch + 1) * size)`` of the
    concatenation of shuffled passes over ``n`` spectra (pass ``p`` shuffled with seed ``(seed, p)``)."""
    start = epoch * epoch_size
    parts, pos = [], start
    while pos < start + epoch_size:
        p, off = divmod(pos, n)
        perm = torch.randperm(
            n, generator=torch.Generator().manual_seed(seed * 100_003 + 7919 * p + 1)
        )
        take = min(n - off, start + epoch_size - pos)
        parts.append(perm[off : off + take])
        pos += take
    return torch.cat(parts)


def _quant_weight(name: str, cfg: TrainConfig, epoch: int) -> float:
    return cfg.quant_weight(epoch) if name == "yae" else 1.0


# ---------------------------------------------------------------------------- training
def train_model(
    name: ModelName,
    model_config: Mapping[str, Any] | str | None,
    train_config: TrainConfig | Mapping[str, Any] | None,
    train_data: Any,
    val_data: Any,
    *,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    resume: bool = True,
    progress: bool = True,
    meta: Mapping[str, Any] | None = None,
) -> TrainResult:
    """Train network ``name`` and return the best model (chapter 4).

    Parameters
    ----------
    name, model_config
        Passed to :func:`mrs_lib.models.build_model` (a preset name or a
        mapping). When ``rows`` is not given it is taken from the data.
    train_config
        A :class:`TrainConfig` (or its keys as a mapping; ``None`` = defaults).
    train_data, val_data
        SynthBatch-like objects, tuples ``(x, y[, clean])`` or torch Datasets;
        ``x`` is ``[n, rows, points]``, ``y`` is ``[n, 5]``. The YAE also
        needs ``clean`` in ``train_data`` for its reconstruction loss.
    on_epoch
        Called as ``on_epoch(epoch, metrics)`` after every epoch (1-based;
        metrics as in ``history``). Exceptions propagate, so an Optuna
        objective can ``trial.report`` and raise ``optuna.TrialPruned``.
    checkpoint_dir
        Where ``last.pt`` (resumable state) and ``best.pt`` (+ sidecar) go.
    resume
        Continue from ``checkpoint_dir/last.pt`` when it exists (its model
        name and configuration must match).
    progress
        Show a tqdm bar over epochs.
    meta
        JSON-like facts stored with ``best.pt`` (e.g. the synthesis preset and
        input channels that :func:`evaluate_checkpoint` must reproduce).
    """
    tcfg = (
        train_config
        if isinstance(train_config, TrainConfig)
        else TrainConfig.from_dict(train_config)
    )
    train = as_training_data(train_data, "train_data")
    val = as_training_data(val_data, "val_data")
    if len(train) == 0 or len(val) == 0:
        raise MRSDataError("train_data and val_data: expected at least one spectrum each")
    if val.rows != train.rows:
        raise MRSDataError(f"val_data: expected {train.rows} rows like train_data, got {val.rows}")
    if name == "yae" and isinstance(train, _Tensors) and train.clean is None:
        raise MRSDataError(
            "train_data: the YAE needs the clean spectra (x, y, clean) for its decoder"
        )

    cfg_map: dict[str, Any] = (
        {"preset": model_config} if isinstance(model_config, str) else dict(model_config or {})
    )
    cfg_map.setdefault("rows", train.rows)
    model_cfg = resolve_config(name, cfg_map)
    if model_cfg.rows != train.rows:
        raise MRSDataError(f"model config rows={model_cfg.rows} but the data has {train.rows} rows")
    model_cfg_dict = model_cfg.to_dict()

    if tcfg.num_threads is not None:
        torch.set_num_threads(tcfg.num_threads)
    device = resolve_device(tcfg.device)
    amp = _amp_dtype(tcfg, device)
    torch.manual_seed(tcfg.seed)
    model = build_model(name, model_cfg_dict).to(device)
    lr = tcfg.effective_lr
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt,
        mode="min",
        factor=tcfg.plateau_factor,
        patience=tcfg.plateau_patience,
        min_lr=tcfg.min_lr,
    )
    scaler = torch.amp.GradScaler("cuda", enabled=amp == torch.float16)
    closs = _concentration_loss(name, tcfg)

    ckdir = Path(checkpoint_dir) if checkpoint_dir is not None else None
    history: list[dict[str, float]] = []
    best_score, best_epoch, bad = math.inf, 0, 0
    best_state = copy.deepcopy(model.state_dict())
    start_epoch = 0
    if ckdir is not None and resume and (ckdir / "last.pt").is_file():
        state = torch.load(ckdir / "last.pt", map_location="cpu", weights_only=True)
        if state.get("format") != STATE_FORMAT:
            raise MRSError(f"checkpoint '{ckdir / 'last.pt'}': not a {STATE_FORMAT} training state")
        if state["model_name"] != name or state["model_config"] != model_cfg_dict:
            raise MRSError(
                f"checkpoint '{ckdir / 'last.pt'}' belongs to {state['model_name']} "
                f"{state['model_config']}, not {name} {model_cfg_dict}: use another directory "
                "or resume=False"
            )
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        best_state = state["best_state"]
        best_score, best_epoch, bad = state["best_score"], state["best_epoch"], state["bad_epochs"]
        history = list(state["history"])
        start_epoch = int(state["epoch"])
        torch.set_rng_state(state["torch_rng"])

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=tcfg.max_epochs, initial=start_epoch, desc=f"train {name}", unit="epoch")

    stopped = "max_epochs"
    t_start = time.perf_counter()
    meta_d = dict(meta or {})
    best_path: Path | None = None
    if start_epoch >= tcfg.max_epochs or (start_epoch > 0 and bad >= tcfg.patience > 0):
        stopped = "early" if bad >= tcfg.patience > 0 else "max_epochs"
    else:
        for epoch in range(start_epoch, tcfg.max_epochs):
            t0 = time.perf_counter()
            if tcfg.schedule == "cosine":
                for group in opt.param_groups:
                    group["lr"] = tcfg.cosine_lr(epoch)
            model.train()
            qw = _quant_weight(name, tcfg, epoch)
            gen = torch.Generator().manual_seed(tcfg.seed * 100_003 + epoch)
            order = None
            if tcfg.epoch_size is not None:
                gen, order = None, _epoch_order(len(train), tcfg.epoch_size, epoch, tcfg.seed)
            tot, seen = 0.0, 0
            for x, y, clean in train.batches(tcfg.batch_size, gen, order):
                x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
                clean = None if clean is None else clean.to(device, non_blocking=True)
                opt.zero_grad(set_to_none=True)
                with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
                    loss, _, _ = _batch_loss(model, name, tcfg, closs, x, y, clean, qw)
                scaler.scale(loss).backward()
                if tcfg.clip_norm is not None:
                    scaler.unscale_(opt)
                    nn.utils.clip_grad_norm_(model.parameters(), tcfg.clip_norm)
                scaler.step(opt)
                scaler.update()
                tot += float(loss.detach()) * x.shape[0]
                seen += x.shape[0]
            train_time = time.perf_counter() - t0
            metrics: dict[str, float] = {"epoch": float(epoch + 1), "train_loss": tot / seen}
            metrics.update(_evaluate(model, name, tcfg, closs, val, device, amp, qw))
            metrics["lr"] = float(opt.param_groups[0]["lr"])
            if name == "yae":
                metrics["quant_weight"] = qw
            metrics["time_s"] = time.perf_counter() - t0
            metrics["spectra_per_s"] = seen / train_time if train_time > 0 else float("nan")
            history.append(metrics)

            score = metrics[tcfg.monitor]
            # the YAE's loss changes with the ramp: judge it only once the ramp is over
            ramping = (
                name == "yae" and tcfg.monitor == "val_loss" and epoch < tcfg.quant_weight_epochs
            )
            if score < best_score or ramping:
                best_score, best_epoch, bad = score, epoch + 1, 0
                best_state = copy.deepcopy(model.state_dict())
                if ckdir is not None:
                    best_path = ckdir / "best.pt"
                    _write_best(
                        model, name, model_cfg_dict, best_state, best_path, tcfg, metrics, meta_d
                    )
            else:
                bad += 1
            if tcfg.schedule == "plateau":
                sched.step(score)
            if ckdir is not None:
                _write_state(
                    ckdir,
                    name,
                    model_cfg_dict,
                    model,
                    opt,
                    sched,
                    best_state,
                    best_score,
                    best_epoch,
                    bad,
                    history,
                    epoch + 1,
                )
            if bar is not None:
                bar.update(1)
                bar.set_postfix(
                    loss=f"{metrics['train_loss']:.3g}", val_mae=f"{metrics['val_mae']:.4f}"
                )
            if on_epoch is not None:
                on_epoch(epoch + 1, metrics)
            if tcfg.patience > 0 and bad >= tcfg.patience:
                stopped = "early"
                break
            if tcfg.max_time_s is not None and time.perf_counter() - t_start > tcfg.max_time_s:
                stopped = "time"
                break
    if bar is not None:
        bar.close()

    model.load_state_dict(best_state)
    model.eval()
    best_metrics = dict(history[best_epoch - 1]) if best_epoch >= 1 else {}
    if ckdir is not None and (ckdir / "best.pt").is_file():
        best_path = ckdir / "best.pt"
    return TrainResult(
        model=model,
        model_name=name,
        model_config=model_cfg_dict,
        train_config=tcfg,
        best_epoch=best_epoch,
        best_metrics=best_metrics,
        history=history,
        stopped=stopped,
        checkpoint=best_path,
    )


def _write_best(
    model: nn.Module,
    name: str,
    model_cfg: dict[str, Any],
    state: Mapping[str, torch.Tensor],
    path: Path,
    tcfg: TrainConfig,
    metrics: Mapping[str, float],
    meta: Mapping[str, Any],
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    shadow = copy.deepcopy(model)
    shadow.load_state_dict(state)
    tmp = path.with_name(path.name + ".tmp")
    extra = {"train_config": tcfg.to_dict(), "val_metrics": dict(metrics), "data": dict(meta)}
    torch.save(_model_blob(shadow, name, model_cfg, **extra), tmp)
    os.replace(tmp, path)
    artifacts.save(path, config={"model": name, "model_config": model_cfg, **extra}, seed=tcfg.seed)


def _write_state(
    ckdir: Path,
    name: str,
    model_cfg: dict[str, Any],
    model: nn.Module,
    opt: torch.optim.Optimizer,
    sched: Any,
    best_state: Mapping[str, torch.Tensor],
    best_score: float,
    best_epoch: int,
    bad: int,
    history: list[dict[str, float]],
    epoch: int,
) -> None:
    ckdir.mkdir(parents=True, exist_ok=True)
    state = {
        "format": STATE_FORMAT,
        "model_name": name,
        "model_config": model_cfg,
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
        "best_state": {k: v.detach().cpu() for k, v in best_state.items()},
        "best_score": float(best_score),
        "best_epoch": int(best_epoch),
        "bad_epochs": int(bad),
        "history": history,
        "epoch": int(epoch),
        "torch_rng": torch.get_rng_state(),
    }
    tmp = ckdir / "last.pt.tmp"
    torch.save(state, tmp)
    os.replace(tmp, ckdir / "last.pt")


# ---------------------------------------------------------------------------- inference
def load_model(
    name_or_path: str | os.PathLike[str], device: str = "cpu"
) -> tuple[nn.Module, dict[str, Any]]:
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


def predict(model: nn.Module, x: Any, batch_size: int = 1024) -> np.ndarray:
    """Concentrations ``[B, 5]`` (float32) for network input ``x[B, rows, points]``.

    Batched, without gradients, in eval mode (the model's mode is restored
    afterwards), on the model's device. A single ``[rows, points]`` input
    gives ``[1, 5]``.
    """
    xt = torch.as_tensor(np.asarray(x, dtype=np.float32))
    if xt.ndim == 2:
        xt = xt[None]
    if xt.ndim != 3:
        raise MRSDataError(f"network input: expected [batch, rows, points], got {tuple(xt.shape)}")
    cfg = getattr(model, "config", None)
    if cfg is not None and (xt.shape[1], xt.shape[2]) != (cfg.rows, cfg.points):
        raise MRSDataError(
            f"network input: the model expects [batch, {cfg.rows}, {cfg.points}], got {tuple(xt.shape)}"
        )
    try:
        device = next(model.parameters()).device
    except StopIteration:  # pragma: no cover - every network has parameters
        device = torch.device("cpu")
    was_training = model.training
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, xt.shape[0], batch_size):
            out.append(model(xt[i : i + batch_size].to(device)).float().cpu().numpy())
    model.train(was_training)
    if not out:
        return np.zeros((0, len(METABOLITES)), dtype=np.float32)
    return np.concatenate(out)


def export_model(
    src: str | os.PathLike[str], dst: str | os.PathLike[str], *, half: bool = True, **extra: Any
) -> dict[str, Any]:
    """Copy checkpoint ``src`` to ``dst`` for shipping (float16 weights by default) with a new sidecar.

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


# ---------------------------------------------------------------------------- synthetic data
BasisName = Literal["paper", "fida"]


def get_basis(name: BasisName | str = "paper") -> Any:
    """The basis the networks train on: ``"paper"`` (:func:`mrs_lib.sim.simulate_basis`, cached)
    or ``"fida"`` (the external FID-A reference, :func:`mrs_lib.sim.load_fida_reference`)."""
    return _basis_cached(str(name))


@functools.lru_cache(maxsize=4)
def _basis_cached(name: str) -> Any:
    from . import sim

    if name == "fida":
        return sim.load_fida_reference()
    if name == "paper":
        return sim.simulate_basis("paper", progress=False)
    raise MRSError(f"basis {name!r}: expected 'paper' (simulated) or 'fida' (external reference)")


def synthesize(
    n: int,
    seed: int,
    synth: Any = "paper",
    basis: BasisName | str = "paper",
    chunk: int = 10_000,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Any:
    """``n`` spectra of synthesis preset or :class:`~mrs_lib.synth.SynthConfig` ``synth``, in chunks.

    Chunks keep the generator's complex intermediates small at the 100k
    scale; chunk ``k`` uses the ``k``-th child of ``SeedSequence(seed)``.
    Returns a :class:`mrs_lib.synth.SynthBatch` (``x``, ``clean``,
    ``targets``, ``snr``, ``params`` concatenated).

    With ``cache_dir`` the set is stored there as ``.npy`` files under a key
    of (n, seed, synthesis config, basis, chunk) and later calls memory-map
    it (copy-on-write), so several training runs share one copy in the page
    cache instead of each generating its own.
    """
    from . import synth as _synth

    if n < 1:
        raise MRSDataError(f"synthesize: expected n >= 1 spectra, got {n}")
    cfg = _synth.generator.as_config(synth)
    if cache_dir is not None:
        key_src = json.dumps(
            {
                "n": n,
                "seed": seed,
                "synth": cfg.to_dict(),
                "basis": str(basis),
                "chunk": chunk,
                "format": 1,
            },
            sort_keys=True,
            default=str,
        )
        folder = (
            Path(cache_dir)
            / f"{cfg.name}-{n}-{seed}-{hashlib.sha256(key_src.encode()).hexdigest()[:12]}"
        )
        if (folder / "meta.json").is_file():
            return _load_set(folder)
    b = get_basis(basis)
    sizes = [min(chunk, n - i) for i in range(0, n, chunk)]
    seeds = np.random.SeedSequence(seed).spawn(len(sizes))
    parts = [
        _synth.generate(b, k, np.random.default_rng(s), cfg)
        for k, s in zip(sizes, seeds, strict=True)
    ]
    first = parts[0]
    if len(parts) > 1:
        cat = {
            "x": np.concatenate([p.x for p in parts]),
            "clean": None if first.clean is None else np.concatenate([p.clean for p in parts]),
            "concentrations": np.concatenate([p.concentrations for p in parts]),
            "targets": np.concatenate([p.targets for p in parts]),
            "snr": np.concatenate([p.snr for p in parts]),
            "scale": np.concatenate([p.scale for p in parts]),
            "params": {k: np.concatenate([p.params[k] for p in parts]) for k in first.params},
        }
        first = dataclasses.replace(first, **cat)
    if cache_dir is not None:
        _save_set(first, folder, key_src)
    return first


_SET_ARRAYS = ("x", "clean", "concentrations", "targets", "snr", "scale", "ppm")


def _save_set(batch: Any, folder: Path, key: str) -> None:
    tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    for name in _SET_ARRAYS:
        a = getattr(batch, name)
        if a is not None:
            np.save(tmp / f"{name}.npy", a)
    for k, v in batch.params.items():
        np.save(tmp / f"param_{k}.npy", v)
    (tmp / "meta.json").write_text(
        json.dumps(
            {
                "key": json.loads(key),
                "metabolites": list(batch.metabolites),
                "channels": list(batch.channels),
                "params": sorted(batch.params),
            },
            indent=1,
        )
    )
    try:
        os.replace(tmp, folder)
    except OSError:  # another process stored the same set first
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


def _load_set(folder: Path) -> Any:
    from .synth import SynthBatch

    meta = json.loads((folder / "meta.json").read_text())

    def arr(name: str) -> np.ndarray | None:
        f = folder / f"{name}.npy"
        return np.load(f, mmap_mode="c") if f.is_file() else None

    return SynthBatch(
        **{name: arr(name) for name in _SET_ARRAYS},
        params={k: np.load(folder / f"param_{k}.npy") for k in meta["params"]},
        metabolites=tuple(meta["metabolites"]),
        channels=tuple(meta["channels"]),
    )


def evaluate_model(model: nn.Module, data: Any, metabolites: Any = METABOLITES) -> dict[str, Any]:
    """:func:`mrs_lib.metrics.summarise` of ``model`` on ``data`` (SynthBatch-like or ``(x, y)``)."""
    from .metrics import summarise

    if hasattr(data, "x") and hasattr(data, "targets"):
        x, y = data.x, data.targets
    else:
        x, y = data[0], data[1]
    return summarise(predict(model, x), np.asarray(y), metabolites)


def evaluate_checkpoint(
    name_or_path: str | os.PathLike[str],
    n: int = 2000,
    seed: int = 123,
    synth: str = "paper",
    basis: str | None = None,
) -> dict[str, Any]:
    """Metrics of a checkpoint on a fresh simulated test set (what ``mrs evaluate`` prints).

    The test set has ``n`` spectra of synthesis preset ``synth`` (default the
    paper's: noise and variable linewidth as in training) on the basis the
    checkpoint was trained on (``basis`` overrides it), drawn with ``seed``.
    """
    model, meta = load_model(name_or_path)
    data_meta = meta.get("data") or {}
    basis_name = basis or data_meta.get("basis", "paper")
    test = synthesize(n, seed, synth, basis_name)
    if test.x.shape[1] != model.config.rows:  # type: ignore[union-attr]
        raise MRSDataError(
            f"checkpoint '{meta['path']}' expects {model.config.rows} input rows, "  # type: ignore[union-attr]
            f"synthesis preset {synth!r} gives {test.x.shape[1]} ({', '.join(test.channels)})"
        )
    out = evaluate_model(model, test, test.metabolites)
    out.update(
        {
            "checkpoint": str(name_or_path),
            "model": meta["model_name"],
            "n": n,
            "seed": seed,
            "synth": synth,
            "basis": basis_name,
        }
    )
    return out


__all__ = [
    "CHECKPOINT_FORMAT",
    "TrainConfig",
    "TrainConfigError",
    "TrainResult",
    "as_training_data",
    "evaluate_checkpoint",
    "evaluate_model",
    "export_model",
    "get_basis",
    "load_model",
    "predict",
    "resolve_device",
    "save_model",
    "synthesize",
    "train_model",
]

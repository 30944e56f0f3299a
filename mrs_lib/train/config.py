"""Training settings and result: :class:`TrainConfig`, :class:`TrainResult` (chapter 4).

Also how the settings ``device`` and ``amp`` map onto torch
(:func:`resolve_device`, :func:`amp_dtype`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import torch

from ..errors import MRSError
from ..models import QuantNet
from ..types import ModelName

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
        Concentration loss: ``"auto"`` = the network's default
        (:attr:`mrs_lib.models.QuantNet.default_loss`: MSE for CNN/FCNN, Huber
        for the YAE).
    huber_delta
        Huber transition point (Keras default 1.0).
    recon_weight
        YAE reconstruction-loss weight.
    quant_weight_start, quant_weight_end, quant_weight_epochs
        YAE quantifier-loss weight, ramped linearly over the first
        ``quant_weight_epochs`` epochs (:meth:`mrs_lib.models.YAE.quant_weight`).
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
        check(
            isinstance(self.seed, int) and 0 <= self.seed < 2**32,
            "seed",
            "an integer from 0 to 2**32 - 1",
        )
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
    """What :func:`mrs_lib.train.train_model` returns.

    ``model`` carries the best weights (in eval mode, on the training
    device); ``best_metrics`` are the validation metrics of its epoch;
    ``history`` has one dict per epoch; ``stopped`` says why training ended
    (``"early"``, ``"max_epochs"`` or ``"time"``).
    """

    model: QuantNet
    model_name: ModelName
    model_config: dict[str, Any]
    train_config: TrainConfig
    best_epoch: int
    best_metrics: dict[str, float]
    history: list[dict[str, float]] = field(default_factory=list)
    stopped: str = "max_epochs"
    checkpoint: Path | None = None


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; else a device this machine has.

    Raises :class:`TrainConfigError` for a name torch does not know
    (``"gpu"``), for CUDA or MPS where they are not available, and for a CUDA
    index beyond the visible devices, naming the device and what to use instead.
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise TrainConfigError(
            f"device {device!r}: expected 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"
        ) from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            build = "a CPU-only build" if torch.version.cuda is None else "no GPU visible"
            raise TrainConfigError(
                f"device {device!r}: CUDA is not available on this machine (torch "
                f"{torch.__version__}, {build}); use 'cpu' or 'auto'"
            )
        n = torch.cuda.device_count()
        if dev.index is not None and dev.index >= n:
            raise TrainConfigError(
                f"device {device!r}: expected a CUDA index below {n} (the visible GPUs)"
            )
    elif dev.type == "mps":
        if not torch.backends.mps.is_available():
            raise TrainConfigError(
                f"device {device!r}: MPS (Apple GPU) is not available here; use 'cpu' or 'auto'"
            )
    elif dev.type != "cpu":
        raise TrainConfigError(
            f"device {device!r}: expected 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"
        )
    return dev


def amp_dtype(cfg: TrainConfig, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of ``cfg.amp`` on ``device`` (``None`` = full precision)."""
    use = device.type == "cuda" if cfg.amp == "auto" else bool(cfg.amp)
    if not use or device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


__all__ = [
    "Loss",
    "Monitor",
    "Schedule",
    "TrainConfig",
    "TrainConfigError",
    "TrainResult",
    "amp_dtype",
    "resolve_device",
]

"""The training loop (chapter 4): :class:`Trainer` and the public :func:`train_model`.

Training follows the paper: Adam (learning rate 1e-4 at batch 16, scaled
with the batch size), gradient clipping at norm 1, the learning rate halved
after 20 epochs without improvement (down to 1e-7), early stopping after 25
such epochs with the best weights restored. The loss is the network's own
(:meth:`mrs_lib.models.QuantNet.loss`: the MSE of the concentrations for CNN
and FCNN, the YAE's ramped Huber losses), so the loop knows nothing about the
families. The monitored score is the validation MAE in max-normalised space
summed over the metabolites (the paper's model-selection objective,
:func:`mrs_lib.metrics.mae`).
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.optim.lr_scheduler import ReduceLROnPlateau
from tqdm.auto import tqdm

from .. import artifacts
from ..errors import MRSDataError
from ..metrics import mae
from ..models import QuantNet, build_model, model_class, resolve_config
from ..types import METABOLITES, ModelName
from .checkpoint import RunState, load_model, resume_run, run_settings, write_best, write_state
from .config import TrainConfig, TrainResult, amp_dtype, resolve_device
from .data import Batch, TensorData, TrainingData, as_training_data, epoch_batches, fingerprint

EpochHook = Callable[[int, dict[str, float]], None]
"""``on_epoch(epoch, metrics)``, called after every epoch (1-based)."""


class Trainer:
    """Trains one network with the settings of a :class:`~mrs_lib.train.TrainConfig`.

    :meth:`fit` runs epochs (:meth:`fit_epoch`: one pass of optimiser steps,
    then :meth:`validate`) until early stopping, ``max_epochs`` or the time
    budget, keeps the best weights, and with ``checkpoint_dir`` writes
    ``best.pt`` and the resumable ``last.pt`` (:mod:`mrs_lib.train.checkpoint`).
    The model is moved to the configured device; seed torch before building
    it for reproducible weights (as :func:`train_model` does).
    """

    def __init__(
        self,
        model: QuantNet,
        config: TrainConfig,
        *,
        checkpoint_dir: str | os.PathLike[str] | None = None,
        meta: Mapping[str, Any] | None = None,
        on_epoch: EpochHook | None = None,
        progress: bool = True,
    ) -> None:
        self.config = config
        self.device = resolve_device(config.device)
        self.amp = amp_dtype(config, self.device)
        self.model = model.to(self.device)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=config.effective_lr)
        self.sched = ReduceLROnPlateau(
            self.opt,
            mode="min",
            factor=config.plateau_factor,
            patience=config.plateau_patience,
            min_lr=config.min_lr,
        )
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp == torch.float16)
        self.ckdir = (
            artifacts.ensure_writable(checkpoint_dir, "checkpoint_dir")
            if checkpoint_dir is not None
            else None
        )
        if self.ckdir is not None and self.ckdir.exists() and not self.ckdir.is_dir():
            raise MRSDataError(
                f"checkpoint_dir '{self.ckdir}': expected a directory, got an existing file"
            )
        self.meta = dict(meta or {})
        self.settings: dict[str, Any] = {}
        self.on_epoch = on_epoch
        self.progress = progress
        self.run = RunState(best_state=copy.deepcopy(self.model.state_dict()))

    def _autocast(self) -> torch.autocast:
        return torch.autocast(self.device.type, dtype=self.amp, enabled=self.amp is not None)

    def fit(self, train: TrainingData, val: TrainingData, *, resume: bool = True) -> TrainResult:
        """Train until a stopping rule fires; return the best model (see :class:`TrainResult`).

        With ``resume`` and a ``last.pt`` in the checkpoint directory, the run
        continues from there, bit for bit, if its settings are the same
        (:func:`~mrs_lib.train.checkpoint.run_settings`: network, training
        settings but the stopping rules, data facts ``meta`` and a fingerprint
        of ``train`` and ``val``); otherwise
        :class:`~mrs_lib.train.checkpoint.ResumeError` lists what differs.
        Without ``resume`` the run starts afresh and replaces the directory's
        ``last.pt`` and ``best.pt``.
        """
        if self.ckdir is not None:  # settings are for last.pt: none without a directory
            self.settings = run_settings(
                self.model,
                self.config,
                self.meta,
                {"train": fingerprint(train), "val": fingerprint(val)},
            )
            last = self.ckdir / "last.pt"
            if resume and last.is_file():
                self.run = resume_run(last, self.model, self.opt, self.sched, self.settings)
            elif not resume:
                for stale in (last, self.ckdir / "best.pt", self.ckdir / "best.pt.json"):
                    stale.unlink(missing_ok=True)
        bar = self._progress_bar()
        stopped = self._stop_reason(None)
        t_start = time.perf_counter()
        while stopped is None:
            epoch = self.run.epoch
            metrics = self.fit_epoch(train, val, epoch)
            self._end_epoch(metrics, epoch)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(
                    loss=f"{metrics['train_loss']:.3g}", val_mae=f"{metrics['val_mae']:.4f}"
                )
            if self.on_epoch is not None:
                self.on_epoch(epoch + 1, metrics)
            stopped = self._stop_reason(t_start)
        if bar is not None:
            bar.close()
        return self._result(stopped)

    def fit_epoch(self, train: TrainingData, val: TrainingData, epoch: int) -> dict[str, float]:
        """Train (0-based) ``epoch`` on ``train``, validate on ``val``; the epoch's metrics."""
        cfg = self.config
        t0 = time.perf_counter()
        if cfg.schedule == "cosine":
            for group in self.opt.param_groups:
                group["lr"] = cfg.cosine_lr(epoch)
        self.model.train()
        total, seen = 0.0, 0
        batches = epoch_batches(
            train, batch_size=cfg.batch_size, epoch=epoch, seed=cfg.seed, epoch_size=cfg.epoch_size
        )
        for batch in batches:
            loss = self.step(batch, epoch)
            total += float(loss.detach()) * batch[0].shape[0]
            seen += batch[0].shape[0]
        train_time = time.perf_counter() - t0
        metrics: dict[str, float] = {"epoch": float(epoch + 1), "train_loss": total / seen}
        metrics.update(self.validate(val, epoch))
        metrics["lr"] = float(self.opt.param_groups[0]["lr"])
        metrics.update(self.model.epoch_metrics(cfg, epoch))
        metrics["time_s"] = time.perf_counter() - t0
        metrics["spectra_per_s"] = seen / train_time if train_time > 0 else float("nan")
        return metrics

    def step(self, batch: Batch, epoch: int) -> torch.Tensor:
        """One optimiser step on ``batch`` (gradient scaling and clipping); returns the loss."""
        cfg, device = self.config, self.device
        x, y, clean = batch
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        clean = None if clean is None else clean.to(device, non_blocking=True)
        self.opt.zero_grad(set_to_none=True)
        with self._autocast():
            loss = self.model.loss(x, y, clean, train_config=cfg, epoch=epoch).total
        self.scaler.scale(loss).backward()
        if cfg.clip_norm is not None:
            self.scaler.unscale_(self.opt)
            nn.utils.clip_grad_norm_(self.model.parameters(), cfg.clip_norm)
        self.scaler.step(self.opt)
        self.scaler.update()
        return loss

    def validate(self, val: TrainingData, epoch: int) -> dict[str, float]:
        """Validation metrics with the loss of (0-based) ``epoch``.

        ``val_loss``, ``val_mae`` (summed max-normalised MAE), ``val_<term>``
        for each of the network's :attr:`~mrs_lib.models.QuantNet.loss_terms`
        and ``val_mae_<metabolite>``.
        """
        model, cfg, device = self.model, self.config, self.device
        model.eval()
        preds, trues = [], []
        total, n = 0.0, 0
        terms = dict.fromkeys(model.loss_terms, 0.0)
        with torch.no_grad():
            for x, y, clean in val.batches(cfg.eval_batch_size, None):
                x, y = x.to(device), y.to(device)
                clean = None if clean is None else clean.to(device)
                with self._autocast():
                    out = model.loss(x, y, clean, train_config=cfg, epoch=epoch)
                b = x.shape[0]
                total += float(out.total) * b
                for name in terms:
                    terms[name] += float(out.terms[name]) * b if name in out.terms else 0.0
                n += b
                preds.append(out.pred.float().cpu().numpy())
                trues.append(y.cpu().numpy())
        per = mae(np.concatenate(preds), np.concatenate(trues))
        metrics = {"val_loss": total / n, "val_mae": float(per.sum())}
        metrics.update({f"val_{name}": v / n for name, v in terms.items()})
        names = METABOLITES if per.size == len(METABOLITES) else [str(i) for i in range(per.size)]
        metrics.update({f"val_mae_{m}": float(v) for m, v in zip(names, per, strict=True)})
        return metrics

    def _end_epoch(self, metrics: dict[str, float], epoch: int) -> None:
        """Record ``metrics``, keep the best weights, step the schedule, write checkpoints."""
        cfg, run = self.config, self.run
        run.history.append(metrics)
        score = metrics[cfg.monitor]
        # a loss that changes with a ramped weight is judged only once the ramp is over
        ramping = cfg.monitor == "val_loss" and not self.model.loss_is_stable(cfg, epoch)
        if score < run.best_score or ramping:
            run.best_score, run.best_epoch, run.bad_epochs = score, epoch + 1, 0
            run.best_state = copy.deepcopy(self.model.state_dict())
            if self.ckdir is not None:
                write_best(
                    self.model,
                    run.best_state,
                    self.ckdir / "best.pt",
                    train_config=cfg,
                    metrics=metrics,
                    meta=self.meta,
                )
        else:
            run.bad_epochs += 1
        if cfg.schedule == "plateau":
            self.sched.step(score)
        run.epoch = epoch + 1
        if self.ckdir is not None:
            write_state(self.ckdir, self.model, self.opt, self.sched, self.run, self.settings)

    def _progress_bar(self) -> Any:
        """A tqdm bar over the epochs, or ``None`` without ``progress``."""
        if not self.progress:
            return None
        return tqdm(
            total=self.config.max_epochs,
            initial=self.run.epoch,
            desc=f"train {self.model.name}",
            unit="epoch",
        )

    def _stop_reason(self, t_start: float | None) -> str | None:
        """Why training stops now (``"early"``, ``"time"``, ``"max_epochs"``), or ``None``.

        ``t_start`` is when this call began training (``None``: no time check).
        """
        cfg, run = self.config, self.run
        if run.bad_epochs >= cfg.patience > 0:
            return "early"
        if t_start is not None and cfg.max_time_s is not None:
            if time.perf_counter() - t_start > cfg.max_time_s:
                return "time"
        if run.epoch >= cfg.max_epochs:
            return "max_epochs"
        return None

    def _result(self, stopped: str) -> TrainResult:
        """Restore the best weights and package the run."""
        run = self.run
        self.model.load_state_dict(run.best_state)
        self.model.eval()
        best = self.ckdir / "best.pt" if self.ckdir is not None else None
        return TrainResult(
            model=self.model,
            model_name=self.model.name,
            model_config=self.model.config.to_dict(),
            train_config=self.config,
            best_epoch=run.best_epoch,
            best_metrics=dict(run.history[run.best_epoch - 1]) if run.best_epoch >= 1 else {},
            history=run.history,
            stopped=stopped,
            checkpoint=best if best is not None and best.is_file() else None,
        )


def train_model(
    name: ModelName,
    model_config: Mapping[str, Any] | str | None,
    train_config: TrainConfig | Mapping[str, Any] | None,
    train_data: Any,
    val_data: Any,
    *,
    on_epoch: EpochHook | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    resume: bool = True,
    progress: bool = True,
    meta: Mapping[str, Any] | None = None,
    init: str | os.PathLike[str] | None = None,
) -> TrainResult:
    """Train network ``name`` and return the best model (chapter 4).

    Parameters
    ----------
    name, model_config
        Passed to :func:`mrs_lib.models.build_model` (a preset name or a
        mapping). When ``rows`` is not given it is taken from the data.
    train_config
        A :class:`~mrs_lib.train.TrainConfig` (or its keys as a mapping;
        ``None`` = defaults).
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
        Continue from ``checkpoint_dir/last.pt`` when it exists: bit-exact,
        and only under the same network, training settings (the stopping
        rules ``max_epochs``, ``max_time_s``, ``patience`` and the thread
        count may change) and data (``meta`` and a fingerprint of the
        spectra); otherwise :class:`~mrs_lib.train.checkpoint.ResumeError`
        lists each differing setting. ``False`` starts afresh and replaces
        the directory's ``last.pt`` and ``best.pt``.
    progress
        Show a tqdm bar over epochs.
    meta
        JSON-like facts stored with ``best.pt`` (e.g. the synthesis preset and
        input channels that :func:`mrs_lib.train.evaluate_checkpoint` must
        reproduce).
    init
        Start from the weights of this checkpoint (artifact name or path,
        :func:`mrs_lib.train.checkpoint.load_model`; fine-tuning, chapter 7)
        instead of a random initialisation: same network family and
        configuration required. A resumed run continues from its own state.
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
    cls = model_class(name)
    if cls.needs_clean and isinstance(train, TensorData) and train.clean is None:
        raise MRSDataError(
            f"train_data: the {cls.label} needs the clean spectra (x, y, clean) for its decoder"
        )

    cfg_map: dict[str, Any] = (
        {"preset": model_config} if isinstance(model_config, str) else dict(model_config or {})
    )
    cfg_map.setdefault("rows", train.rows)
    model_cfg = resolve_config(name, cfg_map)
    if model_cfg.rows != train.rows:
        raise MRSDataError(f"model config rows={model_cfg.rows} but the data has {train.rows} rows")

    if tcfg.num_threads is not None:
        torch.set_num_threads(tcfg.num_threads)
    torch.manual_seed(tcfg.seed)
    model = build_model(name, model_cfg.to_dict())
    if init is not None:
        _load_initial_weights(model, name, init)
    trainer = Trainer(
        model,
        tcfg,
        checkpoint_dir=checkpoint_dir,
        meta=meta,
        on_epoch=on_epoch,
        progress=progress,
    )
    return trainer.fit(train, val, resume=resume)


def _load_initial_weights(model: QuantNet, name: str, init: str | os.PathLike[str]) -> None:
    """Copy the weights of checkpoint ``init`` into ``model`` (same family and configuration)."""
    source, meta = load_model(init)
    if meta["model_name"] != name or source.config.to_dict() != model.config.to_dict():
        raise MRSDataError(
            f"init checkpoint '{meta['path']}': expected a {name} with configuration "
            f"{model.config.to_dict()}, got a {meta['model_name']} with {source.config.to_dict()}"
        )
    model.load_state_dict({k: v.float() for k, v in source.state_dict().items()})


__all__ = ["EpochHook", "Trainer", "train_model"]

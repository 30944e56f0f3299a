"""Inference and scoring: :func:`predict`, :func:`evaluate_model`, :func:`evaluate_checkpoint`."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import MRSDataError
from ..metrics import summarise
from ..synth import SynthConfig, synthesize
from ..synth.bases import BANK_NAMES
from ..types import METABOLITES
from .checkpoint import load_model


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
            f"network input: the model expects [batch, {cfg.rows}, {cfg.points}], "
            f"got {tuple(xt.shape)}"
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


def evaluate_model(model: nn.Module, data: Any, metabolites: Any = METABOLITES) -> dict[str, Any]:
    """:func:`mrs_lib.metrics.summarise` of ``model`` on ``data``, SynthBatch-like or ``(x, y)``."""
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
    checkpoint was trained on (``basis`` overrides it; a checkpoint trained on
    the bank of basis variants, with or without the nominal basis, is scored on
    the ``paper`` basis they vary, so that every checkpoint meets the same test
    set), in the checkpoint's input rows, drawn with ``seed`` (:func:`mrs_lib.synth.synthesize`).
    """
    model, meta = load_model(name_or_path)
    data_meta = meta.get("data") or {}
    basis_name = basis or data_meta.get("basis", "paper")
    if basis_name in BANK_NAMES:
        basis_name = "paper"
    channels = data_meta.get("channels")
    config = SynthConfig.preset(synth, channels=tuple(channels)) if channels else synth
    test = synthesize(n, seed, config, basis_name)
    if test.x.shape[1] != model.config.rows:
        raise MRSDataError(
            f"checkpoint '{meta['path']}' expects {model.config.rows} input rows, "
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


__all__ = ["evaluate_checkpoint", "evaluate_model", "predict"]

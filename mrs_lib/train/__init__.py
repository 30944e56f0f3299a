"""Training, checkpoints with provenance, loading and prediction (chapter 4).

:func:`train_model` trains one network of :mod:`mrs_lib.models` the way the
paper does: Adam (learning rate 1e-4 at batch 16, scaled with the batch
size), gradient clipping at norm 1, the learning rate halved after 20 epochs
without improvement (down to 1e-7), early stopping after 25 such epochs with
the best weights restored. CNN and FCNN minimise the MSE of the
concentrations (divided by their sum); the YAE minimises a Huber loss on its
reconstruction of the clean spectrum plus a Huber loss on the concentrations
whose weight ramps from 0.1 to 1.0 over 25 epochs (each network computes its
own loss, :meth:`mrs_lib.models.QuantNet.loss`). The monitored score is the
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
are such tuples. The synthetic sets come from :func:`mrs_lib.synth.synthesize`.

Modules: :mod:`~mrs_lib.train.config` (:class:`TrainConfig`,
:class:`TrainResult`, the device), :mod:`~mrs_lib.train.data` (wrapping the
data, the order of an epoch), :mod:`~mrs_lib.train.trainer` (:class:`Trainer`,
:func:`train_model`), :mod:`~mrs_lib.train.checkpoint` (model files,
``best.pt`` and ``last.pt``, resuming) and :mod:`~mrs_lib.train.evaluate`
(:func:`predict`, :func:`evaluate_checkpoint`).
"""

from __future__ import annotations

from .checkpoint import (
    CHECKPOINT_FORMAT,
    STATE_FORMAT,
    ResumeError,
    export_model,
    load_model,
    save_model,
)
from .config import TrainConfig, TrainConfigError, TrainResult, resolve_device
from .data import as_training_data
from .evaluate import evaluate_checkpoint, evaluate_model, predict
from .trainer import Trainer, train_model

__all__ = [
    "CHECKPOINT_FORMAT",
    "STATE_FORMAT",
    "ResumeError",
    "TrainConfig",
    "TrainConfigError",
    "TrainResult",
    "Trainer",
    "as_training_data",
    "evaluate_checkpoint",
    "evaluate_model",
    "export_model",
    "load_model",
    "predict",
    "resolve_device",
    "save_model",
    "train_model",
]

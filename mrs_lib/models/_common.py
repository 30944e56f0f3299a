"""What every network family shares: config checks, the output activation, and the model interface.

:class:`QuantNet` is the one interface the training loop
(:class:`mrs_lib.train.Trainer`) talks to. Each family says whether it needs
the clean spectra, which concentration loss it uses by default, and computes
its own training loss (:meth:`QuantNet.loss`), so the loop has no
family-specific code. The loss reads its settings through
:class:`LossSettings`, a protocol that :class:`mrs_lib.train.TrainConfig`
satisfies, so this layer does not import the training layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Literal, Protocol

import torch
from torch import nn

from ..errors import MRSError
from ..types import ModelName

Output = Literal["linear", "sigmoid", "softmax"]
ConcentrationLoss = Literal["mse", "huber"]


class ModelConfigError(MRSError, ValueError):
    """A model configuration key is unknown or its value is out of range."""


def check_config(cond: bool, family: str, key: str, expected: str, got: Any) -> None:
    """Raise :class:`ModelConfigError` naming ``family``'s ``key`` unless ``cond`` holds."""
    if not cond:
        raise ModelConfigError(f"{family} config, key '{key}': expected {expected}, got {got!r}")


def config_from_dict(cls: type, data: Mapping[str, Any] | None, family: str) -> Any:
    """Build the dataclass ``cls`` from ``data``; unknown keys are errors (no silent typos)."""
    data = dict(data or {})
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ModelConfigError(
            f"{family} config: unknown key(s) {unknown}; known keys are {sorted(names)}"
        )
    for f in fields(cls):  # JSON gives lists where the dataclass holds tuples
        if f.name in data and isinstance(data[f.name], list):
            data[f.name] = tuple(data[f.name])
    return cls(**data)


def activate(out: torch.Tensor, kind: str) -> torch.Tensor:
    """The output activation ``kind`` (see :data:`Output`) applied to the last layer's ``out``."""
    if kind == "sigmoid":
        return torch.sigmoid(out)
    if kind == "softmax":
        return torch.softmax(out, dim=-1)
    return out


class ModelConfig(Protocol):
    """What the training and inference code reads from a family's config dataclass."""

    @property
    def rows(self) -> int:
        """Input rows (sub-spectra x datatypes)."""
        ...

    @property
    def points(self) -> int:
        """Points per row."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        ...

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> ModelConfig:
        """Build from a mapping (unknown keys raise :class:`ModelConfigError`)."""
        ...


class LossSettings(Protocol):
    """The training settings a loss reads (:class:`mrs_lib.train.TrainConfig` has them all)."""

    @property
    def loss(self) -> Literal["auto", "mse", "huber"]:
        """Concentration loss; ``"auto"`` = the family's :attr:`QuantNet.default_loss`."""
        ...

    @property
    def huber_delta(self) -> float:
        """Huber transition point."""
        ...

    @property
    def recon_weight(self) -> float:
        """Weight of a reconstruction loss (YAE)."""
        ...

    @property
    def quant_weight_start(self) -> float:
        """First value of a ramped concentration-loss weight (YAE)."""
        ...

    @property
    def quant_weight_end(self) -> float:
        """Final value of a ramped concentration-loss weight (YAE)."""
        ...

    @property
    def quant_weight_epochs(self) -> int:
        """Epochs of that ramp (YAE)."""
        ...


@dataclass(frozen=True)
class BatchLoss:
    """What :meth:`QuantNet.loss` returns for one batch.

    ``total`` is the loss to minimise, ``pred`` the concentrations ``[B, 5]``
    and ``terms`` named extra losses (e.g. ``"recon_loss"``) among the
    family's :attr:`QuantNet.loss_terms`; a term may be missing when its data
    is (the YAE's reconstruction loss without clean spectra).
    """

    total: torch.Tensor
    pred: torch.Tensor
    terms: dict[str, torch.Tensor] = field(default_factory=dict)


class QuantNet(nn.Module):
    """Base class of the quantification networks: ``forward(x[B, rows, points]) -> [B, 5]``.

    Class attributes
    ----------------
    name
        Family name (``"cnn"``, ``"fcnn"``, ``"yae"``), the key of the registry
        in :mod:`mrs_lib.models`.
    label
        Name for messages (``"CNN"``, ...).
    needs_clean
        Whether training needs the clean spectra (``(x, y, clean)`` data).
    default_loss
        Concentration loss when the settings say ``"auto"``.
    loss_terms
        Names of the extra losses :meth:`loss` reports; validation reports
        each as ``val_<name>`` (the batch-weighted mean, 0 where missing).
    """

    name: ClassVar[ModelName]
    label: ClassVar[str]
    needs_clean: ClassVar[bool] = False
    default_loss: ClassVar[ConcentrationLoss] = "mse"
    loss_terms: ClassVar[tuple[str, ...]] = ()

    config: ModelConfig

    def concentration_loss(
        self, pred: torch.Tensor, y: torch.Tensor, settings: LossSettings
    ) -> torch.Tensor:
        """MSE or Huber loss of the concentrations (``settings.loss``, ``"auto"`` = the default)."""
        kind = settings.loss if settings.loss != "auto" else self.default_loss
        if kind == "huber":
            return nn.functional.huber_loss(pred, y, delta=settings.huber_delta)
        return nn.functional.mse_loss(pred, y)

    def loss(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        clean: torch.Tensor | None,
        *,
        train_config: LossSettings,
        epoch: int,
    ) -> BatchLoss:
        """The training loss of one batch in (0-based) ``epoch``: the concentration loss here."""
        pred = self(x)
        return BatchLoss(self.concentration_loss(pred.float(), y, train_config), pred)

    def loss_is_stable(self, train_config: LossSettings, epoch: int) -> bool:
        """Whether the loss of ``epoch`` is comparable with later epochs' (no ramped weights).

        Early stopping on ``val_loss`` accepts every epoch while this is false.
        """
        return True

    def epoch_metrics(self, train_config: LossSettings, epoch: int) -> dict[str, float]:
        """Per-epoch settings of the loss to log in the history (e.g. a ramped weight)."""
        return {}


__all__ = [
    "BatchLoss",
    "ConcentrationLoss",
    "LossSettings",
    "ModelConfig",
    "ModelConfigError",
    "Output",
    "QuantNet",
    "activate",
    "check_config",
    "config_from_dict",
]

"""The Y-shaped autoencoder (YAE): denoise and quantify from one latent code (chapter 4).

One MLP encoder is shared by every input row (each row of ``[batch, rows,
2048]`` is encoded on its own: 2048 -> 1024 -> 512 -> 256 -> 128, tanh,
dropout). Two branches leave the latent code:

* the decoder mirrors the encoder back to 2048 points per row and is trained
  to reproduce the *clean* (noiseless) spectrum from the noisy input;
* the quantifier flattens the latent codes of all rows (``rows x 128``) into
  a 384-unit sigmoid layer and five sigmoid outputs.

Both branches use a Huber loss; the quantifier's weight ramps from 0.1 to 1.0
over the first 25 epochs (:meth:`YAE.quant_weight`, settings in
:class:`mrs_lib.train.TrainConfig`), so the encoder first learns what a
spectrum looks like, then what it contains. The YAE computes this loss itself
(:meth:`YAE.loss`), the training loop only minimises it.

``forward(x)`` returns the concentrations (so the YAE plugs in wherever a
CNN does); :meth:`YAE.forward_both` returns ``(concentrations,
reconstruction)`` for the training loss.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch
from torch import nn

from ..types import METABOLITES, NETWORK_POINTS
from ._common import (
    BatchLoss,
    LossSettings,
    Output,
    QuantNet,
    activate,
    check_config,
    config_from_dict,
)

Activation = Literal["tanh", "relu", "gelu"]


@dataclass(frozen=True)
class YAEConfig:
    """Configuration of :class:`YAE`.

    Attributes
    ----------
    rows
        Input rows, each encoded by the shared encoder.
    points
        Points per row (2048).
    encoder
        Widths of the encoder layers; the last is the latent size per row
        (paper: 1024, 512, 256, 128). The decoder mirrors them.
    quantifier
        Width of the quantifier's hidden sigmoid layer (paper: 384).
    dropout
        Dropout after every encoder/decoder layer (paper: 0.2).
    activation
        Encoder/decoder nonlinearity (paper: ``"tanh"``).
    output
        Quantifier output activation (paper: ``"sigmoid"``).
    """

    rows: int = 2
    points: int = NETWORK_POINTS
    encoder: tuple[int, ...] = (1024, 512, 256, 128)
    quantifier: int = 384
    dropout: float = 0.2
    activation: Activation = "tanh"
    output: Output = "sigmoid"

    def __post_init__(self) -> None:
        fam = "yae"
        for key in ("rows", "points", "quantifier"):
            v = getattr(self, key)
            check_config(isinstance(v, int) and v >= 1, fam, key, "a positive integer", v)
        enc = tuple(self.encoder)
        check_config(
            len(enc) >= 1 and all(isinstance(n, int) and n >= 1 for n in enc),
            fam,
            "encoder",
            "a non-empty sequence of positive integers",
            self.encoder,
        )
        object.__setattr__(self, "encoder", enc)
        check_config(
            0.0 <= float(self.dropout) < 1.0, fam, "dropout", "a number in [0, 1)", self.dropout
        )
        check_config(
            self.activation in ("tanh", "relu", "gelu"),
            fam,
            "activation",
            "'tanh', 'relu' or 'gelu'",
            self.activation,
        )
        check_config(
            self.output in ("linear", "sigmoid", "softmax"),
            fam,
            "output",
            "'linear', 'sigmoid' or 'softmax'",
            self.output,
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> YAEConfig:
        """Build from a mapping (unknown keys raise :class:`~mrs_lib.models.ModelConfigError`)."""
        return config_from_dict(cls, data, "yae")

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        d = asdict(self)
        d["encoder"] = list(self.encoder)
        return d


YAE_PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},  # ~5.6 M parameters; ~1,700 spectra/s forward+backward on 2 CPU cores
    "cpu": {},  # the paper's YAE already trains on a CPU
    "tiny": {"encoder": (64, 16), "quantifier": 16},
}

_ACT = {"tanh": nn.Tanh, "relu": nn.ReLU, "gelu": nn.GELU}


def _mlp(widths: list[int], act: str, dropout: float, last_plain: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(widths)):
        layers.append(nn.Linear(a, b))
        if last_plain and i == len(widths) - 2:
            break
        layers.append(_ACT[act]())
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class YAE(QuantNet):
    """Y-shaped autoencoder; ``forward(x) -> [B, 5]``, ``forward_both(x) -> (conc, recon)``.

    Training needs the clean spectra: the loss is ``quant_weight(epoch) x
    Huber(concentrations) + recon_weight x Huber(reconstruction, clean)``.
    """

    name = "yae"
    label = "YAE"
    needs_clean = True
    default_loss = "huber"
    loss_terms = ("recon_loss",)
    config: YAEConfig

    def __init__(self, config: YAEConfig | None = None, n_outputs: int = len(METABOLITES)) -> None:
        super().__init__()
        cfg = config or YAEConfig()
        self.config = cfg
        widths = [cfg.points, *cfg.encoder]
        self.encoder = _mlp(widths, cfg.activation, cfg.dropout, last_plain=False)
        self.decoder = _mlp(widths[::-1], cfg.activation, cfg.dropout, last_plain=True)
        self.quantifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(cfg.rows * cfg.encoder[-1], cfg.quantifier),
            nn.Sigmoid(),
            nn.Linear(cfg.quantifier, n_outputs),
        )

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Latent codes ``[B, rows, latent]`` (the encoder acts on each row alone)."""
        return self.encoder(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Concentrations ``[B, 5]`` from ``x[B, rows, points]``."""
        return activate(self.quantifier(self.encode(x)), self.config.output)

    def forward_both(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(concentrations [B, 5], reconstruction [B, rows, points])``."""
        z = self.encode(x)
        return activate(self.quantifier(z), self.config.output), self.decoder(z)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """The decoder's estimate of the clean spectrum, ``[B, rows, points]``."""
        return self.decoder(self.encode(x))

    @staticmethod
    def quant_weight(train_config: LossSettings, epoch: int) -> float:
        """Quantifier-loss weight in (0-based) ``epoch``: linear ramp, then constant."""
        cfg = train_config
        if cfg.quant_weight_epochs <= 0:
            return cfg.quant_weight_end
        frac = min(epoch / cfg.quant_weight_epochs, 1.0)
        return cfg.quant_weight_start + frac * (cfg.quant_weight_end - cfg.quant_weight_start)

    def loss(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        clean: torch.Tensor | None,
        *,
        train_config: LossSettings,
        epoch: int,
    ) -> BatchLoss:
        """Ramped concentration loss plus the reconstruction loss (term ``"recon_loss"``).

        Without ``clean`` only the unweighted concentration loss is returned.
        """
        pred, recon = self.forward_both(x)
        q = self.concentration_loss(pred.float(), y, train_config)
        if clean is None:
            return BatchLoss(q, pred)
        r = nn.functional.huber_loss(recon.float(), clean, delta=train_config.huber_delta)
        total = self.quant_weight(train_config, epoch) * q + train_config.recon_weight * r
        return BatchLoss(total, pred, {"recon_loss": r})

    def loss_is_stable(self, train_config: LossSettings, epoch: int) -> bool:
        """False while the quantifier weight ramps (the loss grows with it)."""
        return epoch >= train_config.quant_weight_epochs

    def epoch_metrics(self, train_config: LossSettings, epoch: int) -> dict[str, float]:
        """The quantifier weight of ``epoch`` (history key ``quant_weight``)."""
        return {"quant_weight": self.quant_weight(train_config, epoch)}


__all__ = ["YAE", "YAE_PRESETS", "YAEConfig"]

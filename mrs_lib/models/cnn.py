"""The authors' parameterised CNN family over [acquisition x datatype] rows (chapter 4).

The input is ``[batch, rows, 2048]``: one row per sub-spectrum and datatype
(e.g. edit-OFF real, edit-ON real), all on the 1.0-4.5 ppm network grid. The
network treats it as a one-channel image and convolves with ``(1, k)`` kernels,
so every row is filtered along the frequency axis with shared weights before a
``(rows, C3)`` convolution mixes the rows::

    conv(1, C1) F1 -> conv(1, C2) F1            # per-row filters, downsampled
    conv(rows, C3) F1                           # rows collapse to 1
    [conv(1, C4) F1 -> conv(1, C4) F2] x pairs  # frequency features
    flatten -> Dense(D, sigmoid) -> dropout -> Dense(5)

Each conv is followed by BatchNorm (or dropout), ReLU, and a downsampling of
the frequency axis set by ``pool``: ``pool = -s`` convolves with stride ``s``,
``pool = +p`` max-pools by ``p`` after the conv, ``pool = 1`` keeps the width.
The paper's notation "-1/-2 and -3" for strides/pools maps onto this key.

Presets: ``"paper"`` (F1=256, F2=512, D=1024, ~39 M parameters, a GPU model),
``"cpu"`` (narrower: F1=32, F2=64, D=512, stride 3, dropout 0.1; ~0.33 M
parameters, trains on two CPU cores), ``"tiny"`` (tests).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch
from torch import nn

from ..types import METABOLITES, NETWORK_POINTS
from ._common import Output, QuantNet, activate, check_config, config_from_dict

Norm = Literal["batch", "dropout", "none"]


@dataclass(frozen=True)
class CNNConfig:
    """Configuration of :class:`CNN` (keys are the Optuna search space's names).

    Attributes
    ----------
    rows
        Input rows (sub-spectra x datatypes), e.g. 2 for OFF and ON real parts.
    points
        Points per row (the network grid, 2048).
    c1, c2
        Kernel widths of the two per-row convolutions (paper: 7-9 and 5-9).
    c3
        Kernel width of the row-collapsing ``(rows, c3)`` convolution (paper: 5-7).
    c4
        Kernel width of the paired ``(1, c4)`` convolutions (paper: 1-3).
    f1, f2
        Filters of the first convolutions and of the second conv of each pair
        (paper: 256-512 and 512).
    pairs
        Number of ``(1, c4)`` conv pairs (F1 then F2 filters).
    pool
        Downsampling after each conv: negative = stride, positive = max-pool
        size; -1 and 1 both mean no downsampling (paper: -1/-2 and -3).
    dense
        Width of the sigmoid dense layer D (paper: 1024-2048).
    dropout
        Dropout before the output layer (paper: 0.3); also used inside the
        blocks when ``norm == "dropout"``.
    norm
        ``"batch"`` (BatchNorm after each conv), ``"dropout"`` or ``"none"``.
    output
        Output activation: ``"linear"``, ``"sigmoid"`` or ``"softmax"``
        (targets are concentrations divided by their sum).
    """

    rows: int = 2
    points: int = NETWORK_POINTS
    c1: int = 7
    c2: int = 5
    c3: int = 5
    c4: int = 3
    f1: int = 256
    f2: int = 512
    pairs: int = 1
    pool: int = -2
    dense: int = 1024
    dropout: float = 0.3
    norm: Norm = "batch"
    output: Output = "linear"

    def __post_init__(self) -> None:
        fam = "cnn"
        for key in ("rows", "points", "c1", "c2", "c3", "c4", "f1", "f2", "dense"):
            v = getattr(self, key)
            check_config(isinstance(v, int) and v >= 1, fam, key, "a positive integer", v)
        check_config(
            isinstance(self.pairs, int) and self.pairs >= 0,
            fam,
            "pairs",
            "an integer >= 0",
            self.pairs,
        )
        check_config(
            isinstance(self.pool, int) and self.pool != 0 and abs(self.pool) <= 8,
            fam,
            "pool",
            "a non-zero integer in [-8, 8] (negative = stride, positive = max-pool)",
            self.pool,
        )
        check_config(
            0.0 <= float(self.dropout) < 1.0, fam, "dropout", "a number in [0, 1)", self.dropout
        )
        check_config(
            self.norm in ("batch", "dropout", "none"),
            fam,
            "norm",
            "'batch', 'dropout' or 'none'",
            self.norm,
        )
        check_config(
            self.output in ("linear", "sigmoid", "softmax"),
            fam,
            "output",
            "'linear', 'sigmoid' or 'softmax'",
            self.output,
        )
        width = self.points
        for _ in range(3 + 2 * self.pairs):
            width = _out_width(width, self.pool)
        check_config(
            width >= 1,
            fam,
            "pool",
            f"a downsampling that leaves >= 1 point of {self.points}",
            self.pool,
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> CNNConfig:
        """Build from a mapping (unknown keys raise :class:`ModelConfigError`)."""
        return config_from_dict(cls, data, "cnn")

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (the inverse of :meth:`from_dict`)."""
        return asdict(self)


CNN_PRESETS: dict[str, dict[str, Any]] = {
    # the paper's large variant (~39 M parameters): a GPU model
    "paper": {},
    # 8x fewer filters, stride 3 instead of 2, D=512: ~0.33 M parameters, ~1,150 spectra/s
    # forward+backward at batch 64 on one CPU thread; dropout 0.1 (simulated training data
    # is unlimited and the 100k set showed no overfitting: train MAE ~ test MAE)
    "cpu": {
        "f1": 32,
        "f2": 64,
        "dense": 512,
        "dropout": 0.1,
        "pool": -3,
        "c1": 9,
        "c2": 7,
        "pairs": 1,
    },
    "tiny": {"f1": 4, "f2": 8, "dense": 16, "pool": -4, "pairs": 1},
}


def _out_width(width: int, pool: int) -> int:
    if pool < -1:
        return (width - 1) // (-pool) + 1  # 'same' padding then stride
    if pool > 1:
        return width // pool
    return width


class _Block(nn.Sequential):
    def __init__(self, cin: int, cout: int, kernel: tuple[int, int], cfg: CNNConfig) -> None:
        stride = -cfg.pool if cfg.pool < -1 else 1
        layers: list[nn.Module] = [
            nn.Conv2d(
                cin,
                cout,
                kernel,
                stride=(1, stride),
                padding=(0, kernel[1] // 2),
                bias=cfg.norm != "batch",
            )
        ]
        if cfg.norm == "batch":
            layers.append(nn.BatchNorm2d(cout))
        elif cfg.norm == "dropout" and cfg.dropout > 0:
            layers.append(nn.Dropout(cfg.dropout))
        layers.append(nn.ReLU(inplace=True))
        if cfg.pool > 1:
            layers.append(nn.MaxPool2d((1, cfg.pool)))
        super().__init__(*layers)


class CNN(QuantNet):
    """The parameterised CNN of the paper; ``forward(x[B, rows, points]) -> [B, 5]``.

    Trained on the MSE of the concentrations (the :class:`~mrs_lib.models.QuantNet` default).
    """

    name = "cnn"
    label = "CNN"
    config: CNNConfig

    def __init__(self, config: CNNConfig | None = None, n_outputs: int = len(METABOLITES)) -> None:
        super().__init__()
        cfg = config or CNNConfig()
        self.config = cfg
        f1, f2 = cfg.f1, cfg.f2
        blocks: list[nn.Module] = [
            _Block(1, f1, (1, cfg.c1), cfg),
            _Block(f1, f1, (1, cfg.c2), cfg),
            _Block(f1, f1, (cfg.rows, cfg.c3), cfg),  # rows collapse to 1
        ]
        cin = f1
        for _ in range(cfg.pairs):
            blocks += [_Block(cin, f1, (1, cfg.c4), cfg), _Block(f1, f2, (1, cfg.c4), cfg)]
            cin = f2
        self.features = nn.Sequential(*blocks)
        with torch.no_grad():
            flat = self.features(torch.zeros(1, 1, cfg.rows, cfg.points)).numel()
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(flat, cfg.dense),
            nn.Sigmoid(),
            nn.Dropout(cfg.dropout),
            nn.Linear(cfg.dense, n_outputs),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Concentrations ``[B, 5]`` from ``x[B, rows, points]`` (:class:`CNNConfig` ``output``)."""
        out = self.head(self.features(x.unsqueeze(1)))
        return activate(out, self.config.output)


__all__ = ["CNN", "CNN_PRESETS", "CNNConfig"]

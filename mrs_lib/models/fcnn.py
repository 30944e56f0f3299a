"""The FCNN of Hatami et al. (2018) for MRS quantification (chapter 4).

The input rows ``[batch, rows, 2048]`` are the channels of a 1-D convolution
stack::

    5 x [Conv1D(k=3) -> CReLU -> MaxPool(2)]   # 32/64/128/256/512 filters
    flatten -> Dense(1024, ReLU) -> Dropout(0.5) -> Dense(5)

CReLU concatenates ``relu(x)`` and ``relu(-x)``, doubling the channels, so the
full-size network flattens 64 points x 1024 channels into the first dense
layer: 67 M of its 68 M parameters sit there, ~30 spectra/s on two CPU cores.
The ``"cpu"`` preset uses a quarter of the filters (8..128), max-pools by 4
more before the dense layer (``pool_before_dense``) and narrows that layer to
256 units (~1.1 M parameters in all, ~340 spectra/s on two CPU cores).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from ..types import METABOLITES, NETWORK_POINTS
from ._common import Output, QuantNet, activate, check_config, config_from_dict


@dataclass(frozen=True)
class FCNNConfig:
    """Configuration of :class:`FCNN`.

    Attributes
    ----------
    rows
        Input rows, used as the channels of the first Conv1D.
    points
        Points per row (2048).
    filters
        Filters of the conv stages, one stage per entry (paper: 32..512).
    kernel
        Conv1D kernel width (paper: 3).
    dense
        Width of the ReLU dense layer (paper: 1024).
    dropout
        Dropout after the dense layer (paper: 0.5).
    pool_before_dense
        Extra max-pool factor before flattening (1 = the paper's network).
    batch_norm
        BatchNorm after each convolution (not in the paper; off by default).
    output
        Output activation: ``"linear"``, ``"sigmoid"`` or ``"softmax"``.
    """

    rows: int = 2
    points: int = NETWORK_POINTS
    filters: tuple[int, ...] = (32, 64, 128, 256, 512)
    kernel: int = 3
    dense: int = 1024
    dropout: float = 0.5
    pool_before_dense: int = 1
    batch_norm: bool = False
    output: Output = "linear"

    def __post_init__(self) -> None:
        fam = "fcnn"
        for key in ("rows", "points", "kernel", "dense", "pool_before_dense"):
            v = getattr(self, key)
            check_config(isinstance(v, int) and v >= 1, fam, key, "a positive integer", v)
        f = tuple(self.filters)
        check_config(
            len(f) >= 1 and all(isinstance(n, int) and n >= 1 for n in f),
            fam,
            "filters",
            "a non-empty sequence of positive integers",
            self.filters,
        )
        object.__setattr__(self, "filters", f)
        check_config(
            0.0 <= float(self.dropout) < 1.0, fam, "dropout", "a number in [0, 1)", self.dropout
        )
        check_config(
            self.output in ("linear", "sigmoid", "softmax"),
            fam,
            "output",
            "'linear', 'sigmoid' or 'softmax'",
            self.output,
        )
        width = self.points // 2 ** len(f) // self.pool_before_dense
        check_config(
            width >= 1,
            fam,
            "filters",
            f"at most log2({self.points}) stages with the pooling",
            self.filters,
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> FCNNConfig:
        """Build from a mapping (unknown keys raise :class:`~mrs_lib.models.ModelConfigError`)."""
        return config_from_dict(cls, data, "fcnn")

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (tuples become lists in JSON)."""
        d = asdict(self)
        d["filters"] = list(self.filters)
        return d


FCNN_PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},  # Hatami et al. 2018: ~68 M parameters
    "cpu": {"filters": (8, 16, 32, 64, 128), "pool_before_dense": 4, "dense": 256},
    "tiny": {"filters": (4, 8), "dense": 16, "pool_before_dense": 16},
}


class CReLU(nn.Module):
    """Concatenated ReLU: ``cat(relu(x), relu(-x))`` along the channels."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Double the channels of ``x[B, C, L]``."""
        return torch.cat([torch.relu(x), torch.relu(-x)], dim=1)


class FCNN(QuantNet):
    """Hatami's fully convolutional stack + dense head; ``forward(x[B, rows, points]) -> [B, 5]``.

    Trained on the MSE of the concentrations (the :class:`~mrs_lib.models.QuantNet` default).
    """

    name = "fcnn"
    label = "FCNN"
    config: FCNNConfig

    def __init__(self, config: FCNNConfig | None = None, n_outputs: int = len(METABOLITES)) -> None:
        super().__init__()
        cfg = config or FCNNConfig()
        self.config = cfg
        layers: list[nn.Module] = []
        cin = cfg.rows
        for n in cfg.filters:
            layers.append(nn.Conv1d(cin, n, cfg.kernel, padding=cfg.kernel // 2))
            if cfg.batch_norm:
                layers.append(nn.BatchNorm1d(n))
            layers += [CReLU(), nn.MaxPool1d(2)]
            cin = 2 * n
        if cfg.pool_before_dense > 1:
            layers.append(nn.MaxPool1d(cfg.pool_before_dense))
        self.features = nn.Sequential(*layers)
        flat = cin * (cfg.points // 2 ** len(cfg.filters) // cfg.pool_before_dense)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(flat, cfg.dense),
            nn.ReLU(inplace=True),
            nn.Dropout(cfg.dropout),
            nn.Linear(cfg.dense, n_outputs),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Concentrations ``[B, 5]`` from ``x[B, rows, points]``."""
        return activate(self.head(self.features(x)), self.config.output)


__all__ = ["FCNN", "FCNN_PRESETS", "CReLU", "FCNNConfig"]

"""Quantification networks built by name and configuration (chapter 4).

Three families share one interface: input ``[batch, rows, 2048]`` float32
(rows = sub-spectra x datatypes on the 1.0-4.5 ppm grid, see
:func:`mrs_lib.synth.network_input`), output ``[batch, 5]`` concentrations in
the order of :data:`mrs_lib.types.METABOLITES`.

========  =======================================  ====================
name      module                                   config dataclass
========  =======================================  ====================
``cnn``   :mod:`mrs_lib.models.cnn` (authors')     :class:`CNNConfig`
``fcnn``  :mod:`mrs_lib.models.fcnn` (Hatami)      :class:`FCNNConfig`
``yae``   :mod:`mrs_lib.models.yae` (Y-shaped AE)  :class:`YAEConfig`
========  =======================================  ====================

A configuration is a mapping of the dataclass's keys, or a preset name:
``"paper"`` (the paper-size network), ``"cpu"`` (a variant that trains on a
laptop CPU), ``"tiny"`` (tests). A mapping may name a preset under the key
``"preset"`` and override single keys::

    model = build_model("cnn", {"preset": "cpu", "f1": 48})

Every network is a :class:`QuantNet`: besides ``forward`` it computes its own
training loss (:meth:`QuantNet.loss`) and says whether it needs the clean
spectra, which is all :mod:`mrs_lib.train` needs to know about a family.
:data:`REGISTRY` maps each name to its network and config classes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from ..types import MODEL_NAMES, ModelName
from ._common import BatchLoss, LossSettings, ModelConfig, ModelConfigError, QuantNet
from .cnn import CNN, CNN_PRESETS, CNNConfig
from .fcnn import FCNN, FCNN_PRESETS, FCNNConfig
from .yae import YAE, YAE_PRESETS, YAEConfig

REGISTRY: dict[ModelName, tuple[type[QuantNet], type[ModelConfig]]] = {
    "cnn": (CNN, CNNConfig),
    "fcnn": (FCNN, FCNNConfig),
    "yae": (YAE, YAEConfig),
}
"""Family name -> (network class, config dataclass): the one list of the families."""
CONFIGS: dict[str, type] = {name: cfg for name, (_, cfg) in REGISTRY.items()}
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "cnn": CNN_PRESETS,
    "fcnn": FCNN_PRESETS,
    "yae": YAE_PRESETS,
}


def _check_name(name: str) -> None:
    if name not in MODEL_NAMES:
        raise ModelConfigError(f"model name {name!r}: expected one of {', '.join(MODEL_NAMES)}")


def model_class(name: ModelName) -> type[QuantNet]:
    """The network class of family ``name`` (e.g. to ask ``model_class(name).needs_clean``)."""
    _check_name(name)
    return REGISTRY[name][0]


def resolve_config(name: ModelName, config: Mapping[str, Any] | str | None = None) -> Any:
    """The config dataclass of family ``name`` for a preset name, a mapping, or ``None`` (paper).

    A mapping may hold ``"preset"`` (default ``"paper"``) plus keys that
    override it. Unknown keys and out-of-range values raise
    :class:`ModelConfigError` naming the key.
    """
    _check_name(name)
    if config is None:
        config = {}
    if isinstance(config, str):
        config = {"preset": config}
    data = dict(config)
    preset = data.pop("preset", "paper")
    if preset not in PRESETS[name]:
        raise ModelConfigError(
            f"{name} config, key 'preset': expected one of {sorted(PRESETS[name])}, got {preset!r}"
        )
    merged = {**PRESETS[name][preset], **data}
    return REGISTRY[name][1].from_dict(merged)


def build_model(name: ModelName, config: Mapping[str, Any] | str | None = None) -> QuantNet:
    """Build the network ``name`` ("cnn", "fcnn", "yae") from a config mapping or preset name.

    See :class:`CNNConfig`, :class:`FCNNConfig` and :class:`YAEConfig` for the
    keys; ``None`` gives the paper-size network. The model's resolved
    dataclass is available as ``model.config``.
    """
    cfg = resolve_config(name, config)
    return REGISTRY[name][0](cfg)


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def model_name_of(model: nn.Module) -> ModelName:
    """The family name ("cnn", "fcnn", "yae") of a model built by :func:`build_model`."""
    for name, (cls, _) in REGISTRY.items():
        if isinstance(model, cls):
            return name
    raise ModelConfigError(f"model of type {type(model).__name__} is not a mrs_lib network")


__all__ = [
    "CNN",
    "CONFIGS",
    "FCNN",
    "PRESETS",
    "REGISTRY",
    "YAE",
    "BatchLoss",
    "CNNConfig",
    "FCNNConfig",
    "LossSettings",
    "ModelConfig",
    "ModelConfigError",
    "QuantNet",
    "YAEConfig",
    "build_model",
    "count_parameters",
    "model_class",
    "model_name_of",
    "resolve_config",
]

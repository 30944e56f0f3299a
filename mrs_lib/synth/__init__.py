"""Synthetic MEGA-PRESS training data: generator, augmentations, datasets (chapter 2).

Quick start::

    from mrs_lib.sim import load_fida_reference
    from mrs_lib.synth import generate
    batch = generate(load_fida_reference(), 1000, rng=0, config="paper")
    batch.x.shape        # (1000, 2, 2048): edit-OFF and edit-ON real parts
"""

from .augment import (
    Augmentation,
    Baseline,
    EddyCurrent,
    FirstOrderPhase,
    FrequencyShift,
    Linewidth,
    Macromolecules,
    MetaboliteLinewidth,
    MetaboliteShift,
    Noise,
    ResidualWater,
    SynthState,
    ZeroOrderPhase,
)
from .dataset import (
    StoredDataset,
    SynthDataset,
    TarquinFit,
    load_tarquin_fit,
    make_dataset,
)
from .generator import (
    PRESETS,
    ConcentrationPrior,
    GridTransform,
    SynthBatch,
    SynthConfig,
    Synthesizer,
    example,
    fine_basis,
    generate,
    max_normalise,
    measure_linewidth,
    network_input,
    singlet_basis,
    sum_normalise,
)

__all__ = [
    "PRESETS",
    "Augmentation",
    "Baseline",
    "ConcentrationPrior",
    "EddyCurrent",
    "FirstOrderPhase",
    "FrequencyShift",
    "GridTransform",
    "Linewidth",
    "Macromolecules",
    "MetaboliteLinewidth",
    "MetaboliteShift",
    "Noise",
    "ResidualWater",
    "StoredDataset",
    "SynthBatch",
    "SynthConfig",
    "SynthDataset",
    "SynthState",
    "Synthesizer",
    "TarquinFit",
    "ZeroOrderPhase",
    "example",
    "fine_basis",
    "generate",
    "load_tarquin_fit",
    "make_dataset",
    "max_normalise",
    "measure_linewidth",
    "network_input",
    "singlet_basis",
    "sum_normalise",
]

"""Synthetic MEGA-PRESS training data: generator, augmentations, datasets (chapter 2).

Quick start::

    from mrs_lib.sim import load_fida_reference
    from mrs_lib.synth import generate
    batch = generate(load_fida_reference(), 1000, rng=0, config="paper")
    batch.x.shape        # (1000, 2, 2048): edit-OFF and edit-ON real parts

Modules, lowest first: :mod:`~mrs_lib.synth.grid` (exact resampling to the
network grid, grid noise, acquisition grids), :mod:`~mrs_lib.synth.plan` (a
basis precomputed on one grid, the clean-signal fast path),
:mod:`~mrs_lib.synth.state` (the working state of a block),
:mod:`~mrs_lib.synth.augment` (one callable per augmentation),
:mod:`~mrs_lib.synth.inputs` (network input, normalisations),
:mod:`~mrs_lib.synth.config` (configs, priors, presets),
:mod:`~mrs_lib.synth.bases` (oracle and fine bases),
:mod:`~mrs_lib.synth.generator` (the pipeline), :mod:`~mrs_lib.synth.store`
(the on-disk format), :mod:`~mrs_lib.synth.dataset` (on-the-fly, stored and
cached sets) and :mod:`~mrs_lib.synth.tarquin` (a real reference spectrum).
"""

from .augment import (
    AUGMENTATIONS,
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
    ZeroOrderPhase,
)
from .bases import fine_basis, singlet_basis
from .config import PRESETS, ConcentrationPrior, SynthConfig, as_config, sobol_points
from .dataset import StoredDataset, SynthDataset, make_dataset, synthesize
from .generator import SynthBatch, Synthesizer, example, generate, measure_linewidth
from .grid import GridTransform, complex_normal, feasible_grids, grid_transform, resample_fid
from .inputs import max_normalise, network_input, normalise_rows, sum_normalise
from .plan import GridPlan
from .state import SynthState
from .tarquin import TarquinFit, load_tarquin_fit

__all__ = [
    "AUGMENTATIONS",
    "PRESETS",
    "Augmentation",
    "Baseline",
    "ConcentrationPrior",
    "EddyCurrent",
    "FirstOrderPhase",
    "FrequencyShift",
    "GridPlan",
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
    "as_config",
    "complex_normal",
    "example",
    "feasible_grids",
    "fine_basis",
    "generate",
    "grid_transform",
    "load_tarquin_fit",
    "make_dataset",
    "max_normalise",
    "measure_linewidth",
    "network_input",
    "normalise_rows",
    "resample_fid",
    "singlet_basis",
    "sobol_points",
    "sum_normalise",
    "synthesize",
]

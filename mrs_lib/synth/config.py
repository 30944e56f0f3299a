"""What defines a synthetic data set: concentration priors, :class:`SynthConfig`, presets.

A :class:`SynthConfig` is everything but the basis, the number of spectra and
the seed: the concentration prior (:class:`ConcentrationPrior`: Sobol points in
[0, 1)^d as in the paper, uniform, phantom-like or in-vivo-like), the base
linewidth, the augmentations (:mod:`mrs_lib.synth.augment`), the acquisition
grids and the network input (:mod:`mrs_lib.synth.inputs`). :data:`PRESETS`
names the paper's configs (``paper``, ``paper-no-lw``), ``full`` (every
augmentation of :mod:`~mrs_lib.synth.augment`) and ``robust`` (``full`` plus
the sample and sequence effects of :mod:`~mrs_lib.synth.augment_sample`, for
domain randomisation over a bank of basis variants).
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy.stats import qmc

from ..errors import MRSDataError
from ..types import METABOLITES, NETWORK_POINTS, NETWORK_PPM_RANGE
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
    ZeroOrderPhase,
)
from .augment_sample import (
    EditingEfficiency,
    OnOffMismatch,
    T2Relaxation,
    augmentation_from_dict,
)
from .inputs import DEFAULT_CHANNELS, check_channels

PriorKind = Literal["sobol", "uniform", "phantom", "invivo"]


# ============================================================================ concentrations
#: Phantom-like ranges (mM), after the Swansea design (NAA 15, Cr 8, GABA 0-13.7,
#: Glu 12, Gln 3; shared data reference/swansea_phantom_design_mM.csv).
PHANTOM_MM: dict[str, tuple[float, float]] = {
    "Cr": (6.0, 10.0),
    "GABA": (0.0, 14.0),
    "Gln": (0.0, 4.0),
    "Glu": (0.0, 13.0),
    "NAA": (12.0, 18.0),
}
#: In-vivo-like ranges (mM) for adult brain (Govindaraju et al., NMR Biomed 2000;
#: de Graaf, In Vivo NMR Spectroscopy): tCr 6-10, GABA 1-2 (wide: 0.5-2.5), ...
INVIVO_MM: dict[str, tuple[float, float]] = {
    "Cr": (6.0, 10.0),
    "GABA": (0.5, 2.5),
    "Gln": (2.0, 6.0),
    "Glu": (6.0, 13.0),
    "NAA": (7.5, 17.0),
}


@dataclass(frozen=True)
class ConcentrationPrior:
    """How concentrations are drawn.

    ``"sobol"``: scrambled Sobol points in [0, 1)^d (the paper; no priors or
    ratios); ``"uniform"``: i.i.d. uniform [0, 1); ``"phantom"`` / ``"invivo"``:
    uniform within :data:`PHANTOM_MM` / :data:`INVIVO_MM` (mM; metabolites not
    listed get [0, 1)).
    """

    kind: PriorKind = "sobol"

    def __post_init__(self) -> None:
        if self.kind not in ("sobol", "uniform", "phantom", "invivo"):
            raise MRSDataError(
                f"field 'kind': expected sobol, uniform, phantom or invivo, got {self.kind!r}"
            )

    def sample(
        self, rng: np.random.Generator, n: int, metabolites: Sequence[str] = METABOLITES
    ) -> np.ndarray:
        d = len(metabolites)
        if self.kind == "sobol":
            return sobol_points(rng, n, d)
        if self.kind == "uniform":
            return rng.random((n, d))
        table = PHANTOM_MM if self.kind == "phantom" else INVIVO_MM
        lo = np.array([table.get(m, (0.0, 1.0))[0] for m in metabolites])
        hi = np.array([table.get(m, (0.0, 1.0))[1] for m in metabolites])
        return lo + (hi - lo) * rng.random((n, d))


def sobol_points(rng: np.random.Generator | int, n: int, d: int, *, skip: int = 0) -> np.ndarray:
    """``n`` scrambled Sobol points in [0, 1)^d after skipping ``skip``.

    The scrambling is seeded by ``rng``.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # balance warning for n not a power of 2
        sob = qmc.Sobol(d, scramble=True, rng=rng)
        if skip:
            sob.fast_forward(skip)
        return sob.random(n)


# ============================================================================ config
@dataclass(frozen=True)
class SynthConfig:
    """Everything that defines a synthetic data set except the basis, ``n`` and the seed.

    Parameters
    ----------
    name
        Label (a preset name or your own).
    prior
        Concentration prior.
    base_lw_hz
        Lorentzian linewidth every basis line gets before augmentation (the
        paper: 2 Hz, applied to its unbroadened basis). A basis that already
        carries ``lw_hz`` gets only the difference.
    augmentations
        Augmentation objects (:mod:`mrs_lib.synth.augment`), run by stage.
    grids
        Acquisition grids ``(bw_hz, n_points)`` drawn uniformly per spectrum,
        the basis resampled to each; ``None`` = the basis's own grid.
    channels, ppm_range, n_points
        Network input rows and grid.
    keep_clean
        Also produce the noiseless copy (needed by the YAE).
    exact
        Use the exact chirp-z path for everything. By default (``False``) the
        generator uses, where they apply, the fast paths ("Fast paths" in
        :mod:`mrs_lib.synth.grid`): noise transformed at a decimated rate
        (:class:`~mrs_lib.synth.grid.GridNoise`, covariance within
        :data:`~mrs_lib.synth.grid.NOISE_CORR_TOL`) and, for configs whose only
        signal augmentation is a Lorentzian
        :class:`~mrs_lib.synth.augment.Linewidth`, clean spectra from a
        Chebyshev expansion in the linewidth
        (:class:`~mrs_lib.synth.plan.LorentzianExpansion`, error below
        :data:`~mrs_lib.synth.plan.EXPANSION_TOL` of the peak).
    """

    name: str = "paper"
    prior: ConcentrationPrior = field(default_factory=ConcentrationPrior)
    base_lw_hz: float = 2.0
    augmentations: tuple[Augmentation, ...] = (Linewidth(), Noise())
    grids: tuple[tuple[float, int], ...] | None = None
    channels: tuple[str, ...] = DEFAULT_CHANNELS
    ppm_range: tuple[float, float] = NETWORK_PPM_RANGE
    n_points: int = NETWORK_POINTS
    keep_clean: bool = True
    exact: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", check_channels(self.channels))
        object.__setattr__(self, "augmentations", tuple(self.augmentations))
        for a in self.augmentations:
            if not isinstance(a, Augmentation):
                raise MRSDataError(
                    f"field 'augmentations': expected Augmentation objects, got {a!r}"
                )
        if sum(isinstance(a, Noise) for a in self.augmentations) > 1:
            raise MRSDataError("field 'augmentations': at most one Noise")
        if self.grids is not None:
            grids = tuple((float(bw), int(n)) for bw, n in self.grids)
            if not grids:
                raise MRSDataError("field 'grids': expected at least one (bw_hz, n_points) or None")
            object.__setattr__(self, "grids", grids)
        object.__setattr__(self, "ppm_range", (float(self.ppm_range[0]), float(self.ppm_range[1])))

    @property
    def noise(self) -> Noise | None:
        return next((a for a in self.augmentations if isinstance(a, Noise)), None)

    def replace(self, **changes: Any) -> SynthConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (provenance sidecars, CLI)."""
        return {
            "name": self.name,
            "prior": self.prior.kind,
            "base_lw_hz": self.base_lw_hz,
            "augmentations": [a.to_dict() for a in self.augmentations],
            "grids": None if self.grids is None else [list(g) for g in self.grids],
            "channels": list(self.channels),
            "ppm_range": list(self.ppm_range),
            "n_points": self.n_points,
            "keep_clean": self.keep_clean,
            "exact": self.exact,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SynthConfig:
        return cls(
            name=str(d["name"]),
            prior=ConcentrationPrior(d.get("prior", "sobol")),
            base_lw_hz=float(d.get("base_lw_hz", 2.0)),
            augmentations=tuple(augmentation_from_dict(a) for a in d.get("augmentations", [])),
            grids=None if d.get("grids") is None else tuple(tuple(g) for g in d["grids"]),
            channels=tuple(d.get("channels", DEFAULT_CHANNELS)),
            ppm_range=tuple(d.get("ppm_range", NETWORK_PPM_RANGE)),
            n_points=int(d.get("n_points", NETWORK_POINTS)),
            keep_clean=bool(d.get("keep_clean", True)),
            exact=bool(d.get("exact", False)),
        )

    @classmethod
    def preset(cls, name: str, **changes: Any) -> SynthConfig:
        """A named preset (:data:`PRESETS`), optionally with fields replaced."""
        if name not in PRESETS:
            raise MRSDataError(f"synthesis preset {name!r}: expected one of {sorted(PRESETS)}")
        return PRESETS[name]().replace(**changes) if changes else PRESETS[name]()


def _paper() -> SynthConfig:
    """The paper: Sobol concentrations, 2 Hz basis line + Lorentzian U(0, 8) Hz.

    Relative noise U(0, 0.03).
    """
    return SynthConfig(
        name="paper", augmentations=(Linewidth((0.0, 8.0)), Noise("relative", (0.0, 0.03)))
    )


def _paper_no_lw() -> SynthConfig:
    """The paper before linewidth augmentation: 2 Hz basis line only, relative noise."""
    return SynthConfig(name="paper-no-lw", augmentations=(Noise("relative", (0.0, 0.03)),))


def _full() -> SynthConfig:
    """Every augmentation of :mod:`mrs_lib.synth.augment` with its documented ranges.

    Acquisition grids 1250/2000/4000 Hz with 1024-4096 points; grids that the
    basis cannot provide by exact decimation are skipped (listed in
    ``Synthesizer.skipped_grids``): a 2000 Hz basis gives only the 2000 Hz
    grids, a 20 kHz basis of >= 1.024 s gives all five.
    """
    return SynthConfig(
        name="full",
        augmentations=(
            MetaboliteLinewidth((0.0, 2.0)),
            MetaboliteShift((-1.0, 1.0)),
            Macromolecules(),
            ResidualWater(),
            Linewidth((0.0, 8.0), (0.0, 6.0)),
            FrequencyShift((-20.0, 20.0)),
            ZeroOrderPhase((-90.0, 90.0)),
            EddyCurrent(),
            FirstOrderPhase(),
            Baseline(),
            Noise("relative", (0.0, 0.03)),
        ),
        grids=((1250.0, 1024), (2000.0, 1024), (2000.0, 2048), (4000.0, 2048), (4000.0, 4096)),
    )


def _robust() -> SynthConfig:
    """``full`` plus T2 and editing efficiency per metabolite and ON/OFF mismatch (chapter 7).

    The sample and sequence effects of :mod:`mrs_lib.synth.augment_sample`:
    :class:`~mrs_lib.synth.augment_sample.T2Relaxation` (100-500 ms),
    :class:`~mrs_lib.synth.augment_sample.EditingEfficiency` (0.8-1.05) and
    :class:`~mrs_lib.synth.augment_sample.OnOffMismatch` (+-2 Hz, +-5 degrees,
    after the additive signals so that it moves them too). Meant for a list of
    bases (``synthesize(..., basis="bank")``: the variants of
    :func:`mrs_lib.sim.variants.build_bank`, one drawn per spectrum).
    """
    full = _full()
    augs = list(full.augmentations)
    first_time = next(i for i, a in enumerate(augs) if a.stage == "time")
    augs.insert(first_time, OnOffMismatch())
    augs[:0] = [T2Relaxation(), EditingEfficiency()]
    return full.replace(name="robust", augmentations=tuple(augs))


#: Frequency and zero-order phase left after the preprocessing route of chapter 7
#: (Cr/NAA referencing, zero-order phase from the OFF): referencing recovers
#: simulated offsets within 0.2 Hz and the phase within a few degrees, so these
#: ranges cover its errors with a margin; they were set from that, not from any
#: test bench.
RESIDUAL_SHIFT_HZ: tuple[float, float] = (-2.0, 2.0)
RESIDUAL_PHASE_DEG: tuple[float, float] = (-10.0, 10.0)
#: Residual water after the route's HLSVD removal, as a fraction of the largest FID value
#: (log-uniform): an assumed margin around a removal that leaves little, not a measurement.
RESIDUAL_WATER_LEVEL: tuple[float, float] = (0.001, 0.05)


def _robust_ref() -> SynthConfig:
    """``robust`` made identifiable, for a network behind the preprocessing route (chapter 7).

    Three changes to :func:`_robust`, each for a reason measured on the
    randomised validation data, never on a test bench:

    * the frequency offset and zero-order phase only as large as what the
      frequency referencing and phasing of ``ref+<network>`` leave
      (:data:`RESIDUAL_SHIFT_HZ`, :data:`RESIDUAL_PHASE_DEG`) instead of
      +-20 Hz and +-90 degrees: the network spends its capacity on what
      preprocessing cannot undo;
    * T2 only as the decay during the readout (``exp(-t / T2)``, a broadening
      of ``1 / (pi T2)`` Hz per metabolite), without the loss ``exp(-TE / T2)``
      at the echo time;
    * no per-metabolite editing efficiency;
    * residual water only as large as what the route's HLSVD water removal
      leaves (:data:`RESIDUAL_WATER_LEVEL`), not the unsuppressed 5-500 %.

    The last two scale a metabolite's signal by a factor drawn independently
    of its concentration (0.51-0.87 at TE 68 ms for T2 100-500 ms; 0.8-1.05 on
    the DIFF) that nothing in the spectrum reveals: a ``concentration`` times
    ``0.7`` looks exactly like ``0.7 concentration``. Trained with them, the
    best a network can do is the conditional mean, and its validation GABA
    MAE stalls at the spread of the factor (0.10-0.11 with ``robust``,
    against 0.01 in-distribution). Like every linear-combination fit, the
    network now reports the signal's apparent concentration, which
    relaxation correction with literature T2s turns into a concentration.
    """
    robust = _robust()
    augs: list[Augmentation] = []
    for a in robust.augmentations:
        if isinstance(a, FrequencyShift):
            augs.append(FrequencyShift(RESIDUAL_SHIFT_HZ))
        elif isinstance(a, ZeroOrderPhase):
            augs.append(ZeroOrderPhase(RESIDUAL_PHASE_DEG))
        elif isinstance(a, T2Relaxation):
            augs.append(dataclasses.replace(a, te_ms=0.0))
        elif isinstance(a, ResidualWater):
            augs.append(dataclasses.replace(a, level=RESIDUAL_WATER_LEVEL))
        elif not isinstance(a, EditingEfficiency):
            augs.append(a)
    return robust.replace(name="robust-ref", augmentations=tuple(augs))


PRESETS = {
    "paper": _paper,
    "paper-no-lw": _paper_no_lw,
    "full": _full,
    "robust": _robust,
    "robust-ref": _robust_ref,
}


def as_config(config: SynthConfig | str) -> SynthConfig:
    """``config`` itself, or the preset of that name (:meth:`SynthConfig.preset`)."""
    return SynthConfig.preset(config) if isinstance(config, str) else config


__all__ = [
    "INVIVO_MM",
    "PHANTOM_MM",
    "PRESETS",
    "RESIDUAL_PHASE_DEG",
    "RESIDUAL_SHIFT_HZ",
    "RESIDUAL_WATER_LEVEL",
    "ConcentrationPrior",
    "PriorKind",
    "SynthConfig",
    "as_config",
    "sobol_points",
]

"""The bench's imperfections: their ranges, the three levels and one-at-a-time variants.

Every imperfection is a *factor* that is either on or off; :class:`BenchConditions`
is a set of factors plus the ranges they draw from (:class:`BenchRanges`).

Level (a), the basis mismatch alone: the source's 2 Hz lines, NAA SNR 1000,
its own acquisition (2000 Hz, 2048 points), nothing else.

Level (b) adds the acquisition imperfections (:data:`ACQUISITION_FACTORS`):

``linewidth``
    Voigt lines: solution phantoms 1.5-4 Hz Lorentzian (total, the 2 Hz of the
    basis included; below 2 Hz the basis line is narrowed), gel phantoms
    3-6 Hz Lorentzian plus 3-6 Hz Gaussian (:ref:`physics-beyond`: solutions
    1-4 Hz, gels broader);
``offset``
    a frequency offset of +-3 Hz (referencing error);
``phase``
    a zero-order phase of +-10 degrees (the paper's phantoms were not phased);
``water``
    residual water, :class:`~mrs_lib.synth.augment.ResidualWater`'s ranges;
``noise``
    SNR 40-200 instead of 1000 (SNR as defined by
    :class:`~mrs_lib.synth.augment.Noise`: the tallest edit-OFF line, NAA, over
    the real-part noise SD on the spectrum);
``bandwidth``
    each series' acquisition: 1250 Hz and 2048 points for E1, 2000 Hz and
    4096 points for the others (:data:`mrs_lib.validation.SERIES_ACQUISITION`).

Level (c) adds the sample and sequence effects (:data:`SAMPLE_FACTORS`):

``t2``
    one T2 per metabolite and series (solution 300-600 ms, gel 200-400 ms;
    phantom T2s are longer than in vivo, gels shorter than solutions): the
    signal is attenuated by ``exp(-TE / T2)`` at TE 68 ms (a 0.71-0.89 scale,
    different per metabolite, which no method here corrects) and each line
    broadened by ``1 / (pi T2)`` Hz;
``editing``
    editing efficiency 0.8-1.05 per metabolite and scan: the edited part
    ``ON - OFF`` of each metabolite is scaled, ``ON' = OFF + e (ON - OFF)``;
``mismatch``
    ON against OFF: frequency +-0.5 Hz and phase +-4 degrees (half each way),
    what is left after frequency-and-phase correction of interleaved scans;
``baseline``
    three broad Gaussian humps (FWHM 0.4-2 ppm) with centres in 1.0-4.5 ppm,
    at up to 20 % of the tallest OFF line, random phase; ON gets the OFF humps
    plus 20 % of an independent set (:class:`~mrs_lib.synth.augment.Baseline`'s
    ranges; the humps are rendered in the time domain as Gaussian lines);
``eddy``
    an eddy-current phase, a decaying frequency offset of +-2 Hz with a time
    constant of 10-50 ms (:class:`~mrs_lib.synth.augment.EddyCurrent`).

Which Swansea series are gels is not published; :data:`GEL_SERIES` assumes E4a-d.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import MRSDataError

ACQUISITION_FACTORS: tuple[str, ...] = (
    "offset",
    "phase",
    "linewidth",
    "noise",
    "water",
    "bandwidth",
)
SAMPLE_FACTORS: tuple[str, ...] = ("t2", "editing", "mismatch", "baseline", "eddy")
FACTORS: tuple[str, ...] = ACQUISITION_FACTORS + SAMPLE_FACTORS
"""Every imperfection the bench can add, in the order of the decomposition."""

LEVELS: dict[str, tuple[str, ...]] = {
    "a": (),
    "b": ACQUISITION_FACTORS,
    "c": FACTORS,
}
"""The factors of each level: (a) the basis mismatch only, (b) + acquisition, (c) + sample."""

LEVEL_TITLES: dict[str, str] = {
    "a": "basis mismatch only (2 Hz lines, NAA SNR 1000)",
    "b": "+ acquisition (Voigt lines, offset, phase, water, SNR 40-200, bandwidths)",
    "c": "+ sample and sequence (T2, editing efficiency, ON/OFF mismatch, baseline, eddy)",
}

#: Series assumed to be gel phantoms (broader, Voigt lines; shorter T2).
GEL_SERIES: tuple[str, ...] = ("E4a", "E4b", "E4c", "E4d")


def _pair(name: str, value: Iterable[float]) -> tuple[float, float]:
    lo, hi = (float(v) for v in value)
    if not lo <= hi:
        raise MRSDataError(f"field '{name}': expected a range (low, high) with low <= high")
    return (lo, hi)


@dataclass(frozen=True)
class BenchRanges:
    """The ranges the factors draw from (uniform unless noted; see the module docstring)."""

    snr_clean: tuple[float, float] = (1000.0, 1000.0)
    snr: tuple[float, float] = (40.0, 200.0)
    solution_lorentzian_hz: tuple[float, float] = (1.5, 4.0)
    solution_gaussian_hz: tuple[float, float] = (0.0, 0.0)
    gel_lorentzian_hz: tuple[float, float] = (3.0, 6.0)
    gel_gaussian_hz: tuple[float, float] = (3.0, 6.0)
    offset_hz: tuple[float, float] = (-3.0, 3.0)
    phase_deg: tuple[float, float] = (-10.0, 10.0)
    water_level: tuple[float, float] = (0.05, 5.0)
    solution_t2_ms: tuple[float, float] = (300.0, 600.0)
    gel_t2_ms: tuple[float, float] = (200.0, 400.0)
    editing_efficiency: tuple[float, float] = (0.8, 1.05)
    mismatch_hz: tuple[float, float] = (-0.5, 0.5)
    mismatch_deg: tuple[float, float] = (-4.0, 4.0)
    baseline_level: tuple[float, float] = (0.0, 0.2)
    baseline_fwhm_ppm: tuple[float, float] = (0.4, 2.0)
    eddy_hz: tuple[float, float] = (-2.0, 2.0)
    eddy_tau_s: tuple[float, float] = (0.01, 0.05)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, _pair(f.name, getattr(self, f.name)))
        if self.snr_clean[0] <= 0 or self.snr[0] <= 0:
            raise MRSDataError("fields 'snr', 'snr_clean': expected positive SNRs")

    def replace(self, **changes: Any) -> BenchRanges:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class BenchConditions:
    """A set of active factors (:data:`FACTORS`) and the ranges they draw from.

    ``name`` labels the variant in tables: ``"a"``, ``"b"``, ``"c"`` for the
    levels, ``"a+offset"`` for one factor added to level (a), ``"b-offset"``
    for a level with factors removed.
    """

    factors: frozenset[str] = frozenset()
    ranges: BenchRanges = field(default_factory=BenchRanges)
    name: str = "custom"

    def __post_init__(self) -> None:
        unknown = sorted(set(self.factors) - set(FACTORS))
        if unknown:
            raise MRSDataError(f"bench factors {unknown}: expected some of {FACTORS}")
        object.__setattr__(self, "factors", frozenset(self.factors))

    def has(self, factor: str) -> bool:
        return factor in self.factors

    @classmethod
    def level(cls, level: str, ranges: BenchRanges | None = None) -> BenchConditions:
        """Level ``"a"``, ``"b"`` or ``"c"`` (:data:`LEVELS`)."""
        if level not in LEVELS:
            raise MRSDataError(f"bench level {level!r}: expected one of {tuple(LEVELS)}")
        return cls(frozenset(LEVELS[level]), ranges or BenchRanges(), level)

    @classmethod
    def only(cls, factor: str, ranges: BenchRanges | None = None) -> BenchConditions:
        """Level (a) plus the one imperfection ``factor``."""
        return cls(frozenset({factor}), ranges or BenchRanges(), f"a+{factor}")

    def without(self, *factors: str) -> BenchConditions:
        """These conditions with ``factors`` switched off (named ``"<name>-f1-f2"``)."""
        gone = [f for f in factors if f in self.factors]
        name = "-".join([self.name, *gone]) if gone else self.name
        return BenchConditions(self.factors - set(factors), self.ranges, name)


def variants(
    levels: Iterable[str] = ("a", "b", "c"),
    factors: Iterable[str] = FACTORS,
    ranges: BenchRanges | None = None,
) -> list[BenchConditions]:
    """The levels, then level (a) with each factor alone: the rows of the decomposition."""
    out = [BenchConditions.level(lv, ranges) for lv in levels]
    out += [BenchConditions.only(f, ranges) for f in factors]
    return out


__all__ = [
    "ACQUISITION_FACTORS",
    "FACTORS",
    "GEL_SERIES",
    "LEVELS",
    "LEVEL_TITLES",
    "SAMPLE_FACTORS",
    "BenchConditions",
    "BenchRanges",
    "variants",
]

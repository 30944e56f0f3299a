"""The external test bench (chapter 7): digital Swansea phantoms from another group's basis.

Chapter 5 scores the quantifiers on digital phantoms made by the same
simulator that made the networks' training data. This bench renders the
Swansea design (:func:`mrs_lib.io.phantoms.load_design`, 76 phantoms,
``repeats=2`` scans each = 152 spectra) from the external FID-A MEGA-PRESS
basis instead (:class:`~mrs_lib.bench.sources.ExternalSource`: other pulses,
other literature spin systems, 127.731 MHz) - never from the project's
simulator - at three levels of imperfection
(:mod:`mrs_lib.bench.conditions`): (a) the basis mismatch alone, (b) plus
acquisition imperfections, (c) plus sample and sequence effects; the truth
is the design's concentrations.

**The FID-A basis is a test set, never training data**: nothing may be
trained on it, and it must not be used to pick training settings beyond
reporting the bench's numbers.

:func:`~mrs_lib.bench.gap.decompose` scores every quantifier at each level
and with one imperfection at a time, from the external basis and from the
project's own ``paper`` basis (same pipeline, no basis mismatch), so the
reader sees which mismatch costs what; :func:`~mrs_lib.bench.gap.plot_gap`
draws it. ``mrs validate --bench external`` (or ``own``) prints the MAE table
as JSON (:func:`~mrs_lib.bench.gap.run_bench`)::

    from mrs_lib.bench import BenchConditions, render, score_bench
    scans = render(load_design(), BenchConditions.level("c"), seed=0)
    score_bench(["cnn-cpu", "lcm"], BenchConditions.level("a")).mae()

Test-time ingredients around a network (:mod:`~mrs_lib.bench.ingredients`:
``ref+<net>`` referencing and phasing first, ``hybrid+<net>`` the LCModel-style
fit with the network as a prior, ``tta+<net>`` the physics decoder of
:mod:`~mrs_lib.bench.decoder` adapted per spectrum) are method names like any
other; :func:`~mrs_lib.bench.ablation.ablation` tabulates what each buys on the
bench and costs in distribution, :func:`~mrs_lib.bench.ablation.plot_ablation`
draws it.
"""

from .ablation import ablation, ablation_matrix, describe, in_distribution, plot_ablation
from .conditions import (
    ACQUISITION_FACTORS,
    FACTORS,
    GEL_SERIES,
    LEVEL_TITLES,
    LEVELS,
    SAMPLE_FACTORS,
    BenchConditions,
    BenchRanges,
    variants,
)
from .decoder import DecoderFit, LCDecoder, reference_offset_phase
from .gap import (
    FITTERS,
    REF_NETWORKS,
    SHIPPED_NETWORKS,
    BenchScore,
    decompose,
    default_methods,
    gap_matrix,
    make_quantifiers,
    plot_gap,
    report_table,
    run_bench,
    score_bench,
)
from .ingredients import (
    INGREDIENTS,
    DecoderQuantifier,
    HybridQuantifier,
    ReferencedQuantifier,
    make_wrapped,
    split_method,
)
from .render import render, render_series, series_acquisition
from .sources import (
    NATIVE_ACQUISITION,
    SOURCE_NAMES,
    DampedLines,
    ExternalSource,
    SimulatedSource,
    fit_damped_lines,
    fitter_bases,
    get_source,
)

__all__ = [
    "ACQUISITION_FACTORS",
    "FACTORS",
    "FITTERS",
    "GEL_SERIES",
    "INGREDIENTS",
    "LEVELS",
    "LEVEL_TITLES",
    "NATIVE_ACQUISITION",
    "REF_NETWORKS",
    "SAMPLE_FACTORS",
    "SHIPPED_NETWORKS",
    "SOURCE_NAMES",
    "BenchConditions",
    "BenchRanges",
    "BenchScore",
    "DampedLines",
    "DecoderFit",
    "DecoderQuantifier",
    "ExternalSource",
    "HybridQuantifier",
    "LCDecoder",
    "ReferencedQuantifier",
    "SimulatedSource",
    "ablation",
    "ablation_matrix",
    "decompose",
    "default_methods",
    "describe",
    "fit_damped_lines",
    "fitter_bases",
    "gap_matrix",
    "get_source",
    "in_distribution",
    "make_quantifiers",
    "make_wrapped",
    "plot_ablation",
    "plot_gap",
    "reference_offset_phase",
    "render",
    "render_series",
    "report_table",
    "run_bench",
    "score_bench",
    "series_acquisition",
    "split_method",
    "variants",
]

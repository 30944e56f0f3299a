"""One parameter at a time (mrs_lib.bench.sensitivity): sources, settings, the sweep, the views.

Oracles: a shifted GABA basis has its DIFF peak exactly ``ppm x larmor`` Hz
away and every other metabolite untouched; the nominal setting of every
parameter is level (a) of the own-basis bench, bit for bit; the editing pulse
moved leaves the OFF spectra as they were (the OFF pulse did not move); the
LCModel-style fit, which models a phase and a frequency offset, does not move
its GABA estimate when they do; every view of the widget is titled and keeps
its data inside its axes.
"""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
import pytest

mpl.use("Agg")
import matplotlib.pyplot as plt

from mrs_lib import data
from mrs_lib.bench import BenchConditions, get_source, make_quantifiers, render
from mrs_lib.bench.sensitivity import (
    PARAMETERS,
    ShiftedSource,
    parameter_conditions,
    parameter_effects,
    parameter_source,
    plot_parameter,
    sweep_parameters,
)
from mrs_lib.errors import DataRegistryError, MRSDataError
from mrs_lib.io.phantoms import load_design
from mrs_lib.widgets import explore, outside_axes


@pytest.fixture(scope="module")
def design():
    try:
        data.fetch("swansea_phantom_design_mM.csv", download=False)
    except DataRegistryError as exc:
        pytest.skip(f"external reference file unavailable: {exc}")
    return [d for d in load_design() if d.series == "E3"][-2:]


def _peak_hz(spec, centre_ppm: float) -> float:
    z = spec.zero_fill(1 << 17)
    hz, s = z.hz_axis(), z.spectrum().real
    s[np.abs(z.hz_to_ppm(hz) - centre_ppm) > 0.06] = -np.inf
    return float(hz[int(np.argmax(s))])


def test_shifted_source_moves_gaba_only() -> None:
    paper = get_source("paper")
    base = paper.basis(2000.0, 2048)
    moved = ShiftedSource(paper, "GABA", 0.02).basis(2000.0, 2048)
    g = base.index("GABA")
    for i in range(len(base)):
        if i != g:
            np.testing.assert_array_equal(moved.on.fid[i], base.on.fid[i])
            np.testing.assert_array_equal(moved.off.fid[i], base.off.fid[i])
    delta = _peak_hz(moved.diff[g], 3.0) - _peak_hz(base.diff[g], 3.0)
    assert delta == pytest.approx(0.02 * base.larmor_mhz, abs=0.02)


def test_nominal_settings_are_level_a_of_the_own_basis(design) -> None:
    reference = render(design, BenchConditions.level("a"), source="paper", seed=3, repeats=1)
    for name, par in PARAMETERS.items():
        src = parameter_source(name, par.nominal)
        scans = render(
            design, parameter_conditions(name, par.nominal), source=src, seed=3, repeats=1
        )
        for a, b in zip(scans, reference, strict=True):
            np.testing.assert_allclose(a.spectra.on.fid, b.spectra.on.fid, rtol=1e-6, atol=1e-6)
            np.testing.assert_allclose(a.spectra.off.fid, b.spectra.off.fid, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    ("name", "value", "drawn"),
    [
        ("phase", -10.0, {"phase_deg": -10.0}),
        ("offset", 3.0, {"shift_hz": 3.0}),
        ("linewidth", 5.0, {"lorentzian_hz": 5.0, "gaussian_hz": 0.0}),
    ],
)
def test_settings_are_what_the_renderer_draws(design, name: str, value: float, drawn) -> None:
    for scan in render(design, parameter_conditions(name, value), source="paper", repeats=1):
        assert {k: scan.metadata[k] for k in drawn} == pytest.approx(drawn)


def test_edit_centre_moves_the_on_pulse_only() -> None:
    near = parameter_source("edit_centre", 0.0, grid_points=5)
    far = parameter_source("edit_centre", 0.03, grid_points=5)
    assert far.preset.sequence.edit_on_ppm == pytest.approx(1.93)
    assert far.preset.sequence.edit_off_ppm == near.preset.sequence.edit_off_ppm
    b0, b1 = near.basis(2000.0, 1024), far.basis(2000.0, 1024)
    np.testing.assert_allclose(b1.off.fid, b0.off.fid, atol=1e-9)
    assert not np.allclose(b1.on.fid, b0.on.fid, atol=1e-6)
    assert parameter_source("edit_centre", 0.0) is get_source("paper")
    with pytest.raises(MRSDataError, match="source 'paper'"):
        parameter_source("edit_centre", 0.01, "fida")
    with pytest.raises(MRSDataError, match="expected one of"):
        parameter_conditions("drift", 1.0)


def test_sweep_views_and_effects(design) -> None:
    qs = make_quantifiers(["lcm", "gannet"], get_source("paper").larmor_mhz)
    values = {"phase": [-10.0, 0.0, 10.0], "offset": [0.0, 3.0], "gaba_shift": [0.0, 0.02]}
    sweep = sweep_parameters(qs, design[-1:], values)
    assert sweep.parameters == list(values) and sweep.methods == ["lcm", "gannet"]
    assert set(sweep.spectra) == {(n, v) for n, vs in values.items() for v in vs}
    effects = parameter_effects(sweep)
    assert list(effects.columns) == list(values) and list(effects.index) == ["lcm", "gannet"]
    assert (effects >= 0).all().all()
    # the fit models phase and offset: its GABA estimate stays where it was
    assert effects.loc["lcm", "phase"] < 0.01 and effects.loc["lcm", "offset"] < 0.01
    ylim = sweep.ylim()
    for name in values:
        fig = plot_parameter(sweep, name, ylim=ylim)
        try:
            assert outside_axes(fig) == []
            assert fig.get_suptitle() and all(ax.get_title() for ax in fig.axes)
        finally:
            plt.close(fig)
    widget = explore(
        lambda parameter: plot_parameter(sweep, parameter, ylim=ylim),
        {"parameter": {PARAMETERS[n].title: n for n in values}},
        precompute=True,
        inside_axes=True,
        dpi=30,
    )
    assert len(widget.views) == len(values)


def test_heldout_sources_are_seeded_variants_outside_the_bank() -> None:
    """The development sources: deterministic per k, distinct from each other and from the
    64 variants of the training bank (seed 0), named by their seed."""
    from mrs_lib.bench.sensitivity import HELDOUT_SEED, heldout_source
    from mrs_lib.sim.variants import draw_variant

    a, again, b = heldout_source(0), heldout_source(0), heldout_source(1)
    assert a.name == f"held-out variant {HELDOUT_SEED}"
    assert a.preset == again.preset and a.preset != b.preset
    bank = [np.random.default_rng(c) for c in np.random.SeedSequence(0).spawn(64)]
    assert all(a.preset != draw_variant(r).preset("paper") for r in bank)  # build_bank's draws
    assert 123.0 <= a.larmor_mhz <= 127.8

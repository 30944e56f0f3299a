"""Augmentations: each draws within its ranges, reports its parameters and does its physics."""

from __future__ import annotations

import numpy as np
import pytest

from mrs_lib.errors import MRSDataError
from mrs_lib.synth import (
    AUGMENTATIONS,
    Baseline,
    EddyCurrent,
    FirstOrderPhase,
    GridPlan,
    Macromolecules,
    Noise,
    ResidualWater,
    SynthConfig,
    SynthState,
    singlet_basis,
)
from mrs_lib.synth.augment import from_dict


@pytest.fixture(scope="module")
def plan() -> GridPlan:
    return GridPlan(singlet_basis(), base_lw_hz=3.0)


def state_for(plan: GridPlan, conc, n: int = 1) -> SynthState:
    st = SynthState(plan, np.tile(np.asarray(conc, dtype=float), (n, 1)))
    st.mix()
    return st


# parameter -> range field it is drawn from
RANGES = {
    "Linewidth": {"lorentzian_hz": "lorentzian_hz", "gaussian_hz": "gaussian_hz"},
    "MetaboliteLinewidth": {"met_lorentzian_hz": "lorentzian_hz"},
    "FrequencyShift": {"shift_hz": "shift_hz"},
    "MetaboliteShift": {"met_shift_hz": "shift_hz"},
    "ZeroOrderPhase": {"phase_deg": "phase_deg"},
    "FirstOrderPhase": {"phase1_deg_per_ppm": "deg_per_ppm"},
    "EddyCurrent": {"eddy_hz": "amplitude_hz", "eddy_tau_s": "tau_s"},
    "Macromolecules": {"mm_level": "level", "mm_ppm": "ppm", "mm_fwhm_hz": "fwhm_hz"},
    "ResidualWater": {"water_level": "level", "water_ppm": "ppm", "water_fwhm_hz": "fwhm_hz"},
    "Baseline": {"baseline_level": "level"},
    "Noise": {"noise_fraction_off": "fraction", "noise_fraction_on": "fraction"},
}


@pytest.mark.parametrize("name", sorted(AUGMENTATIONS))
def test_draw_shapes_ranges_and_roundtrip(name: str) -> None:
    aug = AUGMENTATIONS[name]()
    params = aug.draw(np.random.default_rng(0), 50)
    assert params and all(np.shape(v)[0] == 50 and np.all(np.isfinite(v)) for v in params.values())
    assert from_dict(aug.to_dict()) == aug
    for key, field in RANGES.get(name, {}).items():
        lo, hi = getattr(aug, field)
        assert np.all((params[key] >= lo) & (params[key] <= hi)), key


def test_bad_ranges_are_refused() -> None:
    with pytest.raises(MRSDataError, match="gaussian_hz"):
        from mrs_lib.synth import Linewidth

        Linewidth((0, 1), (-1, 2))
    with pytest.raises(MRSDataError, match="mode"):
        Noise("loud")  # type: ignore[arg-type]
    with pytest.raises(MRSDataError, match="augmentation type"):
        from_dict({"type": "Nope"})


def test_macromolecules_in_diff_only_with_requested_area(plan: GridPlan) -> None:
    """Oracle: MM3co adds a Gaussian at 3.0 ppm to ON only; DIFF area (fid(0)) = level x GABA DIFF
    area.
    """
    st = state_for(plan, [0, 0, 0, 0, 0], n=2)
    p = {
        "mm_level": np.array([0.5, 1.0]),
        "mm_ppm": np.array([3.0, 3.0]),
        "mm_fwhm_hz": np.array([14.0, 14.0]),
    }
    Macromolecules().apply(st, p)
    fid = st.plain_fid()
    assert np.all(fid[:, 0] == 0)
    # singlet GABA: DIFF = (1.5 - 1) x line of area 1 (per sample), so MM fid(0) = level x ~0.5
    np.testing.assert_allclose(fid[:, 1, 0].real, 0.5 * np.array([0.5, 1.0]), rtol=0.06)
    st.transform()
    k = np.argmax(np.abs(st.spec[1, 1]))
    assert abs(plan.grid_ppm[k] - 3.0) < 0.005


def test_residual_water_sits_above_the_window(plan: GridPlan) -> None:
    """Oracle: a line at 4.7 ppm peaks outside 1.0-4.5 ppm; its tail rises towards 4.5 ppm."""
    st = state_for(plan, [0, 0, 0, 0, 1.0])
    p = {
        "water_level": np.array([5.0]),
        "water_ppm": np.array([4.7]),
        "water_fwhm_hz": np.array([10.0]),
        "water_phase_deg": np.array([0.0]),
        "water_on_ratio": np.array([1.0]),
    }
    ResidualWater().apply(st, p)
    np.testing.assert_allclose(np.abs(st.water[0, 0, 0]), 5.0 * st.ref_amplitude[0, 0], rtol=1e-5)
    st.transform()
    tail = np.abs(st.spec[0, 0, -200:])
    assert np.all(np.diff(tail[100:]) > 0)


def test_eddy_current_keeps_area_and_offsets_early_frequency(plan: GridPlan) -> None:
    """Oracle: phase 2 pi df0 tau (1 - exp(-t/tau)) is 0 at t = 0 and its slope at t = 0 is 2 pi
    df0.
    """
    st = state_for(plan, [0, 0, 0, 0, 1.0])
    before = st.plain_fid()
    EddyCurrent().apply(st, {"eddy_hz": np.array([4.0]), "eddy_tau_s": np.array([0.05])})
    after = st.plain_fid()
    np.testing.assert_allclose(after[..., 0], before[..., 0], rtol=1e-6)
    dt = plan.dwell_s
    f_before = np.angle(before[0, 0, 1] / before[0, 0, 0]) / (2 * np.pi * dt)
    f_after = np.angle(after[0, 0, 1] / after[0, 0, 0]) / (2 * np.pi * dt)
    expected = 4.0 * 0.05 * (1 - np.exp(-dt / 0.05)) / dt
    assert abs((f_after - f_before) - expected) < 0.01


def test_first_order_phase_is_linear_in_ppm(plan: GridPlan) -> None:
    """Oracle: after/before = exp(i phi1 (ppm - pivot)) at every grid point."""
    st = state_for(plan, [1, 1, 1, 1, 1.0])
    st.transform()
    before = st.spec.copy()
    FirstOrderPhase(pivot_ppm=3.0).apply(st, {"phase1_deg_per_ppm": np.array([4.0])})
    ratio = st.spec[0, 0] / before[0, 0]
    np.testing.assert_allclose(np.angle(ratio), np.deg2rad(4.0 * (plan.grid_ppm - 3.0)), atol=1e-5)


def test_baseline_level_relative_to_tallest_line(plan: GridPlan) -> None:
    """The OFF baseline's max |.| is level x the tallest metabolite line; DIFF keeps <=
    diff_fraction of it.
    """
    st = state_for(plan, [1, 1, 1, 1, 1.0], n=4)
    st.transform()
    before = st.spec.copy()
    bl = Baseline()
    p = bl.draw(np.random.default_rng(1), 4)
    p["baseline_level"] = np.full(4, 0.1)
    bl.apply(st, p)
    added = st.spec - before
    np.testing.assert_allclose(np.abs(added[:, 0]).max(axis=-1), 0.1 * st.peak_off, rtol=1e-4)
    diff = np.abs(added[:, 1] - added[:, 0]).max(axis=-1)
    assert np.all(diff <= bl.diff_fraction * 0.1 * st.peak_off * (1 + 1e-4))


def test_full_preset_records_every_parameter() -> None:
    cfg = SynthConfig.preset("full")
    names = {type(a).__name__ for a in cfg.augmentations}
    assert names == set(AUGMENTATIONS)

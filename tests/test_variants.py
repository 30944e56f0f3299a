"""Basis-variant bank (mrs_lib.sim.variants) and the ``robust`` synthesis preset."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from mrs_lib.sim import simulate_basis, simulate_system
from mrs_lib.sim.variants import VariantParams, build_bank, draw_variant, variant_basis
from mrs_lib.synth import GridPlan, SynthConfig, SynthState, singlet_basis
from mrs_lib.synth.augment_sample import (
    EditingEfficiency,
    OnOffMismatch,
    T2Relaxation,
    augmentation_from_dict,
)
from mrs_lib.synth.generator import Synthesizer

GRID = 3  # positions per axis: enough for exact comparisons, fast


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MRS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MRS_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    return tmp_path


def _ideal(**changes: object) -> VariantParams:
    return dataclasses.replace(VariantParams.nominal(), refocusing="ideal", **changes)  # type: ignore[arg-type]


def _window_area(params: VariantParams, met: str, lo: float, hi: float) -> tuple[complex, complex]:
    """Sum of line amplitudes of ``met`` (OFF, DIFF) between ``lo`` and ``hi`` ppm."""
    seq = params.preset().sequence
    lines = simulate_system(params.system(met), seq, ("off", "on"))
    out = []
    for ll in (lines["off"], lines["on"]):
        ppm = seq.ppm_reference + ll.freq_hz / seq.larmor_mhz
        out.append(complex(ll.amp[(ppm > lo) & (ppm < hi)].sum()))
    return out[0], out[1] - out[0]


def test_zero_perturbation_is_the_paper_basis() -> None:
    got = variant_basis(VariantParams.nominal(), grid_points=GRID, cache=False)
    ref = simulate_basis("paper", grid_points=GRID, cache=False, progress=False)
    assert got.metabolites == ref.metabolites
    np.testing.assert_array_equal(got.on.fid, ref.on.fid)
    np.testing.assert_array_equal(got.off.fid, ref.off.fid)
    assert (got.dwell_s, got.n_points, got.on.ppm_reference) == (
        ref.dwell_s,
        ref.n_points,
        ref.on.ppm_reference,
    )
    assert got.params["variant"]["larmor_mhz"] == ref.larmor_mhz


def test_shift_moves_the_singlet_by_the_drawn_ppm() -> None:
    d = 0.015
    nom, moved = _ideal(), _ideal(shift_ppm={"NAA": [[d], [0.0] * 4]})
    seq = nom.preset().sequence
    peaks = []
    for p in (nom, moved):
        off = simulate_system(p.system("NAA"), seq, ("off",))["off"]
        near = np.abs(seq.ppm_reference + off.freq_hz / seq.larmor_mhz - 2.01) < 0.05
        peaks.append(off.freq_hz[near][np.argmax(np.abs(off.amp[near]))])
    assert peaks[1] - peaks[0] == pytest.approx(d * seq.larmor_mhz, abs=1e-6)


def test_shorter_editing_pulse_has_a_wider_inversion_band() -> None:
    # on resonance both durations edit GABA alike; 0.3 ppm off the short pulse edits far more
    on_res = [abs(_window_area(_ideal(edit_duration_ms=t), "GABA", 2.9, 3.1)[1]) for t in (14, 20)]
    assert on_res[0] == pytest.approx(on_res[1], rel=0.15)
    off_res = [
        abs(_window_area(_ideal(edit_duration_ms=t, edit_on_ppm=2.2), "GABA", 2.9, 3.1)[1])
        for t in (14, 20)
    ]
    assert off_res[0] > 1.4 * off_res[1]
    # the NAA singlet 0.11 ppm from the 1.9 ppm pulse: more of it inverted by the short pulse
    naa = [abs(_window_area(_ideal(edit_duration_ms=t), "NAA", 1.95, 2.06)[1]) for t in (14, 20)]
    assert naa[0] > naa[1]


def test_draws_stay_in_their_ranges() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        p = draw_variant(rng)
        assert abs(p.edit_on_ppm - 1.9) <= 0.03 and abs(p.edit_off_ppm - 7.4) <= 0.03
        assert 14 <= p.edit_duration_ms <= 20 and 123.0 <= p.larmor_mhz <= 127.8
        assert all(abs(x) <= 0.02 for v in p.shift_ppm.values() for part in v for x in part)
        assert all(abs(x) <= 0.5 for v in p.j_hz.values() for part in v for x in part)
        assert p.preset().sequence.te_ms == pytest.approx(68.0)
        assert p.preset().sequence.echo_offsets_ms() == pytest.approx((0.0, 0.0), abs=1e-9)


def test_bank_is_deterministic_per_seed_and_cached(cache: Path) -> None:
    cold = build_bank(3, seed=7, grid_points=GRID, workers=1)
    warm = build_bank(3, seed=7, grid_points=GRID, workers=1)
    other = build_bank(1, seed=8, grid_points=GRID, workers=1)
    assert len(cold) == 3 and cold.params == warm.params and other.params[0] != cold.params[0]
    for a, b in zip(cold.bases, warm.bases, strict=True):
        np.testing.assert_array_equal(a.on.fid, b.on.fid)
        assert a.params["variant"] == b.params["variant"]
        assert (a.n_points, a.dwell_s, a.on.ppm_reference) == (4096, 1 / 2000, 4.65)
    assert len(list((cache / "artifacts").rglob("variant-*.npz"))) == 4  # 3 + the other seed
    assert warm.build_s < 0.5 * cold.build_s


# ---------------------------------------------------------------- augmentations
@pytest.fixture(scope="module")
def plan() -> GridPlan:
    return GridPlan(singlet_basis(), base_lw_hz=0.0)


def _state(plan: GridPlan, n: int = 2) -> SynthState:
    return SynthState(plan, np.tile(np.linspace(1.0, 2.0, plan.n_metabolites), (n, 1)))


def test_editing_efficiency_scales_diff_per_metabolite(plan: GridPlan) -> None:
    ref = _state(plan)
    ref.mix()
    st = _state(plan)
    e = np.array([[0.8, 1.0, 1.05, 0.9, 1.0], [1.0, 1.0, 1.0, 1.0, 1.0]])
    EditingEfficiency().apply(st, {"edit_efficiency": e})
    st.mix()
    assert ref.fid is not None and st.fid is not None
    np.testing.assert_allclose(st.fid[:, 0], ref.fid[:, 0], atol=1e-5)  # OFF untouched
    b = plan.basis_pre_met  # [n_met, 2, T]
    want = np.einsum("nm,mt->nt", st.conc * e, b[:, 1] - b[:, 0])
    np.testing.assert_allclose(st.fid[:, 1] - st.fid[:, 0], want, atol=1e-4)


def test_t2_weights_each_metabolite(plan: GridPlan) -> None:
    ref, st = _state(plan, 1), _state(plan, 1)
    ref.mix()
    t2 = np.array([[100.0, 200.0, 300.0, 400.0, 500.0]])
    aug = T2Relaxation()
    aug.apply(st, {"t2_ms": t2})
    assert st.comp is not None
    np.testing.assert_allclose(st.comp[0, :, 0], np.exp(-68.0 / t2[0]), rtol=1e-6)
    np.testing.assert_allclose(
        st.comp[0, 2, 100] / st.comp[0, 2, 0], np.exp(-st.t[100] / 0.3), rtol=1e-5
    )


def test_onoff_mismatch_moves_on_only(plan: GridPlan) -> None:
    ref, st = _state(plan), _state(plan)
    ref.mix()
    st.mix()
    p = {"onoff_shift_hz": np.array([1.5, -2.0]), "onoff_phase_deg": np.array([4.0, -3.0])}
    OnOffMismatch().apply(st, p)
    assert ref.fid is not None and st.fid is not None
    np.testing.assert_array_equal(st.fid[:, 0], ref.fid[:, 0])
    ratio = st.fid[:, 1] / ref.fid[:, 1]
    want = np.exp(1j * (2 * np.pi * p["onoff_shift_hz"][:, None] * plan.t + np.deg2rad(4.0)))
    np.testing.assert_allclose(ratio[0], want[0], atol=2e-4)


def test_new_augmentations_roundtrip_and_draw_within_ranges() -> None:
    rng = np.random.default_rng(0)
    for aug in (T2Relaxation(), EditingEfficiency(), OnOffMismatch()):
        assert augmentation_from_dict(aug.to_dict()) == aug
        params = aug.draw(rng, 100)
        assert all(np.all(np.isfinite(v)) for v in params.values())
    e = EditingEfficiency().draw(rng, 100)["edit_efficiency"]
    assert e.min() >= 0.8 and e.max() <= 1.05
    t2 = T2Relaxation().draw(rng, 100)["t2_ms"]
    assert t2.min() >= 100 and t2.max() <= 500


def test_robust_preset_over_a_bank(cache: Path) -> None:
    bank = build_bank(2, seed=1, grid_points=GRID, workers=1)
    cfg = SynthConfig.preset("robust")
    names = [a.name for a in cfg.augmentations]
    assert names[:2] == ["T2Relaxation", "EditingEfficiency"]
    assert names.index("OnOffMismatch") > names.index("ResidualWater")
    assert SynthConfig.from_dict(cfg.to_dict()) == cfg
    syn = Synthesizer(list(bank.bases), cfg)
    batch = syn.generate(16, 0)
    assert np.all(np.isfinite(batch.x)) and batch.clean is not None
    assert np.all(np.isfinite(batch.clean))
    idx = batch.params["basis_index"]
    assert set(np.unique(idx)) <= {0, 1} and len(np.unique(idx)) == 2
    for key in ("t2_ms", "edit_efficiency", "onoff_shift_hz", "onoff_phase_deg"):
        assert np.all(np.isfinite(batch.params[key])), key
    again = Synthesizer(list(bank.bases), cfg).generate(16, 0)
    np.testing.assert_array_equal(batch.x, again.x)


def test_robust_ref_is_robust_without_the_unidentifiable_scales(plan: GridPlan) -> None:
    """``robust-ref``: residual offset, phase and water; T2 as readout decay; no editing efficiency.

    Oracle for identifiability: under its T2 augmentation every metabolite's
    FID still starts at its concentration (weight 1 at t = 0), so the amplitude
    a network must read is the label; under ``robust``'s it is scaled by
    ``exp(-TE / T2)``, which the spectrum does not reveal.
    """
    from mrs_lib.synth.augment import FrequencyShift, ResidualWater, ZeroOrderPhase
    from mrs_lib.synth.config import RESIDUAL_PHASE_DEG, RESIDUAL_SHIFT_HZ, RESIDUAL_WATER_LEVEL

    robust, ref = SynthConfig.preset("robust"), SynthConfig.preset("robust-ref")
    assert ref.name == "robust-ref"
    assert EditingEfficiency not in [type(a) for a in ref.augmentations]
    assert EditingEfficiency in [type(a) for a in robust.augmentations]
    assert len(ref.augmentations) == len(robust.augmentations) - 1
    others = [a for a in robust.augmentations if not isinstance(a, EditingEfficiency)]
    for a, b in zip(others, ref.augmentations, strict=True):
        if isinstance(a, FrequencyShift):
            assert b == FrequencyShift(RESIDUAL_SHIFT_HZ) and a.shift_hz == (-20.0, 20.0)
        elif isinstance(a, ZeroOrderPhase):
            assert b == ZeroOrderPhase(RESIDUAL_PHASE_DEG) and a.phase_deg == (-90.0, 90.0)
        elif isinstance(a, T2Relaxation):
            assert a.te_ms == 68.0 and b == T2Relaxation(a.t2_ms, 0.0, a.n_metabolites)
        elif isinstance(a, ResidualWater):
            assert b.level == RESIDUAL_WATER_LEVEL and b.level[1] <= a.level[0]  # below full
            assert dataclasses.replace(b, level=a.level) == a
        else:
            assert a == b
    assert SynthConfig.from_dict(ref.to_dict()) == ref
    t2_aug = next(a for a in ref.augmentations if isinstance(a, T2Relaxation))
    st = _state(plan, 1)
    t2 = np.array([[100.0, 200.0, 300.0, 400.0, 500.0]])
    t2_aug.apply(st, {"t2_ms": t2})
    assert st.comp is not None
    np.testing.assert_allclose(st.comp[0, :, 0], 1.0, rtol=1e-6)
    np.testing.assert_allclose(
        st.comp[0, 0, 100] / st.comp[0, 0, 0], np.exp(-st.t[100] / 0.1), rtol=1e-5
    )


def test_bank_plus_paper_draws_the_nominal_basis_for_half_the_spectra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``bank+paper``: every variant once, the nominal basis as often as all of them together."""
    import types

    import mrs_lib.sim.variants as variants_mod
    from mrs_lib.io.bases import resolve_basis
    from mrs_lib.synth.bases import BANK_PAPER_NAME, resolve_bases

    fake = (singlet_basis(), singlet_basis())
    monkeypatch.setattr(variants_mod, "build_bank", lambda: types.SimpleNamespace(bases=fake))
    bases = resolve_bases(BANK_PAPER_NAME)
    nominal = resolve_basis("paper")
    assert len(bases) == 4 and bases[0] is fake[0] and bases[1] is fake[1]
    for b in bases[2:]:
        np.testing.assert_array_equal(b.off.fid, nominal.off.fid)


def test_a_basis_listed_twice_shares_its_plan_and_draws_the_same() -> None:
    """``bank+paper`` lists one basis object many times: one plan for it, and the spectra are
    those of a list of distinct but equal bases (sharing changes nothing drawn)."""
    a, b, b_twin = singlet_basis(ppms=(3.02, 3.0, 3.7, 2.3, 2.0)), singlet_basis(), singlet_basis()
    cfg = SynthConfig.preset("paper")
    shared = Synthesizer([a, b, b], cfg)
    apart = Synthesizer([a, b, b_twin], cfg)
    assert shared.plans[1] is shared.plans[2] and shared.plans[0] is not shared.plans[1]
    assert apart.plans[1] is not apart.plans[2]
    np.testing.assert_array_equal(shared.generate(64, 3).x, apart.generate(64, 3).x)

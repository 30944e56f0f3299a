"""The external test bench (mrs_lib.bench): rendering, its imperfections, scoring, the CLI.

Oracles: every imperfection is checked against what the spectrum shows (a peak
moves by the drawn offset, a phase, a T2 decay, an editing efficiency, an
eddy-current phase are exactly the drawn ones on noiseless scans); level (a)
fitted by the LCModel-style fit with the basis that rendered it gives the truth.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mrs_lib import cli, data
from mrs_lib.bench import (
    FACTORS,
    BenchConditions,
    BenchRanges,
    decompose,
    fit_damped_lines,
    get_source,
    make_quantifiers,
    plot_gap,
    render,
    series_acquisition,
)
from mrs_lib.errors import DataRegistryError, MRSDataError
from mrs_lib.io.phantoms import PhantomDesign, load_design
from mrs_lib.synth.generator import measure_linewidth
from mrs_lib.validation import score_scans

LARMOR = 127.731
A = BenchConditions.level("a")


@pytest.fixture(scope="module", autouse=True)
def _fida_files() -> None:
    """Skip the module when the FID-A basis or the design table is not in ``$MRS_DATA_DIR``."""
    try:
        for met in ("Cr", "GABA", "Gln", "Glu", "NAA"):
            for state in ("ON", "OFF"):
                data.fetch(f"isbi-fida-megapress/{met}_{state}.mat", download=False)
        data.fetch("swansea_phantom_design_mM.csv", download=False)
    except DataRegistryError as exc:
        pytest.skip(f"external reference file unavailable: {exc}")


def phantom(series: str = "E2", **conc: float) -> list[PhantomDesign]:
    return [PhantomDesign(series, "test", conc)]


def one_scan(cond: BenchConditions, design: list[PhantomDesign], seed: int = 1, **kw):
    (scan,) = render(design, cond, seed=seed, repeats=1, noise=False, **kw)
    return scan


def peak_hz(spec, centre_ppm: float, n: int = 1 << 17, half_width_ppm: float = 0.05) -> float:
    """Frequency (Hz) of the tallest |spectrum| point near ``centre_ppm``."""
    z = spec.zero_fill(n)
    hz, s = z.hz_axis(), np.abs(z.spectrum())
    s[np.abs(z.hz_to_ppm(hz) - centre_ppm) > half_width_ppm] = 0
    return float(hz[int(np.argmax(s))])


# ---------------------------------------------------------------------------- determinism
def test_render_is_deterministic_per_seed() -> None:
    design = [d for d in load_design() if d.series in ("E1", "E3")][::7]
    cond = BenchConditions.level("c").without("bandwidth")
    one = render(design, cond, seed=3)
    two = render(design, cond, seed=3)
    other = render(design, cond, seed=4)
    assert len(one) == 2 * len(design)
    for a, b, c in zip(one, two, other, strict=True):
        assert a.scan_id == b.scan_id and a.metadata == b.metadata
        np.testing.assert_array_equal(a.spectra.off.fid, b.spectra.off.fid)
        np.testing.assert_array_equal(a.spectra.on.fid, b.spectra.on.fid)
        assert not np.allclose(a.spectra.off.fid, c.spectra.off.fid)


def test_each_factor_draws_from_its_own_stream() -> None:
    """The offset of a scan is the same at level (b), at level (c) and alone."""
    design = [d for d in load_design() if d.series == "E2"][:3]
    cond_b = BenchConditions.level("b").without("bandwidth")
    cond_c = BenchConditions.level("c").without("bandwidth")
    draws = [
        [s.metadata["shift_hz"] for s in render(design, c, seed=2, repeats=1, noise=False)]
        for c in (cond_b, cond_c, BenchConditions.only("offset"))
    ]
    assert draws[0] == draws[1] == draws[2]
    assert all(-3.0 <= v <= 3.0 for v in draws[0])


def test_conditions_name_what_they_expect() -> None:
    with pytest.raises(MRSDataError, match="expected some of"):
        BenchConditions(frozenset({"shimming"}))
    with pytest.raises(MRSDataError, match="expected one of"):
        BenchConditions.level("d")
    with pytest.raises(MRSDataError, match="low <= high"):
        BenchRanges(offset_hz=(3.0, -3.0))
    assert BenchConditions.level("c").factors == frozenset(FACTORS)
    assert BenchConditions.level("b").without("offset", "phase").name == "b-offset-phase"


# ---------------------------------------------------------------------------- sources
def test_damped_line_model_recovers_known_lines() -> None:
    """Oracle: three damped exponentials are found again and extrapolate exactly."""
    dt = 5e-4
    rate = np.array([-np.pi * 2 + 2j * np.pi * 120.0, -np.pi * 3 - 2j * np.pi * 40.0, -30 + 5j])
    amp = np.array([1.0, 0.5j, -0.2])
    t = np.arange(512) * dt
    fid = np.exp(np.outer(t, rate)) @ amp
    model = fit_damped_lines(fid, dt, pencil=100)
    t_long = np.arange(2000) * 3.3e-4
    np.testing.assert_allclose(model.fid(t_long), np.exp(np.outer(t_long, rate)) @ amp, atol=1e-9)


def test_external_source_keeps_the_files_samples() -> None:
    src = get_source("fida")
    native = src.basis(2000.0, 2048)
    long = src.basis(2000.0, 4096)
    np.testing.assert_array_equal(long.off.fid[:, :2048], native.off.fid)
    np.testing.assert_array_equal(long.on.fid[:, :2048], native.on.fid)
    e1 = src.basis(1250.0, 2048)
    assert e1.dwell_s == pytest.approx(8e-4) and e1.larmor_mhz == pytest.approx(LARMOR)
    # the model at the 1250 Hz sampling still puts the singlets where the file has them
    nat_naa = peak_hz(native.off[4], 2.008)
    assert peak_hz(e1.off[4], 2.008) == pytest.approx(nat_naa, abs=0.05)


def test_series_acquisitions() -> None:
    b = BenchConditions.level("b")
    assert series_acquisition("E1", b) == (1250.0, 2048)
    assert series_acquisition("E4a", b) == (2000.0, 4096)
    assert series_acquisition("E1", A) == (2000.0, 2048)
    (scan,) = render(phantom("E1", NAA=15.0), BenchConditions.only("bandwidth"), repeats=1)
    assert scan.spectra.off.bw_hz == pytest.approx(1250.0)


# ---------------------------------------------------------------------------- imperfections
def test_offset_is_what_the_spectrum_shows() -> None:
    design = phantom(Cr=8.0, NAA=15.0)
    base, moved = one_scan(A, design), one_scan(BenchConditions.only("offset"), design)
    drawn = moved.metadata["shift_hz"]
    for ppm in (2.008, 3.027):
        shift = peak_hz(moved.spectra.off, ppm) - peak_hz(base.spectra.off, ppm)
        assert shift == pytest.approx(drawn, abs=0.05)


def test_phase_is_what_the_spectrum_shows() -> None:
    design = phantom(NAA=15.0)
    base, turned = one_scan(A, design), one_scan(BenchConditions.only("phase"), design)
    k = int(np.argmax(np.abs(base.spectra.off.spectrum())))
    got = np.angle(turned.spectra.off.spectrum()[k] / base.spectra.off.spectrum()[k], deg=True)
    assert got == pytest.approx(turned.metadata["phase_deg"], abs=1e-3)


def test_linewidth_is_what_the_spectrum_shows() -> None:
    """Solution series: a Lorentzian of the drawn total width (the basis's 2 Hz included)."""
    scan = one_scan(BenchConditions.only("linewidth"), phantom("E1", NAA=15.0))
    spec = scan.spectra.off.zero_fill(1 << 15)
    fwhm, _, r2 = measure_linewidth(
        spec.ppm_axis(), spec.spectrum().real, 2.008, LARMOR, half_width_ppm=0.1
    )
    assert scan.metadata["gaussian_hz"] == 0.0 and r2 > 0.99
    assert fwhm == pytest.approx(scan.metadata["lorentzian_hz"], rel=0.03)
    gel = one_scan(BenchConditions.only("linewidth"), phantom("E4a", NAA=15.0))
    assert 3.0 <= gel.metadata["lorentzian_hz"] <= 6.0 and 3.0 <= gel.metadata["gaussian_hz"] <= 6


def test_t2_and_editing_efficiency_are_exact() -> None:
    """Noiseless oracles: T2 scales the FID by exp(-TE/T2) exp(-t/T2); editing scales DIFF by e."""
    design = phantom(GABA=5.0)
    base = one_scan(A, design)
    t2 = one_scan(BenchConditions.only("t2"), design)
    t2_ms = t2.metadata["t2_ms_GABA"]
    assert 300.0 <= t2_ms <= 600.0
    t = base.spectra.off.time_s()
    expect = base.spectra.off.fid * np.exp(-68.0 / t2_ms) * np.exp(-t / (t2_ms * 1e-3))
    np.testing.assert_allclose(t2.spectra.off.fid, expect, atol=2e-5 * np.abs(expect).max())
    edited = one_scan(BenchConditions.only("editing"), design)
    e = edited.metadata["edit_efficiency_GABA"]
    assert 0.8 <= e <= 1.05
    off = base.spectra.off.fid
    np.testing.assert_allclose(edited.spectra.off.fid, off, atol=1e-5 * np.abs(off).max())
    diff = base.spectra.diff.fid
    np.testing.assert_allclose(edited.spectra.diff.fid, e * diff, atol=2e-5 * np.abs(diff).max())


def test_on_off_mismatch_and_eddy_currents_are_exact() -> None:
    design = phantom(Cr=8.0)
    base = one_scan(A, design)
    t = base.spectra.off.time_s()
    mis = one_scan(BenchConditions.only("mismatch"), design)
    d_hz, d_deg = mis.metadata["mismatch_hz"], mis.metadata["mismatch_deg"]
    for state, sign in (("off", -0.5), ("on", 0.5)):
        factor = np.exp(1j * (2 * np.pi * sign * d_hz * t + np.deg2rad(sign * d_deg)))
        want = base.spectra[state].fid * factor
        np.testing.assert_allclose(mis.spectra[state].fid, want, atol=1e-4 * np.abs(want).max())
    eddy = one_scan(BenchConditions.only("eddy"), design)
    df0, tau = eddy.metadata["eddy_hz"], eddy.metadata["eddy_tau_s"]
    want = base.spectra.off.fid * np.exp(2j * np.pi * df0 * tau * (1 - np.exp(-t / tau)))
    np.testing.assert_allclose(eddy.spectra.off.fid, want, atol=1e-4 * np.abs(want).max())


def test_water_and_baseline_are_added_where_drawn() -> None:
    design = phantom(Cr=8.0, NAA=15.0)
    base = one_scan(A, design)
    wet = one_scan(BenchConditions.only("water"), design)
    water = wet.spectra.off - base.spectra.off
    assert peak_hz(water, 4.7, 1 << 15, 0.2) / LARMOR + 3.0 == pytest.approx(
        wet.metadata["water_ppm"], abs=0.005
    )
    humped = one_scan(BenchConditions.only("baseline"), design)
    hump = humped.spectra.off - base.spectra.off
    _, grid = hump.to_grid()
    level = humped.metadata["baseline_level"] * humped.metadata["peak_off"]
    assert np.abs(grid).max() == pytest.approx(level, rel=1e-3)


def test_noise_has_the_drawn_snr() -> None:
    design = [d for d in load_design() if d.series == "E2"][:4]
    cond = BenchConditions.only("noise")
    noisy = render(design, cond, seed=5, repeats=1)
    clean = render(design, cond, seed=5, repeats=1, noise=False)
    for n, c in zip(noisy, clean, strict=True):
        resid = n.spectra.off.fid - c.spectra.off.fid
        sigma = n.metadata["sigma"]
        assert 40.0 <= n.metadata["snr"] <= 200.0
        assert sigma == pytest.approx(n.metadata["peak_off"] / (n.metadata["snr"] * np.sqrt(2048)))
        assert resid.real.std() == pytest.approx(sigma, rel=0.1)


# ---------------------------------------------------------------------------- scoring
def test_level_a_truth_recovered_by_lcm_with_the_rendering_basis() -> None:
    """Oracle: the LCModel-style fit with the FID-A basis itself recovers the design."""
    design = [d for d in load_design() if d.series in ("E1", "E3")][::5]
    scans = render(design, A, seed=0, repeats=1)
    qs = make_quantifiers(["lcm"], LARMOR, fit_basis="fida")
    scores = score_scans(qs, scans)
    mae = scores.groupby("metabolite")["abs_error"].mean()
    assert (mae < 0.01).all(), mae.to_dict()


def test_decompose_table_and_plot() -> None:
    design = [d for d in load_design() if d.series == "E3"][:3]
    conds = [A, BenchConditions.only("offset")]
    table = decompose(
        ["gannet"], sources=("fida",), conditions=conds, design=design, repeats=1, fit_basis="fida"
    )
    assert set(table.columns) >= {"source", "variant", "method", "metabolite", "mae", "n_scans"}
    assert set(table["variant"]) == {"a", "a+offset"}
    assert set(table["metabolite"]) == {"Cr", "GABA"}  # the Gannet-style fit reports these
    fig = plot_gap(table, "GABA")
    assert len(fig.axes) == 2  # one heatmap and its colour bar


def test_cli_bench_prints_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    argv = ["validate", "--bench", "external", "--level", "a", "--methods", "cnn-cpu", "gannet"]
    argv += ["--fit-basis", "fida", "--series", "E3", "--repeats", "1", "--json"]
    assert cli.main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["bench"] == "external" and report["source"] == "fida"
    level = report["variants"]["a"]
    assert level["n_scans"] == 15
    assert set(level["methods"]) == {"cnn-cpu", "gannet"}
    assert set(level["methods"]["cnn-cpu"]["mae"]) == {"Cr", "GABA", "Gln", "Glu", "NAA"}
    assert set(level["methods"]["gannet"]["mae"]) == {"Cr", "GABA"}
    assert all(0.0 <= v < 1.0 for v in level["methods"]["cnn-cpu"]["mae"].values())

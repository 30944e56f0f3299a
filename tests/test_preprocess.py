"""Preprocessing of raw scans (mrs_lib.preprocess) on raw data simulated by the library.

The raw data come from :func:`mrs_lib.preprocess.simulate_raw` on the toy singlet basis
(exactly known, fast): coils with complex sensitivities and their own noise, ON/OFF
transients with a frequency drift, phase noise, motion-corrupted shots, residual water
100x NAA, lipids, eddy currents and a water reference. Everything is seeded.
"""

from __future__ import annotations

import numpy as np
import pytest

from mrs_lib.errors import MRSDataError, MRSFormatError
from mrs_lib.fit.lcm import toy_basis
from mrs_lib.preprocess import (
    RawScan,
    arrange,
    coil_weights,
    combine_coils,
    dynamic_layout,
    find_reference_shift,
    load_scan,
    preprocess,
    refine_peak_shift,
    remove_water,
    simulate_raw,
)
from mrs_lib.spectrum import Spectrum

CONC = np.array([1.0, 0.3, 0.4, 1.1, 1.3])  # Cr, GABA, Gln, Glu, NAA
CORRUPTED = (5, 20, 41)


@pytest.fixture(scope="module")
def basis():
    return toy_basis(n_points=2048)


@pytest.fixture(scope="module")
def sim(basis):
    return simulate_raw(
        basis,
        CONC,
        n_pairs=32,
        n_coils=4,
        noise=0.01,
        drift_hz=6.0,
        jitter_hz=1.0,
        phase_sd_deg=15.0,
        corrupted=CORRUPTED,
        water_ratio=100.0,
        lipid_ratio=3.0,
        offset_hz=12.0,
        eddy_deg=20.0,
        rng=7,
    )


@pytest.fixture(scope="module")
def result(sim):
    return preprocess(sim.scan, sim.water)


def test_steps_are_recorded_in_consensus_order(result):
    rec = result.record()
    assert rec["order"] == [
        "coil_combination",
        "eddy_current_correction",
        "alignment",
        "rejection",
        "averaging",
        "water_removal",
        "on_off_alignment",
        "frequency_referencing",
        "zero_order_phase",
    ]
    align = result.step("alignment").record()
    assert np.asarray(align["shift_hz"]).shape == (32, 2)
    assert result.step("coil_combination").record()["n_coils"] == 4
    import json

    json.dumps(rec)  # JSON-safe


def test_alignment_recovers_applied_shifts(sim, result):
    """Corrections = minus the applied shifts, up to one common offset: within 0.1 Hz."""
    ok = ~sim.corrupted
    for e in range(2):
        d = (result.alignment.shift_hz[:, e] + sim.shift_hz[:, e])[ok[:, e]]
        assert np.abs(d - d.mean()).max() < 0.1
        p = (result.alignment.phase_deg[:, e] + sim.phase_deg[:, e])[ok[:, e]]
        p = (p - p.mean() + 180) % 360 - 180
        assert np.abs(p).max() < 5.0


def test_rejected_shots_are_exactly_the_corrupted_ones(sim, result):
    assert np.array_equal(result.rejection.rejected, sim.corrupted)
    assert result.step("averaging").record()["n_averaged"] == [31, 30]


def test_snr_grows_as_sqrt_n(basis):
    sim = simulate_raw(basis, CONC, n_pairs=64, n_coils=1, noise=0.05, water_reference=False, rng=3)
    res = preprocess(sim.scan, reject_z=None)
    aligned = res.transients["aligned"][:, 0]
    like = sim.scan.like()
    ppm = like.ppm_axis()

    def snr(n: int) -> float:
        spec = np.fft.fftshift(np.fft.fft(aligned[:n].mean(axis=0)))
        peak = np.abs(spec[np.abs(ppm - 2.01) < 0.05]).max()
        noise = np.std(spec[(ppm > 7.0) & (ppm < 9.0)].real)
        return float(peak / noise)

    assert snr(64) / snr(16) == pytest.approx(2.0, rel=0.15)
    assert snr(16) / snr(4) == pytest.approx(2.0, rel=0.2)


def test_coil_combination_beats_the_best_single_coil(basis):
    sim = simulate_raw(basis, CONC, n_pairs=16, n_coils=6, noise=0.02, drift_hz=0.0, rng=11)
    like = sim.scan.like()
    ppm = like.ppm_axis()

    def snr(fid: np.ndarray) -> float:
        spec = np.fft.fftshift(np.fft.fft(fid.mean(axis=0)))
        noise = np.std(spec[(ppm > 7.0) & (ppm < 9.0)].real)
        return float(np.abs(spec[np.abs(ppm - 3.03) < 0.05]).max() / noise)

    off = sim.scan.fid[:, :, 0]  # (coil, transient, N); jitter only broadens, equally
    singles = [snr(off[c]) for c in range(sim.scan.n_coils)]
    for method, water in (("water", sim.water.fid), ("svd", None), ("first-point", None)):
        w = coil_weights(sim.scan.fid, method, water)
        assert snr(combine_coils(off, w)) >= max(singles)


def test_eddy_current_phase_is_recovered(sim, result):
    t = sim.scan.like().time_s()
    truth = np.deg2rad(20.0) * np.exp(-t / 0.05)
    est = result.eddy_phase
    good = t < 0.1  # the water line is above 5 % of its start there
    # known up to the water line's frequency (a linear phase; referencing takes it later)
    err = est[good] - (truth[good] - truth[0])
    err -= np.polyval(np.polyfit(t[good], err, 1), t[good])
    assert np.abs(err).max() < np.deg2rad(1.0)
    assert np.degrees(np.ptp(est[good])) > 5.0


def test_hlsvd_removes_water_100x_naa_leaving_naa_area(basis):
    naa = basis.off[basis.index("NAA")].broaden(4.0)
    t = naa.time_s()
    ppm = naa.ppm_axis()
    height = np.abs(naa.spectrum()[np.abs(ppm - 2.01) < 0.05]).max()
    water = np.exp(2j * np.pi * 0.03 * naa.larmor_mhz * t - np.pi * 8.0 * t)
    water *= 100 * height / np.abs(np.fft.fft(water)).max() * np.exp(0.7j)
    cleaned, res = remove_water(naa.fid + water, naa)
    assert res.removed.sum() >= 1

    def area(fid: np.ndarray) -> float:
        spec = np.fft.fftshift(np.fft.fft(fid))
        return float(spec[(ppm > 1.8) & (ppm < 2.2)].real.sum())

    assert area(cleaned) == pytest.approx(area(naa.fid), rel=0.01)
    assert np.abs(np.fft.fft(cleaned - naa.fid)).max() < 0.05 * height


def test_referencing_recovers_a_known_offset(basis):
    off = basis.mix(CONC).off.broaden(5.0)
    t = off.time_s()
    lipid = 5 * np.exp(2j * np.pi * (1.3 - 4.65) * off.larmor_mhz * t - np.pi * 25 * t)
    for offset in (-23.0, 7.4, 31.0):
        moved = off.shift(offset).fid + lipid
        hz = find_reference_shift(moved, off, peaks_ppm=(3.03, 2.01))  # the toy lines
        fixed = moved * np.exp(2j * np.pi * hz * t)
        hz += refine_peak_shift(fixed, off, 3.03)
        assert hz == pytest.approx(-offset, abs=0.2)


def test_final_spectra_are_referenced_and_phased(sim, result):
    off = result.spectra.off
    assert abs(refine_peak_shift(off.fid, off, 3.027)) < 0.05  # Cr CH3 put at 3.027 ppm
    assert abs(refine_peak_shift(off.fid, off, 2.01)) < 1.0  # the toy NAA line (2.01) follows
    # an averaged pair moved by 9 Hz and turned by 40 degrees comes back
    clean = sim.clean
    t = clean.off.time_s()
    turn = np.exp(2j * np.pi * 9.0 * t + np.deg2rad(40.0) * 1j)
    fid = np.stack([clean.off.fid * turn, clean.on.fid * turn])[None, None]
    res = preprocess(RawScan(fid, clean.off.dwell_s, clean.off.larmor_mhz, te_ms=68.0))
    assert res.reference_shift_hz == pytest.approx(-9.0 - 0.37, abs=0.15)  # toy Cr at 3.03
    ppm = clean.off.ppm_axis()
    band = (ppm > 1.8) & (ppm < 4.2)
    back = res.spectra.off.shift(0.37).spectrum()[band]
    assert abs(np.degrees(np.angle(np.vdot(clean.off.spectrum()[band], back)))) < 3.0


@pytest.mark.parametrize(
    "order",
    ["interleaved-off-first", "interleaved-on-first", "blocked-off-first", "blocked-on-first"],
)
def test_edit_order_detected_from_the_data(sim, order):
    dyn = dynamic_layout(sim.scan, order)  # (coil, dyn, N) as a scanner stores it
    params = dict(dwell_s=sim.scan.dwell_s, larmor_mhz=sim.scan.larmor_mhz, te_ms=68.0)
    scan = arrange(dyn, ("DIM_COIL", "DIM_DYN"), params)
    assert scan.edit_order == order
    assert np.array_equal(scan.fid, sim.scan.fid)
    forced = arrange(dyn, ("DIM_COIL", "DIM_DYN"), params, edit="none")
    assert forced.fid.shape[2] == 1


def test_nifti_round_trip_with_coils_dyn_edit(sim, tmp_path):
    path = sim.scan.save(tmp_path / "raw.nii.gz")
    back = load_scan(path)
    assert back.edit_order == "dim-off-first"
    assert np.allclose(back.fid, sim.scan.fid)
    water = load_scan(sim.water.save(tmp_path / "wref.nii.gz"), edit="none")
    assert water.fid.shape == sim.water.fid.shape


def test_bad_input_gives_clear_errors(sim, tmp_path):
    params = dict(dwell_s=sim.scan.dwell_s, larmor_mhz=sim.scan.larmor_mhz)
    noise = np.random.default_rng(0).standard_normal((2, 6, 2048)) + 0j
    with pytest.raises(MRSDataError, match="do not split into ON and OFF"):
        arrange(noise, ("DIM_COIL", "DIM_DYN"), params)
    with pytest.raises(MRSFormatError, match="DIM_USER_0"):
        arrange(noise, ("DIM_COIL", "DIM_USER_0"), params)
    with pytest.raises(MRSDataError, match="odd number"):
        arrange(noise[:, :5], ("DIM_COIL", "DIM_DYN"), params, edit="interleaved-off-first")
    with pytest.raises(MRSDataError, match="edit order"):
        arrange(noise, ("DIM_COIL", "DIM_DYN"), params, edit="sideways")
    with pytest.raises(MRSDataError, match="coils"):
        preprocess(sim.scan, RawScan(sim.water.fid[:2], **params))
    with pytest.raises(MRSFormatError, match="no such file"):
        load_scan(tmp_path / "missing.nii.gz")
    with pytest.raises(MRSDataError, match=r"RawScan\.fid"):
        RawScan(np.zeros((2, 3, 4)), **params)


def test_plots_draw_every_step(result):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mrs_lib.preprocess.plots import plot_all

    fig = plot_all(result)
    assert len(fig.axes) >= 8
    plt.close(fig)


def test_single_averaged_pair_skips_transient_steps(sim):
    avg = sim.clean
    fid = np.stack([avg.off.fid, avg.on.fid])[None, None]  # one coil, one transient
    scan = RawScan(fid, avg.off.dwell_s, avg.off.larmor_mhz, te_ms=68.0)
    res = preprocess(scan)
    assert res.step("alignment").skipped == "one transient"
    assert res.step("rejection").skipped
    assert isinstance(res.spectra.off, Spectrum)

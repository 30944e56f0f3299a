"""Synthetic-spectrum generator: physics oracles on singlet bases (chapter 2)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import curve_fit

from mrs_lib.errors import MRSDataError
from mrs_lib.sim.basis import Basis
from mrs_lib.spectrum import EditedSpectra
from mrs_lib.synth import (
    FrequencyShift,
    GridPlan,
    Linewidth,
    MetaboliteLinewidth,
    MetaboliteShift,
    Noise,
    SynthConfig,
    Synthesizer,
    SynthState,
    ZeroOrderPhase,
    generate,
    grid_transform,
    max_normalise,
    network_input,
    resample_fid,
)
from mrs_lib.synth import singlet_basis as _singlets

LARMOR = 127.731
BW = 2000.0
N = 2048
PPMS = (3.03, 3.0, 3.75, 2.35, 2.01)


def singlet_basis(n=N, bw=BW) -> Basis:
    """One unbroadened singlet per metabolite at PPMS; ON = gain x OFF (so DIFF is known)."""
    return _singlets(PPMS, n_points=n, bw_hz=bw, larmor_mhz=LARMOR)


def lorentzian(f, amp, f0, fwhm, c):
    g = fwhm / 2
    return amp * g**2 / ((f - f0) ** 2 + g**2) + c


def fit_lorentzian(hz: np.ndarray, y: np.ndarray) -> np.ndarray:
    i = int(np.argmax(y))
    p0 = [y[i], hz[i], 5.0, 0.0]
    popt, _ = curve_fit(lorentzian, hz, y, p0=p0)
    return popt


@pytest.fixture(scope="module")
def basis() -> Basis:
    return singlet_basis()


def clean_config(*augs, **kw) -> SynthConfig:
    return SynthConfig(name="test", base_lw_hz=kw.pop("base_lw_hz", 0.0), augmentations=augs, **kw)


# ---------------------------------------------------------------------------- resampling
def test_chirp_z_matches_zoom_fft(basis: Basis) -> None:
    """Oracle: scipy's ZoomFFT via Spectrum.to_grid (the DTFT on the same grid)."""
    spec = basis.off.broaden(3.0)
    _ppm, ref = spec.to_grid()
    gt = grid_transform(N, 1 / BW, LARMOR, 3.0)
    got = gt(spec.fid)
    assert np.abs(got - ref).max() < 2e-6 * np.abs(ref).max()


def test_network_input_single_and_batch(basis: Basis) -> None:
    """A single EditedSpectra (as read from a file) and a batch give the same rows.

    Either way max |OFF| = 1. Oracle for each row: its definition from the DTFT of the OFF
    and ON FIDs by scipy's ZoomFFT (ON = 0.9 x OFF here, so an ON/OFF swap changes every row).
    """
    single = EditedSpectra(off=basis.off[4].broaden(4.0), on=basis.on[4].broaden(4.0))
    x = network_input(single, ("off:real", "on:real", "diff:real", "off:imag"))
    assert x.shape == (4, 2048) and x.dtype == np.float32
    off, on = single.off.to_grid()[1], single.on.to_grid()[1]  # scipy's ZoomFFT
    scale = np.abs(off).max()
    want = np.stack([off.real, on.real, (on - off).real, off.imag]) / scale
    np.testing.assert_allclose(x, want, atol=1e-5)
    assert abs(x[1].max() - 0.9) < 1e-3  # the ON line is 0.9 x the OFF line
    batch = EditedSpectra(off=basis.off.broaden(4.0), on=basis.on.broaden(4.0))
    xb = network_input(batch)
    assert xb.shape == (5, 2, 2048)
    np.testing.assert_allclose(x[:2], xb[4], atol=1e-6)
    np.testing.assert_allclose(x[2], x[1] - x[0], atol=1e-6)
    # the OFF singlet is absorptive at zero phase, so its peak real value is max |OFF| = 1
    assert abs(x[0].max() - 1.0) < 1e-3
    with pytest.raises(MRSDataError, match="channel"):
        network_input(single, ("off:abs",))


def test_resample_fid_is_exact_decimation() -> None:
    """Oracle: sampling a line at k * dwell equals every k-th sample; other ratios are refused."""
    t = np.arange(N) / BW
    fid = np.exp(2j * np.pi * 100.0 * t - np.pi * 5 * t)
    out = resample_fid(fid, 1 / BW, 2 / BW, 1000)
    t2 = np.arange(1000) * 2 / BW
    np.testing.assert_allclose(out, np.exp(2j * np.pi * 100.0 * t2 - np.pi * 5 * t2), atol=1e-12)
    with pytest.raises(MRSDataError, match="decimation"):
        resample_fid(fid, 1 / BW, 1 / 1250.0, 1024)
    with pytest.raises(MRSDataError, match="longer"):
        resample_fid(fid, 1 / BW, 2 / BW, 2048)


# ---------------------------------------------------------------------------- physics
def test_measured_linewidth_matches_requested(basis: Basis) -> None:
    """Oracle: a Lorentzian fit of the broadened singlet has FWHM = base + drawn width
    (within 5 %).
    """
    cfg = clean_config(Linewidth((3.0, 9.0)), base_lw_hz=2.0)
    conc = np.tile([0, 0, 0, 0, 1.0], (6, 1))
    b = generate(basis, 6, np.random.default_rng(1), cfg, concentrations=conc, workers=1)
    hz = (b.ppm - 3.0) * LARMOR
    for i in range(6):
        sel = np.abs(b.ppm - 2.01) < 0.4
        fwhm = fit_lorentzian(hz[sel], b.clean[i, 0, sel])[2]
        want = 2.0 + b.params["lorentzian_hz"][i]
        assert abs(fwhm - want) < 0.05 * want, (fwhm, want)


def test_measured_noise_sd_matches_requested(basis: Basis) -> None:
    """Oracle: DTFT of white noise of SD sigma over T samples has real-part SD sigma sqrt(T)."""
    cfg = clean_config(Linewidth((4.0, 4.0)), Noise("relative", (0.02, 0.02)), base_lw_hz=2.0)
    b = generate(basis, 64, np.random.default_rng(2), cfg, workers=1)
    noise = (b.x - b.clean) * b.scale[:, None, None]
    for row, key in ((0, "sigma_off"), (1, "sigma_on")):
        measured = noise[:, row].std(axis=-1)
        expected = b.params[key] * np.sqrt(N)
        ratio = np.sqrt(np.mean(measured**2) / np.mean(expected**2))
        assert abs(ratio - 1) < 0.05, ratio
    # sigma is the requested fraction of max |FID| of the noiseless metabolite signal
    t = np.arange(N) / BW
    fid_off = b.concentrations @ basis.off.fid * np.exp(-np.pi * 2.0 * t)
    np.testing.assert_allclose(
        b.params["sigma_off"], 0.02 * np.abs(fid_off).max(axis=-1), rtol=1e-4
    )


def test_snr_mode_gives_requested_snr(basis: Basis) -> None:
    """Oracle: SNR definition (tallest OFF line / SD of real noise) measured on the output."""
    cfg = clean_config(Linewidth((5.0, 5.0)), Noise("snr", snr=(25.0, 25.0)), base_lw_hz=0.0)
    b = generate(basis, 32, np.random.default_rng(3), cfg, workers=1)
    np.testing.assert_allclose(b.snr, 25.0, rtol=1e-4)
    sel = (b.ppm > 1.8) & (b.ppm < 4.2)
    peak = b.clean[:, 0, sel].max(axis=-1) * b.scale  # absorptive singlets: real peak = |peak|
    sd = ((b.x - b.clean)[:, 0] * b.scale[:, None]).std(axis=-1)
    assert abs(np.mean(peak / sd) / 25.0 - 1) < 0.05


def test_known_shift_and_phase_recovered(basis: Basis) -> None:
    """Oracle: a shift of df moves the Lorentzian centre by df; phi0 rotates the spectrum by phi0.

    The phase is estimated as in phase correction: the angle that maximises the
    real part's integral, arg(sum spec), since an absorptive line has a real integral.
    """
    plan = GridPlan(basis, base_lw_hz=3.0)
    state = SynthState(plan, np.array([[0, 1.0, 0, 0, 0]] * 3))
    state.mix()
    FrequencyShift().apply(state, {"shift_hz": np.array([0.0, 7.3, 7.3])})
    ZeroOrderPhase().apply(state, {"phase_deg": np.array([0.0, 0.0, 37.0])})
    state.transform()
    hz = (plan.grid_ppm - 3.0) * LARMOR
    sel = np.abs(hz - 3.65) < 60
    spec = state.spec[:, 0]
    f0 = fit_lorentzian(hz[sel], spec[0].real[sel])[1]
    f1 = fit_lorentzian(hz[sel], spec[1].real[sel])[1]
    assert abs(f0) < 0.02
    assert abs((f1 - f0) - 7.3) < 0.02
    around = np.abs(hz - f1) < 60  # symmetric about the line: the dispersion integrates to ~0
    phase = [np.rad2deg(np.angle(spec[i, around].sum())) for i in (1, 2)]
    assert abs(phase[0]) < 0.5
    assert abs(phase[1] - 37.0) < 0.5
    assert abs(np.rad2deg(np.angle(np.vdot(spec[1], spec[2]))) - 37.0) < 1e-3


def test_metabolite_shift_moves_each_peak_by_its_own_amount(basis: Basis) -> None:
    """Oracle: a per-metabolite shift of +df Hz puts that singlet's Lorentzian centre at
    (ppm - 3.0) x larmor + df (higher frequency = higher ppm); the others stay put."""
    plan = GridPlan(basis, base_lw_hz=3.0)
    conc = np.array([[0, 1.0, 0, 1.0, 0]] * 2)  # singlets at 3.0 and 2.35 ppm
    state = SynthState(plan, conc)
    shifts = np.array([[0.0] * 5, [0.0, 4.1, 0.0, -6.3, 0.0]])
    MetaboliteShift((-10, 10)).apply(state, {"met_shift_hz": shifts})
    state.mix()
    state.transform()
    hz = (plan.grid_ppm - 3.0) * LARMOR
    for m, ppm in ((1, 3.0), (3, 2.35)):
        at = (ppm - 3.0) * LARMOR
        sel = np.abs(hz - at) < 40
        centres = [fit_lorentzian(hz[sel], state.spec[i, 0].real[sel])[1] for i in (0, 1)]
        assert abs(centres[0] - at) < 0.05, (m, centres)
        assert abs(centres[1] - (at + shifts[1, m])) < 0.05, (m, centres)


def test_components_sum_to_total(basis: Basis) -> None:
    """Oracle: linearity - the mixture equals the sum of single-metabolite spectra with equal
    parameters.
    """
    synth = Synthesizer(basis, clean_config(base_lw_hz=2.0))
    plan = synth.plans[0]
    rng = np.random.default_rng(4)
    conc = rng.random(5)
    augs = [
        MetaboliteLinewidth((0, 3)),
        MetaboliteShift((-2, 2)),
        Linewidth((0, 5), (0, 3)),
        FrequencyShift(),
        ZeroOrderPhase(),
    ]
    params = [a.draw(rng, 1) for a in augs]

    def spectrum(c: np.ndarray) -> np.ndarray:
        st = SynthState(plan, c[None])
        for a, p in zip(augs[:2], params[:2], strict=True):
            a.apply(st, p)
        st.mix()
        for a, p in zip(augs[2:], params[2:], strict=True):
            a.apply(st, p)
        st.transform()
        return st.spec[0]

    total = spectrum(conc)
    parts = sum(spectrum(conc * np.eye(5)[m]) for m in range(5))
    assert np.abs(total - parts).max() < 1e-5 * np.abs(total).max()


def test_area_preserved_under_broadening(basis: Basis) -> None:
    """Oracle: integral of the spectrum = N * fid(0); every lineshape factor equals 1 at t = 0."""
    plan = GridPlan(basis, base_lw_hz=0.0)
    state = SynthState(plan, np.ones((3, 5)))
    MetaboliteLinewidth((0, 4), (0, 4)).apply(
        state, MetaboliteLinewidth((0, 4), (0, 4)).draw(np.random.default_rng(5), 3)
    )
    state.mix()
    before = state.plain_fid()
    Linewidth().apply(
        state,
        {"lorentzian_hz": np.array([1.0, 5.0, 10.0]), "gaussian_hz": np.array([0.0, 4.0, 8.0])},
    )
    after = state.plain_fid()
    np.testing.assert_allclose(after[..., 0], before[..., 0], rtol=1e-6)
    area = np.fft.fft(after, axis=-1).sum(axis=-1) / N  # = fid[0] by the DFT inversion formula
    np.testing.assert_allclose(area, before[..., 0], rtol=1e-5)
    # the broader the line, the lower the peak (area fixed)
    peaks = np.abs(np.fft.fft(after[:, 0], axis=-1)).max(axis=-1)
    assert peaks[0] > peaks[1] > peaks[2]


# ---------------------------------------------------------------------------- API
def test_determinism_by_seed(basis: Basis) -> None:
    """Same seed -> identical batch, whatever the number of threads; another seed differs."""
    a = generate(basis, 300, 11, "paper", workers=1)
    b = generate(basis, 300, np.random.default_rng(11), "paper", workers=3)
    c = generate(basis, 300, 12, "paper", workers=1)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.clean, b.clean)
    np.testing.assert_array_equal(a.params["lorentzian_hz"], b.params["lorentzian_hz"])
    assert not np.allclose(a.x, c.x)


def test_fast_path_without_clean_equals_full_path(basis: Basis) -> None:
    """Z(signal) + Z(noise) = Z(signal + noise): the 2-transform path gives the same noisy input."""
    cfg = SynthConfig.preset("paper")
    a = generate(basis, 200, 5, cfg, workers=1)
    b = generate(basis, 200, 5, cfg.replace(keep_clean=False), workers=1)
    assert b.clean is None
    np.testing.assert_allclose(a.x, b.x, atol=2e-5)


def test_paper_batch_contract(basis: Basis) -> None:
    """Shapes, dtypes, targets by sum, Sobol concentrations in [0, 1), normalisation max
    |OFF| = 1.
    """
    b = generate(basis, 256, 0, "paper")
    assert b.x.shape == (256, 2, 2048) and b.x.dtype == np.float32
    assert b.clean is not None and b.clean.shape == b.x.shape
    assert b.concentrations.shape == (256, 5) and np.all(
        (b.concentrations >= 0) & (b.concentrations < 1)
    )
    np.testing.assert_allclose(b.targets.sum(axis=1), 1.0, rtol=1e-6)
    assert b.targets.dtype == np.float32
    assert set(b.params) >= {
        "lorentzian_hz",
        "noise_fraction_off",
        "noise_fraction_on",
        "sigma_off",
        "sigma_on",
    }
    assert all(len(v) == 256 for v in b.params.values())
    assert np.all(b.params["lorentzian_hz"] >= 0) and np.all(b.params["lorentzian_hz"] <= 8)
    assert np.all(np.abs(b.x[:, 0]).max(axis=-1) <= 1.0 + 1e-6)
    assert np.all(b.snr > 0)
    np.testing.assert_allclose(max_normalise(b.concentrations).max(axis=1), 1.0)


def test_presets_and_config_roundtrip(basis: Basis) -> None:
    for name in ("paper", "paper-no-lw", "full"):
        cfg = SynthConfig.preset(name)
        assert SynthConfig.from_dict(cfg.to_dict()) == cfg
    fine = singlet_basis(n=20480, bw=20000.0)  # all five grids reachable by decimation
    full = generate(fine, 64, 1, "full")
    assert full.x.shape == (64, 2, 2048)
    assert set(np.unique(full.params["grid_bw_hz"])) == {1250.0, 2000.0, 4000.0}
    assert set(np.unique(full.params["grid_n_points"])) == {1024, 2048, 4096}
    assert Synthesizer(basis, "full").skipped_grids == [
        (1250.0, 1024),
        (4000.0, 2048),
        (4000.0, 4096),
    ]
    assert np.all(np.isfinite(full.x)) and np.all(np.isfinite(full.clean))
    assert "lorentzian_hz" not in generate(basis, 8, 1, "paper-no-lw").params
    with pytest.raises(MRSDataError, match="preset"):
        SynthConfig.preset("nope")

"""LCModel-style fitter (mrs_lib.fit.lcm): known amplitudes, phases, shifts, CRLB."""

from __future__ import annotations

import numpy as np
import pytest
from lcm_helpers import QUICK, TRUE

from mrs_lib.errors import MRSDataError
from mrs_lib.fit.lcm import (
    SD_ON_BOUND,
    LCMFitter,
    bspline_design,
    combine_edited,
    fit_lcm,
    noise_sd,
    toy_basis,
)
from mrs_lib.spectrum import Spectrum


@pytest.fixture(scope="module")
def basis():
    return toy_basis()


def add_noise(s: Spectrum, rel_sigma: float, rng: np.random.Generator) -> Spectrum:
    """Complex white noise of SD ``rel_sigma * max|FID|`` per channel (the paper's definition)."""
    sigma = rel_sigma * np.abs(s.fid).max()
    noise = rng.standard_normal(s.n_points) + 1j * rng.standard_normal(s.n_points)
    return s.replace(fid=s.fid + sigma * noise)


def test_bspline_design_is_a_partition_of_unity():
    """Cubic B-splines on uniform knots sum to 1 on the covered interval (de Boor)."""
    x = np.linspace(0.2, 4.0, 500)
    b = bspline_design(x, 0.15)
    assert np.allclose(b.sum(axis=1), 1.0)
    assert b.shape[1] == int(np.ceil(3.8 / 0.15)) + 3


def test_noiseless_amplitudes_recovered(basis):
    """Oracle: data = sum_j c_j basis_j broadened by 3 Hz; the fit returns c exactly."""
    data = basis.mix(TRUE).off.broaden(3.0)
    fit = LCMFitter(basis, "off").fit(data)
    assert np.allclose(fit.concentrations, TRUE, rtol=2e-3)
    # Common and per-metabolite Lorentzians add up to the applied 3 Hz
    # (no prior pull without noise).
    assert np.allclose(fit.lorentzian_hz + fit.damping_hz, 3.0, atol=0.05)
    assert fit.gaussian_hz < 0.5
    assert np.allclose(fit.data, fit.fit, atol=1e-3 * np.abs(fit.data).max())


def test_noiseless_fida_basis(data_file):
    """Same oracle on the real FID-A MEGA-PRESS basis (multiplets, J-evolution at TE 68)."""
    data_file("isbi-fida-megapress/GABA_ON.mat")
    from mrs_lib.sim import load_fida_reference

    fida = load_fida_reference()
    data = fida.mix(TRUE).off.broaden(2.0)
    fit = LCMFitter(fida, "off", **QUICK).fit(data)
    assert np.allclose(fit.concentrations, TRUE, rtol=5e-3)


def test_noisy_amplitudes_within_crlb(basis, rng):
    """Oracle: seeded noise; every estimate lies within 4 Cramér-Rao SDs of the truth."""
    data = add_noise(basis.mix(TRUE).off.broaden(3.0), 0.01, rng)
    fit = LCMFitter(basis, "off").fit(data)
    sd = fit.sd_percent / 100 * fit.concentrations
    assert np.all(np.abs(fit.concentrations - TRUE) < 4 * sd)
    assert np.all(fit.sd_percent < 20)


def test_sd_percent_proportional_to_noise(basis, rng):
    """CRLB = sigma * sqrt(diag(J^T J)^-1): doubling the same noise doubles the %SD."""
    clean = basis.mix(TRUE).off.broaden(3.0)
    noise = rng.standard_normal(clean.n_points) + 1j * rng.standard_normal(clean.n_points)
    fitter = LCMFitter(basis, "off", **QUICK)
    scale = 0.005 * np.abs(clean.fid).max()
    sds = [fitter.fit(clean.replace(fid=clean.fid + k * scale * noise)).sd_percent for k in (1, 2)]
    assert np.allclose(sds[1] / sds[0], 2.0, rtol=0.15)


@pytest.mark.slow
def test_crlb_matches_scatter_over_noise_draws(basis):
    """Oracle: the empirical SD of each concentration over 200 seeded noise realisations of
    one spectrum. The CRLB matches it within 15 % per metabolite and 10 % on average (the
    sampling error of an SD from 200 draws is ~5 %), so a CRLB off by sqrt(2) fails."""
    clean = basis.mix(TRUE).off.broaden(3.0)
    fitter = LCMFitter(basis, "off", **QUICK)
    rng = np.random.default_rng(7)
    est, crlb = [], []
    for _ in range(200):
        fit = fitter.fit(add_noise(clean, 0.01, rng))
        est.append(fit.concentrations)
        crlb.append(fit.sd_percent / 100 * fit.concentrations)
    ratio = np.std(est, axis=0, ddof=1) / np.mean(crlb, axis=0)
    assert np.all(np.abs(ratio - 1) < 0.15), ratio
    assert abs(np.mean(ratio) - 1) < 0.10, ratio


def test_phase_and_shift_recovered(basis):
    """Oracle: Spectrum.phase(phi0, phi1, pivot) and .shift(ppm) applied to the data come back."""
    fitter = LCMFitter(basis, "off")
    data = basis.mix(TRUE).off.broaden(4.0).shift(ppm=0.03).phase(40.0, 5.0, pivot_ppm=2.1)
    fit = fitter.fit(data)
    assert fit.pivot_ppm == pytest.approx(2.1)
    assert fit.phase0_deg == pytest.approx(40.0, abs=0.5)
    assert fit.phase1_deg_per_ppm == pytest.approx(5.0, abs=0.5)
    assert fit.shift_ppm + np.mean(fit.shifts_ppm) == pytest.approx(0.03, abs=1e-3)
    assert np.allclose(fit.concentrations, TRUE, rtol=1e-2)


def test_large_phase_found_by_the_start_grid(basis):
    """A 150 degree phase error is outside a local optimiser's reach; the start grid finds it."""
    data = basis.mix(TRUE).off.broaden(3.0).phase(150.0)
    fit = LCMFitter(basis, "off").fit(data)
    assert fit.phase0_deg == pytest.approx(150.0, abs=1.0)
    assert np.allclose(fit.concentrations, TRUE, rtol=1e-2)


def test_baseline_absorbed_by_splines(basis):
    """A broad (150 Hz) hump under the metabolites goes into the spline baseline, not into C_j."""
    data = basis.mix(TRUE).off.broaden(3.0)
    t = data.time_s()
    hump = 3.0 * np.exp(2j * np.pi * (2.5 - 4.65) * data.larmor_mhz * t - np.pi * 150.0 * t)
    fit = LCMFitter(basis, "off").fit(data.replace(fid=data.fid + hump))
    assert np.allclose(fit.concentrations, TRUE, rtol=0.03)
    h = data.replace(fid=hump).zero_fill(2 * data.n_points)
    truth = np.interp(fit.ppm, h.ppm_axis(), h.spectrum().real)
    assert np.max(np.abs(fit.baseline - truth)) < 0.2 * truth.max()


def test_diff_mode_mirrors_mega_press_3(basis):
    """DIFF mode: 1.95-4.2 ppm, no baseline; Cr (absent from the DIFF) sits on its bound (999)."""
    data = basis.mix(TRUE).diff.broaden(3.0)
    fit = fit_lcm(data, basis)  # mode from data.edit == "diff"
    assert fit.mode == "diff"
    assert fit.ppm.min() >= 1.95 and fit.ppm.max() <= 4.2
    assert np.all(fit.baseline == 0)
    assert fit.sd_percent[0] == SD_ON_BOUND
    assert fit.concentrations[1] == pytest.approx(TRUE[1], rel=1e-2)  # GABA


def test_absent_metabolite_on_bound(basis):
    """A metabolite absent from the data gets C = 0 and %SD = 999 (LCModel's convention)."""
    c = TRUE.copy()
    c[2] = 0.0  # Gln
    fit = LCMFitter(basis, "off").fit(basis.mix(c).off.broaden(3.0))
    assert fit.concentrations[2] < 1e-3
    assert fit.sd_percent[2] == SD_ON_BOUND or fit.sd_percent[2] > 100


def test_combine_edited_takes_gaba_from_diff(basis):
    """Edited quantification: GABA from the DIFF fit, the others from the OFF fit."""
    spectra = basis.mix(TRUE).map(lambda s: s.broaden(3.0))
    off = LCMFitter(basis, "off", **QUICK).fit(spectra.off)
    dif = LCMFitter(basis, "diff", **QUICK).fit(spectra.diff)
    conc, sd = combine_edited(off, dif)
    assert conc[1] == dif.concentrations[1] and sd[1] == dif.sd_percent[1]
    assert conc[0] == off.concentrations[0]
    assert np.allclose(conc, TRUE, rtol=1e-2)


def test_batch_and_reference_handling(basis):
    """fit_many fits each spectrum; a basis on another ppm reference is re-referenced."""
    spectra = basis.mix(np.stack([TRUE, 2 * TRUE])).off.broaden(3.0)
    fits = fit_lcm(spectra, basis, "off", **QUICK)
    assert len(fits) == 2
    assert np.allclose(fits[1].concentrations, 2 * TRUE, rtol=5e-3)
    # The same lines described with the receiver at 3.0 ppm instead of 4.65 ppm.
    moved = basis.map(lambda s: s.shift(ppm=4.65 - 3.0).replace(ppm_reference=3.0))
    fit = LCMFitter(moved, "off", **QUICK).fit(spectra[0])
    assert np.allclose(fit.concentrations, TRUE, rtol=5e-3)


def test_bad_input_raises(basis):
    """Mismatched dwell time and batch input to fit() are clear errors."""
    data = basis.mix(TRUE).off
    with pytest.raises(MRSDataError, match="dwell_s"):
        LCMFitter(basis, "off").fit(data.replace(dwell_s=data.dwell_s * 2))
    with pytest.raises(MRSDataError, match="single spectrum"):
        LCMFitter(basis, "off").fit(basis.mix(np.stack([TRUE, TRUE])).off)
    with pytest.raises(MRSDataError, match="mode"):
        LCMFitter(basis, "sum")  # type: ignore[arg-type]


def test_noise_sd_estimate(rng):
    """Noise SD of the real zero-filled spectrum: sigma_t * sqrt(N) for white complex noise."""
    n, sigma = 2048, 0.1
    noise = sigma * (rng.standard_normal(n) + 1j * rng.standard_normal(n))
    s = Spectrum(noise, dwell_s=1 / 2000, larmor_mhz=123.2)
    assert noise_sd(s) == pytest.approx(sigma * np.sqrt(n), rel=0.1)


def test_auto_baseline_stiffness(basis, rng):
    """F-test choice of the baseline stiffness.

    No baseline in the data -> the stiffest spline; an 80 Hz hump -> a flexible one.
    """
    clean = basis.mix(TRUE).off.broaden(3.0)
    t = clean.time_s()
    hump = 3.0 * np.exp(2j * np.pi * (2.5 - 4.65) * clean.larmor_mhz * t - np.pi * 80.0 * t)
    fitter = LCMFitter(basis, "off", **QUICK)
    flat = fitter.fit(add_noise(clean, 0.005, rng))
    bumpy = fitter.fit(add_noise(clean.replace(fid=clean.fid + hump), 0.005, rng))
    assert flat.extra["baseline_lambda"] >= 100
    assert bumpy.extra["baseline_lambda"] <= 1
    assert abs(bumpy.concentrations[2] / TRUE[2] - 1) < 0.1  # Gln sits on the hump


def test_plot_fit_draws_data_fit_and_residual(basis):
    """plot_fit: a line each for data, fit, residual, every non-zero component; ppm high to low."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mrs_lib.fit.lcm import plot_fit

    fit = LCMFitter(basis, "diff", **QUICK).fit(basis.mix(TRUE).diff.broaden(3.0))
    ax = plot_fit(fit)
    labels = [line.get_label() for line in ax.get_lines()]
    assert {"data", "fit", "residual", "GABA"} <= set(labels) and "baseline" not in labels
    assert ax.get_xlim()[0] > ax.get_xlim()[1]
    plt.close(ax.figure)


@pytest.fixture(scope="module")
def lines():
    """Line lists of the paper's sequence with ideal refocusing (fast), and that preset."""
    from mrs_lib.sim.basis import simulate_lines
    from mrs_lib.sim.presets import get_preset

    pre = get_preset("paper", refocusing="ideal")
    return simulate_lines(pre, cache=False, progress=False), pre


def test_basis_resampled_to_another_bandwidth(lines):
    """Oracle: spectra sampled at 1250 Hz from the same line lists as a 2000 Hz basis are
    fitted with that basis (resampled as LCModel does) and give back the concentrations."""
    from mrs_lib.sim.basis import basis_from_lines

    lists, pre = lines
    basis = basis_from_lines(lists, pre, n_points=2048, lw_hz=2.0)  # 2000 Hz, 1.02 s
    scan = basis_from_lines(lists, pre.replace(bw_hz=1250.0), n_points=1024, lw_hz=2.0)
    data = scan.mix(TRUE).map(lambda s: s.broaden(1.0))  # 1250 Hz, 0.82 s, 3 Hz lines
    off = LCMFitter(basis, "off", **QUICK).fit(data.off)
    dif = LCMFitter(basis, "diff", **QUICK).fit(data.diff)
    assert np.allclose(off.concentrations, TRUE, rtol=2e-3)
    assert dif.concentrations[1] == pytest.approx(TRUE[1], rel=2e-3)  # GABA
    # The fit is on the data's grid: its zero-filled 1250 Hz spectrum.
    assert np.diff(off.ppm).mean() == pytest.approx(1250.0 / 2048 / pre.sequence.larmor_mhz)


def test_basis_resampled_to_another_field(lines):
    """Oracle: LCModel keeps each basis line at its ppm for data at another field (couplings
    scale with it); data whose lines sit at the same ppm at 1.0365x the field (127.73 MHz
    against 123.23) are fitted with the basis and give back the concentrations."""
    from mrs_lib.sim.basis import basis_from_lines
    from mrs_lib.sim.sequence import LineList

    lists, pre = lines
    r = 127.73 / pre.sequence.larmor_mhz
    basis = basis_from_lines(lists, pre, n_points=2048, lw_hz=2.0)
    moved = {
        met: {m: LineList(ll.freq_hz * r, ll.amp) for m, ll in by_state.items()}
        for met, by_state in lists.items()
    }
    scan = basis_from_lines(moved, pre.replace(larmor_mhz=127.73), n_points=1024, lw_hz=3.0)
    data = scan.mix(TRUE)
    off = LCMFitter(basis, "off", **QUICK).fit(data.off)
    assert np.allclose(off.concentrations, TRUE, rtol=2e-3)
    with pytest.raises(MRSDataError, match="larmor_mhz"):  # LCModel stops at 20 %
        LCMFitter(basis, "off").fit(data.off.replace(larmor_mhz=1.25 * pre.sequence.larmor_mhz))


def test_kernel_size_follows_lcmodel():
    """LCModel's NSIDES/INCSID rule: half-width 0.9 x FWHM in grid points, 5 to 11 kernel
    points each side, their spacing growing for broad lines."""
    from mrs_lib.fit.lcm.kernel import kernel_size

    step = 0.002  # ppm per grid point
    assert kernel_size(0.001, step) == (5, 1)  # at least 5 points a side
    assert kernel_size(0.02, step) == (9, 1)  # round(0.5 * 0.02 * 1.8 / 0.002) = 9
    k, inc = kernel_size(0.1, step)  # 45 points a side -> 5 grid points apart
    assert (k, inc) == (9, 5) and k <= 11


def test_kernel_lineshape_fit(basis):
    """The Voigt lineshape by default; LCModel's kernel on request. Oracle: a 4 Hz Gaussian
    broadening is a shape the kernel can take: the DIFF fit with the kernel gives GABA back,
    and the kernel's SD is that of the Gaussian (4 / 2.355 Hz)."""
    assert LCMFitter(basis, "off").config.lineshape == "voigt"
    assert LCMFitter(basis, "diff").config.lineshape == "voigt"
    with pytest.raises(MRSDataError, match="lineshape"):
        LCMFitter(basis, "off", lineshape="spline")
    data = basis.mix(TRUE).diff.broaden(0.0, 4.0)
    fit = LCMFitter(basis, "diff", lineshape="kernel", **QUICK).fit(data)
    assert fit.concentrations[1] == pytest.approx(TRUE[1], rel=0.02)
    assert fit.extra["kernel_sd_hz"] == pytest.approx(4.0 / 2.3548, rel=0.15)
    assert fit.gaussian_hz == 0.0 and fit.lorentzian_hz == 0.0

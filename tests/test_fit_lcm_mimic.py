"""The LCModel-mimicking mode of the built-in fit (mrs_lib.fit.lcm.mimic, preset="lcmodel")."""

from __future__ import annotations

import numpy as np
import pytest
from lcm_helpers import QUICK, TRUE
from scipy.interpolate import BSpline
from scipy.stats import f as f_dist

from mrs_lib.errors import MRSDataError
from mrs_lib.fit.lcm import LCMFitter, toy_basis
from mrs_lib.fit.lcm.config import resolve_config
from mrs_lib.fit.lcm.kernel import kernel_size
from mrs_lib.fit.lcm.mimic import (
    LCMODEL_PRESET,
    alphab_limits,
    penalty_rows,
    penalty_weight,
    pick_alphab,
    preliminary_fwhm_hz,
    probability_to_reject,
    regb_gram,
)


@pytest.fixture(scope="module")
def basis():
    return toy_basis()


def test_kernel_width_rule_hand_computed():
    """LCModel's NSIDES/INCSID (LCModel.f) by hand. Its test of a 2000 Hz, 4096-point scan at
    123.23 MHz (PPMINC = 1 / (0.0005 x 8192 x 123.23) = 0.0019809 ppm) with FWHMST = 0.0528 ppm:
    NINT(0.5 x 0.0528 x 1.8 / 0.0019809) = NINT(23.99) = 24, INCSID = 23 / 11 + 1 = 3,
    NSIDES = NINT(24.001 / 3) = 8: the 'Ns = 8(3)' of its table. NINT rounds halves up:
    0.5 x 25 x 1.8 / 1 = 22.5 -> 23 -> INCSID 3, NSIDES NINT(7.67) = 8 (Python's round would
    give 22 -> (11, 2))."""
    ppminc = 1.0 / (0.0005 * 8192 * 123.23)
    assert kernel_size(0.0528, ppminc) == (8, 3)
    assert kernel_size(25.0, 1.0) == (8, 3)
    assert kernel_size(1e-4, ppminc) == (5, 1)  # NSIDMN
    assert kernel_size(10.0, ppminc) == (11, 15)  # INCSMX caps the spacing


def test_regb_is_lcmodels_gram_of_second_derivatives():
    """Oracle: REGB / 6 is the Gram matrix of B'' of unit-spaced cubic B-splines over the
    interval between the 2nd and the next-to-last knot position (the data's range)."""
    n = 9
    knots = np.arange(-3.0, n + 1.0)  # n cubic B-splines; data range [0, n - 3]
    x = np.linspace(0.0, n - 3.0, 60001)
    d2 = np.stack([BSpline.basis_element(knots[i : i + 5], False)(x, 2) for i in range(n)])
    d2 = np.nan_to_num(d2)
    gram = np.trapezoid(d2[:, None, :] * d2[None, :, :], x, axis=-1)
    assert np.allclose(regb_gram(n) / 6.0, gram, atol=2e-3)
    g = regb_gram(n)
    r = penalty_rows(g)
    assert np.allclose(r.T @ r, g, atol=1e-10)
    assert np.allclose(g @ np.ones(n), 0.0) and np.allclose(g @ np.arange(n), 0.0)
    with pytest.raises(ValueError, match="6"):
        regb_gram(5)


def test_alphab_scaling_and_weight():
    """ALPB* scale with (knot spacing / 0.075)^3: 8x at LCModel's 0.15 ppm (its tables print
    alphaB = 1.4E-02 = 8 x 1.7E-03 at the most flexible baseline). The weight on splines in the
    fit's units is (SDREF alphaB / (RMSAMP delta^3))^2."""
    lo, hi, start = alphab_limits(0.15)
    assert (lo, hi, start) == pytest.approx((1.36e-2, 6.72, 2.0e-2))
    assert penalty_weight(0.5, 2.0, 4.0, 0.1) == pytest.approx((2.0 * 0.5 / (4.0 * 1e-3)) ** 2)


def test_probability_to_reject_and_pick():
    """PREJ is the F cumulative probability of ((SSQ - SSQref) / NDFref) / (SSQref / (NY -
    NDFref)); 0 at the reference; the pick is the largest alphaB with PREJ <= 0.08."""
    assert probability_to_reject(10.0, 10.0, 20.0, 1000) == 0.0
    ssq = 10.0 * (1.0 + 20.0 / 980.0)  # F = 1
    assert probability_to_reject(ssq, 10.0, 20.0, 1000) == pytest.approx(
        f_dist.cdf(1.0, 20.0, 980.0)
    )
    alphas = np.array([0.1, 0.2, 0.4, 0.8])
    assert pick_alphab(alphas, np.array([0.0, 0.03, 0.07, 0.5])) == 2
    assert pick_alphab(alphas, np.array([0.0, 0.5, 0.01, 0.9])) == 2  # not monotone: largest ok
    assert pick_alphab(alphas, np.array([0.5, 0.6, 0.7, 0.9])) == 0


def test_preliminary_fwhm_oracles():
    """A Gaussian extra broadening is matched exactly by LCModel's preliminary Gaussian; a
    Lorentzian one gives a width that grows with it, narrower when the preliminary baseline
    takes the early times (broad features)."""
    assert preliminary_fwhm_hz(0.0, 5.0, 2.0) == pytest.approx(5.0, abs=1e-2)
    assert preliminary_fwhm_hz(0.0, 0.0, 2.0) == 0.0
    widths = [preliminary_fwhm_hz(lor, 0.0, 2.0) for lor in (2.0, 4.0, 6.0, 8.0)]
    assert np.all(np.diff(widths) > 0)
    cut = [preliminary_fwhm_hz(lor, 0.0, 2.0, baseline_hz=29.6) for lor in (2.0, 4.0, 6.0, 8.0)]
    assert np.all(np.array(cut) < np.array(widths))


def test_preset_resolution():
    """preset='lcmodel' sets LCModel's choices; explicit fields win; unknown names raise."""
    cfg = resolve_config("off", None, {"preset": "lcmodel"})
    for key, value in LCMODEL_PRESET.items():
        assert getattr(cfg, key) == value
    assert (
        resolve_config("off", None, {"preset": "lcmodel", "kernel_alpha": 7.0}).kernel_alpha == 7.0
    )
    assert resolve_config("off", None, {}).lineshape == "voigt"  # the default is not LCModel's
    with pytest.raises(MRSDataError, match="preset"):
        resolve_config("off", None, {"preset": "tarquin"})
    with pytest.raises(MRSDataError, match="baseline_lambda"):
        resolve_config("off", None, {"baseline_lambda": "stiff"})
    with pytest.raises(MRSDataError, match="kernel_width"):
        resolve_config("off", None, {"kernel_width": "wide"})


def test_broad_lorentzian_wings_lost_like_lcmodel(basis):
    """Noiseless oracle (truth known): with 6 Hz of extra Lorentzian broadening the default fit
    (Voigt) returns the singlets' areas, the LCModel mode gives part of the wings to the
    baseline as LCModel does (LCModel 6.3 on the paper basis: 0.83-0.87 x truth for NAA and
    Cr), and its alphaB lies in LCModel's range."""
    data = basis.mix(TRUE).off.broaden(6.0)
    voigt = LCMFitter(basis, "off", **QUICK).fit(data)
    mimic = LCMFitter(basis, "off", preset="lcmodel", **QUICK).fit(data)
    assert np.allclose(voigt.concentrations[[0, 4]], TRUE[[0, 4]], rtol=0.01)
    ratio = mimic.concentrations[[0, 4]] / TRUE[[0, 4]]
    assert np.all(ratio < 0.97) and np.all(ratio > 0.6)
    lo, hi, _ = alphab_limits(0.15)
    assert lo <= mimic.extra["baseline_alphab"] <= hi
    assert mimic.extra["kernel_points"] >= 11


def test_lcmodel_mode_noisy_spectrum_seeded(basis):
    """Seeded noise, 3 Hz of extra Lorentzian: the LCModel mode's short kernel loses a similar
    share of every singlet's wings (ratios to Cr within 3 %, areas 80-100 % of the truth) and
    its chosen alphaB has a probability to reject of at most 0.08."""
    rng = np.random.default_rng(7)
    data = basis.mix(TRUE).off.broaden(3.0)
    sigma = 2e-3 * np.abs(data.fid).max()
    noise = rng.standard_normal(data.n_points) + 1j * rng.standard_normal(data.n_points)
    data = data.replace(fid=data.fid + sigma * noise)
    fit = LCMFitter(basis, "off", preset="lcmodel", **QUICK).fit(data)
    c = fit.concentrations
    assert np.allclose(c / c[0], TRUE / TRUE[0], rtol=0.03)
    assert np.all((c / TRUE > 0.8) & (c / TRUE <= 1.0))
    assert fit.extra["baseline_prej"] <= 0.08


def test_voigt_plus_kernel_noiseless_and_eddy_current_oracles(basis):
    """lineshape='voigt+kernel': a kernel regularised about the identity on top of the fitted
    Voigt. Oracles (truth known): a pure Voigt broadening comes back exactly with the kernel
    left at the identity; an eddy-current phase (a 3 Hz offset decaying with 30 ms, which no
    Voigt can make) biases the Voigt fit (GABA in the OFF 19 % high) and much less with the
    kernel, whose residual is several times smaller."""
    data = basis.mix(TRUE).off.broaden(4.0)
    fit = LCMFitter(basis, "off", lineshape="voigt+kernel", **QUICK).fit(data)
    assert np.allclose(fit.concentrations, TRUE, rtol=2e-3)
    assert fit.extra["kernel_sd_hz"] < 0.05 and fit.lorentzian_hz > 0
    t = data.time_s()
    tau = 0.03
    eddy = data.replace(fid=data.fid * np.exp(2j * np.pi * 3.0 * tau * (1 - np.exp(-t / tau))))
    voigt = LCMFitter(basis, "off", **QUICK).fit(eddy)
    hybrid = LCMFitter(basis, "off", lineshape="voigt+kernel", **QUICK).fit(eddy)
    err_v = np.abs(voigt.concentrations / TRUE - 1.0)
    err_h = np.abs(hybrid.concentrations / TRUE - 1.0)
    assert err_v.max() > 0.1 and err_h.max() < 0.6 * err_v.max()
    assert hybrid.residual_sd < 0.5 * voigt.residual_sd

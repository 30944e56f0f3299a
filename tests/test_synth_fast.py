"""Fast synthesis paths (Chebyshev linewidth expansion, short-FFT grid noise) against the exact
path.
"""

from __future__ import annotations

import numpy as np
import pytest

from mrs_lib.synth import Linewidth, Noise, SynthConfig, Synthesizer, generate
from mrs_lib.synth import singlet_basis as _singlets
from mrs_lib.synth.grid import NOISE_CORR_TOL, _dirichlet
from mrs_lib.synth.plan import EXPANSION_TOL, GridPlan, LorentzianExpansion

LARMOR = 127.731
N = 2048
BW = 2000.0


@pytest.fixture(scope="module")
def basis():
    # lines spread over the window, incl. one near each edge, so wrap-around would show
    return _singlets(
        (3.03, 3.0, 3.75, 2.35, 1.1), n_points=N, bw_hz=BW, larmor_mhz=LARMOR, ppm_reference=4.65
    )


@pytest.fixture(scope="module")
def plan(basis) -> GridPlan:
    return GridPlan(basis, base_lw_hz=2.0)


def exact_clean(plan: GridPlan, conc: np.ndarray, lor: np.ndarray) -> np.ndarray:
    """The exact path: mix the pre-chirped FIDs, apodise, chirp-z transform."""
    fid = np.einsum("nm,mat->nat", conc, plan.basis_pre_met.astype(np.complex128))
    fid *= np.exp(-np.pi * lor[:, None, None] * plan.t)
    return plan.gt.prechirped(fid.astype(np.complex64))


@pytest.mark.parametrize("lo, hi", [(0.0, 8.0), (3.0, 3.0), (0.5, 20.0)])
def test_lorentzian_expansion_matches_exact_transform(plan: GridPlan, lo: float, hi: float) -> None:
    """Oracle: the exact chirp-z transform of the broadened mixture; error < 1e-4 of the peak."""
    exp = LorentzianExpansion(plan, lo, hi)
    assert exp.ok and exp.max_error <= EXPANSION_TOL
    rng = np.random.default_rng(0)
    conc = rng.random((64, 5))
    lor = np.concatenate([[lo, hi], rng.uniform(lo, hi, 62)])
    got = exp.spectra(conc, lor)
    want = exact_clean(plan, conc, lor)
    err = np.abs(got - want).max(axis=(-2, -1)) / np.abs(want).max(axis=(-2, -1))
    assert err.max() < 1e-4, err.max()


def test_expansion_refuses_what_it_cannot_resolve(plan: GridPlan) -> None:
    """A range far too wide for the term budget is flagged (the generator then stays exact)."""
    assert not LorentzianExpansion(plan, 0.0, 400.0, max_terms=4).ok


def exact_noise_cov(lags: np.ndarray, df: float) -> np.ndarray:
    """Oracle: covariance of the DTFT of unit white noise, D_T(lag df) / T (normalised)."""
    return _dirichlet(2 * np.pi * lags * df / BW, N) / N


def test_grid_noise_covariance_matches_dtft_of_white_noise(plan: GridPlan) -> None:
    """Oracle: per-bin variance T sigma^2 and the Dirichlet-kernel correlations of the exact noise.

    Sample estimates over 1500 x 2048 values; the variance within 2 %, each lag's
    correlation within 0.01 (statistical SD ~2e-3), and the design bound on the
    deterministic difference holds.
    """
    gn = plan.noise
    assert gn.ok and gn.max_corr_error <= NOISE_CORR_TOL
    sigma = 0.3
    x = gn(np.random.default_rng(1), (1500,), np.full(1500, sigma))
    assert x.shape == (1500, plan.n_points) and x.dtype == np.complex64
    var = np.mean(np.abs(x) ** 2, axis=0) / (2 * N * sigma**2)  # re and im each sigma^2
    assert abs(var.mean() - 1) < 0.02 and np.all(np.abs(var - 1) < 0.2)
    assert abs(np.var(x.real) / (N * sigma**2) - 1) < 0.02  # real part SD sigma sqrt(T)
    df = float(plan.gt.hz[1] - plan.gt.hz[0])
    lags = np.array([1, 2, 3, 5, 10, 50, 500, 2000])
    want = exact_noise_cov(lags, df)
    for lag, w in zip(lags, want, strict=True):
        got = np.mean(x[:, lag:] * np.conj(x[:, :-lag])) / (2 * N * sigma**2)
        assert abs(got - w) < 0.01, (lag, got, w)


def test_grid_noise_same_statistics_as_exact_path(basis) -> None:
    """Oracle: the exact path's own noise (the same generator with ``exact=True``).

    Both give noise of real-part SD sigma sqrt(T) (within 3 %) and the same
    neighbour correlation (within 0.02).
    """
    cfg = SynthConfig(
        name="t", augmentations=(Linewidth((4.0, 4.0)), Noise("relative", (0.02, 0.02)))
    )
    stats = []
    for exact in (False, True):
        b = generate(basis, 256, 3, cfg.replace(exact=exact), workers=1)
        noise = (b.x - b.clean) * b.scale[:, None, None]
        sigma = np.stack([b.params["sigma_off"], b.params["sigma_on"]], axis=-1)
        sd = noise.std(axis=-1) / (sigma * np.sqrt(N))
        corr = np.mean(noise[..., 1:] * noise[..., :-1]) / np.mean(noise**2)
        stats.append((sd.mean(), corr))
    (sd_fast, c_fast), (sd_exact, c_exact) = stats
    assert abs(sd_fast - 1) < 0.03 and abs(sd_exact - 1) < 0.03
    assert abs(c_fast - c_exact) < 0.02


def test_fast_generate_agrees_with_exact(basis) -> None:
    """Oracle: ``exact=True`` with the same seed - same draws, clean spectra within 1e-4 of the
    peak.
    """
    cfg = SynthConfig.preset("paper")
    fast = generate(basis, 96, 7, cfg, workers=1)
    slow = generate(basis, 96, 7, cfg.replace(exact=True), workers=1)
    for k in ("lorentzian_hz", "noise_fraction_off", "noise_fraction_on"):
        np.testing.assert_array_equal(fast.params[k], slow.params[k])
    np.testing.assert_array_equal(fast.concentrations, slow.concentrations)
    np.testing.assert_allclose(fast.params["sigma_off"], slow.params["sigma_off"], rtol=1e-5)
    np.testing.assert_allclose(fast.params["sigma_on"], slow.params["sigma_on"], rtol=1e-5)
    a = fast.clean * fast.scale[:, None, None]
    b = slow.clean * slow.scale[:, None, None]
    err = np.abs(a - b).max(axis=(-2, -1)) / np.abs(b).max(axis=(-2, -1))
    assert err.max() < 1e-4, err.max()
    # the paper's normalisation still holds on the noisy input
    assert np.all(np.abs(fast.x[:, 0]).max(axis=-1) <= 1 + 1e-6)


def test_which_configs_take_the_fast_paths(basis) -> None:
    assert Synthesizer(basis, "paper").fast_clean
    assert Synthesizer(basis, "paper-no-lw").fast_clean
    full = Synthesizer(basis, "full")
    assert full.fast_noise and not full.fast_clean
    exact = Synthesizer(basis, SynthConfig.preset("paper", exact=True))
    assert not (exact.fast_noise or exact.fast_clean)
    voigt = SynthConfig(name="v", augmentations=(Linewidth((0, 8), (0, 4)), Noise()))
    assert not Synthesizer(basis, voigt).fast_clean
    assert SynthConfig.from_dict(SynthConfig.preset("paper", exact=True).to_dict()).exact

"""The Spectrum data model against analytic oracles (Lorentzian, Gaussian, DFT, shift theorems)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mrs_lib import EditedSpectra, MRSDataError, Spectrum
from mrs_lib.spectrum import gaussian_decay, lorentzian_decay
from mrs_lib.types import NETWORK_POINTS, NETWORK_PPM_RANGE

LARMOR = 123.23
DWELL = 1 / 2000.0


def singlet(
    ppm: float, n: int = 4096, lw_hz: float = 0.0, amp: complex = 1.0, ref: float = 4.65
) -> Spectrum:
    """A single line at ``ppm``: fid = amp exp(2 pi i f t) exp(-pi lw t)."""
    t = np.arange(n) * DWELL
    f = (ppm - ref) * LARMOR
    fid = amp * np.exp(2j * np.pi * f * t) * np.exp(-np.pi * lw_hz * t)
    return Spectrum(fid, dwell_s=DWELL, larmor_mhz=LARMOR, ppm_reference=ref)


def peak_ppm(s: Spectrum) -> float:
    """Peak position by parabolic interpolation of the real spectrum's maximum."""
    y = s.spectrum().real
    k = int(np.argmax(y))
    a, b, c = y[k - 1], y[k], y[k + 1]
    frac = 0.5 * (a - c) / (a - 2 * b + c)
    step = s.ppm_axis()[1] - s.ppm_axis()[0]
    return float(s.ppm_axis()[k] + frac * step)


def fwhm_hz(s: Spectrum, zero_fill: int = 65536) -> float:
    """Full width at half maximum of the real spectrum (linear interpolation)."""
    z = s.zero_fill(zero_fill)
    y, f = z.spectrum().real, z.hz_axis()
    k = int(np.argmax(y))
    half = y[k] / 2
    left = k - np.argmax(y[k::-1] < half)
    right = k + np.argmax(y[k:] < half)
    fl = np.interp(half, [y[left], y[left + 1]], [f[left], f[left + 1]])
    fr = np.interp(half, [y[right], y[right - 1]], [f[right], f[right - 1]])
    return float(fr - fl)


def test_convention_singlet_sits_at_its_ppm() -> None:
    """Oracle: fid ~ exp(+2 pi i f t) peaks at ppm = ppm_reference + f / larmor (NIfTI-MRS)."""
    for ppm in (2.008, 3.027, 3.913):
        assert peak_ppm(singlet(ppm, lw_hz=3.0)) == pytest.approx(ppm, abs=2e-3)
    # the axis ascends and is symmetric about the receiver frequency
    s = singlet(3.0)
    ax = s.hz_axis()
    assert np.all(np.diff(ax) > 0)
    assert ax[s.n_points // 2] == 0.0
    assert s.ppm_axis()[s.n_points // 2] == pytest.approx(4.65)


def test_singlet_equals_analytic_lorentzian() -> None:
    """Oracle: the DFT of a damped exponential is the closed-form geometric series
    1 / (1 - exp((2 pi i (f0 - f) - pi L) dt)), whose real part is a Lorentzian of FWHM L."""
    lw = 4.0
    s = singlet(3.0, n=8192, lw_hz=lw)  # exp(-pi L N dt) ~ 1e-22: the series is complete
    f0 = (3.0 - 4.65) * LARMOR
    f = s.hz_axis()
    analytic = 1.0 / (1.0 - np.exp((2j * np.pi * (f0 - f) - np.pi * lw) * DWELL))
    np.testing.assert_allclose(s.spectrum(), analytic, rtol=1e-9, atol=1e-9)
    assert fwhm_hz(s) == pytest.approx(lw, rel=0.01)


def test_broaden_area_preserving_and_widths_add() -> None:
    """Oracles: window(0) = 1 keeps sum(spectrum) = N fid[0]; Lorentzian widths add."""
    s = singlet(3.0, n=8192, lw_hz=2.0)
    b = s.broaden(lorentzian_hz=3.0)
    assert b.spectrum().sum() == pytest.approx(s.spectrum().sum(), rel=1e-12)
    assert fwhm_hz(b) == pytest.approx(5.0, rel=0.01)
    g = singlet(3.0, n=16384).broaden(gaussian_hz=6.0)
    assert fwhm_hz(g) == pytest.approx(6.0, rel=0.01)
    assert g.spectrum().sum() == pytest.approx(singlet(3.0, n=16384).spectrum().sum(), rel=1e-12)


def test_voigt_fwhm_olivero_approximation() -> None:
    """Oracle: Voigt FWHM ~ 0.5346 L + sqrt(0.2166 L^2 + G^2) (Olivero 1977, 0.02 %)."""
    L, G = 3.0, 5.0
    v = singlet(3.0, n=16384).broaden(lorentzian_hz=L, gaussian_hz=G)
    expected = 0.5346 * L + np.sqrt(0.2166 * L**2 + G**2)
    assert fwhm_hz(v) == pytest.approx(expected, rel=0.005)


def test_broaden_per_spectrum_widths() -> None:
    s = Spectrum(np.stack([singlet(3.0).fid] * 3), dwell_s=DWELL, larmor_mhz=LARMOR)
    b = s.broaden(lorentzian_hz=[1.0, 2.0, 5.0])
    assert [fwhm_hz(b[i]) for i in range(3)] == pytest.approx([1.0, 2.0, 5.0], rel=0.02)
    with pytest.raises(MRSDataError, match="gaussian_hz"):
        s.broaden(gaussian_hz=-1.0)
    with pytest.raises(MRSDataError, match="lorentzian_hz"):
        s.broaden(lorentzian_hz=[1.0, 2.0])


def test_lineshape_decays_at_zero_are_one() -> None:
    t = np.linspace(0, 1, 5)
    assert lorentzian_decay(t, 3.0)[0] == 1.0
    assert gaussian_decay(t, 3.0)[0] == 1.0


def test_known_shift_recovered() -> None:
    """Oracle: multiplying by exp(2 pi i df t) moves the line by df (Fourier shift theorem)."""
    s = singlet(3.0, lw_hz=3.0)
    assert peak_ppm(s.shift(hz=12.3)) == pytest.approx(3.0 + 12.3 / LARMOR, abs=1e-3)
    assert peak_ppm(s.shift(ppm=-0.5)) == pytest.approx(2.5, abs=1e-3)


def test_zero_and_first_order_phase() -> None:
    """Oracle: phase(phi0) rotates the complex peak by phi0; phi1 adds phi1 (ppm - pivot)."""
    s = singlet(3.0, lw_hz=3.0)
    k = int(np.argmax(s.spectrum().real))
    base = s.spectrum()[k]
    rotated = s.phase(30.0).spectrum()[k]
    assert np.angle(rotated / base, deg=True) == pytest.approx(30.0, abs=1e-9)
    p1 = s.phase(0.0, first_deg_per_ppm=20.0, pivot_ppm=2.0).spectrum()[k]
    expected = 20.0 * (s.ppm_axis()[k] - 2.0)
    assert np.angle(p1 / base, deg=True) == pytest.approx(expected, abs=1e-6)
    # zero phase leaves the object unchanged
    np.testing.assert_allclose(s.phase().fid, s.fid)


def test_to_grid_equals_direct_dft() -> None:
    """Oracle: the zoom FFT equals the DTFT sum_n fid[n] exp(-2 pi i f_k n dt) at the grid."""
    rng = np.random.default_rng(1)
    fid = rng.normal(size=512) + 1j * rng.normal(size=512)
    s = Spectrum(fid, dwell_s=DWELL, larmor_mhz=LARMOR)
    ppm, spec = s.to_grid((1.0, 4.5), 64)
    f = s.ppm_to_hz(ppm)
    direct = np.exp(-2j * np.pi * np.outer(f, np.arange(512) * DWELL)) @ fid
    np.testing.assert_allclose(spec, direct, rtol=1e-9, atol=1e-9 * np.abs(direct).max())
    assert ppm[0] == 1.0 and ppm[-1] == 4.5


def test_to_grid_network_default_and_on_fft_bins() -> None:
    """On the FFT's own bins the zoom FFT reproduces spectrum() exactly."""
    s = singlet(3.0, lw_hz=2.0)
    ppm, spec = s.to_grid()
    assert ppm.shape == (NETWORK_POINTS,) and spec.shape == (NETWORK_POINTS,)
    assert (ppm[0], ppm[-1]) == NETWORK_PPM_RANGE
    ax = s.ppm_axis()
    sel = slice(1000, 1010)
    _, on_bins = s.to_grid((ax[sel][0], ax[sel][-1]), 10)
    np.testing.assert_allclose(on_bins, s.spectrum()[sel], rtol=1e-9, atol=1e-9)
    with pytest.raises(MRSDataError, match="outside the acquired band"):
        s.to_grid((-20.0, 4.5))


def test_zero_fill_and_truncate() -> None:
    s = singlet(3.0, n=1024, lw_hz=5.0)
    z = s.zero_fill(4096)
    assert z.n_points == 4096 and np.all(z.fid[1024:] == 0)
    # zero-filling interpolates: the sum over the spectrum stays N*fid[0] -> scales with N
    assert z.spectrum().sum() / 4096 == pytest.approx(s.spectrum().sum() / 1024)
    assert s.truncate(512).n_points == 512
    with pytest.raises(MRSDataError, match="n_points"):
        s.zero_fill(100)
    with pytest.raises(MRSDataError, match="n_points"):
        s.truncate(2000)


def test_from_spectrum_inverts_spectrum(rng: np.random.Generator) -> None:
    fid = rng.normal(size=(2, 256)) + 1j * rng.normal(size=(2, 256))
    s = Spectrum(fid, dwell_s=DWELL, larmor_mhz=LARMOR)
    back = Spectrum.from_spectrum(s.spectrum(), dwell_s=DWELL, larmor_mhz=LARMOR)
    np.testing.assert_allclose(back.fid, fid, atol=1e-12)


def test_conj_mirrors_about_receiver() -> None:
    """Oracle: conj(exp(2 pi i f t)) = exp(-2 pi i f t) puts the line at -f."""
    s = singlet(3.0, lw_hz=3.0)
    assert peak_ppm(s.conj()) == pytest.approx(4.65 + (4.65 - 3.0), abs=2e-3)


def test_batch_indexing_and_arithmetic() -> None:
    a = singlet(2.0)
    b = singlet(3.0)
    batch = Spectrum(np.stack([a.fid, b.fid]), dwell_s=DWELL, larmor_mhz=LARMOR)
    assert batch.batch_shape == (2,) and len(batch) == 2
    np.testing.assert_allclose(batch[1].fid, b.fid)
    np.testing.assert_allclose((a + b).fid, a.fid + b.fid)
    np.testing.assert_allclose((2 * a - a).fid, a.fid)
    np.testing.assert_allclose((batch * [1.0, 3.0]).fid[1], 3 * b.fid)
    other = Spectrum(a.fid, dwell_s=DWELL * 2, larmor_mhz=LARMOR)
    with pytest.raises(MRSDataError, match="dwell_s"):
        a + other
    with pytest.raises(IndexError):
        a[0]


def test_edited_spectra_diff() -> None:
    on, off = singlet(3.0, amp=2.0), singlet(3.0, amp=0.5)
    e = EditedSpectra(off=off, on=on)
    np.testing.assert_allclose(e.diff.fid, on.fid - off.fid)
    assert e["diff"].edit == "diff" and e.on.edit == "on" and e.off.edit == "off"
    with pytest.raises(KeyError):
        e["sum"]  # type: ignore[index]
    with pytest.raises(MRSDataError, match="larmor_mhz"):
        EditedSpectra(off=off, on=on.replace(larmor_mhz=127.7))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"fid": np.array([1.0, np.nan])}, "fid"),
        ({"fid": np.array([1.0, np.inf])}, "fid"),
        ({"fid": np.array(["a", "b"])}, "fid"),
        ({"fid": np.array([1.0])}, "fid"),
        ({"dwell_s": 0.0}, "dwell_s"),
        ({"dwell_s": -1e-3}, "dwell_s"),
        ({"larmor_mhz": float("nan")}, "larmor_mhz"),
        ({"larmor_mhz": "x"}, "larmor_mhz"),
        ({"te_ms": -68.0}, "te_ms"),
        ({"edit": "sum"}, "edit"),
        ({"ppm_reference": float("inf")}, "ppm_reference"),
    ],
)
def test_bad_fields_raise_named_errors(kwargs: dict, field: str) -> None:
    params = {"fid": np.ones(8, complex), "dwell_s": DWELL, "larmor_mhz": LARMOR} | kwargs
    with pytest.raises(MRSDataError, match=f"'{field}'"):
        Spectrum(**params)


@settings(derandomize=True, max_examples=60, deadline=None)
@given(
    lw=st.floats(0.5, 20.0),
    df=st.floats(-200.0, 200.0),
    phi=st.floats(-180.0, 180.0),
)
def test_operations_commute_and_preserve_area(lw: float, df: float, phi: float) -> None:
    """Broadening, shift and zero-order phase are all multiplications of the FID: they commute,
    and none changes |sum(spectrum)| = N |fid[0]|."""
    s = singlet(3.0, n=512, lw_hz=1.0)
    a = s.broaden(lw).shift(hz=df).phase(phi)
    b = s.phase(phi).shift(hz=df).broaden(lw)
    np.testing.assert_allclose(a.fid, b.fid, rtol=1e-10, atol=1e-12)
    assert abs(a.spectrum().sum()) == pytest.approx(abs(s.spectrum().sum()), rel=1e-9)

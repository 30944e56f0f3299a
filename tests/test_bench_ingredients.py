"""Test-time ingredients (mrs_lib.bench.ingredients, .decoder, .ablation) and the fit's ratio prior.

Oracles: a known offset and phase applied to a simulated spectrum are
recovered; a network wrapped with referencing gives the same estimate on the
shifted spectrum as on the original; a spectrum built from the decoder's own
basis with known broadening and shift is decoded closer to the truth than the
(deliberately wrong) estimate that seeds it; the LCModel-style fit with a
ratio prior moves towards the prior's ratios by an amount set by its SD.
"""

from __future__ import annotations

import numpy as np
import pytest

from mrs_lib.bench.ablation import describe
from mrs_lib.bench.decoder import LCDecoder, reference_offset_phase
from mrs_lib.bench.ingredients import (
    DecoderQuantifier,
    HybridQuantifier,
    ReferencedQuantifier,
    make_wrapped,
    split_method,
)
from mrs_lib.errors import MRSDataError, MRSError
from mrs_lib.fit.lcm import LCMFitter, RatioPrior, toy_basis
from mrs_lib.metrics import max_normalise
from mrs_lib.quantify import NetworkQuantifier, QuantResult
from mrs_lib.sim.basis import Basis
from mrs_lib.spectrum import EditedSpectra

#: Swansea-like phantom (mM) in the order of the paper basis (Cr, GABA, Gln, Glu, NAA).
CONC = np.array([8.0, 2.0, 3.0, 10.0, 12.0])


@pytest.fixture(scope="module")
def basis() -> Basis:
    """The project's own ``paper`` basis at 2000 Hz, 2048 points (cached on disk)."""
    from mrs_lib.bench.sources import get_source

    return get_source("paper").basis(2000.0, 2048)


def phantom(
    basis: Basis,
    *,
    shift_hz: float = 0.0,
    phase_deg: float = 0.0,
    lor_hz: float = 1.0,
    gau_hz: float = 2.0,
    noise: float = 0.002,
    seed: int = 0,
) -> EditedSpectra:
    """One acquisition: ``CONC`` mixed, broadened, shifted, phased (OFF and ON alike), noisy."""
    rng = np.random.default_rng(seed)
    clean = basis.mix(CONC[None, :]).map(
        lambda s: s.broaden(lor_hz, gau_hz).shift(hz=shift_hz).phase(phase_deg)[0]
    )
    sd = noise * np.abs(clean.off.fid).max()

    def noisy(s):
        white = rng.standard_normal(s.fid.shape) + 1j * rng.standard_normal(s.fid.shape)
        return s.replace(fid=s.fid + sd * white)

    return clean.map(noisy)


class FixedEstimate:
    """A stand-in network: returns the same concentrations for every acquisition."""

    def __init__(self, estimate: np.ndarray, metabolites: tuple[str, ...]) -> None:
        self.name = "fixed"
        self.estimate = np.asarray(estimate, dtype=float)
        self.metabolites = metabolites

    def quantify(self, spectra: EditedSpectra) -> QuantResult:
        n = int(np.prod(spectra.off.batch_shape)) if spectra.off.batch_shape else 1
        conc = np.tile(self.estimate, (n, 1))
        return QuantResult(self.metabolites, conc, None, {}, self.name, 0.0)


def norm_error(estimate: np.ndarray) -> float:
    """Mean |max-normalised estimate - max-normalised truth| over the metabolites."""
    return float(np.mean(np.abs(max_normalise(estimate) - max_normalise(CONC))))


# ---------------------------------------------------------------------------- names
def test_split_method_and_describe() -> None:
    assert split_method("ref+cnn-cpu") == ("ref", "cnn-cpu")
    assert split_method("cnn-cpu") == (None, "cnn-cpu")
    assert split_method("hybrid+ref+yae-paper") == ("hybrid", "ref+yae-paper")
    assert describe("hybrid+ref+yae-paper") == ("yae-paper", "hybrid+ref")
    assert describe("cnn-cpu") == ("cnn-cpu", "none")
    assert describe("lcm") == ("lcm", "fit")
    with pytest.raises(MRSError, match="unknown ingredient 'foo'"):
        split_method("foo+cnn-cpu")
    with pytest.raises(MRSError, match="nothing after"):
        split_method("tta+")


def test_make_wrapped_composes_and_shares_networks() -> None:
    stand_in = FixedEstimate(CONC, ("Cr", "GABA", "Gln", "Glu", "NAA"))
    stand_in.name = "cnn-cpu"
    nets: dict = {"cnn-cpu": stand_in}
    q = make_wrapped("hybrid+ref+cnn-cpu", networks=nets)
    assert q.name == "hybrid+ref+cnn-cpu"
    assert isinstance(q, HybridQuantifier) and isinstance(q.inner, ReferencedQuantifier)
    again = make_wrapped("tta+cnn-cpu", networks=nets)
    assert isinstance(again, DecoderQuantifier)
    assert again.inner is q.inner.inner is nets["cnn-cpu"]  # one network, loaded once
    tuned = make_wrapped("tta+cnn-cpu", networks=nets, options={"tta": {"prior_sd": 0.3}})
    assert isinstance(tuned, DecoderQuantifier) and tuned.prior_sd == 0.3


def test_decoder_without_a_network_is_the_plain_fit(basis: Basis) -> None:
    """``tta+none``: no network, no prior: exactly the decoder's own fit; only tta takes it."""
    q = make_wrapped("tta+none", basis)
    assert isinstance(q, DecoderQuantifier) and q.inner is None and q.name == "tta+none"
    assert describe("tta+none") == ("none", "tta")
    acq = phantom(basis, shift_hz=1.0, phase_deg=3.0, seed=5)
    plain = LCDecoder(basis).fit(acq).concentrations
    np.testing.assert_allclose(q.quantify(acq).concentrations[0], plain, rtol=1e-9)
    with pytest.raises(MRSError, match="only the decoder"):
        make_wrapped("hybrid+none", basis)


# ---------------------------------------------------------------------------- ref
@pytest.mark.parametrize(
    ("shift_hz", "phase_deg"),
    [
        (3.0, 10.0),
        pytest.param(-3.0, -10.0, marks=pytest.mark.slow),
        pytest.param(2.2, -7.5, marks=pytest.mark.slow),
    ],
)
def test_reference_recovers_offset_and_phase(
    basis: Basis, shift_hz: float, phase_deg: float
) -> None:
    acq = phantom(basis, shift_hz=shift_hz, phase_deg=phase_deg, seed=1)
    q = ReferencedQuantifier(FixedEstimate(CONC, basis.metabolites), basis)
    found_hz, found_deg = q.estimate(acq)
    assert found_hz == pytest.approx(shift_hz, abs=0.2)
    assert found_deg == pytest.approx(phase_deg, abs=2.0)
    # the peak-based first guess alone is coarser, but in the right place
    coarse_hz, coarse_deg = reference_offset_phase(acq.off)
    assert coarse_hz == pytest.approx(shift_hz, abs=1.0)
    assert coarse_deg == pytest.approx(phase_deg, abs=10.0)


def test_reference_applies_one_correction_to_off_and_on(basis: Basis) -> None:
    """The same offset and phase leave OFF and ON; the edit difference is the original's."""
    plain = phantom(basis, noise=0.0)
    acq = phantom(basis, shift_hz=-2.5, phase_deg=8.0, noise=0.0)
    q = ReferencedQuantifier(FixedEstimate(CONC, basis.metabolites), basis, water=False)
    fixed, shifts, phases = q.correct(acq)
    assert shifts[0] == pytest.approx(-2.5, abs=0.05) and phases[0] == pytest.approx(8.0, abs=1.0)
    diff = fixed.on.fid[0] - fixed.off.fid[0]
    truth = plain.on.fid - plain.off.fid
    assert np.linalg.norm(diff - truth) < 0.03 * np.linalg.norm(truth)
    # OFF and ON got the same correction: ON was not re-phased on its own
    np.testing.assert_allclose(
        fixed.on.fid[0] / acq.on.fid, fixed.off.fid[0] / acq.off.fid, rtol=1e-9
    )


@pytest.mark.slow
def test_referenced_network_is_invariant_to_offset_and_phase(basis: Basis) -> None:
    net = NetworkQuantifier("cnn-cpu")
    ref = ReferencedQuantifier(net, basis)
    plain = phantom(basis, seed=3)
    moved = phantom(basis, shift_hz=3.0, phase_deg=-10.0, seed=3)
    base = max_normalise(net.quantify(plain).concentrations)
    bare_moved = max_normalise(net.quantify(moved).concentrations)
    wrapped = max_normalise(ref.quantify(moved).concentrations)
    assert np.abs(wrapped - base).max() < 0.01
    # the bare network does move (so the comparison above can fail)
    assert np.abs(bare_moved - base).max() > 5 * max(np.abs(wrapped - base).max(), 0.002)


# ---------------------------------------------------------------------------- decoder
def test_decoder_recovers_nuisance_and_concentrations(basis: Basis) -> None:
    acq = phantom(basis, shift_hz=1.7, phase_deg=6.0, lor_hz=3.0, gau_hz=4.0, seed=2)
    fit = LCDecoder(basis).fit(acq)
    assert fit.shift_hz == pytest.approx(1.7, abs=0.1)
    assert fit.phase0_deg == pytest.approx(6.0, abs=1.0)
    assert fit.lorentzian_hz == pytest.approx(3.0, abs=0.5)
    assert fit.gaussian_hz == pytest.approx(4.0, abs=1.0)
    assert norm_error(fit.concentrations) < 0.01


def test_decoder_jacobian_matches_finite_differences(basis: Basis) -> None:
    """Kaufman's analytic Jacobian, per-metabolite shifts and dampings included, against
    central differences of the projected model (every parameter away from zero)."""
    dec = LCDecoder(basis, metabolite_shift_sd_ppm=0.01, metabolite_damping_sd_hz=0.5)
    dec.fit(phantom(basis, seed=1))  # prepares the grid and the parameter layout
    rng = np.random.default_rng(0)
    j = len(basis.metabolites)
    theta = np.concatenate(
        [[1.0, 4.0, 1.0, 2.0, 3.0, 0.2, 1.0], rng.normal(0, 0.3, j), rng.normal(0, 0.3, j)]
    )
    x = rng.uniform(0.5, 2.0, 2 * j)
    analytic = dec._jacobian(theta, x, dec._windowed(theta))

    def model(th: np.ndarray) -> np.ndarray:
        return dec.project(dec._split(dec._real(dec.components(th)))) @ x

    numeric = np.zeros_like(analytic)
    for k in range(theta.size):
        step = np.zeros_like(theta)
        step[k] = 1e-5 * max(1.0, abs(theta[k]))
        numeric[:, k] = -(model(theta + step) - model(theta - step)) / (2 * step[k])
    assert analytic.shape == (numeric.shape[0], 7 + 2 * j)
    rel = np.abs(analytic - numeric).max(axis=0) / np.abs(numeric).max(axis=0)
    assert rel.max() < 1e-5


def test_decoder_recovers_a_per_metabolite_damping(basis: Basis) -> None:
    """One metabolite broadened by 1.5 Hz more than the rest: the damping finds it."""
    clean = phantom(basis, noise=0.001, seed=3)
    k = basis.index("NAA")
    extra = np.zeros(len(basis))
    extra[k] = 1.5
    t = clean.off.time_s()
    comps = basis.map(lambda s: s.replace(fid=s.fid * np.exp(-np.pi * extra[:, None] * t)))
    acq = comps.mix(CONC[None, :]).map(lambda s: s.broaden(1.0, 2.0)[0])
    fit = LCDecoder(basis, metabolite_damping_sd_hz=0.5, metabolite_shift_sd_ppm=0.0).fit(acq)
    plain = LCDecoder(basis, metabolite_shift_sd_ppm=0.0).fit(acq)
    assert norm_error(fit.concentrations) < 0.5 * norm_error(plain.concentrations)


def test_decoder_adapted_estimate_beats_the_network_seed(basis: Basis) -> None:
    """Seeded with a wrong estimate (20-50 % off), the adapted one is much closer to the truth."""
    acq = phantom(basis, shift_hz=-2.0, phase_deg=-5.0, lor_hz=2.5, gau_hz=3.0, seed=4)
    wrong = CONC * np.array([1.3, 0.6, 1.5, 0.8, 1.0])
    q = DecoderQuantifier(FixedEstimate(wrong, basis.metabolites), basis)
    adapted = q.quantify(acq).concentrations[0]
    assert norm_error(adapted) < 0.25 * norm_error(wrong)
    # a very strong prior keeps the seed's ratios: the prior is really there
    stiff = DecoderQuantifier(FixedEstimate(wrong, basis.metabolites), basis, prior_sd=1e-4)
    kept = stiff.quantify(acq).concentrations[0]
    assert np.abs(max_normalise(kept) - max_normalise(wrong)).max() < 0.01


def test_decoder_rejects_a_basis_sampled_otherwise(basis: Basis) -> None:
    other = toy_basis(n_points=2048, dwell_s=1 / 2500)
    with pytest.raises(MRSDataError, match="decoder basis"):
        LCDecoder(other).fit(phantom(basis))
    with pytest.raises(MRSDataError, match="prior_mean"):
        LCDecoder(basis).fit(phantom(basis), prior_mean=np.ones(3))


def test_hybrid_beats_the_wrong_network_estimate(basis: Basis) -> None:
    acq = phantom(basis, shift_hz=1.0, phase_deg=4.0, seed=5)
    wrong = CONC * np.array([1.3, 0.6, 1.5, 0.8, 1.0])
    q = HybridQuantifier(FixedEstimate(wrong, basis.metabolites), basis)
    res = q.quantify(acq)
    assert res.method == "hybrid+fixed"
    assert norm_error(res.concentrations[0]) < 0.5 * norm_error(wrong)


# ---------------------------------------------------------------------------- ratio prior
def toy_spectrum(conc: np.ndarray, seed: int = 0) -> tuple[Basis, EditedSpectra]:
    b = toy_basis(n_points=1024)
    rng = np.random.default_rng(seed)
    s = b.mix(conc[None, :]).map(lambda x: x.broaden(2.0)[0])
    sd = 0.01 * np.abs(s.off.fid).max()
    return b, s.map(
        lambda x: x.replace(
            fid=x.fid
            + sd * (rng.standard_normal(x.n_points) + 1j * rng.standard_normal(x.n_points))
        )
    )


def test_ratio_prior_pulls_the_fit_by_its_sd() -> None:
    truth = np.array([1.0, 0.3, 0.5, 0.8, 1.2])  # Cr, GABA, Gln, Glu, NAA (toy basis order)
    b, acq = toy_spectrum(truth)
    fitter = LCMFitter(b, "off", baseline=False)
    free = fitter.fit(acq.off).concentrations
    wrong = truth * np.array([1.0, 3.0, 0.3, 1.0, 1.0])
    weak = fitter.fit(acq.off, RatioPrior(wrong, sd=100.0)).concentrations
    stiff = fitter.fit(acq.off, RatioPrior(wrong, sd=1e-4)).concentrations
    np.testing.assert_allclose(weak, free, rtol=1e-3, atol=1e-6)
    np.testing.assert_allclose(max_normalise(stiff), max_normalise(wrong), atol=2e-3)
    # the prior's scale is free: only ratios matter
    scaled = fitter.fit(acq.off, RatioPrior(7.0 * wrong, sd=1e-4)).concentrations
    np.testing.assert_allclose(scaled, stiff, rtol=1e-3)
    # the next fit without a prior is the plain one again (no state left behind)
    np.testing.assert_allclose(fitter.fit(acq.off).concentrations, free, rtol=1e-9)


def test_ratio_prior_checks_its_fields() -> None:
    with pytest.raises(MRSDataError, match="'mean'"):
        RatioPrior(np.array([-1.0, 1.0]))
    with pytest.raises(MRSDataError, match="'sd'"):
        RatioPrior(np.array([1.0, 1.0]), sd=0.0)
    b, acq = toy_spectrum(np.ones(5))
    with pytest.raises(MRSDataError, match="expected 5 values"):
        LCMFitter(b, "off").fit(acq.off, RatioPrior(np.ones(3)))


# ---------------------------------------------------------------------------- ablation
def _table():
    import pandas as pd

    rows = []
    for method, level, mae in [
        ("cnn-cpu", "a", 0.10),
        ("ref+cnn-cpu", "a", 0.05),
        ("tta+cnn-cpu", "a", 0.02),
        ("cnn-cpu", "in-dist", 0.01),
        ("ref+cnn-cpu", "in-dist", 0.012),
        ("tta+cnn-cpu", "in-dist", 0.015),
        ("lcm", "a", 0.03),
    ]:
        net, ing = describe(method)
        rows.append(dict(method=method, network=net, ingredient=ing, level=level,
                         metabolite="GABA", mae=mae, n=1, seconds=0.0))  # fmt: skip
    return pd.DataFrame(rows)


def test_ablation_matrix_and_plot() -> None:
    import matplotlib

    matplotlib.use("Agg")
    from mrs_lib.bench.ablation import ablation_matrix, plot_ablation

    table = _table()
    mat = ablation_matrix(table)
    assert list(mat.columns) == ["a", "in-dist"]
    assert mat.loc["tta+cnn-cpu", "a"] == pytest.approx(0.02)
    assert np.isnan(mat.loc["lcm", "in-dist"])
    fig = plot_ablation(table)
    (ax,) = fig.axes[:1]
    heights = sorted(round(p.get_height(), 3) for p in ax.patches)
    assert heights == [0.01, 0.012, 0.015, 0.02, 0.05, 0.1]
    assert len(ax.collections) == 1  # the lcm reference line


@pytest.mark.slow
def test_ablation_runs_on_a_small_design() -> None:
    from mrs_lib.bench.ablation import ablation
    from mrs_lib.io.phantoms import PhantomDesign

    design = [
        PhantomDesign("E2", "p1", {"Cr": 8.0, "GABA": 2.0, "Gln": 3.0, "Glu": 10.0, "NAA": 12.0}),
        PhantomDesign("E3", "p2", {"Cr": 6.0, "GABA": 4.0, "Gln": 2.0, "Glu": 8.0, "NAA": 10.0}),
    ]
    table = ablation(
        ["cnn-cpu", "ref+cnn-cpu"], ("a",), source="paper", repeats=1, design=design, in_dist_n=4
    )
    assert set(table["level"]) == {"a", "in-dist", "evaluate"}
    assert set(table["ingredient"]) == {"none", "ref"}
    assert (table["mae"] >= 0).all() and len(table) == 5 * (2 + 2 + 1)


@pytest.mark.slow
def test_cli_bench_takes_ingredient_names(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from mrs_lib import cli

    argv = ["validate", "--bench", "own", "--level", "b", "--methods", "cnn-cpu", "ref+cnn-cpu"]
    argv += ["--series", "E3", "--repeats", "1", "--json"]
    assert cli.main(argv) == 0
    level = json.loads(capsys.readouterr().out)["variants"]["b"]
    mae = {m: level["methods"][m]["mae"]["GABA"] for m in ("cnn-cpu", "ref+cnn-cpu")}
    # own basis, offsets and phases: referencing removes most of the network's GABA error
    assert mae["ref+cnn-cpu"] < 0.5 * mae["cnn-cpu"]
    assert cli.main([*argv[:5], "--methods", "reff+cnn-cpu", "--series", "E3", "--json"]) != 0
    assert "unknown ingredient 'reff'" in capsys.readouterr().err

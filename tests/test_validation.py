"""Digital phantoms and phantom scoring (chapter 5)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from mrs_lib import EditedSpectra, MRSDataError, Spectrum
from mrs_lib.io.phantoms import PhantomDesign, load_design
from mrs_lib.quantify import QuantResult
from mrs_lib.sim.basis import Basis
from mrs_lib.validation import (
    PerAcquisition,
    PhantomConditions,
    digital_phantoms,
    mae_table,
    phantom_scans,
    score_scans,
)

MET = ("Cr", "GABA", "Gln", "Glu", "NAA")
PPM = (3.027, 3.01, 3.75, 3.74, 2.008)
LARMOR = 123.23


def singlets(bw_hz: float = 2000.0, n: int = 2048) -> Basis:
    t = np.arange(n) / bw_hz
    fid = np.stack([np.exp(2j * np.pi * (p - 4.65) * LARMOR * t) for p in PPM])
    off = Spectrum(fid, dwell_s=1 / bw_hz, larmor_mhz=LARMOR, te_ms=68.0)
    return Basis(MET, on=off * 1.5, off=off)


class Truth:
    """A quantifier that reads the true concentrations from a lookup (scaled by ``factor``)."""

    def __init__(
        self, truth: dict[bytes, np.ndarray], factor: float = 1.0, columns: tuple[str, ...] = MET
    ):
        self.truth, self.factor, self.columns = truth, factor, columns

    def quantify(self, spectra: EditedSpectra) -> QuantResult:
        rows = [self.truth[f.tobytes()] for f in np.atleast_2d(spectra.off.fid)]
        conc = self.factor * np.array(rows)[:, [MET.index(c) for c in self.columns]]
        return QuantResult(self.columns, conc, None, {}, "truth", 0.0)


def test_ideal_noiseless_scan_is_the_linear_combination() -> None:
    """Oracle: with every imperfection zero the scan equals sum_m c_m basis_m exactly."""
    b = singlets()
    zero = PhantomConditions((0.0, 0.0), (0.0, 0.0), (0.0, 0.0), (0.0, 0.0), (0.0, 0.0), (0.0, 0.0))
    conc = np.array([[8.0, 2.0, 0.0, 0.0, 15.0]])
    scans, _ = phantom_scans(b, conc, 0, zero)
    np.testing.assert_allclose(scans.off.fid, b.mix(conc).off.fid, atol=1e-12)
    np.testing.assert_allclose(scans.on.fid, b.mix(conc).on.fid, atol=1e-12)


def test_imperfections_are_the_drawn_ones() -> None:
    """Oracles: the NAA line moves by shift - drift/2 in OFF; its phase equals the drawn phase;
    noise SD equals noise_rel x max|FID| (within 5 %)."""
    b = singlets(n=8192)
    cond = PhantomConditions(
        (2.0, 2.0), (0.0, 0.0), (5.0, 5.0), (1.0, 1.0), (20.0, 20.0), (0.0, 0.0)
    )
    conc = np.array([[0.0, 0.0, 0.0, 0.0, 1.0]])
    scans, _ = phantom_scans(b, conc, 1, cond)
    spec = scans.off.zero_fill(65536)
    s = spec.spectrum()[0]
    k = int(np.argmax(np.abs(s)))
    assert spec.hz_axis()[k] == pytest.approx((2.008 - 4.65) * LARMOR + 5.0 - 0.5, abs=0.05)
    assert np.angle(s[k], deg=True) == pytest.approx(20.0, abs=1.0)
    noisy, _ = phantom_scans(b, np.zeros((200, 5)) + conc, 2, cond.replace(noise_rel=(0.01, 0.01)))
    clean = phantom_scans(b, np.zeros((1, 5)) + conc, 2, cond)[0]
    resid = noisy.off.fid - clean.off.fid
    assert resid.std() == pytest.approx(0.01 * np.abs(clean.off.fid).max(), rel=0.05)


def test_digital_swansea_series(data_file: Callable[[str], Path]) -> None:
    design = load_design(data_file("swansea_phantom_design_mM.csv"))
    made: list[tuple[float, int]] = []

    def basis_for(bw: float, n: int) -> Basis:
        made.append((bw, n))
        return singlets(bw, n)

    scans = digital_phantoms(design, basis_for, 3)
    assert len(scans) == 76
    assert sorted(set(made)) == [(1250.0, 2048), (2000.0, 4096)]
    e1 = [s for s in scans if s.series == "E1"]
    assert all(s.spectra.off.bw_hz == 1250.0 for s in e1)
    assert all(s.spectra.off.n_points == 4096 for s in scans if s.series != "E1")
    assert all(1.0 <= s.metadata["lorentzian_hz"] <= 4.0 for s in scans)


def test_metric_is_scale_free_and_catches_errors() -> None:
    """Oracles: the max-normalised error is zero for the truth at any scale; a method that
    reports only GABA and Cr is normalised over those two; a wrong GABA shows up in GABA only."""
    design = [
        PhantomDesign("E1", "a", {"NAA": 15.0, "Cr": 8.0, "GABA": 2.0}),
        PhantomDesign("E2", "b", {"NAA": 15.0, "Cr": 8.0, "GABA": 4.0, "Glu": 12.0, "Gln": 3.0}),
    ]
    scans = digital_phantoms(design, lambda bw, n: singlets(bw, n), 4)
    truth = {s.spectra.off.fid.tobytes(): s.vector(MET) for s in scans}
    scores = score_scans({"x3": Truth(truth, 3.0), "two": Truth(truth, 1.0, ("GABA", "Cr"))}, scans)
    assert np.nanmax(scores["abs_error"]) < 1e-12
    two = scores[scores.method == "two"]
    assert two[two.metabolite == "NAA"]["abs_error"].isna().all()
    assert two[two.metabolite == "GABA"]["true_norm"].tolist() == pytest.approx([2 / 8, 4 / 8])

    class WrongGaba(Truth):
        def quantify(self, spectra: EditedSpectra) -> QuantResult:
            r = super().quantify(spectra)
            c = r.concentrations.copy()
            c[:, MET.index("GABA")] += 1.5  # 1.5 mM too much; NAA (15 mM) stays the maximum
            return QuantResult(r.metabolites, c, None, {}, "wrong", 0.0)

    table = mae_table(score_scans({"wrong": WrongGaba(truth)}, scans))
    assert table.loc["wrong", "GABA"] == pytest.approx(1.5 / 15.0)
    assert table.loc["wrong", ["Cr", "Glu", "Gln", "NAA"]].max() < 1e-12


def test_per_acquisition_builds_one_quantifier_per_grid() -> None:
    design = [PhantomDesign("E1", "a", {"NAA": 15.0}), PhantomDesign("E2", "b", {"NAA": 15.0})]
    scans = digital_phantoms(design, lambda bw, n: singlets(bw, n), 5)
    truth = {s.spectra.off.fid.tobytes(): s.vector(MET) for s in scans}
    built: list[tuple[float, int]] = []

    def make(bw: float, n: int) -> Truth:
        built.append((bw, n))
        return Truth(truth)

    q = PerAcquisition(make)
    score_scans({"q": q}, scans)
    score_scans({"q": q}, scans)
    assert sorted(built) == [(1250.0, 2048), (2000.0, 4096)]


def test_bad_input() -> None:
    with pytest.raises(MRSDataError, match="concentrations_mm"):
        phantom_scans(singlets(), np.ones((2, 3)), 0)
    with pytest.raises(MRSDataError, match="scans"):
        score_scans({}, [])
    with pytest.raises(MRSDataError, match="range"):
        phantom_scans(singlets(), np.ones((1, 5)), 0, PhantomConditions(lorentzian_hz=(3.0, 1.0)))


@pytest.mark.usefixtures("isolated_dirs")
def test_cli_validate_on_a_phantom_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mrs_lib import cli
    from mrs_lib.io.phantoms import save_phantom_folder
    from mrs_lib.validation import series_bases

    basis_for = series_bases("paper", refocusing="ideal", progress=False)
    design = [
        PhantomDesign("E2", "g2", {"NAA": 15.0, "Cr": 8.0, "GABA": 2.0}),
        PhantomDesign("E2", "g8", {"NAA": 15.0, "Cr": 8.0, "GABA": 8.0}),
    ]
    save_phantom_folder(digital_phantoms(design, basis_for, 0), tmp_path / "ph")
    out_csv = tmp_path / "scores.csv"
    argv = [
        "validate",
        "--phantoms",
        str(tmp_path / "ph"),
        "--methods",
        "gannet",
        "--refocusing",
        "ideal",
        "--csv",
        str(out_csv),
    ]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "2 phantom scans" in out and "gannet" in out and "GABA" in out
    assert out_csv.read_text().count("\n") == 1 + 2 * 5
    assert cli.main(["validate", "--phantoms", str(tmp_path / "absent")]) == 2

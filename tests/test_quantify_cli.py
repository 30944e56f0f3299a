"""``mrs quantify`` end to end: raw NIfTI-MRS and vendor files (written here) to ratios to Cr.

Raw scans are simulated by the library (toy singlet basis: coils, ON/OFF transients with
drift, phase noise, motion-corrupted shots, residual water 100x NAA, lipids, eddy currents,
a water reference); the vendor files (Siemens .rda, Philips SDAT/SPAR) are written by
``tests/vendor_writers.py`` and converted by spec2nii. No real file is in the repository.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from vendor_writers import write_rda, write_sdat_spar

from mrs_lib.cli import main
from mrs_lib.fit.lcm import toy_basis
from mrs_lib.preprocess import dynamic_layout, simulate_raw
from mrs_lib.quantify import GannetQuantifier, LCMQuantifier

CONC = np.array([1.0, 0.3, 0.4, 1.1, 1.3])


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
        corrupted=(5, 20, 41),
        water_ratio=100.0,
        lipid_ratio=3.0,
        offset_hz=12.0,
        eddy_deg=20.0,
        rng=7,
    )


@pytest.fixture(scope="module")
def files(sim, basis, tmp_path_factory):
    d = tmp_path_factory.mktemp("scans")
    basis.save_npz(d / "toy.npz")
    sim.scan.save(d / "raw.nii.gz")
    sim.water.save(d / "wref.nii.gz")
    return d


def _json_lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_quantify_raw_nifti_agrees_with_the_clean_average(files, sim, basis, capsys):
    """GABA+/Cr of the Gannet-style fit: raw scan through preprocessing vs the clean average."""
    argv = ["quantify", str(files / "raw.nii.gz"), "--water-ref", str(files / "wref.nii.gz")]
    argv += ["--method", "gannet", "--basis", str(files / "toy.npz"), "--json"]
    assert main(argv) == 0
    (obj,) = _json_lines(capsys.readouterr().out)
    truth = GannetQuantifier(basis).quantify(sim.clean).ratio("GABA")[0]
    assert obj["ratios_to_cr"]["GABA"] == pytest.approx(truth, rel=0.05)
    assert obj["uncertainty"]["GABA"] is not None
    pre = obj["preprocessing"]
    assert pre["edit_order"] == "dim-off-first"
    rej = next(s for s in pre["steps"] if s["step"] == "rejection")
    assert sorted(map(tuple, rej["rejected"])) == [(2, 1), (10, 0), (20, 1)]
    assert obj["water_scaled_mM"]["Cr"] > 0


def test_lcm_table_with_water_scaling_and_csv(files, sim, basis, capsys, tmp_path):
    argv = ["quantify", str(files / "raw.nii.gz"), "--water-ref", str(files / "wref.nii.gz")]
    argv += ["--method", "lcm", "--basis", str(files / "toy.npz"), "--csv", str(tmp_path / "t.csv")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "GABA/Cr" in out and "Cramér-Rao" in out
    assert "water-scaled" in out and "tissue water fraction" in out
    header, row = (tmp_path / "t.csv").read_text().splitlines()
    cells = dict(zip(header.split(","), row.split(","), strict=True))
    truth = LCMQuantifier(basis).quantify(sim.clean)
    assert float(cells["GABA/Cr"]) == pytest.approx(truth.ratio("GABA")[0], rel=0.08)
    assert float(cells["NAA/Cr"]) == pytest.approx(truth.ratio("NAA")[0], rel=0.05)


def test_vendor_philips_sdat_spar_interleaved(sim, basis, files, tmp_path, capsys):
    """Philips SDAT/SPAR: one row per transient, ON/OFF interleaved along DIM_DYN (detected)."""
    combined = np.tensordot(np.conj(sim.sensitivities), sim.scan.fid, axes=(0, 0))[None]
    dyn = dynamic_layout(sim.scan.replace_fid(combined), "interleaved-on-first")[0]
    sdat, _spar = write_sdat_spar(
        tmp_path / "scan", dyn, dwell_s=sim.scan.dwell_s, larmor_mhz=sim.scan.larmor_mhz, te_ms=68
    )
    argv = ["quantify", str(sdat), "--method", "gannet", "--basis", str(files / "toy.npz")]
    assert main([*argv, "--json"]) == 0
    (obj,) = _json_lines(capsys.readouterr().out)
    assert obj["preprocessing"]["edit_order"] == "interleaved-on-first"
    truth = GannetQuantifier(basis).quantify(sim.clean).ratio("GABA")[0]
    assert obj["ratios_to_cr"]["GABA"] == pytest.approx(truth, rel=0.05)


def test_vendor_siemens_rda_on_off_pair(sim, basis, files, tmp_path, capsys):
    """Siemens .rda exports of averaged OFF and ON: --off/--on; `mrs convert` reads them too."""
    params = dict(dwell_s=sim.scan.dwell_s, larmor_mhz=sim.scan.larmor_mhz, te_ms=68.0)
    rng = np.random.default_rng(5)
    paths = {}
    t = sim.clean.off.time_s()
    water = 40.0 * np.exp(2j * np.pi * 0.03 * sim.scan.larmor_mhz * t - np.pi * 8 * t)
    for name in ("off", "on"):  # averaged sub-spectra, with residual water as in vivo exports
        fid = (getattr(sim.clean, name).fid + water) * np.exp(2j * np.pi * 9.0 * t + 0.4j)
        fid = fid + 0.002 * (rng.standard_normal(fid.shape) + 1j * rng.standard_normal(fid.shape))
        paths[name] = write_rda(tmp_path / f"{name}.rda", fid, **params)
    argv = ["quantify", "--off", str(paths["off"]), "--on", str(paths["on"]), "--method", "gannet"]
    assert main([*argv, "--basis", str(files / "toy.npz"), "--json"]) == 0
    (obj,) = _json_lines(capsys.readouterr().out)
    truth = GannetQuantifier(basis).quantify(sim.clean).ratio("GABA")[0]
    assert obj["ratios_to_cr"]["GABA"] == pytest.approx(truth, rel=0.03)
    assert main(["convert", str(paths["off"]), str(tmp_path / "off.nii.gz")]) == 0
    assert (tmp_path / "off.nii.gz").is_file()


def test_network_method_by_checkpoint_name(files, capsys):
    argv = ["quantify", str(files / "raw.nii.gz"), "--method", "cnn-cpu", "--json"]
    assert main(argv) == 0
    (obj,) = _json_lines(capsys.readouterr().out)
    assert set(obj["ratios_to_cr"]) == {"GABA", "Gln", "Glu", "NAA"}
    assert obj["uncertainty"] is None
    assert all(v is not None and v >= 0 for v in obj["ratios_to_cr"].values())


def test_several_scans_one_row_each(files, capsys):
    raw = str(files / "raw.nii.gz")
    argv = ["quantify", raw, raw, "--method", "gannet", "--basis", str(files / "toy.npz")]
    assert main([*argv, "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert sum(line.startswith(raw) for line in out.splitlines()) == 2


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--on", "x.nii.gz"], "--on and --off go together"),
        ([], "no scan given"),
        (["missing.nii.gz"], "no such file"),
        (["scan.txt"], "valid NIfTI-MRS"),
    ],
)
def test_bad_input_gives_clear_errors(extra, message, files, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "scan.txt").write_text("not a scan")
    code = main(["quantify", *extra, "--method", "gannet", "--basis", str(files / "toy.npz")])
    assert code == 2
    assert message in capsys.readouterr().err


def test_water_reference_count_must_match(files, capsys):
    raw, w = str(files / "raw.nii.gz"), str(files / "wref.nii.gz")
    argv = ["quantify", raw, raw, raw, "--water-ref", w, "--water-ref", w, "--method", "gannet"]
    assert main([*argv, "--basis", str(files / "toy.npz")]) == 2
    assert "one per scan" in capsys.readouterr().err

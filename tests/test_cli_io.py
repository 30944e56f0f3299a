"""``mrs info`` and ``mrs convert`` through ``mrs_lib.cli.main`` (files written and read back)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mrs_lib import cli
from mrs_lib.io import lcmodel, nifti
from mrs_lib.sim.basis import Basis
from mrs_lib.spectrum import EditedSpectra, Spectrum

pytestmark = pytest.mark.usefixtures("isolated_dirs")  # not the user's own cache

DWELL, LARMOR = 5e-4, 127.731


def _fids(ppms, ref=3.0, n=512) -> np.ndarray:
    t = np.arange(n) * DWELL
    return np.stack([np.exp(2j * np.pi * (p - ref) * LARMOR * t - 2 * np.pi * t) for p in ppms])


@pytest.fixture
def basis_npz(tmp_path: Path) -> tuple[Basis, Path]:
    on = Spectrum(_fids([3.0, 1.9]), DWELL, LARMOR, ppm_reference=3.0, te_ms=68.0)
    off = Spectrum(_fids([3.0, 3.0]), DWELL, LARMOR, ppm_reference=3.0, te_ms=68.0)
    basis = Basis(("Cr", "GABA"), on, off, lw_hz=2.0, params={"preset": "cli-test"})
    return basis, basis.save_npz(tmp_path / "basis.npz")


def test_basis_npz_nifti_npz_round_trip(tmp_path: Path, basis_npz, capsys) -> None:
    basis, npz = basis_npz
    nii = tmp_path / "basis.nii.gz"
    assert cli.main(["convert", str(npz), str(nii)]) == 0
    assert cli.main(["convert", str(nii), str(tmp_path / "back.npz")]) == 0
    back = Basis.load_npz(tmp_path / "back.npz")
    assert back.metabolites == basis.metabolites and back.params == {"preset": "cli-test"}
    np.testing.assert_array_equal(back.on.fid, basis.on.fid)
    np.testing.assert_array_equal(back.off.fid, basis.off.fid)
    capsys.readouterr()
    assert cli.main(["info", str(nii)]) == 0
    out = capsys.readouterr().out
    for text in (
        "NIfTI-MRS",
        "basis",
        "512",
        "Cr, GABA",
        "DIM_USER_0=2, DIM_EDIT=2",
        "127.731",
        "68",
    ):
        assert text in out, text
    assert cli.main(["info", "--json", str(npz)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["metabolites"] == ["Cr", "GABA"] and info["bw_hz"] == 2000.0


def test_basis_to_lcmodel_needs_an_edit_state(tmp_path: Path, basis_npz, capsys) -> None:
    _, npz = basis_npz
    out = tmp_path / "diff.BASIS"
    assert cli.main(["convert", str(npz), str(out)]) == 2
    assert "--edit" in capsys.readouterr().err
    assert cli.main(["convert", str(npz), str(out), "--edit", "diff", "--n-points", "1024"]) == 0
    lcm = lcmodel.read_basis(out)
    assert lcm.edit == "diff" and lcm.n_points == 1024 and lcm.metabolites == ("Cr", "GABA")
    capsys.readouterr()
    assert cli.main(["info", str(out)]) == 0
    assert "LCModel .BASIS" in capsys.readouterr().out


def test_edited_nifti_to_raw_and_back(tmp_path: Path, capsys) -> None:
    off = Spectrum(_fids([3.0], ref=4.65)[0], DWELL, LARMOR, te_ms=68.0)
    on = Spectrum(_fids([1.9], ref=4.65)[0], DWELL, LARMOR, te_ms=68.0)
    nii = nifti.save(EditedSpectra(off=off, on=on), tmp_path / "mega.nii.gz")
    raw = tmp_path / "on.RAW"
    assert cli.main(["convert", str(nii), str(raw)]) == 2
    assert "--edit" in capsys.readouterr().err
    assert cli.main(["convert", str(nii), str(raw), "--edit", "on"]) == 0
    back = lcmodel.read_raw(raw, DWELL, LARMOR)
    np.testing.assert_allclose(back.fid, on.fid, atol=1e-6)
    assert (
        cli.main(
            [
                "convert",
                str(raw),
                str(tmp_path / "on.nii.gz"),
                "--dwell-s",
                str(DWELL),
                "--larmor-mhz",
                str(LARMOR),
                "--edit",
                "on",
            ]
        )
        == 0
    )
    again = nifti.load(tmp_path / "on.nii.gz")
    assert isinstance(again, Spectrum) and again.edit == "on"
    np.testing.assert_allclose(again.fid, on.fid, atol=1e-6)


def test_info_raw_needs_dwell_and_larmor(tmp_path: Path, capsys) -> None:
    raw = lcmodel.write_raw(tmp_path / "s.RAW", Spectrum(_fids([2.0])[0], DWELL, LARMOR))
    assert cli.main(["info", str(raw)]) == 2
    assert "--dwell-s" in capsys.readouterr().err
    assert cli.main(["info", str(raw), "--dwell-s", str(DWELL), "--larmor-mhz", str(LARMOR)]) == 0
    out = capsys.readouterr().out
    assert "LCModel .RAW" in out and "512" in out and "2000" in out
    assert cli.main(["info", str(raw), "--dwell-s", str(DWELL), "--larmor-mhz", "123.2"]) == 2
    assert "HZPPPM" in capsys.readouterr().err


def test_info_lcmodel_table(data_file, capsys) -> None:
    path = data_file("lcmodel-output-example/svs_97.TABLE")
    assert cli.main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Cr+PCr" in out and "0.043" in out
    gaba = next(line for line in out.splitlines() if line.split()[:1] == ["GABA"])
    assert gaba.split()[1:] == ["0.0405", "32", "0.162"]


def test_unknown_file_type_is_a_clean_error(tmp_path: Path, capsys) -> None:
    path = tmp_path / "x.dat"
    path.write_text("1 2 3\n")
    assert cli.main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mrs info: error:") and "unknown file type" in err


def test_info_and_convert_name_a_missing_file_or_a_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mrs_lib.cli import main

    assert main(["info", str(tmp_path / "absent.npz")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["info", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
    assert main(["convert", str(tmp_path / "absent.npz"), str(tmp_path / "b.nii.gz")]) == 2
    assert "no such file" in capsys.readouterr().err

"""``mrs simulate`` and the simulate_basis cache (issue 3 item 5 contract)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mrs_lib.cli import main
from mrs_lib.sim import Basis, simulate_basis


@pytest.fixture(autouse=True)
def _artifacts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MRS_ARTIFACTS_DIR", str(tmp_path / "artifacts"))


def test_mrs_simulate_writes_the_npz_contract(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Oracle: the contract of issue 3 item 5 and Basis.broaden (Lorentzian exp(-pi lw t))."""
    out = tmp_path / "b.npz"
    rc = main(
        [
            "simulate",
            "--preset",
            "external-reference",
            "--points",
            "512",
            "--metabolites",
            "GABA",
            "Cr",
            "--lw-hz",
            "2.0",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    assert "elapsed" in capsys.readouterr().out
    with np.load(out) as z:
        assert list(z["metabolites"]) == ["GABA", "Cr"]
        for key in ("fid_on", "fid_off"):
            assert z[key].shape == (2, 512) and np.iscomplexobj(z[key])
        assert float(z["lw_hz"]) == 2.0
        assert float(z["dwell_s"]) == pytest.approx(5e-4)
        assert float(z["larmor_mhz"]) == pytest.approx(127.731)
        assert float(z["ppm_reference"]) == pytest.approx(3.0)
        assert float(z["te_ms"]) == pytest.approx(68.0)
        fid_off = z["fid_off"]
    raw = simulate_basis(
        "external-reference", metabolites=["GABA", "Cr"], n_points=512, progress=False
    )
    t = np.arange(512) * 5e-4
    np.testing.assert_allclose(fid_off, raw.off.fid * np.exp(-np.pi * 2.0 * t), atol=1e-10)
    assert Basis.load_npz(out).lw_hz == 2.0


def test_mrs_simulate_rejects_unknown_preset(tmp_path: Path) -> None:
    """A bad preset is a clean error (exit code 2), not a traceback."""
    assert main(["simulate", "--preset", "nope", "--out", str(tmp_path / "x.npz")]) == 2


def test_simulate_basis_is_cached_and_keyed_by_parameters(tmp_path: Path) -> None:
    """Oracle: the cache key (sha256 of all parameters).

    Same call -> same file, other grid -> new.
    """
    kw = dict(metabolites=["Cr"], refocusing="shaped", progress=False)
    a = simulate_basis("paper", grid_points=3, **kw)  # type: ignore[arg-type]
    cache = tmp_path / "artifacts" / "sim-cache"
    first = sorted(cache.glob("*.npz"))
    b = simulate_basis("paper", grid_points=3, **kw)  # type: ignore[arg-type]
    assert sorted(cache.glob("*.npz")) == first and len(first) == 1
    np.testing.assert_array_equal(a.on.fid, b.on.fid)
    simulate_basis("paper", grid_points=5, **kw)  # type: ignore[arg-type]
    assert len(list(cache.glob("*.npz"))) == 2
    assert a.lw_hz == 0.0 and a.n_points == 4096 and a.params["preset"] == "paper"


def test_mrs_simulate_exports_nifti_and_lcmodel(tmp_path: Path) -> None:
    """Oracle: the npz written by the same command (round trip through NIfTI-MRS and .BASIS)."""
    from mrs_lib.io.lcmodel import read_basis
    from mrs_lib.io.nifti import load_basis

    common = [
        "simulate",
        "--preset",
        "external-reference",
        "--points",
        "256",
        "--metabolites",
        "NAA",
        "Cr",
        "--lw-hz",
        "3",
    ]
    assert main([*common, "--out", str(tmp_path / "b.npz")]) == 0
    assert main([*common, "--out", str(tmp_path / "b.nii.gz")]) == 0
    assert main([*common, "--out", str(tmp_path / "b.BASIS")]) == 0
    ref = Basis.load_npz(tmp_path / "b.npz")
    nii = load_basis(tmp_path / "b.nii.gz")
    assert nii.metabolites == ref.metabolites
    np.testing.assert_allclose(nii.on.fid, ref.on.fid, rtol=1e-5, atol=1e-6)
    for edit in ("off", "on", "diff"):
        assert (tmp_path / f"b_{edit}.BASIS").is_file()
    lc = read_basis(tmp_path / "b_off.BASIS")
    assert tuple(lc.metabolites) == ("NAA", "Cr")
    spec = lc.spectra[0]
    peak = spec.ppm_axis()[int(np.argmax(spec.spectrum().real))]
    assert peak == pytest.approx(2.008, abs=spec.bw_hz / spec.n_points / spec.larmor_mhz)

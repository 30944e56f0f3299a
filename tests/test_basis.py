"""The Basis container: npz contract round trip, mixing, and the external FID-A reference."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from mrs_lib import MRSDataError, MRSFormatError, Spectrum
from mrs_lib.sim.basis import Basis, load_fida_reference

DWELL, LARMOR = 5e-4, 123.23


def singlet_basis(ppms: dict[str, float], n: int = 1024) -> Basis:
    """Singlets at known ppm; ON doubles each line so DIFF = OFF (an easy oracle)."""
    t = np.arange(n) * DWELL
    fids = np.stack([np.exp(2j * np.pi * (p - 4.65) * LARMOR * t) for p in ppms.values()])
    off = Spectrum(fids, dwell_s=DWELL, larmor_mhz=LARMOR, te_ms=68.0)
    return Basis(tuple(ppms), on=off * 2.0, off=off, params={"kind": "singlets"})


def test_mix_is_linear_and_diff_is_on_minus_off() -> None:
    b = singlet_basis({"Cr": 3.027, "NAA": 2.008})
    mixed = b.mix([[1.0, 0.0], [0.5, 2.0]])
    np.testing.assert_allclose(mixed.off.fid[1], 0.5 * b.off.fid[0] + 2.0 * b.off.fid[1])
    np.testing.assert_allclose(b.diff.fid, b.off.fid)
    assert b.edited("NAA").on.edit == "on"
    with pytest.raises(MRSDataError, match="concentrations"):
        b.mix([1.0, 2.0, 3.0])
    with pytest.raises(MRSDataError, match="GABA"):
        b.index("GABA")


def test_select_and_broaden() -> None:
    b = singlet_basis({"Cr": 3.027, "NAA": 2.008, "GABA": 3.0})
    s = b.select(["NAA", "Cr"])
    assert s.metabolites == ("NAA", "Cr")
    np.testing.assert_allclose(s.off.fid[1], b.off.fid[0])
    wide = b.broaden(3.0)
    assert wide.lw_hz == 3.0
    # area preserved (oracle: apodisation equals 1 at t = 0)
    np.testing.assert_allclose(wide.off.spectrum().sum(-1), b.off.spectrum().sum(-1))


def test_npz_round_trip(tmp_path: Path) -> None:
    b = singlet_basis({"Cr": 3.027, "NAA": 2.008}).broaden(2.0)
    path = b.save_npz(tmp_path / "basis.npz")
    with np.load(path) as npz:  # the documented contract of `mrs simulate`
        assert {
            "metabolites",
            "fid_on",
            "fid_off",
            "dwell_s",
            "larmor_mhz",
            "ppm_reference",
            "te_ms",
            "lw_hz",
        } <= set(npz.files)
        assert npz["fid_on"].shape == (2, 1024) and np.iscomplexobj(npz["fid_on"])
    back = Basis.load_npz(path)
    assert back.metabolites == b.metabolites and back.lw_hz == 2.0
    assert back.on.te_ms == 68.0 and back.params == {"kind": "singlets"}
    np.testing.assert_array_equal(back.on.fid, b.on.fid)


def test_npz_bad_input_names_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.npz"
    np.savez(bad, metabolites=np.array(["Cr"]), fid_on=np.zeros((2, 8), complex))
    with pytest.raises(MRSFormatError, match=r"bad\.npz.*fid_off"):
        Basis.load_npz(bad)
    np.savez(
        bad,
        metabolites=np.array(["Cr", "NAA"]),
        fid_on=np.zeros((3, 8), complex),
        fid_off=np.zeros((2, 8), complex),
        dwell_s=5e-4,
        larmor_mhz=123.2,
        ppm_reference=4.65,
    )
    with pytest.raises(MRSFormatError, match=r"fid_on.*\(2, n_points\)"):
        Basis.load_npz(bad)
    nan = np.full((2, 8), np.nan, complex)
    np.savez(
        bad,
        metabolites=np.array(["Cr", "NAA"]),
        fid_on=nan,
        fid_off=nan,
        dwell_s=5e-4,
        larmor_mhz=123.2,
        ppm_reference=4.65,
    )
    with pytest.raises(MRSFormatError, match="finite"):
        Basis.load_npz(bad)
    with pytest.raises(MRSFormatError, match="no such file"):
        Basis.load_npz(tmp_path / "absent.npz")


def test_fida_reference_lines_where_physics_puts_them(data_file: Callable[[str], Path]) -> None:
    """Oracles: NAA CH3 at 2.008 ppm and Cr CH3 at 3.027 ppm (Govindaraju 2000), absorptive;
    GABA DIFF maximum in the 3.0 ppm pseudo-doublet (physics.md section 4)."""
    data_file("isbi-fida-megapress/Cr_OFF.mat")
    b = load_fida_reference()
    assert b.metabolites == ("Cr", "GABA", "Gln", "Glu", "NAA")
    assert (b.n_points, b.dwell_s, b.larmor_mhz) == (2048, 5e-4, 127.731)
    assert b.on.ppm_reference == 3.0 and b.on.te_ms == 68.0
    fine = b.map(lambda s: s.zero_fill(16384))
    ppm = fine.off.ppm_axis()
    for met, expected in (("NAA", 2.008), ("Cr", 3.027)):
        spec = fine.off.spectrum()[b.index(met)]
        assert ppm[np.argmax(spec.real)] == pytest.approx(expected, abs=2e-3)
        assert spec.real.max() > 5 * abs(spec.real.min())  # absorption phase, not dispersion
    diff = fine.diff.spectrum()[b.index("GABA")].real
    window = (ppm > 2.5) & (ppm < 3.5)
    assert 2.9 < ppm[window][np.argmax(diff[window])] < 3.1


def test_get_preset_overrides_refocusing_and_grid_without_touching_the_preset() -> None:
    from mrs_lib.sim import get_preset

    base = get_preset("paper")
    pre = get_preset("paper", refocusing="ideal", grid_points=5)
    assert (pre.sequence.refocusing, pre.sequence.grid_points) == ("ideal", 5)
    assert (base.sequence.refocusing, base.sequence.grid_points) == ("shaped", 41)
    assert get_preset(pre) is pre and get_preset("paper") is base
    with pytest.raises(MRSDataError, match="expected one of"):
        get_preset("nope")

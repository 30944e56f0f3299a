"""LCModel files: real outputs parsed, conventions checked against LCModel's axis formulas.

Oracles: the numbers printed in the real ``svs_97`` outputs (read by eye), the
.RAW sign convention ``fid_lcm[n] = exp(+2 pi i (4.65 - ppm) HZPPPM n DELTAT)``
and the .BASIS axis ``ppm = 4.65 - k / (BADELT NDATAB HZPPPM)`` (lcmodel.md),
and LCModel's zero-filling by 2 for the .COORD ppm step.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from mrs_lib.errors import LCModelFatalError, MRSDataError, MRSFormatError
from mrs_lib.io import lcmodel
from mrs_lib.sim.basis import Basis
from mrs_lib.spectrum import Spectrum

DWELL = 5e-4
LARMOR = 127.731
N = 2048


def singlets(ppms, *, n=N, dwell=DWELL, larmor=LARMOR, ref=4.65, lw_hz=2.0, amps=None) -> Spectrum:
    """Lorentzian singlets (one per batch entry) in the library convention."""
    t = np.arange(n) * dwell
    amps = np.ones(len(ppms)) if amps is None else np.asarray(amps)
    f = (np.asarray(ppms, dtype=float)[:, None] - ref) * larmor
    fid = amps[:, None] * np.exp(2j * np.pi * f * t - np.pi * lw_hz * t)
    return Spectrum(fid, dwell, larmor, ppm_reference=ref, te_ms=68.0)


def numbers_after_last_end(text: str) -> np.ndarray:
    """Independent parse of a .RAW data block: every number after the last $END."""
    body = text[text.upper().rfind("$END") + 4 :]
    return np.array(body.split(), dtype=float)


def basis_blocks(text: str) -> list[np.ndarray]:
    """Independent parse of .BASIS blocks: numbers between each $BASIS ... $END and the next $."""
    out = []
    for m in re.finditer(r"\$BASIS\s*\n(.*?)\$END\n(.*?)(?=\s\$|\Z)", text, re.S):
        vals = np.array(m.group(2).split(), dtype=float)
        out.append(vals[0::2] + 1j * vals[1::2])
    return out


# ============================================================================ real outputs
def test_read_table_svs97(data_file) -> None:
    """Values read by eye from svs_97.TABLE (LCModel 6.3-1B output)."""
    t = lcmodel.read_table(data_file("lcmodel-output-example/svs_97.TABLE"))
    assert len(t.concentrations) == 37  # "38 lines ... = NCONC+1"
    assert t.ratio_to == "Cr+PCr"
    assert t.concentrations["GABA"] == (pytest.approx(4.05e-2), 32.0, pytest.approx(0.162))
    assert t.concentrations["NAA"] == (pytest.approx(7.97e-2), 11.0, pytest.approx(0.318))
    assert t.concentrations["Cr"] == (0.0, 999.0, 0.0)
    assert t.concentrations["MM14+Lip13a+Lip13b+MM12"][1] == 17.0
    assert t.conc("Ins") == pytest.approx(0.297) and t.sd_percent("Ins") == 5.0
    assert t.fwhm_ppm == pytest.approx(0.043) and t.snr == 13.0
    assert t.misc["data_shift_ppm"] == 0.0
    assert t.misc["phase0_deg"] == 21.0 and t.misc["phase1_deg_per_ppm"] == pytest.approx(12.2)
    assert t.diagnostics == ("2 info's    TWOREG  8", "1 info      FINOUT  9")
    assert t.inputs["NUNFIL"] == "1024" and t.inputs["HZPPPM"] == "123.226103"
    with pytest.raises(KeyError, match="'Tau2'"):
        t.conc("Tau2")


def test_read_csv_svs97_matches_table(data_file) -> None:
    """The .csv row holds the same numbers as the .table (LCModel truncates long names to 13)."""
    c = lcmodel.read_csv(data_file("lcmodel-output-example/svs_97.CSV"))
    t = lcmodel.read_table(data_file("lcmodel-output-example/svs_97.TABLE"))
    assert len(c.rows) == 1 and (c.rows[0].row, c.rows[0].col) == (1, 1)
    assert c.ratio_to == "Cr+PCr" and len(c.metabolites) == 37
    row = c.rows[0].concentrations
    assert row["GABA"] == (pytest.approx(4.05e-2), 32.0, pytest.approx(0.162))
    assert "MM14+Lip13a+L" in row
    shared = [m for m in row if m in t.concentrations]
    assert len(shared) == 36
    for m in shared:
        assert row[m] == pytest.approx(t.concentrations[m]), m


def test_read_coord_svs97(data_file) -> None:
    """799 points from 4.0 ppm; step = 1/(2 NUNFIL DELTAT HZPPPM) (LCModel zero-fills by 2)."""
    co = lcmodel.read_coord(data_file("lcmodel-output-example/svs_97.COORD"))
    assert co.n_points == 799
    assert co.ppm[0] == 4.0 and co.ppm[-1] == pytest.approx(0.203982)
    step = 1.0 / (2 * 1024 * 0.000833 * 123.226103)
    np.testing.assert_allclose(-np.diff(co.ppm), step, rtol=2e-3)
    assert co.data[0] == pytest.approx(5.80668) and co.fit[0] == pytest.approx(0.866745)
    assert co.data[-1] == pytest.approx(-1.95669)
    assert co.background is not None and co.background.shape == (799,)
    assert co.background[0] == pytest.approx(-4.297)
    assert len(co.metabolites) == 25 and all(v.shape == (799,) for v in co.metabolites.values())
    assert co.metabolites["2HG"][0] == pytest.approx(-4.16068)
    assert co.metabolite_conc["GABA"] == pytest.approx(4.05e-2)
    assert co.table.concentrations["GABA"][1] == 32.0 and co.table.fwhm_ppm == pytest.approx(0.043)


def _table_text(diag: list[str]) -> str:
    return "\n".join(
        [
            " LCModel (Version 6.3-1N)",
            "$$CONC  2 lines in following concentration table = NCONC+1",
            "    Conc.  %SD /Cr   Metabolite",
            "    1.000   3%   1.000 Cr",
            "",
            "$$MISC  1 lines in following misc. output table",
            "  FWHM = 0.050 ppm    S/N =  20",
            "",
            f"$$DIAG  {len(diag)} lines in following diagnostic table:",
            *diag,
            "",
        ]
    )


def test_fatal_diag_raises_with_file_and_line(tmp_path: Path) -> None:
    """LCModel exits 0 on FATAL; the parser must not return numbers from such a run."""
    path = tmp_path / "fatal.table"
    path.write_text(_table_text(["   1 info      FINOUT  9", "   1 FATAL     MYBASI  3"]))
    with pytest.raises(LCModelFatalError, match=r"fatal\.table.*line 11.*MYBASI"):
        lcmodel.read_table(path)
    ok = tmp_path / "ok.table"
    ok.write_text(_table_text(["   1 info      FINOUT  9"]))
    assert lcmodel.read_table(ok).concentrations == {"Cr": (1.0, 3.0, 1.0)}


def test_fatal_without_conc_table_is_fatal_not_format(tmp_path: Path) -> None:
    path = tmp_path / "abort.table"
    path.write_text(
        " LCModel\n$$DIAG  1 lines in following diagnostic table:\n 1 FATAL  NUNFIL 2\n"
    )
    with pytest.raises(LCModelFatalError, match="line 3"):
        lcmodel.read_table(path)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda s: s.replace("$$CONC  2 lines", "$$COMC"), "$$CONC"),
        (lambda s: s.replace("1.000   3%", "1.0x0   3%"), "$$CONC (line 4)"),
        (lambda s: s.replace("1.000   3%", "  nan   3%"), "$$CONC (line 4)"),
        (lambda s: s.replace("$$CONC  2 lines", "$$CONC  9 lines"), "$$CONC"),
    ],
)
def test_bad_table_names_the_field(tmp_path: Path, mutate, field: str) -> None:
    path = tmp_path / "bad.table"
    path.write_text(mutate(_table_text(["   1 info      FINOUT  9"])))
    with pytest.raises(MRSFormatError) as exc:
        lcmodel.read_table(path)
    assert exc.value.field.startswith(field) and "bad.table" in str(exc.value)


def test_truncated_coord_curve(tmp_path: Path, data_file) -> None:
    lines = data_file("lcmodel-output-example/svs_97.COORD").read_text().splitlines()
    cut = next(i for i, ln in enumerate(lines) if "background values follow" in ln)
    path = tmp_path / "cut.COORD"
    path.write_text("\n".join(lines[: cut - 5] + lines[cut:]) + "\n")
    with pytest.raises(MRSFormatError, match=r"cut\.COORD.*field 'fit'.*NY=799"):
        lcmodel.read_coord(path)


def test_missing_files_are_format_errors(tmp_path: Path) -> None:
    for reader in (lcmodel.read_table, lcmodel.read_csv, lcmodel.read_coord, lcmodel.read_basis):
        with pytest.raises(MRSFormatError, match="no such file"):
            reader(tmp_path / "absent")


# ============================================================================ .RAW
def test_raw_sign_convention_oracle(tmp_path: Path) -> None:
    """File data = exp(+2 pi i (4.65 - ppm) HZPPPM n DELTAT), whatever our ppm_reference."""
    n = 256
    t = np.arange(n) * DWELL
    expected = np.exp(2j * np.pi * (4.65 - 2.0) * LARMOR * t)
    for ref in (4.65, 3.0):
        spec = singlets([2.0], n=n, ref=ref, lw_hz=0.0)[0]
        path = lcmodel.write_raw(tmp_path / f"ref{ref}.RAW", spec, id="oracle")
        vals = numbers_after_last_end(path.read_text())
        np.testing.assert_allclose(vals[0::2] + 1j * vals[1::2], expected, atol=2e-6)


def test_raw_round_trip_to_printed_precision(tmp_path: Path, rng: np.random.Generator) -> None:
    """(2E15.6): 7 significant digits per value."""
    spec = singlets([2.0, 3.0, 3.2], amps=[1.0, 0.5, 2.0]).fid.sum(0)
    spec = spec + 0.05 * (rng.standard_normal(N) + 1j * rng.standard_normal(N))
    s = Spectrum(spec, DWELL, LARMOR, te_ms=68.0, edit="diff")
    path = lcmodel.write_raw(tmp_path / "x.RAW", s)
    text = path.read_text()
    assert text.startswith(" $SEQPAR\n") and "ECHOT=68." in text and "SEQ='MEGAPRESS'" in text
    back = lcmodel.read_raw(path, DWELL, LARMOR, n_points=N)
    np.testing.assert_allclose(back.fid, s.fid, rtol=1e-6, atol=1e-6 * np.abs(s.fid).max())
    assert (back.dwell_s, back.larmor_mhz, back.ppm_reference, back.te_ms) == (
        DWELL,
        LARMOR,
        4.65,
        68.0,
    )


def test_raw_rereferenced_lines_keep_their_ppm(tmp_path: Path) -> None:
    """A Spectrum with ppm_reference 3.0 comes back at 4.65 with every line at the same ppm."""
    s = singlets([2.0, 3.9], ref=3.0).fid.sum(0)
    s = Spectrum(s, DWELL, LARMOR, ppm_reference=3.0)
    back = lcmodel.read_raw(lcmodel.write_raw(tmp_path / "r.RAW", s), DWELL, LARMOR)
    assert back.ppm_reference == 4.65
    _, a = s.to_grid((1.0, 4.5), 700)
    _, b = back.to_grid((1.0, 4.5), 700)
    np.testing.assert_allclose(b, a, atol=1e-5 * np.abs(a).max())


def test_raw_scales_by_tramp_over_volume(tmp_path: Path) -> None:
    path = tmp_path / "s.RAW"
    path.write_text(" $NMID id='x', fmtdat='(2E15.6)', tramp=2., volume=4. $END\n 1. 2.\n 3. 4.\n")
    back = lcmodel.read_raw(path, DWELL, LARMOR)
    np.testing.assert_allclose(back.fid, [0.5 - 1j, 1.5 - 2j])


def test_raw_fixed_width_fields_that_touch(tmp_path: Path) -> None:
    """Fortran E fields may run together; FMTDAT gives the width."""
    path = tmp_path / "w.RAW"
    path.write_text(
        " $NMID\n FMTDAT='(2E12.5)'\n $END\n-1.23450E+01-2.00000E-01\n 1.00000E+00 2.00000E+00\n"
    )
    np.testing.assert_allclose(lcmodel.read_raw(path, DWELL, LARMOR).fid, [-12.345 + 0.2j, 1 - 2j])


RAW_OK = (
    " $SEQPAR\n hzpppm=127.731\n $END\n $NMID\n id='x'\n fmtdat='(2E15.6)'\n $END\n"
    " 1. 0.\n 0.5 0.5\n 0.2 0.1\n"
)


@pytest.mark.parametrize(
    ("text", "kwargs", "field", "expected"),
    [
        (RAW_OK, {"larmor_mhz": 123.2}, "$SEQPAR HZPPPM", "123.2"),
        (RAW_OK, {"n_points": 4}, "data", "4 complex points"),
        (RAW_OK.replace(" 0.2 0.1\n", " 0.2\n"), {}, "data", "pairs"),
        (RAW_OK.replace("0.5 0.5", "0.5 abc"), {}, "data (line 9)", "finite numbers"),
        (RAW_OK.replace("0.5 0.5", "0.5 NaN"), {}, "data (line 9)", "finite numbers"),
        (RAW_OK.replace("0.5 0.5", "0.5 inf"), {}, "data (line 9)", "finite numbers"),
        (RAW_OK.replace(" $NMID", " $NMIX"), {}, "header (line 8)", "namelists up to $NMID"),
        (RAW_OK.replace(" $NMID", " $NMIX").split(" 1. 0.")[0], {}, "$NMID", "before the data"),
        ("".join(RAW_OK.rsplit(" $END\n", 1)), {}, "$NMID", "closed by $END"),
        (RAW_OK.split(" 1. 0.")[0], {}, "data", "NUNFIL complex points"),
        (RAW_OK.replace("hzpppm=127.731", "hzpppm=-1"), {}, "$SEQPAR HZPPPM", "positive"),
        (RAW_OK[:-3], {}, "end of file", "cut mid-line"),
        (
            RAW_OK.replace("id='x'", "id='x', tramp=1e300, volume=1e-300"),
            {},
            "data (scaled by TRAMP/VOLUME)",
            "finite values",
        ),
    ],
)
def test_bad_raw_names_file_field_expected(tmp_path: Path, text, kwargs, field, expected) -> None:
    path = tmp_path / "bad.RAW"
    path.write_text(text)
    args = {"dwell_s": DWELL, "larmor_mhz": LARMOR, **kwargs}
    with pytest.raises(MRSFormatError) as exc:
        lcmodel.read_raw(path, **args)
    msg = str(exc.value)
    assert exc.value.field == field and "bad.RAW" in msg and expected in msg


def test_raw_rejects_bad_arguments(tmp_path: Path) -> None:
    path = tmp_path / "ok.RAW"
    path.write_text(RAW_OK)
    with pytest.raises(MRSDataError, match="dwell_s"):
        lcmodel.read_raw(path, 0.0, LARMOR)
    with pytest.raises(MRSDataError, match="single spectrum"):
        lcmodel.write_raw(tmp_path / "b.RAW", singlets([2.0, 3.0]))


# ============================================================================ .BASIS
def _basis(ref: float, ppms=(3.0, 5.5), n=N) -> Basis:
    on = singlets(list(ppms), ref=ref, n=n)
    off = singlets([p + 0.01 for p in ppms], ref=ref, n=n, amps=[0.5] * len(ppms))
    return Basis(tuple(f"S{i}" for i in range(len(ppms))), on, off, lw_hz=2.0)


@pytest.mark.parametrize("ref", [3.0, 4.65])
def test_basis_singlet_lands_on_lcmodel_bin(tmp_path: Path, ref: float) -> None:
    """argmax |block| = round((4.65 - ppm) BADELT NDATAB HZPPPM) mod NDATAB.

    The same for either reference.
    """
    path = lcmodel.write_basis(tmp_path / "s.BASIS", _basis(ref), "on", n_points=4096)
    blocks = basis_blocks(path.read_text())
    assert len(blocks) == 2 and all(b.size == 4096 for b in blocks)
    for ppm, block in zip((3.0, 5.5), blocks, strict=True):
        k = round((4.65 - ppm) * DWELL * 4096 * LARMOR) % 4096
        assert int(np.argmax(np.abs(block))) == k
        axis = lcmodel.lcmodel_ppm_axis(4096, DWELL, LARMOR)
        width, step = 1 / (DWELL * LARMOR), 1 / (DWELL * 4096 * LARMOR)
        d = (axis[k] - ppm) % width  # the axis is cyclic with period = bandwidth in ppm
        assert min(d, width - d) <= step / 2


def test_basis_round_trip_all_edit_states(tmp_path: Path) -> None:
    """Basis -> .BASIS (OFF, ON) -> Basis: same spectra on the ppm grid to (6E13.5) precision."""
    basis = _basis(3.0, ppms=(2.0, 3.0, 3.9))
    off = lcmodel.read_basis(lcmodel.write_basis(tmp_path / "off.BASIS", basis, "off"))
    on = lcmodel.read_basis(lcmodel.write_basis(tmp_path / "on.BASIS", basis, "on", n_points=4096))
    diff = lcmodel.read_basis(lcmodel.write_basis(tmp_path / "diff.BASIS", basis, "diff"))
    assert off.edit == "off" and on.edit == "on" and diff.edit == "diff"
    assert off.metabolites == basis.metabolites and on.n_points == 4096
    assert off.fwhmba_ppm == pytest.approx(2.0 / LARMOR, rel=1e-8)
    assert off.spectra.te_ms == 68.0 and off.dwell_s == DWELL and off.larmor_mhz == LARMOR
    for got, want in ((off.spectra, basis.off), (on.spectra, basis.on), (diff.spectra, basis.diff)):
        _, a = want.to_grid((1.0, 4.5), 900)
        _, b = got.to_grid((1.0, 4.5), 900)
        np.testing.assert_allclose(b, a, atol=2e-5 * np.abs(a).max())
    with pytest.raises(MRSDataError, match="OFF has"):
        lcmodel.basis_from_lcmodel(
            off,
            lcmodel.read_basis(
                lcmodel.write_basis(tmp_path / "x.BASIS", basis.select(["S0"]), "on")
            ),
        )
    back = lcmodel.basis_from_lcmodel(off, diff)  # any two blocks with the same names
    other = basis.map(lambda s: s.replace(larmor_mhz=123.2))
    on123 = lcmodel.read_basis(lcmodel.write_basis(tmp_path / "on123.BASIS", other, "on"))
    with pytest.raises(MRSFormatError, match=r"on123\.BASIS.*HZPPPM.*127\.731 as in the OFF file"):
        lcmodel.basis_from_lcmodel(off, on123)
    assert back.metabolites == basis.metabolites and back.lw_hz == pytest.approx(2.0)


def test_basis_ortho_norm(tmp_path: Path) -> None:
    """norm="ortho" scales the blocks by 1/sqrt(NDATAB) (Parseval) and reads back the same FID."""
    basis = _basis(4.65)
    plain = basis_blocks(lcmodel.write_basis(tmp_path / "p.BASIS", basis, "on").read_text())
    path = lcmodel.write_basis(tmp_path / "o.BASIS", basis, "on", norm="ortho")
    ortho = basis_blocks(path.read_text())
    np.testing.assert_allclose(ortho[0], plain[0] / np.sqrt(N), rtol=1e-4, atol=1e-9)
    back = lcmodel.read_basis(path, norm="ortho")
    np.testing.assert_allclose(back.spectra.fid, basis.on.fid, atol=1e-5)
    with pytest.raises(MRSDataError, match="norm"):
        lcmodel.read_basis(path, norm="forward")  # type: ignore[arg-type]


def test_write_basis_refuses_what_lcmodel_refuses(tmp_path: Path) -> None:
    basis = _basis(4.65)
    with pytest.raises(MRSDataError, match="FWHMBA"):
        lcmodel.write_basis(tmp_path / "a.BASIS", basis, "on", fwhmba=0.03)
    long = Basis(("Glutamate", "S1"), basis.on, basis.off)
    with pytest.raises(MRSDataError, match="'Glutamate'"):
        lcmodel.write_basis(tmp_path / "b.BASIS", long, "on")
    with pytest.raises(MRSDataError, match="edit must be"):
        lcmodel.write_basis(tmp_path / "c.BASIS", basis, "sum")  # type: ignore[arg-type]


def _small_basis_text(tmp_path: Path) -> str:
    basis = _basis(4.65, n=16)
    return lcmodel.write_basis(tmp_path / "small.BASIS", basis, "on").read_text()


@pytest.mark.parametrize(
    ("mutate", "field", "expected"),
    [
        (lambda s: s.replace(" BADELT=0.0005\n", ""), "$BASIS1 BADELT", "present"),
        (lambda s: s.replace(" NDATAB=16\n", ""), "$BASIS1 NDATAB", "present"),
        (lambda s: s.replace(" HZPPPM=127.731\n", ""), "$BASIS1 HZPPPM", "present"),
        (lambda s: s.replace("NDATAB=16", "NDATAB=15"), "$BASIS S0 data", "NDATAB=15"),
        (lambda s: s.rsplit("\n", 3)[0] + "\n", "$BASIS S1 data", "NDATAB=16"),
        (lambda s: s.replace("E+00", "Q+00", 1), "$BASIS S0 data (line 21)", "finite numbers"),
        (
            lambda s: re.sub(r"-?\d\.\d+E[+-]\d\d", "NaN", s, count=1),
            "$BASIS S0 data (line 21)",
            "finite numbers",
        ),
        (lambda s: s.replace("ISHIFT=0", "ISHIFT=3", 1), "$BASIS S0 ISHIFT", "0"),
        (lambda s: s.replace("$BASIS1", "$BASISX"), "$BASIS1", "before the first $BASIS"),
        (
            lambda s: s.replace("METABO='S1'", "METABO='S0'").replace("ID='S1'", "ID='S0'"),
            "$BASIS METABO",
            "unique",
        ),
    ],
)
def test_bad_basis_names_file_field_expected(tmp_path: Path, mutate, field, expected) -> None:
    path = tmp_path / "bad.BASIS"
    path.write_text(mutate(_small_basis_text(tmp_path)))
    with pytest.raises(MRSFormatError) as exc:
        lcmodel.read_basis(path)
    assert exc.value.field == field and "bad.BASIS" in str(exc.value) and expected in str(exc.value)


# ============================================================================ control
def test_control_namelist() -> None:
    text = lcmodel.control_text(
        filraw="/d/it's.RAW",
        nunfil=1024,
        deltat=5e-4,
        hzpppm=123.2,
        ppmst=4.2,
        ppmend=1.95,
        chcomb=["NAA+NAAG", "Cr+PCr"],
        nsimul=0,
        dows=False,
        ltable=7,
        sptype="mega-press-3",
        ppmgap=[(1.95, 1.85)],
    )
    lines = text.splitlines()
    assert lines[0] == " $LCMODL" and lines[-1] == " $END"
    for expected in (
        " FILRAW='/d/it''s.RAW'",
        " NUNFIL=1024",
        " DELTAT=0.0005",
        " CHCOMB(1)='NAA+NAAG'",
        " CHCOMB(2)='Cr+PCr'",
        " NCOMBI=2",
        " NSIMUL=0",
        " DOWS=F",
        " PPMGAP(1,1)=1.95",
        " PPMGAP(2,1)=1.85",
        " SPTYPE='mega-press-3'",
        " PPMST=4.2",
    ):
        assert expected in lines


def test_control_rejects_unknown_and_inconsistent_keys(tmp_path: Path) -> None:
    with pytest.raises(MRSDataError, match="'PPMSTART'"):
        lcmodel.write_control(tmp_path / "c.control", ppmstart=4.2)
    assert not (tmp_path / "c.control").exists()
    with pytest.raises(MRSDataError, match="NCOMBI=3 but CHCOMB has 1"):
        lcmodel.control_text(ncombi=3, chcomb=["NAA+NAAG"])
    with pytest.raises(MRSDataError, match="DELTAT"):
        lcmodel.control_text(deltat=0)
    with pytest.raises(MRSDataError, match="finite"):
        lcmodel.control_text(ppmst=float("nan"))
    assert "NEWKEY=1" in lcmodel.control_text(newkey=1, extra_keys=["NEWKEY"])
    text = lcmodel.write_control(tmp_path / "ok.control", nunfil=8)
    assert (tmp_path / "ok.control").read_text() == text


def test_fida_basis_lines_at_their_ppm_on_lcmodel_axis(tmp_path: Path, data_file) -> None:
    """FID-A basis (receiver at 3.0 ppm) -> .BASIS: NAA CH3 at 2.008 and Cr CH3 at 3.027 ppm
    (physics.md) on LCModel's axis ppm = 4.65 - k/(BADELT NDATAB HZPPPM), within one bin."""
    from mrs_lib.sim.basis import load_fida_reference

    data_file("isbi-fida-megapress/Cr_OFF.mat")  # skip when the reference files are absent
    basis = load_fida_reference(("Cr", "NAA"))
    assert basis.on.ppm_reference == 3.0
    path = lcmodel.write_basis(tmp_path / "fida.BASIS", basis, "off", n_points=8192)
    blocks = basis_blocks(path.read_text())
    axis = lcmodel.lcmodel_ppm_axis(8192, basis.dwell_s, basis.larmor_mhz)
    step = axis[0] - axis[1]
    for block, lo, hi, want in ((blocks[0], 2.9, 3.2, 3.027), (blocks[1], 1.9, 2.1, 2.008)):
        window = (axis > lo) & (axis < hi)
        got = axis[window][np.argmax(np.abs(block[window]))]
        assert abs(got - want) <= step, (got, want)

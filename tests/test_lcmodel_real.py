"""The real LCModel 6.3, built from its registered source, behind the adapter (chapter 6).

A session fixture uses the binary that ``make lcmodel`` put in the cache
(``$MRS_CACHE_DIR/lcmodel`` or the OS cache) or, when that is missing or
stale, builds one into a temporary folder (about 15 s with gfortran). Tests
that need the binary are skipped with the reason when it cannot be built (no
gfortran, or the source is not in ``$MRS_DATA_DIR``/the cache: tests never
download).

Spectra are mixed from a small simulated basis (ideal refocusing, 1024
points, 2 Hz lines) with known concentrations and broadened to 3 Hz, so
LCModel's fits can be checked against the truth: one fit takes 0.1-1 s.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from mrs_lib import io
from mrs_lib.errors import DataRegistryError, LCModelFatalError
from mrs_lib.fit import lcmodel as adapter
from mrs_lib.fit import lcmodel_build as lb
from mrs_lib.sim.basis import Basis, simulate_basis

TRUTH = {"Cr": 1.0, "GABA": 0.25, "Gln": 0.4, "Glu": 1.1, "NAA": 1.4}


@pytest.fixture(scope="session")
def lcmodel_binary(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The cached LCModel when it is current, else one built once into a temporary folder."""
    cached = lb.cached_binary()
    if lb.is_current(cached):
        return str(cached)
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # shared by the workers; build_lcmodel locks, so one builds
    try:
        return str(lb.build_lcmodel(root / "lcmodel-build" / "lcmodel", download=False))
    except (lb.LCModelBuildError, DataRegistryError) as exc:
        pytest.skip(
            f"real LCModel unavailable: not in the cache ({cached}) and cannot be built here: "
            f"{str(exc).splitlines()[0]}"
        )


@pytest.fixture(scope="module")
def basis() -> Basis:
    """Five metabolites, ideal refocusing (0.5 s to simulate), 1024 points, 2 Hz lines."""
    b = simulate_basis("paper", refocusing="ideal", n_points=1024, cache=False, progress=False)
    assert b.metabolites == tuple(TRUTH)
    return b.broaden(2.0)


@pytest.fixture(scope="module")
def spectra(basis: Basis):
    """OFF/ON/DIFF of the TRUTH mixture, 3 Hz lines, complex noise at 1e-4 of max|FID|."""
    clean = basis.broaden(1.0).mix(list(TRUTH.values()))
    rng = np.random.default_rng(13)
    sd = 1e-4 * np.abs(clean.off.fid).max()

    def noisy(s):
        return s.replace(
            fid=s.fid
            + sd * (rng.standard_normal(s.n_points) + 1j * rng.standard_normal(s.n_points))
        )

    return {"off": noisy(clean.off), "on": noisy(clean.on), "diff": noisy(clean.diff)}


# ------------------------------------------------------------------- the build and its check


def test_reference_table_parsed(data_file) -> None:
    """The reference build's .ps table: 70 rows over two pages, GABA as the README quotes it."""
    ps = data_file("lcmodel-source/test_lcm/out_ref_build.ps")
    rows = lb.read_ps_table(ps)
    assert len(rows) == 70
    gaba = next(r for r in rows if r.name == "GABA")
    assert (gaba.conc, gaba.sd_percent, gaba.ratio) == ("2.92E-07", 45, "0.160")
    assert gaba.concentration == pytest.approx(2.92e-7)
    assert {r.name for r in rows} >= {"Glu", "NAA", "Cr+PCr", "MM14+Lip13a+Lip13b+MM12"}
    assert lb.read_ps_version(ps) == "6.3-1R"


FAKE = r"""#!{python}
import shutil, sys
sys.stdin.read()
text = open({ref!r}, encoding="latin-1").read()
if {tamper!r}:
    text = text.replace("(2.92E-07  45%", "(2.93E-07  45%")
open("out.ps", "w", encoding="latin-1").write(text)
"""


@pytest.mark.parametrize("tamper", [False, True])
def test_check_compares_every_row(data_file, tmp_path: Path, tamper: bool) -> None:
    """check_lcmodel passes an identical table and names the row that differs (no gfortran)."""
    ref = data_file("lcmodel-source/test_lcm/out_ref_build.ps")
    for name in ("3t.basis", "control.file", "data.raw"):
        data_file(f"lcmodel-source/test_lcm/{name}")
    exe = tmp_path / "fake-lcmodel"
    exe.write_text(FAKE.format(python=sys.executable, ref=str(ref), tamper=tamper))
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    result = lb.check_lcmodel(exe, download=False)
    assert result.ok is not tamper
    if tamper:
        assert len(result.problems) == 2  # GABA on both pages
        assert all("GABA" in p and "2.93E-07" in p for p in result.problems)
        assert "does NOT reproduce" in result.summary()


def test_build_reproduces_reference_table(lcmodel_binary: str) -> None:
    """The built binary reproduces the reference concentration table of test_lcm exactly."""
    result = lb.check_lcmodel(lcmodel_binary, download=False)
    assert result.ok, result.summary()
    assert len(result.rows) == 70 and result.version and result.version.startswith("6.3")
    record = lb.read_sidecar(lcmodel_binary)
    assert record is not None and record["flags"] == list(lb.FFLAGS)
    assert record["lcmodel_commit"] == lb.COMMIT
    check = record["check"]
    assert isinstance(check, dict) and check["ok"] is True


def test_build_is_a_noop_when_current(lcmodel_binary: str) -> None:
    before = os.stat(lcmodel_binary).st_mtime_ns
    t0 = time.perf_counter()
    assert lb.build_lcmodel(lcmodel_binary, download=False) == Path(lcmodel_binary)
    assert time.perf_counter() - t0 < 5
    assert os.stat(lcmodel_binary).st_mtime_ns == before


def test_cli_build_check_path(lcmodel_binary: str, capsys: pytest.CaptureFixture[str]) -> None:
    """``mrs lcmodel build|check|path`` (``make lcmodel`` runs ``build``)."""
    from mrs_lib import cli

    assert cli.main(["lcmodel", "build", "--dest", lcmodel_binary]) == 0
    assert "up to date" in capsys.readouterr().out
    assert cli.main(["lcmodel", "path", "--lcmodel", lcmodel_binary]) == 0
    assert capsys.readouterr().out.strip() == lcmodel_binary
    assert cli.main(["lcmodel", "check", "--lcmodel", lcmodel_binary]) == 0
    assert "reproduces the reference concentration table" in capsys.readouterr().out


# --------------------------------------------------------------------- files LCModel accepts


@pytest.mark.parametrize(("norm", "ndatab"), [("ortho", 2048), ("backward", 1024)])
def test_basis_file_accepted_and_its_unit(
    lcmodel_binary: str, basis: Basis, tmp_path: Path, norm: str, ndatab: int
) -> None:
    """A .BASIS written by mrs_lib.io.write_basis (mrs simulate --format lcmodel, mrs convert)
    runs in LCModel. Its unit: with norm='ortho' LCModel's concentrations are the mixing
    weights; with 'backward' they are scaled by 1/sqrt(NDATAB)."""
    data = basis.broaden(1.0).mix(list(TRUTH.values())).off
    bas = io.write_basis(tmp_path / "set.BASIS", basis, "off", norm=norm, n_points=ndatab)
    raw = io.write_raw(tmp_path / "data.RAW", data)
    control = io.write_control(
        None,
        title="write_basis check",
        filbas=str(bas),
        filraw=str(raw),
        filtab=str(tmp_path / "out.table"),
        ltable=7,
        filps=str(tmp_path / "out.ps"),
        nunfil=data.n_points,
        deltat=data.dwell_s,
        hzpppm=data.larmor_mhz,
        nsimul=0,
        ppmst=4.0,
        ppmend=0.2,
    )
    proc = subprocess.run(
        [lcmodel_binary], input=control.encode(), cwd=tmp_path, capture_output=True, timeout=60
    )
    assert proc.returncode == 0
    table = io.read_table(tmp_path / "out.table")  # raises on FATAL
    scale = 1.0 if norm == "ortho" else np.sqrt(ndatab)
    for name, want in TRUTH.items():
        assert table.conc(name) * scale == pytest.approx(want, rel=0.02), name


def test_raw_round_trip(lcmodel_binary: str, basis: Basis, spectra, tmp_path: Path) -> None:
    """write_raw -> read_raw is the identity, and LCModel reads the same spectrum: its phased
    data (.COORD) match ours on its ppm axis (a conjugation or referencing error would mirror
    or shift it)."""
    off = spectra["off"]
    path = io.write_raw(tmp_path / "x.RAW", off)
    back = io.read_raw(path, off.dwell_s, off.larmor_mhz)
    assert np.allclose(back.fid, off.fid, rtol=0, atol=1e-5 * np.abs(off.fid).max())
    res = adapter.run_lcmodel(off, basis, "off", binary=lcmodel_binary, workdir=tmp_path / "w")
    coord = res.coord
    assert coord is not None and coord.ppm[0] == pytest.approx(4.0, abs=0.01)
    zf = off.zero_fill(2 * off.n_points)  # LCModel zero-fills to twice the length
    ppm, spec = zf.ppm_axis(), zf.spectrum().real
    order = np.argsort(ppm)
    ours = np.interp(coord.ppm, ppm[order], spec[order])
    k = float(ours @ coord.data / (ours @ ours))
    assert k > 0
    assert np.linalg.norm(coord.data - k * ours) < 0.03 * np.linalg.norm(coord.data)
    assert coord.ppm[np.argmax(coord.data)] == pytest.approx(2.01, abs=0.01)  # NAA


# ------------------------------------------------------------------------------- the fits


@pytest.mark.parametrize("mode", ["off", "on", "diff"])
def test_fit_recovers_concentrations(lcmodel_binary: str, basis: Basis, spectra, mode: str) -> None:
    """OFF, ON (ratios to Cr) and DIFF with SPTYPE='mega-press-3' (ratios to NAA; Cr cancels)
    recover the known mixture within 3 % at high SNR, with small %SD."""
    res = adapter.run_lcmodel(spectra[mode], basis, mode, binary=lcmodel_binary)
    assert res.metabolites == tuple(TRUTH)
    conc = dict(zip(res.metabolites, res.concentrations, strict=True))
    sd = dict(zip(res.metabolites, res.sd_percent, strict=True))
    ref = "NAA" if mode == "diff" else "Cr"
    names = [m for m in TRUTH if not (mode == "diff" and m == "Cr")]
    for m in names:
        assert conc[m] / conc[ref] == pytest.approx(TRUTH[m] / TRUTH[ref], rel=0.03), m
        assert conc[m] == pytest.approx(TRUTH[m], rel=0.03), m  # ortho basis: absolute unit
        assert 0 <= sd[m] <= 10, m
    assert res.table.fwhm_ppm == pytest.approx(3.0 / spectra[mode].larmor_mhz, abs=0.01)
    assert not any("FATAL" in d for d in res.table.diagnostics)
    assert res.workdir is None


def test_basis_of_another_bandwidth_keeps_its_units(lcmodel_binary: str, basis: Basis) -> None:
    """Oracle: a 1250 Hz scan sampled from the same line lists as the 2000 Hz basis. LCModel
    resamples the basis and rescales its areas by sqrt(NDATA_FREQ/NDATAB) (it returned 0.79 x
    the truth); the adapter divides that out, so the concentrations are the mixing weights."""
    from mrs_lib.sim.basis import basis_from_lines, simulate_lines
    from mrs_lib.sim.presets import get_preset

    pre = get_preset("paper", refocusing="ideal")
    lists = simulate_lines(pre, cache=False, progress=False)
    scan = basis_from_lines(lists, pre.replace(bw_hz=1250.0), n_points=640, lw_hz=3.0)
    off = scan.mix(list(TRUTH.values())).off  # 0.512 s, as long as the basis
    assert adapter.resampling_factor(off, basis) == pytest.approx(np.sqrt(1250 / 2000), rel=1e-3)
    res = adapter.run_lcmodel(off, basis, "off", binary=lcmodel_binary)
    for name, got in zip(res.metabolites, res.concentrations, strict=True):
        assert got == pytest.approx(TRUTH[name], rel=0.02), name


def test_no_in_vivo_ratio_priors(lcmodel_binary: str, basis: Basis) -> None:
    """Phantom-like concentrations (GABA as high as NAA, seeded noise at 1 % of max|FID|):
    with LCModel's in-vivo ratio priors (its default NRATIO=13: 'GABA/Big3 = .03 +- .03')
    GABA came back 8 % low; the adapter's NRATIO=0 gets it within 5 %. The preliminary
    analysis names the metabolites the basis has (CHUSE1): no MYBASI 8 warning."""
    truth = np.array([1.0, 1.2, 0.4, 1.1, 1.4])  # Cr GABA Gln Glu NAA
    off = basis.broaden(1.0).mix(truth).off
    rng = np.random.default_rng(13)
    sd = 1e-2 * np.abs(off.fid).max()
    off = off.replace(
        fid=off.fid
        + sd * (rng.standard_normal(off.n_points) + 1j * rng.standard_normal(off.n_points))
    )
    res = adapter.run_lcmodel(off, basis, "off", binary=lcmodel_binary)
    with_priors = adapter.run_lcmodel(off, basis, "off", binary=lcmodel_binary, nratio=13)
    assert res.concentrations[1] / truth[1] == pytest.approx(1.0, abs=0.05)
    assert with_priors.concentrations[1] / truth[1] < 0.95
    assert not any("MYBASI" in w for w in res.warnings), res.warnings


def test_quantifier_takes_gaba_from_the_diff(lcmodel_binary: str, basis: Basis, spectra) -> None:
    """Oracle: an acquisition whose OFF holds GABA 0.25 and whose DIFF holds the edited signal
    of GABA 0.6 (ON = OFF + that DIFF): GABA comes from the DIFF fit, the rest from the OFF."""
    from mrs_lib.quantify import get_quantifier
    from mrs_lib.spectrum import EditedSpectra

    q = get_quantifier("lcmodel", basis=basis, binary=lcmodel_binary)
    acq = EditedSpectra(off=spectra["off"], on=spectra["on"])
    result = q.quantify(acq)
    got = dict(zip(result.metabolites, result.concentrations[0], strict=True))
    for m, want in TRUTH.items():
        assert got[m] == pytest.approx(want, rel=0.03), m
    edited = {**TRUTH, "GABA": 0.6}
    diff = basis.broaden(1.0).mix(list(edited.values())).diff
    split = EditedSpectra(off=spectra["off"], on=(spectra["off"] + diff).replace(edit="on"))
    got = dict(zip(result.metabolites, q.quantify(split).concentrations[0], strict=True))
    for m, want in {**TRUTH, "GABA": edited["GABA"]}.items():
        assert got[m] == pytest.approx(want, rel=0.03), m


@pytest.mark.usefixtures("isolated_dirs")
def test_units_are_the_mixing_weights_in_mrs_fit(
    lcmodel_binary: str, basis: Basis, spectra, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``mrs fit --method lcmodel`` prints the weights of the basis spectra (the .BASIS is
    written with norm='ortho'), labelled so; doubling the data doubles them."""
    from mrs_lib import cli, quantify
    from mrs_lib.spectrum import EditedSpectra

    acq = EditedSpectra(off=spectra["off"], on=spectra["on"])
    basis.save_npz(tmp_path / "basis.npz")
    for k in (1.0, 2.0):
        quantify.save_spectra_npz(
            tmp_path / f"x{k:g}.npz", acq.map(lambda s, k=k: s.replace(fid=k * s.fid))
        )
    code = cli.main(
        ["fit", "--method", "lcmodel", "--lcmodel", lcmodel_binary, "--basis",
         str(tmp_path / "basis.npz"), str(tmp_path / "x1.npz"), str(tmp_path / "x2.npz")]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "basis units (the weight of each basis spectrum in the data)" in out
    rows = [ln.split() for ln in out.splitlines() if ln.startswith(str(tmp_path))]
    assert len(rows) == 2
    for k, row in zip((1.0, 2.0), rows, strict=True):
        values = [float(v) for v in row[1::2]]  # "conc (sd%)" cells
        assert values == pytest.approx([k * v for v in TRUTH.values()], rel=0.03), row


# ------------------------------------------------------------------ errors and clean-up


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tempfile's folder redirected, so the adapter's working folders can be counted."""
    d = tmp_path / "tmp"
    d.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(d))
    return d


def test_fatal_diag_raises_and_folders_are_removed(
    lcmodel_binary: str, basis: Basis, spectra, tmp_path: Path, private_tmp: Path
) -> None:
    """LCModel exits 0 on FATAL: a missing basis file ($$DIAG FATAL MYBASI) and an empty
    FILPS (FATAL on stdout, no table) both raise LCModelFatalError; no folder is left behind."""
    off = spectra["off"]
    with pytest.raises(LCModelFatalError, match="MYBASI"):
        adapter.run_lcmodel(
            off, basis, "off", binary=lcmodel_binary, filbas=str(tmp_path / "missing.BASIS")
        )
    with pytest.raises(LCModelFatalError, match="MYCONT"):
        adapter.run_lcmodel(off, basis, "off", binary=lcmodel_binary, filps="")
    res = adapter.run_lcmodel(spectra["diff"], basis, "diff", binary=lcmodel_binary)
    assert res.workdir is None
    assert list(private_tmp.iterdir()) == []


def test_path_containing_fatal_is_not_a_fatal_error(tmp_path: Path) -> None:
    """Found with the real binary: the $$INPU echo repeats file paths ('.../test_fatal_x/...')."""
    table = tmp_path / "ok.table"
    table.write_text(
        " LCModel (Version 6.3-1N)\n\n"
        "$$CONC  2 lines in following concentration table = NCONC+1\n"
        "    Conc.  %SD /Cr   Metabolite\n"
        "    1.000   3%   1.000 Cr\n\n"
        "$$DIAG  1 lines in following diagnostic table:\n"
        "   1 info      FINOUT  9\n\n"
        "$$INPU  1 lines in following table of input changes:\n"
        " FILPS='/tmp/test_fatal_x/mrs.ps'\n"
    )
    assert io.read_table(table).concentrations["Cr"][0] == 1.0
    text = table.read_text().replace("$$INPU", "   2 FATAL     MYBASI 28\n$$INPU")
    table.write_text(text)  # a FATAL row past a short $$DIAG block still counts
    with pytest.raises(LCModelFatalError, match="MYBASI"):
        io.read_table(table)


def test_prior_flag_glued_to_the_name(tmp_path: Path) -> None:
    """Found with the real binary (chapter 6, paper basis): a ratio outside LCModel's prior
    is flagged '+'/'-' with no blank before the name, in the .table and the .ps."""
    table = tmp_path / "flag.table"
    table.write_text(
        " LCModel (Version 6.3-1N)\n\n"
        "$$CONC  5 lines in following concentration table = NCONC+1\n"
        "    Conc.  %SD   /Cr    Metabolite\n"
        "    0.188   2%   1.000 Cr\n"
        "    0.445   2%   2.365+GABA\n"
        " 1.20E-03  40% 6.4E-03-Gln\n"
        "    0.000 999%   0.000 -CrCH2\n"
    )
    conc = io.read_table(table).concentrations
    assert conc["GABA"] == (0.445, 2.0, 2.365)
    assert conc["Gln"] == (1.2e-3, 40.0, 6.4e-3)
    assert conc["-CrCH2"] == (0.0, 999.0, 0.0)
    ps = tmp_path / "flag.ps"
    ps.write_text(
        "{(   0.445   2%   2.365+GABA)s}lst\n{(1.20E-03  40% 6.4E-03-Gln)s}lst\n"
        "{(   0.000 999%   0.000 -CrCH2)s}lst\n"
    )
    rows = lb.read_ps_table(ps)
    assert [(r.name, r.flag, r.ratio) for r in rows] == [
        ("GABA", "+", "2.365"),
        ("Gln", "-", "6.4E-03"),
        ("-CrCH2", "", "0.000"),
    ]


def test_workdir_is_kept_when_given(lcmodel_binary: str, basis: Basis, spectra, tmp_path: Path):
    wd = tmp_path / "keep"
    res = adapter.run_lcmodel(spectra["diff"], basis, "diff", binary=lcmodel_binary, workdir=wd)
    assert res.workdir == wd
    names = {p.name for p in wd.iterdir()}
    assert {"mrs.RAW", "mrs.BASIS", "mrs.control", "mrs.table", "mrs.coord", "mrs.ps"} <= names


def test_deep_workdir_and_no_stale_table(lcmodel_binary: str, basis: Basis, spectra, tmp_path):
    """A working folder deeper than LCModel's 255-character file names: every output lands in
    it. A later run there that stops before its table (empty FILPS: FATAL MYCONT) raises; it
    never returns the earlier run's table."""
    deep = tmp_path.joinpath(*[f"folder_with_a_long_name_number_{i:02d}" for i in range(9)])
    assert len(str(deep / "mrs.coord")) > 300
    res = adapter.run_lcmodel(spectra["diff"], basis, "diff", binary=lcmodel_binary, workdir=deep)
    assert res.concentrations[basis.index("GABA")] == pytest.approx(TRUTH["GABA"], rel=0.03)
    names = {p.name for p in deep.iterdir()}
    assert {"mrs.table", "mrs.coord", "mrs.ps"} <= names
    outside = [p for p in tmp_path.rglob("*") if p.is_file() and deep not in p.parents]
    assert outside == []
    with pytest.raises(LCModelFatalError, match="MYCONT"):
        adapter.run_lcmodel(
            spectra["diff"], basis, "diff", binary=lcmodel_binary, workdir=deep, filps=""
        )
    assert not (deep / "mrs.table").exists()


def test_parallel_quantifier_equals_serial(lcmodel_binary: str, basis: Basis) -> None:
    """Two acquisitions fitted by two LCModel processes at a time: the same numbers, in the
    same order, as one at a time."""
    from mrs_lib.quantify import LCModelQuantifier

    rng = np.random.default_rng(5)
    conc = rng.uniform(0.3, 1.5, size=(2, len(basis)))
    spectra = basis.broaden(1.0).mix(conc)
    serial = LCModelQuantifier(basis, binary=lcmodel_binary, workers=1).quantify(spectra)
    parallel = LCModelQuantifier(basis, binary=lcmodel_binary, workers=2).quantify(spectra)
    np.testing.assert_array_equal(parallel.concentrations, serial.concentrations)
    np.testing.assert_array_equal(parallel.uncertainty, serial.uncertainty)
    np.testing.assert_allclose(serial.concentrations, conc, rtol=0.03)

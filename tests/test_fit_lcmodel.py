"""External LCModel adapter (mrs_lib.fit.lcmodel), tested with a fake ``lcmodel`` executable.

The fake reads the control namelist on stdin like LCModel, records it (and its
working folder), checks that the .RAW and .BASIS files it names exist, and writes a
canned .table chosen by $FAKE_LCMODEL_MODE: good (one table for an OFF/ON fit and
another for a DIFF fit, told apart by the control file's SPTYPE like LCModel, both
listing the metabolites out of basis order), FATAL, none, a good table with exit
status 3, or a slow run. The adapter's plumbing is tested without the real binary.
"""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from mrs_lib.errors import LCModelFatalError, MRSDataError, MRSError
from mrs_lib.fit import lcmodel as adapter
from mrs_lib.fit.lcm import toy_basis
from mrs_lib.io import lcmodel as io
from mrs_lib.quantify import LCModelQuantifier

# OFF fit: rows out of basis order (basis: Cr, GABA, Gln, Glu, NAA), so a reader that took
# them by position would misplace every value.
OFF_CONC = {"Cr": (1.0, 2), "GABA": (0.3, 12), "Gln": (0.4, 15), "Glu": (0.8, 8), "NAA": (1.2, 3)}
GOOD_TABLE = """\
 LCModel (Version 6.3-1N)
 fake run

$$CONC 6 lines in following concentration table = NCONC+1
    Conc.  %SD /Cr  Metabolite
    1.200   3%   1.200 NAA
    0.800   8%   0.800 Glu
    1.000   2%   1.000 Cr
 3.00E-01  12%   0.300 GABA
    0.400  15%   0.400 Gln

$$MISC  3 lines in following misc. output table
  FWHM = 0.043 ppm    S/N =  13
  Data shift = 0.000 ppm
  Ph:  21 deg      12.2 deg/ppm

$$DIAG  1 lines in following diagnostic table:
   1 info      FINOUT  9
"""

# DIFF fit ('mega-press-3'): other values (GABA 0.55, not the OFF's 0.3), another order.
DIFF_CONC = {
    "Cr": (0.0, 999),
    "GABA": (0.55, 6),
    "Gln": (0.2, 30),
    "Glu": (0.7, 9),
    "NAA": (1.1, 2),
}
DIFF_TABLE = """\
 LCModel (Version 6.3-1N)
 fake run

$$CONC 6 lines in following concentration table = NCONC+1
    Conc.  %SD /NAA  Metabolite
 5.50E-01   6%   0.500 GABA
    1.100   2%   1.000 NAA
    0.000 999%   0.000 Cr
    0.200  30%   0.182 Gln
    0.700   9%   0.636 Glu

$$MISC  3 lines in following misc. output table
  FWHM = 0.031 ppm    S/N =  21
  Data shift = 0.000 ppm
  Ph:   0 deg       0.0 deg/ppm

$$DIAG  1 lines in following diagnostic table:
   1 info      FINOUT  9
"""

FATAL_TABLE = """\
 LCModel (Version 6.3-1N)
 fake run

$$DIAG  1 lines in following diagnostic table:
   1 FATAL     MYBASI  3
"""

FAKE = r"""#!{python}
import os, re, sys, time
control = sys.stdin.read()
keys = dict((k.upper(), v) for k, v in re.findall(r"^\s*(\w+)\s*=\s*'?([^'\n]*)'?", control, re.M))
with open("control.seen", "w") as fh:  # in the working directory LCModel was started in
    fh.write(control)
with open("cwd.seen", "w") as fh:
    fh.write(os.getcwd())
for key in ("FILRAW", "FILBAS"):
    assert os.path.isfile(keys[key]), key
mode = os.environ.get("FAKE_LCMODEL_MODE", "good")
if mode == "slow":
    with open(os.environ["FAKE_LCMODEL_PIDS"], "a") as fh:
        fh.write(f"{{os.getpid()}}\n")
    time.sleep(120)
kind = "diff" if keys.get("SPTYPE", "").lower().startswith("mega-press") else "good"
if mode == "fatal":
    kind = "fatal"
text = open(os.environ["FAKE_LCMODEL_" + kind.upper()]).read()
if os.environ.get("FAKE_LCMODEL_ECHO_DATA"):  # NAA := first real value of the .RAW data
    raw = open(keys["FILRAW"]).read().split("\n")
    last_end = max(i for i, ln in enumerate(raw) if "$END" in ln.upper())
    first = float(raw[last_end + 1].split()[0])
    naa_row = r"^ +[-0-9.E+]+( +[0-9]+% +[-0-9.E+]+ NAA)$"
    text = re.sub(naa_row, f" {{first:.6E}}\\1", text, flags=re.M)
if mode != "none":
    with open(keys["FILTAB"], "w") as fh:
        fh.write(text)
print("fake lcmodel done")
sys.exit(3 if mode == "exit3" else 0)
"""


@pytest.fixture
def fake_lcmodel(tmp_path, monkeypatch):
    """A fake ``lcmodel`` on a temporary PATH (and no $LCMODEL)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    exe = bindir / "lcmodel"
    exe.write_text(FAKE.format(python=sys.executable))
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    for kind, text in (("good", GOOD_TABLE), ("diff", DIFF_TABLE), ("fatal", FATAL_TABLE)):
        (tmp_path / f"{kind}.table").write_text(text)
        monkeypatch.setenv(f"FAKE_LCMODEL_{kind.upper()}", str(tmp_path / f"{kind}.table"))
    monkeypatch.setenv("PATH", str(bindir) + os.pathsep + os.environ.get("PATH", ""))
    monkeypatch.delenv("LCMODEL", raising=False)
    monkeypatch.setenv("MRS_CACHE_DIR", str(tmp_path / "cache"))  # no built binary in the way
    return exe


@pytest.fixture(scope="module")
def basis():
    return toy_basis(n_points=512)


def test_missing_binary_explains_how_to_install(tmp_path, monkeypatch):
    """No binary: a clear MRSError with the gfortran build recipe."""
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("LCMODEL", raising=False)
    monkeypatch.setenv("MRS_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(MRSError, match="gfortran") as info:
        adapter.find_lcmodel()
    assert "github.com/schorschinho/LCModel" in str(info.value)
    assert "make lcmodel" in str(info.value) and "mrs lcmodel build" in str(info.value)
    assert not adapter.lcmodel_available()
    monkeypatch.setenv("LCMODEL", str(tmp_path / "nowhere" / "lcmodel"))
    with pytest.raises(MRSError, match="not an executable"):
        adapter.find_lcmodel()


def test_env_var_takes_precedence(fake_lcmodel, monkeypatch):
    monkeypatch.setenv("LCMODEL", str(fake_lcmodel))
    assert adapter.find_lcmodel() == str(fake_lcmodel)


def test_search_order_explicit_env_cache_path(fake_lcmodel, tmp_path, monkeypatch):
    """binary= / --lcmodel, then $LCMODEL, then the cache (make lcmodel), then PATH."""
    from mrs_lib.fit import lcmodel_build

    def executable(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(fake_lcmodel.read_text())
        path.chmod(0o755)
        return str(path)

    assert adapter.find_lcmodel() == str(fake_lcmodel)  # only PATH has one
    cached = lcmodel_build.cached_binary()
    assert cached.is_relative_to(tmp_path / "cache")
    assert executable(cached) == adapter.find_lcmodel()  # the cache beats PATH
    env = executable(tmp_path / "env" / "lcmodel")
    monkeypatch.setenv("LCMODEL", env)
    assert adapter.find_lcmodel() == env  # $LCMODEL beats the cache
    explicit = executable(tmp_path / "explicit" / "lcmodel")
    assert adapter.find_lcmodel(explicit) == explicit  # binary= beats everything
    cached.chmod(0o644)
    monkeypatch.delenv("LCMODEL")
    assert adapter.find_lcmodel() == str(fake_lcmodel)  # a non-executable cache entry is skipped


def test_good_run_parsed_in_basis_order(fake_lcmodel, basis, tmp_path):
    """Concentrations and %SD come back in the basis's metabolite order, matched by name
    (the table lists them in another order); misc values parsed."""
    spectra = basis.mix([1.0, 0.3, 0.4, 0.8, 1.2])
    res = adapter.run_lcmodel(spectra.off, basis, workdir=tmp_path / "run")
    assert res.metabolites == basis.metabolites
    assert list(res.table.concentrations) != list(basis.metabolites)  # the oracle's premise
    assert np.allclose(res.concentrations, [OFF_CONC[m][0] for m in basis.metabolites])
    assert np.allclose(res.sd_percent, [OFF_CONC[m][1] for m in basis.metabolites])
    dif = adapter.run_lcmodel(spectra.diff, basis, workdir=tmp_path / "diff")
    assert np.allclose(dif.concentrations, [DIFF_CONC[m][0] for m in basis.metabolites])
    assert np.allclose(dif.sd_percent, [DIFF_CONC[m][1] for m in basis.metabolites])
    assert res.table.fwhm_ppm == pytest.approx(0.043)
    assert "fake lcmodel done" in res.stdout


def test_written_files_round_trip(fake_lcmodel, basis, tmp_path):
    """The .RAW and .BASIS the adapter writes read back (io readers) to the same spectra.

    The control file sets NSIMUL=0.
    """
    spectra = basis.mix([1.0, 0.3, 0.4, 0.8, 1.2])
    wd = tmp_path / "run"
    adapter.run_lcmodel(spectra.diff, basis, workdir=wd)
    raw = io.read_raw(wd / "mrs.RAW", spectra.off.dwell_s, spectra.off.larmor_mhz)
    assert np.allclose(raw.fid, spectra.diff.fid, atol=1e-5 * np.abs(spectra.diff.fid).max())
    bas = io.read_basis(wd / "mrs.BASIS", norm="ortho")  # LCModel's absolute unit
    assert bas.metabolites == basis.metabolites
    ref = basis.diff
    assert np.allclose(bas.spectra.fid, ref.fid, atol=1e-4 * np.abs(ref.fid).max())
    control = (wd / "control.seen").read_text().upper()
    assert "NSIMUL=0" in control.replace(" ", "")
    assert "MEGA-PRESS-3" in control
    assert "PPMST=4.2" in control.replace(" ", "")


def test_fatal_raises(fake_lcmodel, basis, monkeypatch, tmp_path):
    """A FATAL line in $$DIAG raises LCModelFatalError although LCModel exits with 0."""
    monkeypatch.setenv("FAKE_LCMODEL_MODE", "fatal")
    with pytest.raises(LCModelFatalError, match="FATAL"):
        adapter.run_lcmodel(basis.mix([1, 0, 0, 0, 1]).off, basis, workdir=tmp_path / "run")


def test_no_table_is_an_error(fake_lcmodel, basis, monkeypatch):
    monkeypatch.setenv("FAKE_LCMODEL_MODE", "none")
    with pytest.raises(MRSError, match="wrote no table"):
        adapter.run_lcmodel(basis.mix([1, 0, 0, 0, 1]).off, basis)


def test_temporary_workdir_removed(fake_lcmodel, basis):
    res = adapter.run_lcmodel(basis.mix([1, 0, 0, 0, 1]).off, basis)
    assert res.workdir is None


def test_quantifier_over_a_batch(fake_lcmodel, basis):
    """LCModelQuantifier: OFF table for all, DIFF table (another value) for GABA, one row per
    acquisition; each metabolite by name."""
    spectra = basis.mix(np.ones((2, 5)))
    result = LCModelQuantifier(basis).quantify(spectra)
    assert result.concentrations.shape == (2, 5)
    assert result.method == "lcmodel"
    want = {m: (DIFF_CONC if m == "GABA" else OFF_CONC)[m] for m in basis.metabolites}
    assert np.allclose(result.concentrations, [[want[m][0] for m in basis.metabolites]] * 2)
    assert np.allclose(result.uncertainty, [[want[m][1] for m in basis.metabolites]] * 2)
    assert result.diagnostics["diff_fwhm_ppm"] == [0.031, 0.031]


def test_unknown_control_key_rejected(fake_lcmodel, basis):
    with pytest.raises(MRSError, match="NOTAKEY"):
        adapter.run_lcmodel(basis.mix([1, 0, 0, 0, 1]).off, basis, notakey=1)


def test_paths_are_relative_to_the_working_folder(fake_lcmodel, basis, tmp_path):
    """LCModel runs in its working folder with short relative file names: a folder path over
    255 characters (LCModel's limit) is no problem."""
    deep = tmp_path.joinpath(*["a_rather_long_folder_name_" + str(i) for i in range(12)])
    assert len(str(deep / "mrs.table")) > 300
    res = adapter.run_lcmodel(basis.mix([1, 0, 0, 0, 1]).off, basis, workdir=deep)
    assert np.allclose(res.concentrations, [OFF_CONC[m][0] for m in basis.metabolites])
    assert Path((deep / "cwd.seen").read_text()).resolve() == deep.resolve()
    control = (deep / "control.seen").read_text()
    names = re.findall(r"^ (FIL\w+)='([^']*)'", control, re.M)
    assert {k for k, _ in names} == {"FILRAW", "FILBAS", "FILTAB", "FILCOO", "FILPS"}
    assert all(v == f"mrs.{v.split('.')[-1]}" and "/" not in v for _, v in names), names
    assert str(tmp_path) not in control
    with pytest.raises(MRSDataError, match="255"):  # a name LCModel would cut is refused
        adapter.write_inputs(
            tmp_path / "w",
            basis.mix([1, 0, 0, 0, 1]).off,
            basis,
            "off",
            filbas=str(deep / "x.BASIS"),
        )


def test_previous_outputs_never_returned(fake_lcmodel, basis, monkeypatch, tmp_path):
    """A run in a reused working folder that writes no table fails; it does not return the
    previous run's table, and the previous .coord/.ps/.csv are gone too."""
    wd = tmp_path / "run"
    spectrum = basis.mix([1, 0, 0, 0, 1]).off
    adapter.run_lcmodel(spectrum, basis, workdir=wd)
    assert (wd / "mrs.table").is_file()
    for suffix in ("coord", "ps", "csv"):
        (wd / f"mrs.{suffix}").write_text("from an earlier run\n")
    monkeypatch.setenv("FAKE_LCMODEL_MODE", "none")
    with pytest.raises(MRSError, match="wrote no table"):
        adapter.run_lcmodel(spectrum, basis, workdir=wd)
    assert not any((wd / f"mrs.{s}").exists() for s in ("table", "coord", "ps", "csv"))


def test_nonzero_exit_is_an_error_even_with_a_table(fake_lcmodel, basis, monkeypatch, tmp_path):
    monkeypatch.setenv("FAKE_LCMODEL_MODE", "exit3")
    with pytest.raises(MRSError, match="exited with status 3 after writing a table"):
        adapter.run_lcmodel(basis.mix([1, 0, 0, 0, 1]).off, basis, workdir=tmp_path / "run")
    assert (tmp_path / "run" / "mrs.table").is_file()  # the table was there: still refused


def test_parallel_batch_equals_serial_in_input_order(fake_lcmodel, basis, monkeypatch, tmp_path):
    """Spectra fitted by several processes come back in input order, equal to the serial run;
    the fake echoes each spectrum's first data value as NAA, so every row differs."""
    monkeypatch.setenv("FAKE_LCMODEL_ECHO_DATA", "1")
    conc = np.random.default_rng(3).uniform(0.2, 1.0, size=(6, 5))
    spectra = basis.mix(conc)
    serial = LCModelQuantifier(basis, workers=1).quantify(spectra)
    parallel = LCModelQuantifier(basis, workers=3, workdir=str(tmp_path / "w")).quantify(spectra)
    np.testing.assert_array_equal(parallel.concentrations, serial.concentrations)
    np.testing.assert_array_equal(parallel.uncertainty, serial.uncertainty)
    naa = serial.concentrations[:, basis.metabolites.index("NAA")]
    assert len(set(naa.tolist())) == 6  # rows are distinguishable: order is checked
    assert sorted(p.name for p in (tmp_path / "w").iterdir()) == sorted(
        f"{i}-{m}" for i in range(6) for m in ("off", "diff")
    )  # one working folder per run
    assert LCModelQuantifier(basis).workers is None  # default: adapter.default_workers()
    assert adapter.default_workers() >= 1


def test_batch_stops_at_the_first_error(fake_lcmodel, basis, monkeypatch, tmp_path):
    monkeypatch.setenv("FAKE_LCMODEL_MODE", "fatal")
    spectra = [basis.mix([1, 0, 0, 0, 1]).off] * 4
    with pytest.raises(LCModelFatalError, match="MYBASI"):
        adapter.run_lcmodel_batch(spectra, basis, "off", workers=2)
    with pytest.raises(MRSDataError, match="share a working folder"):
        adapter.run_lcmodel_batch(spectra[:2], basis, "off", workdirs=[tmp_path] * 2)
    with pytest.raises(MRSDataError, match="workers"):
        adapter.run_lcmodel_batch(spectra, basis, "off", workers=0)


INTERRUPTED = """
import sys
from mrs_lib.fit import lcmodel
from mrs_lib.fit.lcm import toy_basis
from mrs_lib.quantify import LCModelQuantifier
basis = toy_basis(n_points=512)
try:
    if sys.argv[1] == "single":
        lcmodel.run_lcmodel(basis.mix([1, 0, 0, 0, 1]).off, basis)
    else:
        LCModelQuantifier(basis, workers=2).quantify(basis.mix([[1, 0, 0, 0, 1]] * 2))
except BaseException as exc:
    print(type(exc).__name__, flush=True)
    sys.exit(5)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat_file = Path(f"/proc/{pid}/stat")
    return not (stat_file.is_file() and stat_file.read_text().split()[2] == "Z")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize(
    ("signum", "how", "n_children"),
    [(signal.SIGTERM, "single", 1), (signal.SIGTERM, "batch", 2), (signal.SIGINT, "batch", 2)],
)
def test_signal_kills_children_and_removes_folders(
    fake_lcmodel, tmp_path, monkeypatch, signum, how, n_children
):
    """SIGTERM / SIGINT during a run: the LCModel children are killed and the temporary
    working folders removed before the exception propagates."""
    private = tmp_path / "tmp"
    private.mkdir()
    pids = tmp_path / "pids"
    env = {
        **os.environ,
        "FAKE_LCMODEL_MODE": "slow",
        "FAKE_LCMODEL_PIDS": str(pids),
        "TMPDIR": str(private),
        "PYTHONPATH": str(Path(adapter.__file__).parents[2]),
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", INTERRUPTED, how], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while not (pids.is_file() and len(pids.read_text().split()) == n_children):
            assert proc.poll() is None and time.monotonic() < deadline, "no LCModel started"
            time.sleep(0.05)
        children = [int(p) for p in pids.read_text().split()]
        assert all(_alive(pid) for pid in children)
        assert len(list(private.iterdir())) == n_children  # one working folder per run
        proc.send_signal(signum)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 5
    assert out.strip() == ("Terminated" if signum == signal.SIGTERM else "KeyboardInterrupt")
    assert not any(_alive(pid) for pid in children)
    assert list(private.iterdir()) == []

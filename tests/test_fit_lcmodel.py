"""External LCModel adapter (mrs_lib.fit.lcmodel), tested with a fake ``lcmodel`` executable.

The fake reads the control namelist on stdin like LCModel, records it, checks
that the .RAW and .BASIS files it names exist, and writes a canned .table
(good or FATAL, chosen by $FAKE_LCMODEL_MODE): the adapter's plumbing is
tested without the real binary.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import numpy as np
import pytest

from mrs_lib.errors import LCModelFatalError, MRSError
from mrs_lib.fit import lcmodel as adapter
from mrs_lib.fit.lcm import toy_basis
from mrs_lib.io import lcmodel as io
from mrs_lib.quantify import LCModelQuantifier

GOOD_TABLE = """\
 LCModel (Version 6.3-1N)
 fake run

$$CONC 6 lines in following concentration table = NCONC+1
    Conc.  %SD /Cr  Metabolite
    1.000   2%   1.000 Cr
 3.00E-01  12%   0.300 GABA
    0.400  15%   0.400 Gln
    0.800   8%   0.800 Glu
    1.200   3%   1.200 NAA

$$MISC  3 lines in following misc. output table
  FWHM = 0.043 ppm    S/N =  13
  Data shift = 0.000 ppm
  Ph:  21 deg      12.2 deg/ppm

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
import os, re, sys
control = sys.stdin.read()
keys = dict((k.upper(), v) for k, v in re.findall(r"^\s*(\w+)\s*=\s*'?([^'\n]*)'?", control, re.M))
tab = keys["FILTAB"]
with open(os.path.join(os.path.dirname(tab), "control.seen"), "w") as fh:
    fh.write(control)
for key in ("FILRAW", "FILBAS"):
    assert os.path.isfile(keys[key]), key
mode = os.environ.get("FAKE_LCMODEL_MODE", "good")
if mode != "none":
    with open(tab, "w") as fh:
        fh.write(open(os.environ["FAKE_LCMODEL_" + mode.upper()]).read())
print("fake lcmodel done")
"""


@pytest.fixture
def fake_lcmodel(tmp_path, monkeypatch):
    """A fake ``lcmodel`` on a temporary PATH (and no $LCMODEL)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    exe = bindir / "lcmodel"
    exe.write_text(FAKE.format(python=sys.executable))
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    (tmp_path / "good.table").write_text(GOOD_TABLE)
    (tmp_path / "fatal.table").write_text(FATAL_TABLE)
    monkeypatch.setenv("FAKE_LCMODEL_GOOD", str(tmp_path / "good.table"))
    monkeypatch.setenv("FAKE_LCMODEL_FATAL", str(tmp_path / "fatal.table"))
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
    """Concentrations and %SD come back in the basis's metabolite order; misc values parsed."""
    spectra = basis.mix([1.0, 0.3, 0.4, 0.8, 1.2])
    res = adapter.run_lcmodel(spectra.off, basis, workdir=tmp_path / "run")
    assert res.metabolites == basis.metabolites
    assert np.allclose(res.concentrations, [1.0, 0.3, 0.4, 0.8, 1.2])
    assert np.allclose(res.sd_percent, [2, 12, 15, 8, 3])
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
    """LCModelQuantifier: OFF table for all, DIFF table for GABA, one row per acquisition."""
    spectra = basis.mix(np.ones((2, 5)))
    result = LCModelQuantifier(basis).quantify(spectra)
    assert result.concentrations.shape == (2, 5)
    assert result.method == "lcmodel"
    assert np.allclose(result.concentrations[:, 1], 0.3)


def test_unknown_control_key_rejected(fake_lcmodel, basis):
    with pytest.raises(MRSError, match="NOTAKEY"):
        adapter.run_lcmodel(basis.mix([1, 0, 0, 0, 1]).off, basis, notakey=1)


def test_paths_are_absolute(fake_lcmodel, basis, tmp_path):
    ctrl = adapter.write_inputs(tmp_path / "w", basis.mix([1, 0, 0, 0, 1]).off, basis, "off")
    text = ctrl.read_text()
    assert str(Path(tmp_path / "w" / "mrs.RAW")) in text

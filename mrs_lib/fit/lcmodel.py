"""Run the external LCModel binary on a spectrum (chapter 6 of the book).

LCModel (Provencher, MRM 1993;30:672; BSD-3, Fortran) is on no package
registry: ``make lcmodel`` (``mrs lcmodel build``, :mod:`mrs_lib.fit.lcmodel_build`)
compiles it from its registered source with gfortran into the project's cache.
:func:`find_lcmodel` looks for the binary given explicitly, then at ``$LCMODEL``,
then in that cache, then for ``lcmodel`` on ``PATH``. :func:`run_lcmodel` writes the ``.RAW``,
``.BASIS`` and control files with :mod:`mrs_lib.io.lcmodel`, runs it (the
control namelist on standard input), parses the ``.table`` (and ``.COORD``
when written) and raises :class:`~mrs_lib.errors.LCModelFatalError` on a
FATAL diagnostic (LCModel exits with status 0 even then). Without a binary,
:func:`find_lcmodel` raises an :class:`~mrs_lib.errors.MRSError` carrying
:data:`INSTALL_NOTE`.

Settings (lcmodel.md): ``NSIMUL=0`` (no simulated lipid/macromolecule
components: simulated and phantom data have none, and they would absorb
signal); OFF/ON spectra over 4.0-0.2 ppm with the spline baseline; the DIFF
with ``SPTYPE='mega-press-3'`` over 4.2-1.95 ppm (no baseline).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import LCModelFatalError, MRSError
from ..io import lcmodel as io
from ..sim.basis import Basis
from ..spectrum import Spectrum
from ..types import EditState
from .lcmodel_build import cached_binary

#: Environment variable naming the binary (takes precedence over PATH).
ENV_VAR = "LCMODEL"

INSTALL_NOTE = """\
No LCModel binary found (looked at $LCMODEL, in the project's cache, then for 'lcmodel' on PATH).
LCModel is open source (BSD-3, Fortran 77; github.com/schorschinho/LCModel) but on no
package registry. Build it from the registered source with gfortran (Debian/Ubuntu:
apt-get install gfortran; macOS: brew install gcc):
    make lcmodel            # in a clone of this project, or:
    mrs lcmodel build       # compiles into the cache, checks it against LCModel's test case
    mrs lcmodel path        # where the adapter finds it
or point LCMODEL at an executable you built yourself:  export LCMODEL=/path/to/lcmodel
The library's own LCModel-style fitter (mrs_lib.fit.lcm, method 'lcm') needs no binary."""

#: Control keys per fitted sub-spectrum (lcmodel.md); callers may override any.
MODE_KEYS: dict[str, dict[str, Any]] = {
    "off": {"ppmst": 4.0, "ppmend": 0.2, "namrel": "Cr"},
    "on": {"ppmst": 4.0, "ppmend": 0.2, "namrel": "Cr"},
    "diff": {"sptype": "mega-press-3", "ppmst": 4.2, "ppmend": 1.95, "namrel": "NAA"},
}


def find_lcmodel(binary: str | os.PathLike[str] | None = None) -> str:
    """Path of the LCModel executable.

    Looks, in order, at ``binary``, ``$LCMODEL``, the project's cache (where
    ``make lcmodel`` / ``mrs lcmodel build`` put it:
    :func:`~mrs_lib.fit.lcmodel_build.cached_binary`) and ``lcmodel`` on
    ``PATH``. A ``binary`` or ``$LCMODEL`` that is not executable is an error
    (no silent fallback). Raises :class:`MRSError` with :data:`INSTALL_NOTE`
    when none is found.
    """
    explicit = [(binary, "binary")] if binary is not None else []
    env = os.environ.get(ENV_VAR)
    for cand, what in [*explicit, (env, f"${ENV_VAR}")]:
        if not cand:
            continue
        found = shutil.which(os.fspath(cand))
        if found:
            return found
        raise MRSError(
            f"LCModel binary {os.fspath(cand)!r} ({what}) is not an executable file.\n"
            + INSTALL_NOTE
        )
    cached = cached_binary()
    if cached.is_file() and os.access(cached, os.X_OK):
        return str(cached)
    found = shutil.which("lcmodel")
    if found:
        return found
    raise MRSError(INSTALL_NOTE)


def lcmodel_available(binary: str | None = None) -> bool:
    """Whether :func:`find_lcmodel` would succeed."""
    try:
        find_lcmodel(binary)
    except MRSError:
        return False
    return True


@dataclass(frozen=True, eq=False)
class LCModelResult:
    """Concentrations from one LCModel run, in the basis's metabolite order.

    ``concentrations``/``sd_percent`` are NaN for a metabolite missing from
    the table. ``table`` is the parsed :class:`~mrs_lib.io.lcmodel.outputs.LCModelTable`,
    ``coord`` the parsed ``.COORD`` (``None`` when not written), ``workdir``
    where the files are (``None`` once a temporary folder is removed).
    """

    metabolites: tuple[str, ...]
    concentrations: np.ndarray
    sd_percent: np.ndarray
    table: Any
    coord: Any
    workdir: Path | None
    stdout: str

    @property
    def warnings(self) -> tuple[str, ...]:
        """The WARNING lines of LCModel's ``$$DIAG`` block (FATAL ones raise instead)."""
        return tuple(d for d in self.table.diagnostics if "warning" in d.lower())


def write_inputs(
    workdir: str | os.PathLike[str],
    spectrum: Spectrum,
    basis: Basis,
    mode: EditState,
    name: str = "mrs",
    **control: Any,
) -> Path:
    """Write ``<name>.RAW``, ``<name>.BASIS`` and ``<name>.control`` into ``workdir``.

    Returns the control file's path. ``control`` keys override the defaults
    (:data:`MODE_KEYS`, ``NSIMUL=0``, output files ``<name>.table``/``.coord``/``.ps``).
    """
    wd = Path(workdir)
    wd.mkdir(parents=True, exist_ok=True)
    raw = io.write_raw(wd / f"{name}.RAW", spectrum.replace(edit=mode))
    # norm="ortho": LCModel then reports concentrations in the basis's own units (a spectrum
    # sum_j c_j basis_j comes back as c_j, checked against the real binary); "backward" would
    # scale them by 1/sqrt(NDATAB).
    bas = io.write_basis(wd / f"{name}.BASIS", basis, mode, norm="ortho")
    keys: dict[str, Any] = {
        "title": f"mrs_lib {mode} fit",
        "filraw": str(raw),
        "filbas": str(bas),
        "filtab": str(wd / f"{name}.table"),
        "ltable": 7,
        "filcoo": str(wd / f"{name}.coord"),
        "lcoord": 9,
        "filps": str(wd / f"{name}.ps"),
        "nunfil": spectrum.n_points,
        "deltat": spectrum.dwell_s,
        "hzpppm": spectrum.larmor_mhz,
        "nsimul": 0,
        **MODE_KEYS[mode],
    }
    keys.update({k.lower(): v for k, v in control.items()})
    path = wd / f"{name}.control"
    io.write_control(path, **keys)
    return path


def run_lcmodel(
    spectrum: Spectrum,
    basis: Basis,
    mode: EditState | None = None,
    *,
    binary: str | os.PathLike[str] | None = None,
    workdir: str | os.PathLike[str] | None = None,
    timeout_s: float = 600.0,
    **control: Any,
) -> LCModelResult:
    """Fit one spectrum with the LCModel binary (module docstring).

    ``mode`` defaults to ``spectrum.edit``; ``workdir`` keeps the files (a
    temporary folder, removed afterwards, otherwise). Raises
    :class:`LCModelFatalError` on FATAL diagnostics and :class:`MRSError`
    when the binary is missing, fails or writes no table.
    """
    exe = find_lcmodel(binary)
    m: EditState = mode or spectrum.edit or "off"
    if spectrum.batch_shape:
        raise MRSError(
            f"run_lcmodel: expected one spectrum, got batch shape {spectrum.batch_shape}"
        )
    tmp = None
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="mrs-lcmodel-")
        wd = Path(tmp.name)
    else:
        wd = Path(workdir)
    try:
        ctrl = write_inputs(wd, spectrum, basis, m, **control)
        with ctrl.open("rb") as stdin:
            try:
                proc = subprocess.run(
                    [exe], stdin=stdin, cwd=wd, capture_output=True, timeout=timeout_s, check=False
                )
            except subprocess.TimeoutExpired:
                raise MRSError(f"LCModel ({exe}) did not finish within {timeout_s:g} s") from None
        out = proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace")
        table_path = wd / "mrs.table"
        if not table_path.is_file():
            fatal = [ln.strip() for ln in out.splitlines() if "FATAL" in ln.upper()]
            if fatal:  # LCModel stopped before it could write the table; it says so on stdout
                raise LCModelFatalError(
                    f"LCModel ({exe}) reported a FATAL error before writing its table: "
                    f"{fatal[0]}; its output ends:\n{out[-2000:]}"
                )
            raise MRSError(
                f"LCModel ({exe}) exited with status {proc.returncode} and wrote no table "
                f"({table_path}); its output ends:\n{out[-2000:]}"
            )
        table = io.read_table(table_path)  # raises LCModelFatalError on FATAL
        coord_path = wd / "mrs.coord"
        coord = io.read_coord(coord_path) if coord_path.is_file() else None
        names = basis.metabolites
        conc = np.full(len(names), np.nan)
        sd = np.full(len(names), np.nan)
        for i, name in enumerate(names):
            if name in table.concentrations:
                conc[i], sd[i], _ratio = table.concentrations[name]
        return LCModelResult(names, conc, sd, table, coord, None if tmp else wd, out)
    finally:
        if tmp is not None:
            tmp.cleanup()


__all__ = [
    "ENV_VAR",
    "INSTALL_NOTE",
    "MODE_KEYS",
    "LCModelResult",
    "find_lcmodel",
    "lcmodel_available",
    "run_lcmodel",
    "write_inputs",
]

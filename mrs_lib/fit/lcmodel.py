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

A run cannot return stale or misplaced results: LCModel runs in its working folder
with short relative file names (it cuts names after 255 characters), earlier output
files there are removed first, a non-zero exit status is an error even when a table
was written, and on SIGTERM or Ctrl-C the child is killed and a temporary folder
removed. Concentrations are in basis units: the ``.BASIS`` is written with
``norm="ortho"``, so data ``sum_j c_j basis_j`` come back as ``c_j`` (checked against
the real binary). :func:`run_lcmodel_batch` runs many spectra in parallel processes,
each in its own folder, results in input order.

Settings (LCModel's manual; chapter 6): ``NSIMUL=0`` (no simulated lipid/macromolecule
components: simulated and phantom data have none, and they would absorb
signal); ``NRATIO=0`` (no in-vivo concentration-ratio priors such as
``GABA/Big3 = .03 +- .03``: phantom and simulated concentrations follow no such
ratios, and with them on chapter 6's test set gave LCModel a Glu MAE of 0.147 instead
of 0.052); OFF/ON spectra over 4.0-0.2 ppm with the spline baseline; the DIFF
with ``SPTYPE='mega-press-3'`` over 4.2-1.95 ppm (no baseline). A basis sampled
otherwise than the data is resampled by LCModel, which rescales its areas;
:func:`resampling_factor` undoes that, so the units stay the basis's.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from .._signals import terminate_raises
from ..errors import LCModelFatalError, MRSDataError, MRSError
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

#: Control keys per fitted sub-spectrum (as LCModel's manual sets them); callers may override any.
MODE_KEYS: dict[str, dict[str, Any]] = {
    "off": {"ppmst": 4.0, "ppmend": 0.2, "namrel": "Cr", "nratio": 0},
    "on": {"ppmst": 4.0, "ppmend": 0.2, "namrel": "Cr", "nratio": 0},
    "diff": {"sptype": "mega-press-3", "ppmst": 4.2, "ppmend": 1.95, "namrel": "NAA", "nratio": 0},
}

#: LCModel's default metabolites of its preliminary analysis (``CHUSE1``, ``NUSE1=5``).
PRELIMINARY = ("NAA", "Cr", "GPC", "Glu", "Ins")


def preliminary_keys(basis: Basis, mode: EditState) -> dict[str, Any]:
    """``CHUSE1`` for an OFF/ON fit whose basis lacks some of LCModel's :data:`PRELIMINARY`.

    LCModel starts with a preliminary analysis on up to five metabolites and warns
    (``MYBASI 8``) when the basis has fewer of them; naming the ones present
    removes the warning and changes no number (checked with the real binary).
    The DIFF ('mega-press-3') names its own (NAA, Glu).
    """
    found = [m for m in PRELIMINARY if m in basis.metabolites]
    if mode == "diff" or not found or len(found) == len(PRELIMINARY):
        return {}
    return {"chuse1": found}


def resampling_factor(spectrum: Spectrum, basis: Basis) -> float:
    """The factor LCModel's concentrations carry when it resamples the basis to the data.

    A basis of another bandwidth or field (within 20 %) is cut or zero-filled in
    LCModel to ``NDATA_FREQ = 2 nint(NDATAB BADELT HZPPPM_basis / (2 DELTAT HZPPPM))``
    points, and its areas are rescaled by ``sqrt(NDATA_FREQ / NDATAB)`` (LCModel's
    correction for FFT lengths), so that a spectrum ``sum_j c_j basis_j`` comes back as
    ``c_j`` times this factor (measured with the real binary: 0.79 for 1250 Hz data and a
    2000 Hz basis, 0.98 for 127.73 MHz data and a 123.23 MHz basis, 1 on the same grid).
    :func:`run_lcmodel` divides it out, so concentrations stay in basis units.
    """
    ndatab = basis.n_points  # write_basis writes the basis at its own length
    rnd = ndatab * basis.dwell_s * basis.larmor_mhz / (spectrum.dwell_s * spectrum.larmor_mhz)
    n_freq = 2 * round(0.5 * rnd)
    if abs(1.0 - rnd / (2 * spectrum.n_points)) <= 1e-3:  # LCModel's BWTOLR
        n_freq = 2 * spectrum.n_points
    return float(np.sqrt(n_freq / ndatab)) if n_freq != ndatab else 1.0


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


#: Control keys naming LCModel's output files; each is removed before a run, so a run that
#: writes none can never return an earlier run's results.
OUTPUT_KEYS: tuple[str, ...] = ("filtab", "filcoo", "filps", "filcsv")

#: LCModel keeps file names in CHARACTER*255 variables (``MCHFIL`` in ``lcmodel.inc``): a
#: longer name is cut silently and the file is read from or written to the cut path.
MAX_FILENAME = 255

_NAME = re.compile(r"[A-Za-z0-9_-]{1,40}")


def _write_inputs(
    workdir: Path,
    spectrum: Spectrum,
    basis: Basis,
    mode: EditState,
    name: str,
    control: dict[str, Any],
) -> tuple[Path, dict[str, Any]]:
    """:func:`write_inputs`, also returning the control keys it wrote."""
    if not _NAME.fullmatch(name):
        raise MRSDataError(f"LCModel file stem {name!r}: expected 1-40 letters, digits, '_' or '-'")
    if mode not in MODE_KEYS:
        raise MRSDataError(f"LCModel mode {mode!r}: expected one of {', '.join(MODE_KEYS)}")
    workdir.mkdir(parents=True, exist_ok=True)
    io.write_raw(workdir / f"{name}.RAW", spectrum.replace(edit=mode))
    # norm="ortho": LCModel then reports concentrations in the basis's own units (a spectrum
    # sum_j c_j basis_j comes back as c_j, checked against the real binary); "backward" would
    # scale them by 1/sqrt(NDATAB).
    io.write_basis(workdir / f"{name}.BASIS", basis, mode, norm="ortho")
    keys: dict[str, Any] = {
        "title": f"mrs_lib {mode} fit",
        "filraw": f"{name}.RAW",  # relative to the working folder, where LCModel runs
        "filbas": f"{name}.BASIS",
        "filtab": f"{name}.table",
        "ltable": 7,
        "filcoo": f"{name}.coord",
        "lcoord": 9,
        "filps": f"{name}.ps",
        "nunfil": spectrum.n_points,
        "deltat": spectrum.dwell_s,
        "hzpppm": spectrum.larmor_mhz,
        "nsimul": 0,
        **MODE_KEYS[mode],
        **preliminary_keys(basis, mode),
    }
    keys.update({k.lower(): v for k, v in control.items()})
    for key, value in keys.items():
        if key.startswith("fil") and isinstance(value, (str, os.PathLike)):
            if len(os.fspath(value)) > MAX_FILENAME:
                raise MRSDataError(
                    f"LCModel control key {key.upper()}: a file name of {len(os.fspath(value))} "
                    f"characters; LCModel cuts names after {MAX_FILENAME} (use a shorter path, "
                    "or a name relative to the working folder)"
                )
    path = workdir / f"{name}.control"
    io.write_control(path, **keys)
    return path, keys


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
    File names in the control file are relative to ``workdir``, so LCModel must run there
    (:func:`run_lcmodel` does): LCModel cuts file names after :data:`MAX_FILENAME`
    characters, and a deep folder would otherwise send its outputs elsewhere.
    """
    return _write_inputs(Path(workdir), spectrum, basis, mode, name, dict(control))[0]


class _Cancelled(MRSError):
    """A batch was stopped (an error or a signal elsewhere) before this run could start."""


class _Children:
    """The LCModel processes of one run or batch.

    They are started under a lock, so none starts after :meth:`cancel` has killed the others.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.live: set[subprocess.Popen[bytes]] = set()
        self.cancelled = False

    def start(self, exe: str, stdin: IO[bytes], cwd: Path) -> subprocess.Popen[bytes]:
        with self.lock:
            if self.cancelled:
                raise _Cancelled("LCModel batch stopped before this run started")
            proc = subprocess.Popen(
                [exe], stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd
            )
            self.live.add(proc)
        return proc

    def finished(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        with self.lock:
            self.live.discard(proc)

    def cancel(self) -> bool:
        """Start no more runs; kill the running ones. Whether this was the first cancel."""
        with self.lock:
            first = not self.cancelled
            self.cancelled = True
            running = list(self.live)
        for proc in running:
            if proc.poll() is None:
                proc.kill()
        return first


def _remove_outputs(workdir: Path, keys: dict[str, Any], name: str) -> None:
    """Remove the output files the control keys name, and ``<name>.table/.coord/.ps/.csv``."""
    paths = {workdir / f"{name}.{suffix}" for suffix in ("table", "coord", "ps", "csv")}
    for key in OUTPUT_KEYS:
        value = keys.get(key)
        if isinstance(value, (str, os.PathLike)) and os.fspath(value).strip():
            paths.add(workdir / os.fspath(value))  # an absolute name stays absolute
    for out in paths:
        if out.is_file() or out.is_symlink():
            out.unlink()


def _execute(
    exe: str, workdir: Path, control: Path, timeout_s: float, children: _Children
) -> tuple[int, str]:
    """Run ``exe`` in ``workdir`` with ``control`` on stdin; (exit status, stdout + stderr).

    The child is killed whenever this returns by an exception (timeout, Ctrl-C, the
    ``Terminated`` of SIGTERM).
    """
    with control.open("rb") as stdin:
        proc = children.start(exe, stdin, workdir)
        try:
            stdout, stderr = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise MRSError(f"LCModel ({exe}) did not finish within {timeout_s:g} s") from None
        finally:
            children.finished(proc)  # kills it unless it has exited
    out = stdout.decode(errors="replace") + stderr.decode(errors="replace")
    return proc.returncode, out


def _status(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with status {code}"


def _run_one(
    exe: str,
    spectrum: Spectrum,
    basis: Basis,
    mode: EditState,
    workdir: Path | None,
    timeout_s: float,
    control: dict[str, Any],
    children: _Children,
) -> LCModelResult:
    """One LCModel run (:func:`run_lcmodel` without the binary search and signal handling)."""
    if spectrum.batch_shape:
        raise MRSError(
            f"run_lcmodel: expected one spectrum, got batch shape {spectrum.batch_shape}"
        )
    wd = Path(tempfile.mkdtemp(prefix="mrs-lcmodel-")) if workdir is None else Path(workdir)
    try:
        ctrl, keys = _write_inputs(wd, spectrum, basis, mode, "mrs", control)
        _remove_outputs(wd, keys, "mrs")
        code, out = _execute(exe, wd, ctrl, timeout_s, children)
        tail = out[-2000:]
        table_path = wd / os.fspath(keys["filtab"])
        fatal = [ln.strip() for ln in out.splitlines() if "FATAL" in ln.upper()]
        if fatal and (code != 0 or not table_path.is_file()):
            # LCModel stopped before it could write (or finish) its table; it says so on stdout
            raise LCModelFatalError(
                f"LCModel ({exe}) {_status(code)} after a FATAL error: {fatal[0]}; "
                f"its output ends:\n{tail}"
            )
        if code != 0:  # a table from a run that failed is not a result
            wrote = "after writing a table (not used)" if table_path.is_file() else "(no table)"
            raise MRSError(f"LCModel ({exe}) {_status(code)} {wrote}; its output ends:\n{tail}")
        if not table_path.is_file():
            raise MRSError(
                f"LCModel ({exe}) {_status(code)} and wrote no table ({table_path}); "
                f"its output ends:\n{tail}"
            )
        table = io.read_table(table_path)  # raises LCModelFatalError on FATAL
        coo = keys.get("filcoo")
        coord_path = wd / os.fspath(coo) if isinstance(coo, (str, os.PathLike)) and coo else None
        coord = io.read_coord(coord_path) if coord_path and coord_path.is_file() else None
        names = basis.metabolites
        conc = np.full(len(names), np.nan)
        sd = np.full(len(names), np.nan)
        for i, name in enumerate(names):  # by name: LCModel orders its table its own way
            if name in table.concentrations:
                conc[i], sd[i], _ratio = table.concentrations[name]
        conc = conc / resampling_factor(spectrum, basis)
        return LCModelResult(names, conc, sd, table, coord, None if workdir is None else wd, out)
    finally:
        if workdir is None:
            shutil.rmtree(wd, ignore_errors=True)


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
    temporary folder, removed afterwards, otherwise). LCModel runs in the working
    folder with file names relative to it; its output files are removed first, so a
    run that writes none cannot return an earlier one's. Raises
    :class:`LCModelFatalError` on FATAL diagnostics and :class:`MRSError`
    when the binary is missing, exits with a non-zero status (even after writing a
    table), or writes no table. On SIGTERM (in the main thread) or Ctrl-C the child
    is killed and the temporary folder removed before
    ``Terminated`` (SIGTERM) / :class:`KeyboardInterrupt` propagates.
    """
    exe = find_lcmodel(binary)
    m: EditState = mode or spectrum.edit or "off"
    wd = None if workdir is None else Path(workdir)
    with terminate_raises():
        return _run_one(exe, spectrum, basis, m, wd, timeout_s, dict(control), _Children())


def default_workers() -> int:
    """The CPUs this process may use (the default number of parallel LCModel runs)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def run_lcmodel_batch(
    spectra: Sequence[Spectrum],
    basis: Basis,
    modes: Sequence[EditState] | EditState | None = None,
    *,
    binary: str | os.PathLike[str] | None = None,
    workdirs: Sequence[str | os.PathLike[str] | None] | None = None,
    workers: int | None = None,
    timeout_s: float = 600.0,
    **control: Any,
) -> list[LCModelResult]:
    """Fit many spectra with LCModel, up to ``workers`` processes at a time.

    ``modes`` is one mode for all or one per spectrum (default: each spectrum's
    ``edit``, else ``"off"``). Each spectrum runs in its own working folder
    (``workdirs[i]``, kept, or a temporary one, removed) exactly as :func:`run_lcmodel`
    would run it; results come back in input order and equal the serial ones.
    ``workers`` defaults to :func:`default_workers`. The first error stops the batch: the
    runs still going are killed, no new one starts, and that error is raised. SIGTERM (in
    the main thread) and Ctrl-C kill every child and remove the temporary folders before
    they propagate.
    """
    exe = find_lcmodel(binary)
    items = list(spectra)
    n = len(items)
    if modes is None or isinstance(modes, str):
        mode_list = [modes or s.edit or "off" for s in items]
    else:
        mode_list = list(modes)
    dirs = [None] * n if workdirs is None else [None if d is None else Path(d) for d in workdirs]
    if len(mode_list) != n or len(dirs) != n:
        raise MRSDataError(
            f"run_lcmodel_batch: {n} spectra but {len(mode_list)} modes and {len(dirs)} workdirs"
        )
    if workers is None:
        workers = default_workers()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise MRSDataError(
            f"run_lcmodel_batch: workers must be a positive integer, got {workers!r}"
        )
    kept = [d for d in dirs if d is not None]
    if len({d.resolve() for d in kept}) != len(kept):
        raise MRSDataError("run_lcmodel_batch: two spectra share a working folder")
    children = _Children()
    ctrl = dict(control)

    def job(i: int) -> LCModelResult:
        try:
            return _run_one(exe, items[i], basis, mode_list[i], dirs[i], timeout_s, ctrl, children)
        except Exception:
            if children.cancel():
                raise  # the error that stops the batch
            raise _Cancelled("LCModel run stopped with its batch") from None

    with terminate_raises():
        if workers == 1 or n <= 1:
            return [job(i) for i in range(n)]
        pool = ThreadPoolExecutor(max_workers=min(workers, n), thread_name_prefix="lcmodel")
        futures = [pool.submit(job, i) for i in range(n)]
        try:
            wait(futures, return_when=FIRST_EXCEPTION)
        except BaseException:  # Ctrl-C, SIGTERM: kill the children, let the threads clean up
            children.cancel()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        errors = [f.exception() for f in futures if not f.cancelled() and f.exception()]
        first = next((e for e in errors if not isinstance(e, _Cancelled)), None)
        if first is not None:
            raise first
        return [f.result() for f in futures]


__all__ = [
    "ENV_VAR",
    "INSTALL_NOTE",
    "MAX_FILENAME",
    "MODE_KEYS",
    "OUTPUT_KEYS",
    "PRELIMINARY",
    "LCModelResult",
    "default_workers",
    "find_lcmodel",
    "lcmodel_available",
    "preliminary_keys",
    "resampling_factor",
    "run_lcmodel",
    "run_lcmodel_batch",
    "write_inputs",
]

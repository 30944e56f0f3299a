"""Build the real LCModel 6.3 from its registered Fortran source, and check the build.

LCModel (S. W. Provencher; BSD-3-Clause since 2020) is on no package registry.
Its Fortran 77 source and the test case that comes with it are data-registry
entries (:data:`SOURCE_FILES`, :data:`TEST_FILES`: looked up in
``$MRS_DATA_DIR`` first, downloaded from the public GitHub origin otherwise,
sha256-checked either way). :func:`build_lcmodel` compiles them with
``gfortran`` (:data:`FFLAGS`) in a temporary folder, checks the new binary with
:func:`check_lcmodel` and only then installs it, atomically, as
:func:`cached_binary` (``$MRS_CACHE_DIR/lcmodel/lcmodel``, or the OS cache of
``mrs_lib``) with a JSON sidecar recording the source hashes, the compiler,
the flags, the build time and the check. :func:`mrs_lib.fit.lcmodel.find_lcmodel`
looks there after ``$LCMODEL`` and before ``PATH``. ``make lcmodel`` and
``mrs lcmodel build`` call :func:`build_lcmodel`.

The check runs the bundled ``test_lcm`` case (an in vivo 3 T spectrum, its
basis and control file) and compares the concentration table of the new
``out.ps`` with that of ``out_ref_build.ps``, the reference build's output:
every row (concentration, %SD, ratio, name) must match exactly. A Debian
gfortran build reproduces it; only the version string, date and plot bytes
differ.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .. import data
from ..errors import MRSError

#: Origin of the registered source (github.com/schorschinho/LCModel at this commit).
COMMIT = "c9d95ff9b1fd2e7e8b256088ba1f5cf4df5fb207"
#: Registry names are ``lcmodel-source/<PATH>``; files live below ``external/``.
REGISTRY_PREFIX = "lcmodel-source/"
SOURCE_FILES: tuple[str, ...] = (
    "source/LCModel.f",
    "source/lcmodel.inc",
    "source/lipid-1.inc",
    "source/liver-1.inc",
    "source/muscle-1.inc",
    "source/nml_lcmodel.inc",
    "source/nml_lcmodl.inc",
)
TEST_FILES: tuple[str, ...] = (
    "test_lcm/3t.basis",
    "test_lcm/control.file",
    "test_lcm/data.raw",
    "test_lcm/out_ref_build.ps",
)
LICENSE_FILE = "LICENSE.md"
#: The flags of ``shared/data/README.md`` (legacy Fortran 77, no backslash escapes).
FFLAGS: tuple[str, ...] = ("-std=legacy", "-O3", "-fno-backslash", "-ffpe-summary=none")
#: Environment variable naming the Fortran compiler (default ``gfortran``).
ENV_FC = "FC"
BINARY_NAME = "lcmodel"
SIDECAR_SUFFIX = ".json"

INSTALL_GFORTRAN = (
    "install gfortran (Debian/Ubuntu: apt-get install gfortran; Fedora: dnf install "
    "gcc-gfortran; macOS: brew install gcc) or name a Fortran compiler with $FC"
)


class LCModelBuildError(MRSError):
    """LCModel could not be built, or the built binary failed its check."""


def registry_name(relpath: str) -> str:
    """Data-registry name of a file of the LCModel repository (``source/LCModel.f``...)."""
    return REGISTRY_PREFIX + relpath


def fetch_file(relpath: str, *, download: bool = True) -> Path:
    """Local, sha256-verified path of a registered file of the LCModel repository."""
    return data.fetch(registry_name(relpath), download=download)


def cache_dir() -> Path:
    """Where the built binary lives: ``$MRS_CACHE_DIR/lcmodel`` or the OS cache of ``mrs_lib``."""
    return data.cache_dir().parent / "lcmodel"


def cached_binary() -> Path:
    """Path of the binary :func:`build_lcmodel` installs by default (it may not exist)."""
    return cache_dir() / BINARY_NAME


def sidecar_path(binary: str | os.PathLike[str]) -> Path:
    """The JSON record written next to a built binary."""
    p = Path(binary)
    return p.with_name(p.name + SIDECAR_SUFFIX)


def read_sidecar(binary: str | os.PathLike[str]) -> dict[str, object] | None:
    """The build record of ``binary``, or ``None`` when it has none (or an unreadable one)."""
    try:
        record = json.loads(sidecar_path(binary).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def find_compiler(compiler: str | None = None) -> str:
    """Path of the Fortran compiler: ``compiler``, else ``$FC``, else ``gfortran`` on PATH."""
    name = compiler or os.environ.get(ENV_FC) or "gfortran"
    found = shutil.which(name)
    if found is None:
        raise LCModelBuildError(f"no Fortran compiler {name!r} found: {INSTALL_GFORTRAN}")
    return found


def compiler_version(fc: str) -> str:
    """First line of ``fc --version`` (empty when it says nothing)."""
    proc = subprocess.run([fc, "--version"], capture_output=True, text=True, check=False)
    lines = (proc.stdout or proc.stderr).strip().splitlines()
    return lines[0] if lines else ""


# ---------------------------------------------------------------------------------------------
# The concentration table of LCModel's PostScript output


@dataclass(frozen=True)
class ConcRow:
    """One row of LCModel's concentration table, with the numbers as printed."""

    name: str
    conc: str
    sd_percent: int
    ratio: str
    #: ``"+"``/``"-"`` when LCModel flags the ratio as above/below its prior (CHRATO), else ``""``
    flag: str = ""

    @property
    def concentration(self) -> float:
        return float(self.conc)


# `{(2.92E-07  45%   0.160 GABA)s}lst`: one table row as the .ps prints it (Fortran: conc in 8
# columns, %SD in I4, ratio in 8, then ' ' or a '+'/'-' prior flag glued to the name)
_NUMBER = r"(?:\d+\.?\d*|\.\d+)(?:E[+-]?\d+)?"
_PS_ROW = re.compile(rf"^\{{\(\s*({_NUMBER})\s*(\d+)%\s*({_NUMBER})([ +-])\s*(.+?)\)s\}}lst\s*$")
_PS_VERSION = re.compile(r"LCModel \\\(Version (\S+)\\\)")


def read_ps_table(path: str | os.PathLike[str]) -> tuple[ConcRow, ...]:
    """Every concentration-table row of an LCModel ``.ps`` file, in order (all pages).

    Raises :class:`LCModelBuildError` when the file holds no table.
    """
    p = Path(path)
    rows = []
    for line in p.read_text(encoding="latin-1").splitlines():
        m = _PS_ROW.match(line.strip())
        if m:
            conc, sd, ratio, flag, name = m.groups()
            rows.append(ConcRow(name, conc, int(sd), ratio, flag.strip()))
    if not rows:
        raise LCModelBuildError(f"'{p}': no LCModel concentration table found")
    return tuple(rows)


def read_ps_version(path: str | os.PathLike[str]) -> str | None:
    """LCModel's version string as printed in a ``.ps`` file (``6.3-1N``), or ``None``."""
    m = _PS_VERSION.search(Path(path).read_text(encoding="latin-1"))
    return m.group(1) if m else None


@dataclass(frozen=True)
class LCModelCheck:
    """Outcome of :func:`check_lcmodel`: the new table against the reference build's."""

    binary: str
    ok: bool
    rows: tuple[ConcRow, ...]
    reference: tuple[ConcRow, ...]
    problems: tuple[str, ...]
    version: str | None
    seconds: float

    def summary(self) -> str:
        """A few lines for people: verdict, then the rows (and the problems, if any)."""
        verdict = "reproduces" if self.ok else "does NOT reproduce"
        lines = [
            f"LCModel {self.version or '?'} at {self.binary} {verdict} the reference "
            f"concentration table of test_lcm ({len(self.reference)} rows, {self.seconds:.2f} s)"
        ]
        lines += [
            f"  {r.conc:>9} {r.sd_percent:4d}% {r.ratio:>8}{r.flag or ' '} {r.name}"
            for r in self.rows
        ]
        lines += [f"  problem: {p}" for p in self.problems]
        return "\n".join(lines)


def _compare(rows: tuple[ConcRow, ...], ref: tuple[ConcRow, ...]) -> tuple[str, ...]:
    problems = [
        f"row {i + 1}: got {got}, reference {want}"
        for i, (got, want) in enumerate(zip(rows, ref, strict=False))
        if got != want
    ]
    if len(rows) != len(ref):
        problems.append(f"{len(rows)} rows, reference {len(ref)}")
    return tuple(problems)


def check_lcmodel(
    binary: str | os.PathLike[str], *, download: bool = True, timeout_s: float = 120.0
) -> LCModelCheck:
    """Run the bundled ``test_lcm`` case with ``binary`` in a temporary folder and compare.

    The concentration table of the new ``out.ps`` must equal, row by row
    (concentration, %SD, ratio, name as printed), the one of the reference
    build's ``out_ref_build.ps``. Returns an :class:`LCModelCheck` (``ok`` says
    whether it does); raises :class:`LCModelBuildError` when the binary does not
    run or writes no table.
    """
    exe = Path(binary).resolve()
    inputs = {rel: fetch_file(rel, download=download) for rel in TEST_FILES}
    reference = read_ps_table(inputs["test_lcm/out_ref_build.ps"])
    with tempfile.TemporaryDirectory(prefix="mrs-lcmodel-check-") as tmp:
        wd = Path(tmp)
        for rel in ("test_lcm/3t.basis", "test_lcm/control.file", "test_lcm/data.raw"):
            shutil.copyfile(inputs[rel], wd / Path(rel).name)
        t0 = time.perf_counter()
        try:
            with open(wd / "control.file", "rb") as stdin:
                proc = subprocess.run(
                    [str(exe)], stdin=stdin, cwd=wd, capture_output=True, timeout=timeout_s
                )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise LCModelBuildError(f"LCModel check: could not run {exe}: {exc}") from exc
        seconds = time.perf_counter() - t0
        out = wd / "out.ps"
        if not out.is_file():
            tail = (proc.stdout + proc.stderr).decode(errors="replace")[-1500:]
            raise LCModelBuildError(
                f"LCModel check: {exe} exited with status {proc.returncode} and wrote no out.ps; "
                f"its output ends:\n{tail}"
            )
        rows = read_ps_table(out)
        version = read_ps_version(out)
    problems = _compare(rows, reference)
    return LCModelCheck(str(exe), not problems, rows, reference, problems, version, seconds)


# ---------------------------------------------------------------------------------------------
# Building


@dataclass
class BuildRecord:
    """What the JSON sidecar of a built binary records."""

    lcmodel_commit: str
    sources: dict[str, str]
    compiler: str
    compiler_version: str
    flags: list[str]
    build_seconds: float
    built_at: str
    check: dict[str, object] = field(default_factory=dict)


def _source_hashes() -> dict[str, str]:
    return {rel: data.REGISTRY[registry_name(rel)].sha256 for rel in SOURCE_FILES}


def is_current(binary: str | os.PathLike[str]) -> bool:
    """Whether ``binary`` exists, is executable and was built (and checked) from the registered
    source."""
    p = Path(binary)
    if not (p.is_file() and os.access(p, os.X_OK)):
        return False
    record = read_sidecar(p)
    if record is None or record.get("sources") != _source_hashes():
        return False
    check = record.get("check")
    return not isinstance(check, dict) or check.get("ok") is not False


@contextlib.contextmanager
def _build_lock(folder: Path) -> Iterator[None]:
    """Serialise builds into one folder (parallel test workers, two shells); no-op without fcntl."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    with open(folder / ".build.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def compile_lcmodel(
    out: str | os.PathLike[str],
    *,
    compiler: str | None = None,
    download: bool = True,
    timeout_s: float = 1800.0,
) -> float:
    """Compile the registered source into the executable ``out``; return the compile seconds.

    Copies ``LCModel.f`` and its include files into a temporary folder (the
    source ``INCLUDE``s them by bare name) and runs ``gfortran`` there with
    :data:`FFLAGS`. Raises :class:`LCModelBuildError` with the compiler's last
    output lines when it fails.
    """
    fc = find_compiler(compiler)
    sources = {rel: fetch_file(rel, download=download) for rel in SOURCE_FILES}
    with tempfile.TemporaryDirectory(prefix="mrs-lcmodel-build-") as tmp:
        wd = Path(tmp)
        for rel, path in sources.items():
            shutil.copyfile(path, wd / Path(rel).name)
        cmd = [fc, *FFLAGS, "-o", BINARY_NAME, "LCModel.f"]
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, cwd=wd, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired as exc:
            raise LCModelBuildError(f"{' '.join(cmd)}: no result within {timeout_s:g} s") from exc
        seconds = time.perf_counter() - t0
        built = wd / BINARY_NAME
        if proc.returncode != 0 or not built.is_file():
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-30:])
            raise LCModelBuildError(
                f"compiling LCModel failed (status {proc.returncode}): {' '.join(cmd)}\n{tail}"
            )
        shutil.copyfile(built, out)
    os.chmod(out, 0o755)
    return seconds


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def build_lcmodel(
    dest: str | os.PathLike[str] | None = None,
    *,
    compiler: str | None = None,
    force: bool = False,
    check: bool = True,
    download: bool = True,
) -> Path:
    """Build LCModel into ``dest`` (default :func:`cached_binary`) and return its path.

    Does nothing when ``dest`` already holds a binary built from the registered
    source (:func:`is_current`) unless ``force``. Otherwise compiles
    (:func:`compile_lcmodel`), runs :func:`check_lcmodel` on the new binary
    when ``check`` and installs it only if the check passes: the binary is
    moved into place with :func:`os.replace` (never a half-written file at
    ``dest``), then its JSON sidecar (:class:`BuildRecord`). Concurrent builds
    into the same folder wait for each other. Raises
    :class:`LCModelBuildError` when there is no compiler, the compile fails or
    the check does not reproduce the reference table.
    """
    target = Path(dest) if dest is not None else cached_binary()
    target.parent.mkdir(parents=True, exist_ok=True)
    with _build_lock(target.parent):
        if not force and is_current(target):
            return target
        fc = find_compiler(compiler)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.building")
        try:
            build_seconds = compile_lcmodel(tmp, compiler=fc, download=download)
            record = BuildRecord(
                lcmodel_commit=COMMIT,
                sources=_source_hashes(),
                compiler=fc,
                compiler_version=compiler_version(fc),
                flags=list(FFLAGS),
                build_seconds=round(build_seconds, 2),
                built_at=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            )
            if check:
                result = check_lcmodel(tmp, download=download)
                if not result.ok:
                    raise LCModelBuildError(
                        "the new LCModel build does not reproduce the reference concentration "
                        "table of test_lcm:\n" + "\n".join(result.problems)
                    )
                record.check = {
                    "ok": True,
                    "rows": len(result.rows),
                    "version": result.version,
                    "seconds": round(result.seconds, 3),
                }
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        _atomic_write_text(sidecar_path(target), json.dumps(asdict(record), indent=2) + "\n")
        license_src = fetch_file(LICENSE_FILE, download=download)
        shutil.copyfile(license_src, target.parent / "LICENSE-LCModel.md")
    return target


__all__ = [
    "COMMIT",
    "FFLAGS",
    "SOURCE_FILES",
    "TEST_FILES",
    "BuildRecord",
    "ConcRow",
    "LCModelBuildError",
    "LCModelCheck",
    "build_lcmodel",
    "cache_dir",
    "cached_binary",
    "check_lcmodel",
    "compile_lcmodel",
    "fetch_file",
    "is_current",
    "read_ps_table",
    "read_ps_version",
    "read_sidecar",
    "registry_name",
]

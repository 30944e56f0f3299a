"""Fuzzed LCModel files: a reader returns a valid object or raises a library error, nothing else.

Property (issue 2, "bad input gets a clear error, never a wrong number"):
for any mutation of a valid .RAW / .BASIS / .table text (characters replaced,
inserted or deleted, lines dropped or duplicated, the file truncated), the
reader either returns an object whose numbers are all finite or raises
:class:`MRSFormatError` / :class:`LCModelFatalError`. Deterministic
(``derandomize=True``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mrs_lib.errors import LCModelFatalError, MRSFormatError
from mrs_lib.io import lcmodel
from mrs_lib.sim.basis import Basis
from mrs_lib.spectrum import Spectrum

FUZZ = settings(
    derandomize=True,
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ALPHABET = "0123456789.-+eEdD $&=',/()\n\tNaIinf%x\x00\u00e9"
DWELL, LARMOR = 5e-4, 127.731


def _fid(n: int, ppm: float) -> np.ndarray:
    t = np.arange(n) * DWELL
    return np.exp(2j * np.pi * (ppm - 4.65) * LARMOR * t - 5 * t)


def curve(x: np.ndarray) -> str:
    """Values 10 per line in E13.5, as LCModel's .COORD prints them."""
    return "\n".join("".join(f"{v:13.5E}" for v in x[i : i + 10]) for i in range(0, len(x), 10))


@pytest.fixture(scope="module")
def texts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("fuzz_src")
    spec = Spectrum(_fid(8, 3.0), DWELL, LARMOR, te_ms=68.0)
    raw = lcmodel.write_raw(d / "x.RAW", spec).read_text()
    on = Spectrum(np.stack([_fid(8, 3.0), _fid(8, 2.0)]), DWELL, LARMOR)
    basis = lcmodel.write_basis(d / "x.BASIS", Basis(("A", "B"), on, on * 0.5), "diff", fwhmba=0.01)
    basis = basis.read_text()
    table = "\n".join(
        [
            " LCModel (Version 6.3-1N)",
            "$$CONC  3 lines in following concentration table = NCONC+1",
            "    Conc.  %SD /Cr   Metabolite",
            "    1.000   3%   1.000 Cr",
            " 4.05E-02  32% 4.1E-02 GABA",
            "",
            "$$MISC  2 lines in following misc. output table",
            "  FWHM = 0.050 ppm    S/N =  20",
            "  Ph:  21 deg      12.2 deg/ppm",
            "",
            "$$DIAG  1 lines in following diagnostic table:",
            "   1 info      FINOUT  9",
            "",
        ]
    )
    ppm = np.linspace(4.0, 0.2, 12)
    coord = "\n".join(
        [
            table.replace("$$CONC  3", " 3")
            .replace("$$MISC  2", "  2")
            .replace("$$DIAG  1", "  1"),
            " 12 points on ppm-axis = NY",
            curve(ppm),
            " NY phased data points follow",
            curve(np.sin(ppm)),
            " NY points of the fit to the data follow",
            curve(np.cos(ppm)),
            " NY background values follow",
            curve(0.1 * ppm),
            " GABA     Conc. = 4.05E-02",
            curve(ppm**2),
            "",
        ]
    )
    csv = (
        "Row, Col, Cr, Cr %SD, Cr/Cr, GABA, GABA %SD, GABA/Cr\n"
        "  1,   1,    1.000,    3,    1.000, 4.05E-02,   32,  4.1E-02\n"
    )
    return {"raw": raw, "basis": basis, "table": table, "coord": coord, "csv": csv}


@st.composite
def mutations(draw: st.DrawFn) -> list[tuple[str, float, str]]:
    op = st.sampled_from(["replace", "insert", "delete", "truncate", "drop_line", "dup_line"])
    where = st.floats(0.0, 1.0, allow_nan=False)
    piece = st.text(alphabet=ALPHABET, min_size=1, max_size=4)
    return draw(st.lists(st.tuples(op, where, piece), min_size=1, max_size=3))


def mutate(text: str, ops: list[tuple[str, float, str]]) -> str:
    for op, where, piece in ops:
        if op in ("drop_line", "dup_line"):
            lines = text.split("\n")
            i = min(int(where * len(lines)), len(lines) - 1)
            lines[i : i + 1] = [] if op == "drop_line" else [lines[i], lines[i]]
            text = "\n".join(lines)
            continue
        i = min(int(where * len(text)), max(len(text) - 1, 0))
        if op == "replace":
            text = text[:i] + piece + text[i + len(piece) :]
        elif op == "insert":
            text = text[:i] + piece + text[i:]
        elif op == "delete":
            text = text[:i] + text[i + len(piece) :]
        else:
            text = text[:i]
    return text


def _write(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    return path


@FUZZ
@given(ops=mutations())
def test_fuzz_read_raw(tmp_path: Path, texts: dict[str, str], ops) -> None:
    path = _write(tmp_path, "f.RAW", mutate(texts["raw"], ops))
    try:
        spec = lcmodel.read_raw(path, DWELL, LARMOR)
    except MRSFormatError as exc:
        assert "f.RAW" in str(exc)
        return
    assert isinstance(spec, Spectrum) and np.all(np.isfinite(spec.fid)) and spec.n_points >= 2


@FUZZ
@given(ops=mutations())
def test_fuzz_read_basis(tmp_path: Path, texts: dict[str, str], ops) -> None:
    path = _write(tmp_path, "f.BASIS", mutate(texts["basis"], ops))
    try:
        basis = lcmodel.read_basis(path)
    except MRSFormatError as exc:
        assert "f.BASIS" in str(exc)
        return
    assert np.all(np.isfinite(basis.spectra.fid))
    assert basis.spectra.batch_shape == (len(basis.metabolites),)
    assert basis.dwell_s > 0 and basis.larmor_mhz > 0


@FUZZ
@given(ops=mutations())
def test_fuzz_read_table(tmp_path: Path, texts: dict[str, str], ops) -> None:
    path = _write(tmp_path, "f.table", mutate(texts["table"], ops))
    try:
        table = lcmodel.read_table(path)
    except (MRSFormatError, LCModelFatalError) as exc:
        assert "f.table" in str(exc)
        return
    for conc, sd, ratio in table.concentrations.values():
        assert np.isfinite(conc) and np.isfinite(sd) and (ratio is None or np.isfinite(ratio))
    assert all(np.isfinite(v) for v in table.misc.values())


def test_mutations_do_break_files(texts: dict[str, str], tmp_path: Path) -> None:
    """The fuzz is not vacuous: a truncated data block is caught, the intact file is read."""
    assert lcmodel.read_raw(_write(tmp_path, "ok.RAW", texts["raw"]), DWELL, LARMOR).n_points == 8
    assert lcmodel.read_coord(_write(tmp_path, "ok.COORD", texts["coord"])).n_points == 12
    assert (
        lcmodel.read_csv(_write(tmp_path, "ok.csv", texts["csv"])).rows[0].concentrations["GABA"][1]
        == 32
    )
    cut = mutate(texts["raw"], [("truncate", 0.97, "x")])
    with pytest.raises(MRSFormatError):
        lcmodel.read_raw(_write(tmp_path, "cut.RAW", cut), DWELL, LARMOR, n_points=8)


@FUZZ
@given(ops=mutations())
def test_fuzz_read_coord(tmp_path: Path, texts: dict[str, str], ops) -> None:
    path = _write(tmp_path, "f.COORD", mutate(texts["coord"], ops))
    try:
        coord = lcmodel.read_coord(path)
    except (MRSFormatError, LCModelFatalError) as exc:
        assert "f.COORD" in str(exc)
        return
    curves = [coord.ppm, coord.data, coord.fit, *coord.metabolites.values()]
    assert all(c.shape == coord.ppm.shape and np.all(np.isfinite(c)) for c in curves)


@FUZZ
@given(ops=mutations())
def test_fuzz_read_csv(tmp_path: Path, texts: dict[str, str], ops) -> None:
    path = _write(tmp_path, "f.csv", mutate(texts["csv"], ops))
    try:
        csv = lcmodel.read_csv(path)
    except MRSFormatError as exc:
        assert "f.csv" in str(exc)
        return
    for row in csv.rows:
        assert all(np.isfinite(v) for t in row.concentrations.values() for v in t)

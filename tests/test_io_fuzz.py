"""Fuzzed LCModel files: a reader returns a valid object or raises a library error, nothing else.

Property (issue 2, "bad input gets a clear error, never a wrong number"):
for any mutation of a valid .RAW / .BASIS / .table / .COORD / .csv text
(characters replaced, inserted or deleted, digits changed, lines dropped or
duplicated, the file truncated), the reader either returns an object whose
numbers are all finite or raises :class:`MRSFormatError` /
:class:`LCModelFatalError` naming the file and a field. Deterministic
(``derandomize=True``).

Every example exercises the reader and is checked on whichever branch it
takes (issue 14: the first version returned early on most examples and
asserted nothing there); :func:`run_fuzz` counts the outcomes and requires
both a share of successful reads (whose oracle then ran) and of errors, so a
mutation mix that only ever breaks the header fails the test.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
    """Half the examples change digits only (the file stays well formed, so the reader's
    success branch and its oracle run), half mix in structural damage.

    The split is drawn explicitly because hypothesis also draws from constants it
    collects from imported modules: which other tests ran first changes the examples
    (not the property), and a fixed share keeps both branches exercised regardless.
    """
    hostile = ["replace", "insert", "delete", "truncate", "drop_line", "dup_line", "digit"]
    op = st.sampled_from(["digit"] if draw(st.booleans()) else hostile)
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
        if op == "digit":  # a plausible value change: the file stays well formed
            digits = [k for k, c in enumerate(text) if c.isdigit()]
            if digits:
                k = digits[min(int(where * len(digits)), len(digits) - 1)]
                text = text[:k] + str((int(text[k]) + 1 + len(piece)) % 10) + text[k + 1 :]
            continue
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


def run_fuzz(
    name: str,
    text: str,
    read: Callable[[Path], Any],
    check: Callable[[Any], None],
    tmp_path: Path,
    errors: tuple[type[Exception], ...] = (MRSFormatError,),
) -> Counter[str]:
    """Run ``FUZZ`` examples of ``read`` on mutations of ``text``; both branches are checked.

    Error branch: the error is one of ``errors`` and names the file (and, for
    :class:`MRSFormatError`, a field and what was expected). Success branch:
    ``check(result)`` (the oracle). Returns the counts; at least 10% of the
    examples must take each branch, so neither check is vacuous.
    """
    tally: Counter[str] = Counter()

    @FUZZ
    @given(ops=mutations())
    def one(ops: list[tuple[str, float, str]]) -> None:
        tally["tried"] += 1
        path = _write(tmp_path, name, mutate(text, ops))
        try:
            result = read(path)
        except errors as exc:
            tally["error"] += 1
            assert name in str(exc)
            if isinstance(exc, MRSFormatError):
                assert exc.field and exc.expected
        else:
            tally["read"] += 1
            check(result)

    one()
    assert tally["tried"] >= 50, tally
    assert tally["read"] >= tally["tried"] // 10 and tally["error"] >= tally["tried"] // 10, tally
    return tally


def _check_raw(spec: Spectrum) -> None:
    assert isinstance(spec, Spectrum) and np.all(np.isfinite(spec.fid)) and spec.n_points >= 2


def _check_basis(basis: Any) -> None:
    assert np.all(np.isfinite(basis.spectra.fid))
    assert basis.spectra.batch_shape == (len(basis.metabolites),)
    assert basis.dwell_s > 0 and basis.larmor_mhz > 0


def _check_table(table: Any) -> None:
    for conc, sd, ratio in table.concentrations.values():
        assert np.isfinite(conc) and np.isfinite(sd) and (ratio is None or np.isfinite(ratio))
    assert all(np.isfinite(v) for v in table.misc.values())


def _check_coord(coord: Any) -> None:
    curves = [coord.ppm, coord.data, coord.fit, *coord.metabolites.values()]
    assert all(c.shape == coord.ppm.shape and np.all(np.isfinite(c)) for c in curves)


def _check_csv(csv: Any) -> None:
    for row in csv.rows:
        assert all(np.isfinite(v) for t in row.concentrations.values() for v in t)


def test_fuzz_read_raw(tmp_path: Path, texts: dict[str, str]) -> None:
    run_fuzz(
        "f.RAW", texts["raw"], lambda p: lcmodel.read_raw(p, DWELL, LARMOR), _check_raw, tmp_path
    )


def test_fuzz_read_raw_with_n_points(tmp_path: Path, texts: dict[str, str]) -> None:
    """With NUNFIL given, every successful read has exactly that many points."""

    def check(spec: Spectrum) -> None:
        _check_raw(spec)
        assert spec.n_points == 8

    read = lambda p: lcmodel.read_raw(p, DWELL, LARMOR, n_points=8)  # noqa: E731
    run_fuzz("f.RAW", texts["raw"], read, check, tmp_path)


def test_fuzz_read_basis(tmp_path: Path, texts: dict[str, str]) -> None:
    run_fuzz("f.BASIS", texts["basis"], lcmodel.read_basis, _check_basis, tmp_path)


def test_fuzz_read_table(tmp_path: Path, texts: dict[str, str]) -> None:
    errors = (MRSFormatError, LCModelFatalError)
    run_fuzz("f.table", texts["table"], lcmodel.read_table, _check_table, tmp_path, errors)


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
    lines = texts["raw"].rstrip("\n").split("\n")
    half = "\n".join(lines[: len(lines) - 4]) + "\n"  # cut at a line boundary: still well formed
    assert lcmodel.read_raw(_write(tmp_path, "half.RAW", half), DWELL, LARMOR).n_points == 4
    with pytest.raises(MRSFormatError, match="8 complex points"):
        lcmodel.read_raw(_write(tmp_path, "half.RAW", half), DWELL, LARMOR, n_points=8)


def test_fuzz_read_coord(tmp_path: Path, texts: dict[str, str]) -> None:
    errors = (MRSFormatError, LCModelFatalError)
    run_fuzz("f.COORD", texts["coord"], lcmodel.read_coord, _check_coord, tmp_path, errors)


def test_fuzz_read_csv(tmp_path: Path, texts: dict[str, str]) -> None:
    run_fuzz("f.csv", texts["csv"], lcmodel.read_csv, _check_csv, tmp_path)

"""LCModel's outputs: the ``.table``, the ``.csv`` and the ``.COORD`` file.

A FATAL line in the diagnostics raises :class:`~mrs_lib.errors.LCModelFatalError`
(LCModel exits with status 0 even then).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import LCModelFatalError, MRSFormatError
from ._text import PathLike, number, parse_float, read_text

Concentration = tuple[float, float, float | None]


@dataclass(frozen=True)
class LCModelTable:
    """The parsed ``.table`` (or the table part of a ``.COORD``).

    ``concentrations[name] = (conc, sd_percent, ratio)`` where ``ratio`` is the
    concentration relative to ``ratio_to`` (e.g. ``"Cr+PCr"``; None when the
    table has no ratio column). ``misc`` holds ``fwhm_ppm``, ``snr``,
    ``data_shift_ppm``, ``phase0_deg`` and ``phase1_deg_per_ppm`` when present.
    """

    path: Path
    concentrations: dict[str, Concentration]
    ratio_to: str | None
    misc: dict[str, float]
    diagnostics: tuple[str, ...]
    inputs: dict[str, str]
    title: tuple[str, ...] = ()

    def conc(self, name: str) -> float:
        return self._row(name)[0]

    def sd_percent(self, name: str) -> float:
        return self._row(name)[1]

    def _row(self, name: str) -> Concentration:
        try:
            return self.concentrations[name]
        except KeyError:
            raise KeyError(
                f"{name!r} is not in the LCModel table {self.path} "
                f"(has {sorted(self.concentrations)})"
            ) from None

    @property
    def fwhm_ppm(self) -> float | None:
        return self.misc.get("fwhm_ppm")

    @property
    def snr(self) -> float | None:
        return self.misc.get("snr")


_BLOCK_HEADER = re.compile(
    r"^\s*(?:\$\$\w+\s+)?(\d{1,9})\s+lines?\s+in\s+following\s+(.*?)\s*$", re.IGNORECASE
)
_BLOCK_KINDS = {
    "concentration": "conc",
    "misc": "misc",
    "diagnostic": "diag",
    "input": "inpu",
}


def _find_blocks(lines: Sequence[str], path: Path) -> dict[str, tuple[int, int]]:
    """{kind: (first content line index, number of lines)} for the LCModel table blocks."""
    found: dict[str, tuple[int, int]] = {}
    for i, line in enumerate(lines):
        m = _BLOCK_HEADER.match(line)
        if not m:
            continue
        desc = m.group(2).lower()
        kind = next((k for word, k in _BLOCK_KINDS.items() if word in desc), None)
        if kind is None or kind in found:
            continue
        found[kind] = (i + 1, int(m.group(1)))
    return found


# Outside the $$DIAG block only a diagnostic row ("   1 FATAL     MYBASI 28") or LCModel's
# "*** FATAL ERROR" counts: the $$INPU echo holds file paths, which may contain "fatal".
_FATAL_LINE = re.compile(r"^\s*\d+\s+FATAL\b|\bFATAL ERROR\b")


def _raise_on_fatal(
    lines: Sequence[str], blocks: Mapping[str, tuple[int, int]], path: Path
) -> tuple[str, ...]:
    """Diagnostics lines; any FATAL among them raises :class:`LCModelFatalError`."""
    if "diag" in blocks:
        start, count = blocks["diag"]
        diag = list(lines[start : start + count])
        candidates = list(enumerate(diag, start=start + 1))
        # LCModel may abort mid-table: also look past a short block.
        candidates += [
            (j + 1, lines[j])
            for j in range(start + count, len(lines))
            if _FATAL_LINE.search(lines[j])
        ]
    else:
        diag = []
        candidates = [(j + 1, ln) for j, ln in enumerate(lines) if _FATAL_LINE.search(ln)]
    for lineno, line in candidates:
        if "FATAL" in line.upper():
            err = LCModelFatalError(
                f"LCModel reported a FATAL error in '{path}', line {lineno}: {line.strip()}"
            )
            err.path, err.line, err.lineno = str(path), line.strip(), lineno  # type: ignore[attr-defined]
            raise err
    return tuple(d.strip() for d in diag if d.strip())


# LCModel writes each row as (conc, %SD, ratio, flag, name) with no blank between the ratio and
# the one-character flag: ' ', or '+'/'-' when the ratio lies outside its prior (CHRATO).
_RATIO_FLAG_NAME = re.compile(r"^((?:\d+\.?\d*|\.\d+)(?:[EeDd][+-]?\d+)?)[+-](\S+)$")


def _parse_conc(
    lines: Sequence[str], start: int, count: int, path: Path
) -> tuple[dict[str, Concentration], str | None]:
    if count < 1 or start + count > len(lines):
        raise MRSFormatError(
            path,
            "$$CONC",
            f"{count} lines (NCONC+1)",
            f"{max(0, len(lines) - start)} lines (truncated)",
        )
    header = lines[start].split()
    if len(header) < 3 or header[0] != "Conc." or header[1] != "%SD":
        raise MRSFormatError(
            path,
            f"$$CONC header (line {start + 1})",
            "'Conc. %SD [/ref] Metabolite'",
            lines[start].strip(),
        )
    has_ratio = len(header) >= 4
    ratio_to = header[2].lstrip("/") if has_ratio else None
    out: dict[str, Concentration] = {}
    for j in range(start + 1, start + count):
        line = lines[j]
        tokens = line.split()
        want = 4 if has_ratio else 3
        glued = _RATIO_FLAG_NAME.match(tokens[-1]) if has_ratio and len(tokens) == 3 else None
        if glued:  # '2.365+GABA': the ratio is outside LCModel's prior (CHRATO), flagged +/-
            tokens = [*tokens[:2], glued.group(1), glued.group(2)]
        if len(tokens) != want or not tokens[1].endswith("%"):
            raise MRSFormatError(
                path,
                f"$$CONC (line {j + 1})",
                "'conc %SD% ratio name'" if has_ratio else "'conc %SD% name'",
                line.strip(),
            )
        field_name = f"$$CONC (line {j + 1})"
        conc = number(tokens[0], path, field_name)
        sd = number(tokens[1][:-1], path, field_name)
        ratio = number(tokens[2], path, field_name) if has_ratio else None
        name = tokens[-1]
        if name in out:
            raise MRSFormatError(path, field_name, "unique metabolite names", name)
        out[name] = (conc, sd, ratio)
    return out, ratio_to


_NUM = r"([+-]?(?:\d+\.?\d*|\.\d+)(?:[EeDd][+-]?\d+)?)"
_MISC_PATTERNS = {
    "fwhm_ppm": re.compile(r"FWHM\s*=\s*" + _NUM + r"\s*ppm", re.IGNORECASE),
    "snr": re.compile(r"S/N\s*=\s*" + _NUM),
    "data_shift_ppm": re.compile(r"Data shift\s*=\s*" + _NUM + r"\s*ppm", re.IGNORECASE),
    "phase0_deg": re.compile(r"Ph:\s*" + _NUM + r"\s*deg"),
    "phase1_deg_per_ppm": re.compile(r"Ph:\s*\S+\s*deg\s+" + _NUM + r"\s*deg/ppm"),
}


def _parse_misc(lines: Sequence[str], start: int, count: int, path: Path) -> dict[str, float]:
    text = "\n".join(lines[start : start + count])
    misc: dict[str, float] = {}
    for key, pattern in _MISC_PATTERNS.items():
        m = pattern.search(text)
        if m:
            misc[key] = number(m.group(1), path, f"$$MISC {key}")
    return misc


def _parse_inputs(lines: Sequence[str], start: int, count: int) -> dict[str, str]:
    out: dict[str, str] = {}
    last: str | None = None
    for line in lines[start : start + count]:
        m = re.match(r"^\s*([A-Z][A-Z0-9_()]*)\s*=\s*(.*?)\s*$", line)
        if m:
            last = m.group(1)
            out[last] = m.group(2)
        elif last is not None and line.strip():
            out[last] += line.strip()  # LCModel wraps long values onto the next line
    return {k: v.strip("'") if v.count("'") == 2 else v for k, v in out.items()}


def _parse_table_lines(lines: Sequence[str], path: Path, *, need_conc: bool = True) -> LCModelTable:
    blocks = _find_blocks(lines, path)
    diagnostics = _raise_on_fatal(lines, blocks, path)
    if "conc" not in blocks:
        if need_conc:
            raise MRSFormatError(path, "$$CONC", "a concentration table", "missing")
        conc: dict[str, Concentration] = {}
        ratio_to = None
    else:
        conc, ratio_to = _parse_conc(lines, *blocks["conc"], path)
    misc = _parse_misc(lines, *blocks["misc"], path) if "misc" in blocks else {}
    inputs = _parse_inputs(lines, *blocks["inpu"]) if "inpu" in blocks else {}
    first = min((s for s, _ in blocks.values()), default=len(lines))
    title = tuple(ln.strip() for ln in lines[: max(0, first - 1)] if ln.strip())
    return LCModelTable(path, conc, ratio_to, misc, diagnostics, inputs, title)


def read_table(path: PathLike) -> LCModelTable:
    """Parse an LCModel ``.table`` file (``$$CONC``, ``$$MISC``, ``$$DIAG``, ``$$INPU``).

    A FATAL line in ``$$DIAG`` raises :class:`LCModelFatalError` naming the
    file and line (LCModel's exit status is 0 even then); a missing or
    truncated concentration table, or a non-numeric entry, raises
    :class:`MRSFormatError`.
    """
    p, lines = read_text(path)
    return _parse_table_lines(lines, p)


@dataclass(frozen=True)
class LCModelCSVRow:
    """One voxel of an LCModel ``.csv``: ``concentrations[name] = (conc, sd_percent, ratio)``."""

    row: int
    col: int
    concentrations: dict[str, Concentration]


@dataclass(frozen=True)
class LCModelCSV:
    """The parsed ``.csv``: one :class:`LCModelCSVRow` per voxel (LCModel truncates long names)."""

    path: Path
    ratio_to: str | None
    rows: tuple[LCModelCSVRow, ...]

    @property
    def metabolites(self) -> tuple[str, ...]:
        return tuple(self.rows[0].concentrations) if self.rows else ()


def read_csv(path: PathLike) -> LCModelCSV:
    """Parse an LCModel ``.csv``: ``Row, Col``, then ``name, name %SD, name/ref`` per metabolite."""
    p, lines = read_text(path)
    lines = [ln for ln in lines if ln.strip()]
    if len(lines) < 2:
        raise MRSFormatError(
            p, "rows", "a header row and at least one voxel row", f"{len(lines)} lines"
        )
    cols = [c.strip() for c in lines[0].split(",")]
    if cols[:2] != ["Row", "Col"] or (len(cols) - 2) % 3 or len(cols) < 5:
        raise MRSFormatError(
            p, "header", "'Row, Col' then (name, name %SD, name/ref) triples", lines[0][:60]
        )
    names: list[str] = []
    ratio_to: str | None = None
    for j in range(2, len(cols), 3):
        base, sd_col, ratio_col = cols[j : j + 3]
        if sd_col != f"{base} %SD" or not ratio_col.startswith(f"{base}/"):
            raise MRSFormatError(
                p,
                f"header column {j + 1}",
                f"'{base}', '{base} %SD', '{base}/<ref>'",
                ", ".join(cols[j : j + 3]),
            )
        ref = ratio_col[len(base) + 1 :]
        if ratio_to is None:
            ratio_to = ref
        elif ref != ratio_to:
            raise MRSFormatError(p, f"header column {j + 3}", f"ratios to {ratio_to}", ratio_col)
        if base in names:
            raise MRSFormatError(p, f"header column {j + 1}", "unique metabolite names", base)
        names.append(base)
    rows = []
    for lineno, line in enumerate(lines[1:], start=2):
        cells = [c.strip() for c in line.split(",")]
        if len(cells) != len(cols):
            raise MRSFormatError(
                p, f"row (line {lineno})", f"{len(cols)} columns", f"{len(cells)} columns"
            )
        where = f"row (line {lineno})"
        vals = [number(c, p, where) for c in cells]
        if vals[0] != int(vals[0]) or vals[1] != int(vals[1]):
            raise MRSFormatError(p, where, "integer Row and Col", cells[:2])
        conc: dict[str, Concentration] = {
            name: (vals[2 + 3 * k], vals[3 + 3 * k], vals[4 + 3 * k])
            for k, name in enumerate(names)
        }
        rows.append(LCModelCSVRow(int(vals[0]), int(vals[1]), conc))
    return LCModelCSV(p, ratio_to, tuple(rows))


@dataclass(frozen=True, eq=False)
class LCModelCoord:
    """The parsed ``.COORD``: curves on LCModel's ppm axis (descending), plus its table.

    ``data`` is the phased real spectrum, ``fit`` the full fit (metabolites +
    baseline), ``background`` the baseline (None when absent) and
    ``metabolites[name]`` the per-metabolite curves LCModel writes when NEACH
    is set (each is that metabolite's fit plus the baseline).
    """

    path: Path
    ppm: np.ndarray
    data: np.ndarray
    fit: np.ndarray
    background: np.ndarray | None
    metabolites: dict[str, np.ndarray]
    metabolite_conc: dict[str, float]
    table: LCModelTable

    @property
    def n_points(self) -> int:
        return int(self.ppm.size)


# (at most 9 digits: a count, never a 5,000-digit integer that int() refuses)
_COORD_NY = re.compile(r"^\s*(\d{1,9})\s+points on ppm-axis\s*=\s*NY\s*$", re.IGNORECASE)
_COORD_SECTIONS = {
    "data": re.compile(r"^\s*NY phased data points follow\s*$", re.IGNORECASE),
    "fit": re.compile(r"^\s*NY points of the fit to the data follow\s*$", re.IGNORECASE),
    "background": re.compile(r"^\s*NY background values follow\s*$", re.IGNORECASE),
}
_COORD_MET = re.compile(r"^\s*(\S+)\s+Conc\.\s*=\s*(\S+)\s*$")


def read_coord(path: PathLike) -> LCModelCoord:
    """Parse an LCModel ``.COORD`` file: ppm axis, phased data, fit, background, metabolite curves.

    Every curve must hold exactly NY values (10 per line in LCModel's output);
    the ppm axis must be strictly monotonic. FATAL diagnostics raise
    :class:`LCModelFatalError`.
    """
    p, lines = read_text(path)
    table = _parse_table_lines(lines, p, need_conc=False)
    ny: int | None = None
    curves: dict[str, np.ndarray] = {}
    mets: dict[str, np.ndarray] = {}
    met_conc: dict[str, float] = {}
    i = 0

    def take(start: int, label: str) -> tuple[np.ndarray, int]:
        assert ny is not None
        values: list[float] = []
        j = start
        while len(values) < ny:
            if j >= len(lines):
                raise MRSFormatError(p, label, f"NY={ny} values", f"{len(values)} (end of file)")
            parsed = [parse_float(t) for t in lines[j].split()]
            if not parsed or any(v is None for v in parsed):
                raise MRSFormatError(
                    p,
                    label,
                    f"NY={ny} finite values",
                    f"{len(values)} values, then line {j + 1}: {lines[j].strip()[:40]!r}",
                )
            values.extend(v for v in parsed if v is not None)
            j += 1
        if len(values) != ny:
            raise MRSFormatError(p, label, f"NY={ny} values", f"{len(values)}")
        return np.asarray(values, dtype=float), j

    while i < len(lines):
        line = lines[i]
        m = _COORD_NY.match(line)
        if m:
            if ny is not None:
                raise MRSFormatError(p, f"NY (line {i + 1})", "one ppm axis", "a second one")
            ny = int(m.group(1))
            if ny < 2:
                raise MRSFormatError(p, "NY", "at least 2 points", ny)
            curves["ppm"], i = take(i + 1, "ppm axis")
            continue
        section = next((k for k, rx in _COORD_SECTIONS.items() if rx.match(line)), None)
        if section is not None:
            if ny is None:
                raise MRSFormatError(
                    p, f"line {i + 1}", "the NY ppm axis before the curves", line.strip()
                )
            if section in curves:
                raise MRSFormatError(p, f"line {i + 1}", f"one '{section}' block", "a second one")
            curves[section], i = take(i + 1, section)
            continue
        m = _COORD_MET.match(line)
        if m and ny is not None:
            name = m.group(1)
            if name in mets:
                raise MRSFormatError(p, f"line {i + 1}", "one curve per metabolite", name)
            met_conc[name] = number(m.group(2), p, f"{name} Conc. (line {i + 1})")
            mets[name], i = take(i + 1, f"{name} curve")
            continue
        i += 1
    for key in ("ppm", "data", "fit"):
        if key not in curves:
            label = {
                "ppm": "NY points on ppm-axis",
                "data": "NY phased data points",
                "fit": "NY points of the fit",
            }[key]
            raise MRSFormatError(p, label, "present", "missing")
    d = np.diff(curves["ppm"])
    if not (np.all(d < 0) or np.all(d > 0)):
        raise MRSFormatError(p, "ppm axis", "strictly monotonic values", "a non-monotonic axis")
    return LCModelCoord(
        p,
        curves["ppm"],
        curves["data"],
        curves["fit"],
        curves.get("background"),
        mets,
        met_conc,
        table,
    )

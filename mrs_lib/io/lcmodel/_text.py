"""Text, number and namelist helpers shared by the LCModel readers and writers.

Fortran-style reals (``1.0D+00``, ``1.0-100``), fixed-width fields that touch,
``$NAME ... $END`` namelists (read and written) and the checks that turn a bad
field into :class:`~mrs_lib.errors.MRSFormatError` naming the file and field.
Package-internal: the public readers and writers live in the sibling modules.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TypeGuard

import numpy as np

from ...errors import MRSDataError, MRSFormatError

PathLike = str | os.PathLike[str]

#: A value read from a namelist: a string, a logical, an integer or a real.
NamelistValue = str | bool | int | float

#: Relative tolerance when a file's HZPPPM / BADELT must match the caller's value.
PARAM_RTOL: float = 1e-4


def read_text(path: PathLike) -> tuple[Path, list[str]]:
    """The file's lines; a missing, unreadable or truncated file raises :class:`MRSFormatError`."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise MRSFormatError(p, "file", "an existing file", "no such file") from None
    except OSError as exc:
        raise MRSFormatError(p, "file", "a readable file", str(exc)) from None
    if raw.strip() and not raw.endswith((b"\n", b"\r")):
        # Every record LCModel (Fortran) or these writers produce ends with a newline;
        # a file cut mid-line may end in a shortened number ("1.2E-0") that still parses.
        raise MRSFormatError(
            p, "end of file", "a final newline", "a file cut mid-line (truncated?)"
        )
    # LCModel writes Latin-1 or UTF-8 text; undecodable bytes become U+FFFD and
    # then fail as non-numeric, never as UnicodeDecodeError.
    return p, raw.decode("utf-8", errors="replace").splitlines()


_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[EeDd][+-]?\d+)?$")
_FORTRAN_3DIGIT_EXP = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))([+-]\d{3})$")


def parse_float(token: str) -> float | None:
    """A Fortran-style real (``2.04E-02``, ``0.107``, ``1.0D+00``, ``1.0-100``), or None."""
    t = token.strip()
    m = _FORTRAN_3DIGIT_EXP.match(t)
    if m:
        t = f"{m.group(1)}E{m.group(2)}"
    elif not _NUMBER.match(t):
        return None
    value = float(t.replace("D", "E").replace("d", "e"))
    return value if math.isfinite(value) else None


def number(token: str, path: Path, field_name: str) -> float:
    value = parse_float(token)
    if value is None:
        raise MRSFormatError(path, field_name, "a finite number", token)
    return value


def fixed_width(fmt: str | None) -> int | None:
    """Field width of a Fortran format such as ``(2E15.6)`` (None when not of that form)."""
    if not fmt:
        return None
    m = re.fullmatch(r"\(\s*\d*\s*[1-9]?P?,?\s*[EeFfGgDd]\s*(\d+)\s*\.\s*\d+\s*\)", fmt.strip())
    return int(m.group(1)) if m else None


def numbers_from_lines(
    lines: Sequence[str], first_lineno: int, path: Path, field_name: str, width: int | None
) -> np.ndarray:
    """Every number on ``lines`` (whitespace separated, else fixed ``width`` fields)."""
    out: list[float] = []
    for i, line in enumerate(lines):
        tokens = line.split()
        values = [parse_float(t) for t in tokens]
        if any(v is None for v in values) and width:
            # Fortran E fields may touch (``-1.23E+01-2.34E+01``): split at fixed width.
            chunks = [line[j : j + width] for j in range(0, len(line.rstrip()), width)]
            tokens = [c.strip() for c in chunks if c.strip()]
            values = [parse_float(t) for t in tokens]
        for tok, val in zip(tokens, values, strict=True):
            if val is None:
                raise MRSFormatError(
                    path, f"{field_name} (line {first_lineno + i})", "finite numbers", tok
                )
            out.append(val)
    return np.asarray(out, dtype=float)


# ---------------------------------------------------------------------------- namelists
NL_START = re.compile(r"^\s*[$&]([A-Za-z][A-Za-z0-9_]*)\b(.*)$")
_NL_END = re.compile(r"[$&]END\b|(?:^|\s)/\s*$", re.IGNORECASE)
_NL_PAIR = re.compile(
    r"""\s*([A-Za-z][A-Za-z0-9_]*(?:\(\s*\d+\s*\))?)\s*=\s*"""
    r"""('(?:[^']|'')*'|"[^"]*"|[^,\s'"]+)\s*,?""",
)


def _namelist_value(text: str) -> NamelistValue:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        inner = text[1:-1]
        return inner.replace("''", "'") if text[0] == "'" else inner
    upper = text.upper()
    if upper in {"T", ".T.", ".TRUE.", "TRUE"}:
        return True
    if upper in {"F", ".F.", ".FALSE.", "FALSE"}:
        return False
    value = parse_float(text)
    if value is not None:
        if re.fullmatch(r"[+-]?\d+", text):
            return int(text)
        return value
    return text


def _parse_namelist_body(body: str, path: Path, name: str) -> dict[str, NamelistValue]:
    values: dict[str, NamelistValue] = {}
    pos = 0
    body = body.strip()
    while pos < len(body):
        m = _NL_PAIR.match(body, pos)
        if not m:
            rest = body[pos:].strip().strip(",").strip()
            if not rest:
                break
            raise MRSFormatError(path, f"${name}", "KEY=value pairs", rest)
        key = re.sub(r"\s+", "", m.group(1)).upper()
        values[key] = _namelist_value(m.group(2))
        pos = m.end()
    return values


def split_namelist(
    lines: Sequence[str], start: int, path: Path
) -> tuple[str, dict[str, NamelistValue], int]:
    """Parse the namelist starting at ``lines[start]``; returns (name, values, next line)."""
    m = NL_START.match(lines[start])
    assert m is not None
    name = m.group(1).upper()
    body_parts: list[str] = []
    rest = m.group(2)
    i = start
    while True:
        end = _NL_END.search(rest)
        if end:
            body_parts.append(rest[: end.start()])
            return name, _parse_namelist_body(" ".join(body_parts), path, name), i + 1
        body_parts.append(rest)
        i += 1
        if i >= len(lines):
            raise MRSFormatError(path, f"${name}", "a namelist closed by $END", "end of file")
        rest = lines[i]


def format_value(key: str, value: object) -> str:
    if isinstance(value, bool):
        return "T" if value else "F"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if not math.isfinite(v):
            raise MRSDataError(f"namelist key {key}: expected a finite number, got {v!r}")
        text = f"{v:.10G}"
        return text if any(c in text for c in ".E") else text + "."
    if isinstance(value, (str, os.PathLike)):
        text = os.fspath(value)
        if "\n" in text:
            raise MRSDataError(f"namelist key {key}: string values must be one line, got {text!r}")
        return "'" + text.replace("'", "''") + "'"
    raise MRSDataError(
        f"namelist key {key}: expected a number, bool, string or path, got {type(value).__name__}"
    )


def format_namelist(name: str, items: Mapping[str, object]) -> str:
    body = "\n".join(f" {k}={format_value(k, v)}" for k, v in items.items())
    return f" ${name}\n{body}\n $END\n"


def positive(header: Mapping[str, NamelistValue], key: str, path: Path, where: str) -> float:
    if key not in header:
        raise MRSFormatError(path, f"{where} {key}", "present", "missing")
    v = header[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
        raise MRSFormatError(path, f"{where} {key}", "a positive number", v)
    return float(v)


def check_match(path: Path, key: str, file_value: float, expected: float, source: str) -> None:
    if not math.isclose(file_value, expected, rel_tol=PARAM_RTOL):
        raise MRSFormatError(path, key, f"{expected!r} ({source})", f"{file_value!r} in the file")


def flush_tiny(values: np.ndarray) -> np.ndarray:
    """Zero parts below 1e-99 so that E formats never need three exponent digits."""
    re_, im = values.real.copy(), values.imag.copy()
    re_[np.abs(re_) < 1e-99] = 0.0
    im[np.abs(im) < 1e-99] = 0.0
    return re_ + 1j * im


def is_positive_number(v: object) -> TypeGuard[float]:
    """A finite positive int or float (not a bool): an optional header value worth using."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0


def require_finite(values: np.ndarray, path: Path, field_name: str) -> None:
    if not np.all(np.isfinite(values)):
        raise MRSFormatError(path, field_name, "finite values", "overflow to inf/NaN")

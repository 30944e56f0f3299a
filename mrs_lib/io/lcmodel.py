"""LCModel files: ``.RAW`` data, ``.BASIS`` sets, the control namelist and the outputs.

Chapter 6 of the book fits the same spectra with the library's LCModel-style
fitter and, when the user has one, with the real ``lcmodel`` binary; this
module is the file layer between them (formats: ``shared/docs/lcmodel.md``).

Conventions (converted here and nowhere else):

* **Conjugation.** LCModel's FID is the complex conjugate of the library's
  NIfTI-MRS FID: a line at chemical shift ``ppm`` is
  ``fid_lcm[n] ~ exp(+2 pi i (4.65 - ppm) HZPPPM n DELTAT)``. Writers
  conjugate, readers conjugate back.
* **Receiver at 4.65 ppm.** LCModel puts 0 Hz at 4.65 ppm. A
  :class:`~mrs_lib.spectrum.Spectrum` may use another ``ppm_reference`` (the
  FID-A basis uses 3.0 ppm); writers first move the receiver to 4.65 ppm by a
  frequency shift, so every line keeps its chemical shift (a line at 3.0 ppm in
  the Spectrum is at 3.0 ppm on LCModel's axis). Readers return
  ``ppm_reference=4.65``.
* **.BASIS blocks are spectra.** Each metabolite is ``NDATAB`` complex values
  ``fft(fid_lcm)`` (no shift; unnormalised unless ``norm="ortho"``); index
  ``k`` is at ``ppm = 4.65 - k / (BADELT * NDATAB * HZPPPM)``, cyclic.
* **Scaling.** ``.RAW`` data are multiplied by ``TRAMP / VOLUME`` and basis
  blocks by ``TRAMP / (VOLUME * CONC)`` on reading, as LCModel does; the
  writers use 1 for all three.

Every reader raises :class:`~mrs_lib.errors.MRSFormatError` naming the file,
the field and what was expected for bad input (truncated or non-numeric data,
missing header fields, NaN/inf, parameters that disagree with the caller's),
and :class:`~mrs_lib.errors.LCModelFatalError` when LCModel's ``$$DIAG``
block reports a FATAL error (LCModel exits with status 0 even then).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..errors import LCModelFatalError, MRSDataError, MRSFormatError
from ..spectrum import Spectrum
from ..types import EDIT_STATES, EditState

PathLike = str | os.PathLike[str]

#: LCModel's chemical shift of the receiver frequency (0 Hz) for data and basis.
LCMODEL_PPM_CENTRE: float = 4.65

#: Relative tolerance when a file's HZPPPM / BADELT must match the caller's value.
PARAM_RTOL: float = 1e-4

#: ``METABO`` names longer than this are rejected by LCModel.
MAX_METABO_LEN: int = 6

#: LCModel rejects basis sets with ``FWHMBA`` at or above this (ppm).
MAX_FWHMBA_PPM: float = 0.025

RAW_FORMAT = "(2E15.6)"
FFTNorm = Literal["backward", "ortho"]
BASIS_FORMAT = "(6E13.5)"


# ============================================================================ helpers
def _read_text(path: PathLike) -> tuple[Path, list[str]]:
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


def _parse_float(token: str) -> float | None:
    """A Fortran-style real (``2.04E-02``, ``0.107``, ``1.0D+00``, ``1.0-100``), or None."""
    t = token.strip()
    m = _FORTRAN_3DIGIT_EXP.match(t)
    if m:
        t = f"{m.group(1)}E{m.group(2)}"
    elif not _NUMBER.match(t):
        return None
    value = float(t.replace("D", "E").replace("d", "e"))
    return value if math.isfinite(value) else None


def _number(token: str, path: Path, field_name: str) -> float:
    value = _parse_float(token)
    if value is None:
        raise MRSFormatError(path, field_name, "a finite number", token)
    return value


def _fixed_width(fmt: str | None) -> int | None:
    """Field width of a Fortran format such as ``(2E15.6)`` (None when not of that form)."""
    if not fmt:
        return None
    m = re.fullmatch(r"\(\s*\d*\s*[1-9]?P?,?\s*[EeFfGgDd]\s*(\d+)\s*\.\s*\d+\s*\)", fmt.strip())
    return int(m.group(1)) if m else None


def _numbers_from_lines(
    lines: Sequence[str], first_lineno: int, path: Path, field_name: str, width: int | None
) -> np.ndarray:
    """Every number on ``lines`` (whitespace separated, else fixed ``width`` fields)."""
    out: list[float] = []
    for i, line in enumerate(lines):
        tokens = line.split()
        values = [_parse_float(t) for t in tokens]
        if any(v is None for v in values) and width:
            # Fortran E fields may touch (``-1.23E+01-2.34E+01``): split at fixed width.
            chunks = [line[j : j + width] for j in range(0, len(line.rstrip()), width)]
            tokens = [c.strip() for c in chunks if c.strip()]
            values = [_parse_float(t) for t in tokens]
        for tok, val in zip(tokens, values, strict=True):
            if val is None:
                raise MRSFormatError(
                    path, f"{field_name} (line {first_lineno + i})", "finite numbers", tok
                )
            out.append(val)
    return np.asarray(out, dtype=float)


# ---------------------------------------------------------------------------- namelists
_NL_START = re.compile(r"^\s*[$&]([A-Za-z][A-Za-z0-9_]*)\b(.*)$")
_NL_END = re.compile(r"[$&]END\b|(?:^|\s)/\s*$", re.IGNORECASE)
_NL_PAIR = re.compile(
    r"""\s*([A-Za-z][A-Za-z0-9_]*(?:\(\s*\d+\s*\))?)\s*=\s*"""
    r"""('(?:[^']|'')*'|"[^"]*"|[^,\s'"]+)\s*,?""",
)


def _namelist_value(text: str) -> Any:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        inner = text[1:-1]
        return inner.replace("''", "'") if text[0] == "'" else inner
    upper = text.upper()
    if upper in {"T", ".T.", ".TRUE.", "TRUE"}:
        return True
    if upper in {"F", ".F.", ".FALSE.", "FALSE"}:
        return False
    value = _parse_float(text)
    if value is not None:
        if re.fullmatch(r"[+-]?\d+", text):
            return int(text)
        return value
    return text


def _parse_namelist_body(body: str, path: Path, name: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
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


def _split_namelist(
    lines: Sequence[str], start: int, path: Path
) -> tuple[str, dict[str, Any], int]:
    """Parse the namelist starting at ``lines[start]``; returns (name, values, next line)."""
    m = _NL_START.match(lines[start])
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


def _format_value(key: str, value: Any) -> str:
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


def _format_namelist(name: str, items: Mapping[str, Any]) -> str:
    body = "\n".join(f" {k}={_format_value(k, v)}" for k, v in items.items())
    return f" ${name}\n{body}\n $END\n"


def _positive(header: Mapping[str, Any], key: str, path: Path, where: str) -> float:
    if key not in header:
        raise MRSFormatError(path, f"{where} {key}", "present", "missing")
    v = header[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
        raise MRSFormatError(path, f"{where} {key}", "a positive number", v)
    return float(v)


def _check_match(path: Path, key: str, file_value: float, expected: float, source: str) -> None:
    if not math.isclose(file_value, expected, rel_tol=PARAM_RTOL):
        raise MRSFormatError(path, key, f"{expected!r} ({source})", f"{file_value!r} in the file")


def _to_lcmodel_centre(spec: Spectrum) -> Spectrum:
    """Move the receiver to 4.65 ppm, keeping every line at its chemical shift."""
    if spec.ppm_reference == LCMODEL_PPM_CENTRE:
        return spec
    hz = (spec.ppm_reference - LCMODEL_PPM_CENTRE) * spec.larmor_mhz
    return spec.shift(hz=hz).replace(ppm_reference=LCMODEL_PPM_CENTRE)


# ============================================================================ .RAW
def write_raw(
    path: PathLike,
    spectrum: Spectrum,
    *,
    id: str = "mrs_lib",
    te_ms: float | None = None,
    seq: str | None = None,
) -> Path:
    """Write one FID as an LCModel ``.RAW`` file (``$SEQPAR``, ``$NMID``, then the data).

    The FID is moved to LCModel's 4.65 ppm receiver and conjugated (module
    docstring); ``te_ms`` defaults to ``spectrum.te_ms`` and ``seq`` to
    ``'MEGAPRESS'`` for an edited sub-spectrum. The control file needs
    ``NUNFIL=spectrum.n_points``, ``DELTAT=spectrum.dwell_s`` and
    ``HZPPPM=spectrum.larmor_mhz`` (the ``.RAW`` file stores only HZPPPM).
    Values are printed with 7 significant digits (``(2E15.6)``).
    """
    if spectrum.batch_shape:
        raise MRSDataError(
            f"write_raw: expected a single spectrum, got batch shape {spectrum.batch_shape}"
        )
    te = spectrum.te_ms if te_ms is None else float(te_ms)
    if seq is None and spectrum.edit is not None:
        seq = "MEGAPRESS"
    seqpar: dict[str, Any] = {"HZPPPM": spectrum.larmor_mhz}
    if te is not None:
        seqpar["ECHOT"] = float(te)
    if seq:
        seqpar["SEQ"] = seq
    nmid = {"ID": id, "FMTDAT": RAW_FORMAT, "VOLUME": 1.0, "TRAMP": 1.0}
    fid = np.conj(_to_lcmodel_centre(spectrum).fid)
    lines = [f"{v.real:15.6E}{v.imag:15.6E}" for v in _flush_tiny(fid)]
    text = _format_namelist("SEQPAR", seqpar) + _format_namelist("NMID", nmid) + "\n".join(lines)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")
    return path


def _flush_tiny(values: np.ndarray) -> np.ndarray:
    """Zero parts below 1e-99 so that E formats never need three exponent digits."""
    re_, im = values.real.copy(), values.imag.copy()
    re_[np.abs(re_) < 1e-99] = 0.0
    im[np.abs(im) < 1e-99] = 0.0
    return re_ + 1j * im


def _read_header_then_data(
    path: Path, lines: Sequence[str], last_block: str
) -> tuple[dict[str, dict[str, Any]], int]:
    """Namelists up to and including ``last_block``; returns them and the first data line."""
    blocks: dict[str, dict[str, Any]] = {}
    i = 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        if not _NL_START.match(lines[i]):
            raise MRSFormatError(
                path, f"header (line {i + 1})", f"namelists up to ${last_block}", lines[i].strip()
            )
        name, values, i = _split_namelist(lines, i, path)
        blocks[name] = values
        if name == last_block:
            return blocks, i
    raise MRSFormatError(path, f"${last_block}", "a namelist before the data", "missing")


def read_raw(
    path: PathLike,
    dwell_s: float,
    larmor_mhz: float,
    *,
    n_points: int | None = None,
) -> Spectrum:
    """Read an LCModel ``.RAW`` file into a :class:`Spectrum` (library convention).

    ``.RAW`` files do not store the dwell time (it is DELTAT in the control
    file), so the caller gives ``dwell_s`` and ``larmor_mhz``; an ``HZPPPM`` in
    ``$SEQPAR`` that disagrees with ``larmor_mhz``, or a number of points that
    differs from ``n_points`` (NUNFIL) when given, raises
    :class:`MRSFormatError`. The data are multiplied by ``TRAMP / VOLUME`` and
    conjugated; the result has ``ppm_reference=4.65``.
    """
    path, lines = _read_text(path)
    try:
        dwell = float(dwell_s)
        larmor = float(larmor_mhz)
    except (TypeError, ValueError):
        raise MRSDataError(
            f"read_raw: dwell_s and larmor_mhz must be numbers, got {dwell_s!r}, {larmor_mhz!r}"
        ) from None
    if not (math.isfinite(dwell) and dwell > 0 and math.isfinite(larmor) and larmor > 0):
        raise MRSDataError(
            f"read_raw: expected positive dwell_s and larmor_mhz, got {dwell_s!r}, {larmor_mhz!r}"
        )
    blocks, start = _read_header_then_data(path, lines, "NMID")
    nmid = blocks["NMID"]
    seqpar = blocks.get("SEQPAR", {})
    if "HZPPPM" in seqpar:
        _check_match(
            path,
            "$SEQPAR HZPPPM",
            _positive(seqpar, "HZPPPM", path, "$SEQPAR"),
            larmor,
            "larmor_mhz argument",
        )
    tramp = _positive(nmid, "TRAMP", path, "$NMID") if "TRAMP" in nmid else 1.0
    volume = _positive(nmid, "VOLUME", path, "$NMID") if "VOLUME" in nmid else 1.0
    fmt = nmid.get("FMTDAT")
    values = _numbers_from_lines(
        lines[start:], start + 1, path, "data", _fixed_width(fmt if isinstance(fmt, str) else None)
    )
    if values.size == 0:
        raise MRSFormatError(path, "data", "NUNFIL complex points after $NMID", "no data")
    if values.size % 2:
        raise MRSFormatError(
            path,
            "data",
            "pairs of numbers (real, imaginary)",
            f"{values.size} numbers (truncated?)",
        )
    n = values.size // 2
    if n_points is not None and n != int(n_points):
        raise MRSFormatError(
            path, "data", f"{int(n_points)} complex points (NUNFIL)", f"{n} points"
        )
    if n < 2:
        raise MRSFormatError(path, "data", "at least 2 complex points", f"{n} point")
    with np.errstate(over="ignore", invalid="ignore"):
        fid = np.conj(values[0::2] + 1j * values[1::2]) * (tramp / volume)
    _require_finite(fid, path, "data (scaled by TRAMP/VOLUME)")
    te = seqpar.get("ECHOT")
    te_ms = float(te) if _is_positive_number(te) else None
    meta = {"lcmodel_id": str(nmid.get("ID", "")), "seq": str(seqpar.get("SEQ", ""))}
    return Spectrum(
        fid=fid,
        dwell_s=dwell,
        larmor_mhz=larmor,
        ppm_reference=LCMODEL_PPM_CENTRE,
        te_ms=te_ms,
        metadata={k: v for k, v in meta.items() if v},
    )


def _is_positive_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0


def _require_finite(values: np.ndarray, path: Path, field_name: str) -> None:
    if not np.all(np.isfinite(values)):
        raise MRSFormatError(path, field_name, "finite values", "overflow to inf/NaN")


# ============================================================================ .BASIS
@dataclass(frozen=True, eq=False)
class LCModelBasis:
    """One LCModel basis set (one edit state): what :func:`read_basis` returns.

    ``spectra`` has batch shape ``(n_metabolites,)`` in the library convention
    (``ppm_reference=4.65``, ``dwell_s=BADELT``, ``n_points=NDATAB``); combine
    an OFF and an ON set into a :class:`~mrs_lib.sim.basis.Basis` with
    :func:`basis_from_lcmodel`.
    """

    metabolites: tuple[str, ...]
    spectra: Spectrum
    fwhmba_ppm: float | None
    id: str
    header: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    path: Path | None = None

    @property
    def edit(self) -> EditState | None:
        return self.spectra.edit

    @property
    def n_points(self) -> int:
        return self.spectra.n_points

    @property
    def dwell_s(self) -> float:
        return self.spectra.dwell_s

    @property
    def larmor_mhz(self) -> float:
        return self.spectra.larmor_mhz

    def __len__(self) -> int:
        return len(self.metabolites)

    def __getitem__(self, metabolite: str) -> Spectrum:
        try:
            return self.spectra[self.metabolites.index(metabolite)]
        except ValueError:
            raise KeyError(
                f"metabolite {metabolite!r}: expected one of {self.metabolites}"
            ) from None


def _check_norm(norm: str) -> None:
    if norm not in ("backward", "ortho"):
        raise MRSDataError(f"norm must be 'backward' or 'ortho', got {norm!r}")


def lcmodel_ppm_axis(n_points: int, dwell_s: float, larmor_mhz: float) -> np.ndarray:
    """LCModel's basis axis: ``ppm[k] = 4.65 - k / (BADELT * NDATAB * HZPPPM)`` (not wrapped)."""
    k = np.arange(int(n_points))
    return LCMODEL_PPM_CENTRE - k / (float(dwell_s) * int(n_points) * float(larmor_mhz))


def write_basis(
    path: PathLike,
    basis: Any,
    edit: EditState,
    *,
    fwhmba: float | None = None,
    n_points: int | None = None,
    id: str | None = None,
    seq: str = "MEGAPRESS",
    norm: FFTNorm = "backward",
) -> Path:
    """Write one edit state (``"off"``, ``"on"`` or ``"diff"``) of a Basis as an LCModel ``.BASIS``.

    ``basis`` is a :class:`mrs_lib.sim.basis.Basis`. Each FID is moved to
    LCModel's 4.65 ppm receiver (lines keep their ppm), zero-filled (or
    truncated) to ``n_points`` (NDATAB, default: the basis length), conjugated
    and Fourier transformed (module docstring). ``fwhmba`` (ppm) defaults to
    the basis linewidth ``lw_hz / larmor_mhz``, or the FFT resolution for an
    unbroadened basis; LCModel rejects ``FWHMBA >= 0.025``. ``IDBASI`` is
    ``id`` (default ``mrs_lib_<edit>``), which :func:`read_basis` uses to
    restore the edit state.

    ``norm`` is the FFT normalisation of the blocks: ``"backward"`` (plain
    ``fft``, as FID-A and Osprey write them) or ``"ortho"`` (divided by
    ``sqrt(NDATAB)``, reportedly what LCModel's MakeBasis writes). It sets the
    absolute unit of LCModel's concentrations, not their ratios; read the file
    back with the same ``norm``.
    """
    _check_norm(norm)
    if edit not in EDIT_STATES:
        raise MRSDataError(f"write_basis: edit must be one of {EDIT_STATES}, got {edit!r}")
    spec: Spectrum = basis[edit]
    names = tuple(basis.metabolites)
    for name in names:
        if not name or len(name) > MAX_METABO_LEN or "'" in name:
            raise MRSDataError(
                f"write_basis: METABO names must be 1-{MAX_METABO_LEN} characters without quotes "
                f"(LCModel), got {name!r}"
            )
    n = spec.n_points if n_points is None else int(n_points)
    if n < 2:
        raise MRSDataError(f"write_basis: n_points must be >= 2, got {n_points!r}")
    spec = _to_lcmodel_centre(spec)
    spec = spec.zero_fill(n) if n >= spec.n_points else spec.truncate(n)
    fwhmba_given = fwhmba is not None
    if fwhmba is None:
        lw = float(getattr(basis, "lw_hz", 0.0) or 0.0)
        fwhmba = (lw if lw > 0 else 1.0 / (n * spec.dwell_s)) / spec.larmor_mhz
    fwhmba = float(fwhmba)
    if not (math.isfinite(fwhmba) and 0 < fwhmba < MAX_FWHMBA_PPM):
        raise MRSDataError(
            f"write_basis: FWHMBA must be in (0, {MAX_FWHMBA_PPM}) ppm (LCModel), got {fwhmba!r}"
            + ("" if fwhmba_given else "; pass fwhmba= for a short or unbroadened basis")
        )
    seqpar: dict[str, Any] = {"FWHMBA": fwhmba, "HZPPPM": spec.larmor_mhz}
    if spec.te_ms is not None:
        seqpar["ECHOT"] = spec.te_ms
    seqpar["SEQ"] = seq
    basis1 = {
        "IDBASI": id if id is not None else f"mrs_lib_{edit}",
        "FMTBAS": BASIS_FORMAT,
        "BADELT": spec.dwell_s,
        "NDATAB": n,
    }
    parts = [_format_namelist("SEQPAR", seqpar), _format_namelist("BASIS1", basis1)]
    freq = np.fft.fft(np.conj(spec.fid), axis=-1, norm=norm)
    for name, row in zip(names, _flush_tiny(freq), strict=True):
        header = {"ID": name, "METABO": name, "CONC": 1.0, "TRAMP": 1.0, "VOLUME": 1.0, "ISHIFT": 0}
        parts.append(_format_namelist("BASIS", header))
        flat = np.empty(2 * n)
        flat[0::2], flat[1::2] = row.real, row.imag
        body = ["".join(f"{v:13.5E}" for v in flat[j : j + 6]) for j in range(0, flat.size, 6)]
        parts.append("\n".join(body) + "\n")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(parts))
    return path


def read_basis(path: PathLike, *, norm: FFTNorm = "backward") -> LCModelBasis:
    """Read an LCModel ``.BASIS`` file (every ``$BASIS`` block) into the library convention.

    Required: ``BADELT`` and ``NDATAB`` (``$BASIS1``), ``HZPPPM`` (``$SEQPAR`` or
    ``$BASIS1``), and per block ``METABO`` followed by exactly ``NDATAB`` complex
    values. Blocks are scaled by ``TRAMP / (VOLUME * CONC)``, inverse-FFT'd and
    conjugated (``norm`` as in :func:`write_basis`); a non-zero ``ISHIFT`` is
    refused rather than guessed.
    """
    _check_norm(norm)
    path, lines = _read_text(path)
    blocks: dict[str, dict[str, Any]] = {}
    metabolites: list[str] = []
    rows: list[np.ndarray] = []
    i = 0
    n: int | None = None
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        if not _NL_START.match(lines[i]):
            raise MRSFormatError(path, f"line {i + 1}", "a $NAME namelist", lines[i].strip())
        name, values, i = _split_namelist(lines, i, path)
        if name != "BASIS":
            blocks.setdefault(name, values)
            continue
        if "BASIS1" not in blocks:
            raise MRSFormatError(
                path, "$BASIS1", "a $BASIS1 namelist before the first $BASIS", "missing"
            )
        if n is None:
            n = _ndatab(blocks["BASIS1"], path)
        metabo = values.get("METABO", values.get("ID"))
        if not isinstance(metabo, str) or not metabo.strip():
            raise MRSFormatError(
                path, f"$BASIS #{len(rows) + 1} METABO", "a metabolite name", metabo
            )
        metabo = metabo.strip()
        if metabo in metabolites:
            raise MRSFormatError(path, "$BASIS METABO", "unique metabolite names", metabo)
        ishift = values.get("ISHIFT", 0)
        if ishift not in (0, 0.0):
            raise MRSFormatError(
                path, f"$BASIS {metabo} ISHIFT", "0 (shifted blocks unsupported)", ishift
            )
        scale = 1.0
        for key in ("TRAMP", "VOLUME", "CONC"):
            if key in values:
                v = _positive(values, key, path, f"$BASIS {metabo}")
                scale = scale * v if key == "TRAMP" else scale / v
        j = i
        while j < len(lines) and not _NL_START.match(lines[j]):
            j += 1
        fmt = blocks["BASIS1"].get("FMTBAS")
        data = _numbers_from_lines(
            lines[i:j],
            i + 1,
            path,
            f"$BASIS {metabo} data",
            _fixed_width(fmt if isinstance(fmt, str) else None),
        )
        if data.size != 2 * n:
            raise MRSFormatError(
                path,
                f"$BASIS {metabo} data",
                f"NDATAB={n} complex values ({2 * n} numbers)",
                f"{data.size} numbers",
            )
        with np.errstate(over="ignore", invalid="ignore"):
            rows.append((data[0::2] + 1j * data[1::2]) * scale)
        metabolites.append(metabo)
        i = j
    if "BASIS1" not in blocks:
        raise MRSFormatError(path, "$BASIS1", "present", "missing")
    if not rows:
        raise MRSFormatError(path, "$BASIS", "at least one metabolite block", "none")
    basis1 = blocks["BASIS1"]
    seqpar = blocks.get("SEQPAR", {})
    badelt = _positive(basis1, "BADELT", path, "$BASIS1")
    hz_src = seqpar if "HZPPPM" in seqpar else basis1
    hzpppm = _positive(hz_src, "HZPPPM", path, "$SEQPAR" if hz_src is seqpar else "$BASIS1")
    fwhmba = seqpar.get("FWHMBA")
    fwhmba = float(fwhmba) if _is_positive_number(fwhmba) else None
    idbasi = str(basis1.get("IDBASI", ""))
    edit = next((e for e in EDIT_STATES if idbasi.lower().endswith(f"_{e}")), None)
    te = seqpar.get("ECHOT")
    te_ms = float(te) if _is_positive_number(te) else None
    with np.errstate(over="ignore", invalid="ignore"):
        fid = np.conj(np.fft.ifft(np.stack(rows), axis=-1, norm=norm))
    _require_finite(fid, path, "$BASIS data (scaled by TRAMP/(VOLUME*CONC))")
    spectra = Spectrum(
        fid=fid,
        dwell_s=badelt,
        larmor_mhz=hzpppm,
        ppm_reference=LCMODEL_PPM_CENTRE,
        te_ms=te_ms,
        edit=edit,
        metadata={"lcmodel_idbasi": idbasi},
    )
    return LCModelBasis(tuple(metabolites), spectra, fwhmba, idbasi, blocks, path)


def _ndatab(basis1: Mapping[str, Any], path: Path) -> int:
    v = basis1.get("NDATAB")
    if v is None:
        raise MRSFormatError(path, "$BASIS1 NDATAB", "present", "missing")
    if isinstance(v, float) and v.is_integer():
        v = int(v)  # some writers print NDATAB=4096.
    if isinstance(v, bool) or not isinstance(v, int) or v < 2:
        raise MRSFormatError(path, "$BASIS1 NDATAB", "an integer >= 2", v)
    return v


def basis_from_lcmodel(off: LCModelBasis, on: LCModelBasis, *, lw_hz: float | None = None) -> Any:
    """A :class:`~mrs_lib.sim.basis.Basis` from an OFF and an ON ``.BASIS`` (same metabolites).

    The two files must agree on BADELT, HZPPPM and NDATAB (else
    :class:`MRSFormatError` naming the ON file and the field). ``lw_hz``
    defaults to ``FWHMBA * HZPPPM`` of the OFF file.
    """
    from ..sim.basis import Basis

    if set(off.metabolites) != set(on.metabolites):
        raise MRSDataError(
            f"basis_from_lcmodel: OFF has {off.metabolites}, ON has {on.metabolites}"
        )
    for field_name, a, b in (
        ("$BASIS1 BADELT", off.dwell_s, on.dwell_s),
        ("HZPPPM", off.larmor_mhz, on.larmor_mhz),
        ("$BASIS1 NDATAB", off.n_points, on.n_points),
    ):
        if not math.isclose(a, b, rel_tol=PARAM_RTOL):
            raise MRSFormatError(on.path, field_name, f"{a!r} as in the OFF file {off.path}", b)
    idx = [on.metabolites.index(m) for m in off.metabolites]
    lw = lw_hz
    if lw is None:
        lw = (off.fwhmba_ppm or 0.0) * off.larmor_mhz
    return Basis(
        off.metabolites,
        on.spectra[idx],
        off.spectra,
        lw_hz=lw,
        params={"source": f"LCModel .BASIS ({off.id}, {on.id})"},
    )


# ============================================================================ control
#: Control-file ($LCMODL) keys this writer accepts (LCModel manual; unknown keys are fatal there).
CONTROL_KEYS: frozenset[str] = frozenset(
    """
    ALPBMN ALPBMX ALPBST ALPSMN ALPSMX ATTH2O ATTMET CHCOMB CHKEEP CHOMIT CHRATO CHSIMU CHUSE1
    CONREL DEGPPM DEGZER DELTAT DESDSH DKNTMN DOECC DOREFS DOWS ECHOT FILBAS FILCOO FILCOR
    FILCSV FILH2O FILPRI FILPS FILRAW FILTAB HZPPPM ICOLEN ICOLST IPAGE2 IROWEN IROWST ISLICE
    KEY LCOORD LCORAW LCSV LPRINT LPS LTABLE N1HMET SUBBAS NAMREL NCOMBI NDCOLS NDROWS NDSLIC NEACH NKEEP NOBASE
    NOMIT NRATIO NREFPK NSIMUL NUNFIL NUSE1 OWNER PGNORM PPMEND PPMGAP PPMREF PPMSHF PPMST
    RFWHM RPRBMN RPRBMX SDDEGP SDDEGZ SHIFMN SHIFMX SPTYPE SRCH2O SRCRAW SAVDIR TITLE VITRO
    WCONC WSMET WSPPM
    """.split()
)

# Array keys and the count key LCModel needs beside them.
_ARRAY_COUNTS: dict[str, str] = {
    "CHCOMB": "NCOMBI",
    "CHOMIT": "NOMIT",
    "CHUSE1": "NUSE1",
    "CHKEEP": "NKEEP",
    "CHRATO": "NRATIO",
    "CHSIMU": "NSIMUL",
}


def control_text(*, extra_keys: Iterable[str] = (), **keys: Any) -> str:
    """The ``$LCMODL ... $END`` namelist for ``keys`` (case-insensitive names).

    Unknown keys raise :class:`MRSDataError` naming the key (LCModel itself
    stops on them); a parameter of your LCModel version that is missing from
    :data:`CONTROL_KEYS` can be allowed with ``extra_keys=("NAME",)``. Sequences become
    indexed entries (``chcomb=["NAA+NAAG"]`` -> ``CHCOMB(1)='NAA+NAAG'``) and
    the matching count (``NCOMBI``) is filled in when not given; ``PPMGAP``
    takes pairs. ``NSIMUL`` is a plain count: pass ``nsimul=0`` for MM-free data.
    """
    upper = {k.upper(): v for k, v in keys.items()}
    if len(upper) != len(keys):
        raise MRSDataError(f"control keys given twice (case-insensitive): {sorted(keys)}")
    allowed = CONTROL_KEYS | {k.upper() for k in extra_keys}
    unknown = sorted(k for k in upper if k not in allowed)
    if unknown:
        raise MRSDataError(
            f"LCModel control key {unknown[0]!r} is not a known $LCMODL parameter "
            f"(unknown keys are fatal in LCModel; known: mrs_lib.io.lcmodel.CONTROL_KEYS)"
        )
    items: dict[str, Any] = {}
    for key, value in upper.items():
        if isinstance(value, (list, tuple, np.ndarray)) and not isinstance(value, str):
            seq = list(value)
            if key == "PPMGAP":
                for j, pair in enumerate(seq, start=1):
                    if len(pair) != 2:
                        raise MRSDataError(
                            f"control key PPMGAP: expected (high, low) pairs, got {pair!r}"
                        )
                    items[f"PPMGAP(1,{j})"], items[f"PPMGAP(2,{j})"] = (
                        float(pair[0]),
                        float(pair[1]),
                    )
                continue
            for j, v in enumerate(seq, start=1):
                items[f"{key}({j})"] = v
            count_key = _ARRAY_COUNTS.get(key)
            if count_key:
                given = upper.get(count_key)
                if given is None:
                    items[count_key] = len(seq)
                elif int(given) != len(seq):
                    raise MRSDataError(
                        f"control key {count_key}={given} but {key} has {len(seq)} entries"
                    )
        else:
            items[key] = value
    for key in ("NUNFIL", "DELTAT", "HZPPPM"):
        if key in items:
            v = items[key]
            if isinstance(v, bool) or not isinstance(v, (int, float, np.number)) or not v > 0:
                raise MRSDataError(f"control key {key}: expected a positive number, got {v!r}")
    body = "\n".join(f" {k}={_format_value(k, v)}" for k, v in items.items())
    return f" $LCMODL\n{body}\n $END\n"


def write_control(path: PathLike | None, *, extra_keys: Iterable[str] = (), **keys: Any) -> str:
    """Write (when ``path`` is given) and return the LCModel control file (see :func:`control_text`).

    LCModel reads it on standard input: ``lcmodel < path``. Typical keys for a
    MEGA-PRESS DIFF fit: ``filraw``, ``filbas``, ``filtab``, ``ltable=7``,
    ``filcoo``, ``lcoord=9``, ``nunfil``, ``deltat``, ``hzpppm``,
    ``sptype='mega-press-3'``, ``ppmst=4.2``, ``ppmend=1.95``, ``nsimul=0``.
    """
    text = control_text(extra_keys=extra_keys, **keys)
    if path is not None:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return text


# ============================================================================ outputs
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
    r"^\s*(?:\$\$\w+\s+)?(\d+)\s+lines?\s+in\s+following\s+(.*?)\s*$", re.IGNORECASE
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
            if "FATAL" in lines[j].upper()
        ]
    else:
        diag = []
        candidates = [(j + 1, ln) for j, ln in enumerate(lines) if "FATAL" in ln.upper()]
    for lineno, line in candidates:
        if "FATAL" in line.upper():
            err = LCModelFatalError(
                f"LCModel reported a FATAL error in '{path}', line {lineno}: {line.strip()}"
            )
            err.path, err.line, err.lineno = str(path), line.strip(), lineno  # type: ignore[attr-defined]
            raise err
    return tuple(d.strip() for d in diag if d.strip())


_CONC_ROW = re.compile(r"^\s*(\S+)\s+(\S+?)%\s+(?:(\S+)\s+)?(\S.*?)\s*$")


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
        if len(tokens) != want or not tokens[1].endswith("%"):
            raise MRSFormatError(
                path,
                f"$$CONC (line {j + 1})",
                "'conc %SD% ratio name'" if has_ratio else "'conc %SD% name'",
                line.strip(),
            )
        field_name = f"$$CONC (line {j + 1})"
        conc = _number(tokens[0], path, field_name)
        sd = _number(tokens[1][:-1], path, field_name)
        ratio = _number(tokens[2], path, field_name) if has_ratio else None
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
            misc[key] = _number(m.group(1), path, f"$$MISC {key}")
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
    p, lines = _read_text(path)
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
    """Parse an LCModel ``.csv`` (``Row, Col``, then ``name, name %SD, name/ref`` per metabolite)."""
    p, lines = _read_text(path)
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
        vals = [_number(c, p, where) for c in cells]
        if vals[0] != int(vals[0]) or vals[1] != int(vals[1]):
            raise MRSFormatError(p, where, "integer Row and Col", cells[:2])
        conc = {
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


_COORD_NY = re.compile(r"^\s*(\d+)\s+points on ppm-axis\s*=\s*NY\s*$", re.IGNORECASE)
_COORD_SECTIONS = {
    "data": re.compile(r"^\s*NY phased data points follow\s*$", re.IGNORECASE),
    "fit": re.compile(r"^\s*NY points of the fit to the data follow\s*$", re.IGNORECASE),
    "background": re.compile(r"^\s*NY background values follow\s*$", re.IGNORECASE),
}
_COORD_MET = re.compile(r"^\s*(\S+)\s+Conc\.\s*=\s*(\S+)\s*$")


def read_coord(path: PathLike) -> LCModelCoord:
    """Parse an LCModel ``.COORD`` file: ppm axis, phased data, fit, background, per-metabolite curves.

    Every curve must hold exactly NY values (10 per line in LCModel's output);
    the ppm axis must be strictly monotonic. FATAL diagnostics raise
    :class:`LCModelFatalError`.
    """
    p, lines = _read_text(path)
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
            parsed = [_parse_float(t) for t in lines[j].split()]
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
            met_conc[name] = _number(m.group(2), p, f"{name} Conc. (line {i + 1})")
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


__all__ = [
    "CONTROL_KEYS",
    "LCMODEL_PPM_CENTRE",
    "LCModelBasis",
    "LCModelCSV",
    "LCModelCSVRow",
    "LCModelCoord",
    "LCModelTable",
    "basis_from_lcmodel",
    "control_text",
    "lcmodel_ppm_axis",
    "read_basis",
    "read_coord",
    "read_csv",
    "read_raw",
    "read_table",
    "write_basis",
    "write_control",
    "write_raw",
]

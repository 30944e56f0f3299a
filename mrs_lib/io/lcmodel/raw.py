"""LCModel ``.RAW`` files: one FID after a ``$SEQPAR`` and a ``$NMID`` namelist.

Written conjugated and moved to LCModel's 4.65 ppm receiver; read back into the
library convention (:mod:`mrs_lib.io.lcmodel` has the conventions).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ...errors import MRSDataError, MRSFormatError
from ...plausibility import check_dwell, check_larmor, check_te
from ...spectrum import Spectrum
from ._conventions import LCMODEL_PPM_CENTRE, to_lcmodel_centre
from ._text import (
    NL_START,
    NamelistValue,
    PathLike,
    check_match,
    fixed_width,
    flush_tiny,
    format_namelist,
    numbers_from_lines,
    positive,
    read_text,
    require_finite,
    split_namelist,
)

#: Fortran format of the ``.RAW`` data written here (``FMTDAT``).
RAW_FORMAT = "(2E15.6)"

#: The most points LCModel 6.3 reads (``MUNFIL`` in its ``lcmodel.inc``; NUNFIL above it is fatal).
MAX_NUNFIL = 65536


def write_raw(
    path: PathLike,
    spectrum: Spectrum,
    *,
    id: str = "mrs_lib",
    te_ms: float | None = None,
    seq: str | None = None,
) -> Path:
    """Write one FID as an LCModel ``.RAW`` file (``$SEQPAR``, ``$NMID``, then the data).

    The FID is moved to LCModel's 4.65 ppm receiver and conjugated
    (conventions: :mod:`mrs_lib.io.lcmodel`); ``te_ms`` defaults to
    ``spectrum.te_ms`` and ``seq`` to ``'MEGAPRESS'`` for an edited
    sub-spectrum. The control file needs ``NUNFIL=spectrum.n_points``,
    ``DELTAT=spectrum.dwell_s`` and ``HZPPPM=spectrum.larmor_mhz`` (the
    ``.RAW`` file stores only HZPPPM). Values are printed with 7 significant
    digits (``(2E15.6)``).
    """
    if spectrum.batch_shape:
        raise MRSDataError(
            f"write_raw: expected a single spectrum, got batch shape {spectrum.batch_shape}"
        )
    te = spectrum.te_ms if te_ms is None else float(te_ms)
    if seq is None and spectrum.edit is not None:
        seq = "MEGAPRESS"
    seqpar: dict[str, object] = {"HZPPPM": spectrum.larmor_mhz}
    if te is not None:
        seqpar["ECHOT"] = float(te)
    if seq:
        seqpar["SEQ"] = seq
    nmid = {"ID": id, "FMTDAT": RAW_FORMAT, "VOLUME": 1.0, "TRAMP": 1.0}
    fid = np.conj(to_lcmodel_centre(spectrum).fid)
    lines = [f"{v.real:15.6E}{v.imag:15.6E}" for v in flush_tiny(fid)]
    text = format_namelist("SEQPAR", seqpar) + format_namelist("NMID", nmid) + "\n".join(lines)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")
    return path


def _read_header_then_data(
    path: Path, lines: Sequence[str], last_block: str
) -> tuple[dict[str, dict[str, NamelistValue]], int]:
    """Namelists up to and including ``last_block``; returns them and the first data line."""
    blocks: dict[str, dict[str, NamelistValue]] = {}
    i = 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        if not NL_START.match(lines[i]):
            raise MRSFormatError(
                path, f"header (line {i + 1})", f"namelists up to ${last_block}", lines[i].strip()
            )
        name, values, i = split_namelist(lines, i, path)
        blocks[name] = values
        if name == last_block:
            return blocks, i
    raise MRSFormatError(path, f"${last_block}", "a namelist before the data", "missing")


def _check_n_points(n_points: object) -> int:
    """``n_points`` (NUNFIL) as an integer in ``[2, MAX_NUNFIL]``, refused before any allocation."""
    if isinstance(n_points, bool) or not isinstance(n_points, (int, np.integer)):
        raise MRSDataError(f"n_points (NUNFIL): expected an integer, got {n_points!r}")
    n = int(n_points)
    if not 2 <= n <= MAX_NUNFIL:
        raise MRSDataError(
            f"n_points (NUNFIL): expected 2 to {MAX_NUNFIL} (the most LCModel reads), got {n}"
        )
    return n


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
    :class:`MRSFormatError`. Nor do they store the number of points: a file
    cut at a line boundary still parses, at a shorter length, so give
    ``n_points`` (``--n-points``) whenever it is known. ``ECHOT`` must be a
    plausible echo time in ms (0 = unknown). The data are multiplied by
    ``TRAMP / VOLUME`` and conjugated; the result has ``ppm_reference=4.65``.
    """
    if n_points is not None:
        n_points = _check_n_points(n_points)
    try:
        dwell = check_dwell(dwell_s, field="dwell_s argument (DELTAT)")
        larmor = check_larmor(larmor_mhz, field="larmor_mhz argument (HZPPPM)")
    except MRSDataError as exc:
        raise MRSDataError(f"read_raw: {exc}") from None
    path, lines = read_text(path)
    blocks, start = _read_header_then_data(path, lines, "NMID")
    nmid = blocks["NMID"]
    seqpar = blocks.get("SEQPAR", {})
    if "HZPPPM" in seqpar:
        check_match(
            path,
            "$SEQPAR HZPPPM",
            positive(seqpar, "HZPPPM", path, "$SEQPAR"),
            larmor,
            "larmor_mhz argument",
        )
    tramp = positive(nmid, "TRAMP", path, "$NMID") if "TRAMP" in nmid else 1.0
    volume = positive(nmid, "VOLUME", path, "$NMID") if "VOLUME" in nmid else 1.0
    fmt = nmid.get("FMTDAT")
    values = numbers_from_lines(
        lines[start:], start + 1, path, "data", fixed_width(fmt if isinstance(fmt, str) else None)
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
    require_finite(fid, path, "data (scaled by TRAMP/VOLUME)")
    te = seqpar.get("ECHOT", 0)
    te_ms = None if te in (0, 0.0) else check_te(te, unit="ms", path=path, field="$SEQPAR ECHOT")
    meta = {"lcmodel_id": str(nmid.get("ID", "")), "seq": str(seqpar.get("SEQ", ""))}
    return Spectrum(
        fid=fid,
        dwell_s=dwell,
        larmor_mhz=larmor,
        ppm_reference=LCMODEL_PPM_CENTRE,
        te_ms=te_ms,
        metadata={k: v for k, v in meta.items() if v},
    )

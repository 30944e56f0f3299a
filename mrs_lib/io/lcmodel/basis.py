"""LCModel ``.BASIS`` sets: one edit state per file, one spectrum block per metabolite.

:func:`write_basis` and :func:`read_basis` convert between a
:class:`~mrs_lib.sim.basis.Basis` edit state and the file;
:func:`basis_from_lcmodel` joins an OFF and an ON file into a ``Basis``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from ...errors import MRSDataError, MRSFormatError
from ...plausibility import check_dwell, check_larmor, check_signal, check_te
from ...sim.basis import Basis
from ...spectrum import Spectrum
from ...types import EDIT_STATES, EditState
from ._conventions import LCMODEL_PPM_CENTRE, to_lcmodel_centre
from ._text import (
    NL_START,
    PARAM_RTOL,
    NamelistValue,
    PathLike,
    fixed_width,
    flush_tiny,
    format_namelist,
    is_positive_number,
    numbers_from_lines,
    positive,
    read_text,
    require_finite,
    split_namelist,
)

#: ``METABO`` names longer than this are rejected by LCModel.
MAX_METABO_LEN: int = 6

#: LCModel rejects basis sets with ``FWHMBA`` at or above this (ppm).
MAX_FWHMBA_PPM: float = 0.025

#: FFT normalisation of the ``.BASIS`` blocks (see :func:`write_basis`).
FFTNorm = Literal["backward", "ortho"]

#: Fortran format of the ``.BASIS`` data written here (``FMTBAS``).
BASIS_FORMAT = "(6E13.5)"

#: The longest basis block LCModel 6.3 reads (``MDATA = 2 * MUNFIL`` in its ``lcmodel.inc``).
MAX_NDATAB = 131072


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
    header: Mapping[str, Mapping[str, NamelistValue]] = field(default_factory=dict)
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
    basis: Basis,
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
    and Fourier transformed (conventions: :mod:`mrs_lib.io.lcmodel`). ``fwhmba``
    (ppm) defaults to the basis linewidth ``lw_hz / larmor_mhz``, or the FFT resolution for an
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
    if not 2 <= n <= MAX_NDATAB:  # refused before zero-filling allocates n points per metabolite
        raise MRSDataError(
            f"write_basis: n_points (NDATAB) must be 2 to {MAX_NDATAB} (the most LCModel reads), "
            f"got {n_points!r}"
        )
    spec = to_lcmodel_centre(spec)
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
    seqpar: dict[str, object] = {"FWHMBA": fwhmba, "HZPPPM": spec.larmor_mhz}
    if spec.te_ms is not None:
        seqpar["ECHOT"] = spec.te_ms
    seqpar["SEQ"] = seq
    basis1 = {
        "IDBASI": id if id is not None else f"mrs_lib_{edit}",
        "FMTBAS": BASIS_FORMAT,
        "BADELT": spec.dwell_s,
        "NDATAB": n,
    }
    parts = [format_namelist("SEQPAR", seqpar), format_namelist("BASIS1", basis1)]
    freq = np.fft.fft(np.conj(spec.fid), axis=-1, norm=norm)
    for name, row in zip(names, flush_tiny(freq), strict=True):
        header = {"ID": name, "METABO": name, "CONC": 1.0, "TRAMP": 1.0, "VOLUME": 1.0, "ISHIFT": 0}
        parts.append(format_namelist("BASIS", header))
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
    path, lines = read_text(path)
    blocks: dict[str, dict[str, NamelistValue]] = {}
    metabolites: list[str] = []
    rows: list[np.ndarray] = []
    i = 0
    n: int | None = None
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        if not NL_START.match(lines[i]):
            raise MRSFormatError(path, f"line {i + 1}", "a $NAME namelist", lines[i].strip())
        name, values, i = split_namelist(lines, i, path)
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
                v = positive(values, key, path, f"$BASIS {metabo}")
                scale = scale * v if key == "TRAMP" else scale / v
        j = i
        while j < len(lines) and not NL_START.match(lines[j]):
            j += 1
        fmt = blocks["BASIS1"].get("FMTBAS")
        data = numbers_from_lines(
            lines[i:j],
            i + 1,
            path,
            f"$BASIS {metabo} data",
            fixed_width(fmt if isinstance(fmt, str) else None),
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
    badelt = check_dwell(
        positive(basis1, "BADELT", path, "$BASIS1"), path=path, field="$BASIS1 BADELT"
    )
    hz_src = seqpar if "HZPPPM" in seqpar else basis1
    where = "$SEQPAR" if hz_src is seqpar else "$BASIS1"
    hzpppm = check_larmor(positive(hz_src, "HZPPPM", path, where), path=path, field="HZPPPM")
    fwhmba = seqpar.get("FWHMBA")
    fwhmba = float(fwhmba) if is_positive_number(fwhmba) else None
    idbasi = str(basis1.get("IDBASI", ""))
    edit = next((e for e in EDIT_STATES if idbasi.lower().endswith(f"_{e}")), None)
    te = seqpar.get("ECHOT", 0)
    te_ms = None if te in (0, 0.0) else check_te(te, unit="ms", path=path, field="$SEQPAR ECHOT")
    # one block may be zero (Cr in a DIFF basis), not every one
    check_signal(np.stack(rows), path=path, field="$BASIS data (every block)")
    with np.errstate(over="ignore", invalid="ignore"):
        fid = np.conj(np.fft.ifft(np.stack(rows), axis=-1, norm=norm))
    require_finite(fid, path, "$BASIS data (scaled by TRAMP/(VOLUME*CONC))")
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


def _ndatab(basis1: Mapping[str, NamelistValue], path: Path) -> int:
    v = basis1.get("NDATAB")
    if v is None:
        raise MRSFormatError(path, "$BASIS1 NDATAB", "present", "missing")
    if isinstance(v, float) and v.is_integer():
        v = int(v)  # some writers print NDATAB=4096.
    if isinstance(v, bool) or not isinstance(v, int) or not 2 <= v <= MAX_NDATAB:
        raise MRSFormatError(path, "$BASIS1 NDATAB", f"an integer from 2 to {MAX_NDATAB}", v)
    return v


def basis_from_lcmodel(off: LCModelBasis, on: LCModelBasis, *, lw_hz: float | None = None) -> Basis:
    """A :class:`~mrs_lib.sim.basis.Basis` from an OFF and an ON ``.BASIS`` (same metabolites).

    The two files must agree on BADELT, HZPPPM and NDATAB (else
    :class:`MRSFormatError` naming the ON file and the field). ``lw_hz``
    defaults to ``FWHMBA * HZPPPM`` of the OFF file.
    """
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

"""File formats: the only place where other tools' conventions are converted.

* :mod:`mrs_lib.io.nifti` - NIfTI-MRS (the library's own convention; chapter 1
  exports simulated spectra and bases in it),
* :mod:`mrs_lib.io.lcmodel` - LCModel ``.RAW``, ``.BASIS``, control file,
  ``.table`` / ``.csv`` / ``.COORD`` (conjugated and re-referenced to 4.65 ppm
  at the edge; chapter 6 runs LCModel through them),
* :mod:`mrs_lib.io.phantoms` - folders of phantom scans with known concentrations,
* :mod:`mrs_lib.io.bases` - bases by name or path (:func:`resolve_basis`).

Readers raise :class:`~mrs_lib.errors.MRSFormatError` (file, field, expected)
for bad input, never return a wrong number.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import MRSDataError, MRSFormatError
from ..types import EDIT_STATES, EditState
from . import lcmodel, nifti  # noqa: F401  (submodules are part of the API)
from .bases import BASIS_NAMES, FIDA_NAME, PAPER_NAME, resolve_basis
from .lcmodel import (
    LCModelBasis,
    LCModelCoord,
    LCModelCSV,
    LCModelTable,
    basis_from_lcmodel,
    control_text,
    read_basis,
    read_coord,
    read_csv,
    read_raw,
    read_table,
    write_basis,
    write_control,
    write_raw,
)
from .nifti import load, load_basis, save, save_basis


def _existing_file(path: Path) -> Path:
    """``path`` if it is a file; otherwise the error a user can act on (missing, a folder)."""
    if path.is_dir():
        raise MRSDataError(f"'{path}': is a directory, expected a file")
    if not path.exists():
        raise MRSDataError(f"'{path}': no such file")
    return path


def _kind_of(path: Path) -> str:
    name = path.name.lower()
    if name.endswith((".nii", ".nii.gz")):
        return "nifti"
    suffix = path.suffix.lower()
    kinds = {
        ".raw": "raw",
        ".basis": "basis",
        ".npz": "npz",
        ".table": "table",
        ".csv": "csv",
        ".coord": "coord",
    }
    if suffix not in kinds:
        raise MRSDataError(
            f"'{path}': unknown file type (expected .nii, .nii.gz, .RAW, .BASIS, .npz, .table, "
            ".csv or .COORD)"
        )
    return kinds[suffix]


def _spectrum_facts(spec: Any) -> dict[str, Any]:
    return {
        "points": spec.n_points,
        "dwell_s": spec.dwell_s,
        "bw_hz": spec.bw_hz,
        "larmor_mhz": spec.larmor_mhz,
        "ppm_reference": spec.ppm_reference,
        "te_ms": spec.te_ms,
    }


def describe(
    path: str | os.PathLike[str],
    *,
    dwell_s: float | None = None,
    larmor_mhz: float | None = None,
    n_points: int | None = None,
) -> dict[str, Any]:
    """What a file holds (``mrs info``): kind, points, dwell, bandwidth, Larmor frequency, TE,
    edit dimensions, metabolites (basis files) or concentrations (LCModel outputs).

    Works for NIfTI-MRS, LCModel ``.RAW`` (needs ``dwell_s`` and ``larmor_mhz``,
    which the format does not store; ``n_points``, NUNFIL, is checked against
    the data when given, which catches a file cut at a line boundary),
    ``.BASIS``, ``.table``, ``.csv``, ``.COORD`` and the ``.npz`` basis of
    ``mrs simulate``.
    """
    from ..sim.basis import Basis

    p = _existing_file(Path(path))
    kind = _kind_of(p)
    if kind == "nifti":
        info = nifti.describe(p)
        order = ["format", "kind", "points", "dims", "dwell_s"]
        out = {k: info.pop(k) for k in order}
        return {**out, "bw_hz": 1.0 / out["dwell_s"], **info}
    if kind == "raw":
        if dwell_s is None or larmor_mhz is None:
            raise MRSDataError(
                f"'{p}': an LCModel .RAW file needs dwell_s and larmor_mhz "
                "(--dwell-s, --larmor-mhz); the format does not store them"
            )
        spec = read_raw(p, dwell_s, larmor_mhz, n_points=n_points)
        return {
            "format": "LCModel .RAW",
            "kind": "spectrum",
            **_spectrum_facts(spec),
            "id": spec.metadata.get("lcmodel_id"),
        }
    if kind == "basis":
        b = read_basis(p)
        return {
            "format": "LCModel .BASIS",
            "kind": "basis",
            **_spectrum_facts(b.spectra),
            "edit": b.edit,
            "fwhmba_ppm": b.fwhmba_ppm,
            "metabolites": list(b.metabolites),
        }
    if kind == "npz":
        basis = Basis.load_npz(p)
        return {
            "format": "mrs_lib .npz basis",
            "kind": "basis",
            **_spectrum_facts(basis.on),
            "edit": list(EDIT_STATES[:2]),
            "lw_hz": basis.lw_hz,
            "metabolites": list(basis.metabolites),
        }
    if kind == "table":
        t = read_table(p)
        return {
            "format": "LCModel .table",
            "kind": "fit result",
            "ratio_to": t.ratio_to,
            **t.misc,
            "concentrations": t.concentrations,
            "diagnostics": list(t.diagnostics),
        }
    if kind == "csv":
        c = read_csv(p)
        return {
            "format": "LCModel .csv",
            "kind": "fit result",
            "voxels": len(c.rows),
            "ratio_to": c.ratio_to,
            "metabolites": list(c.metabolites),
        }
    co = read_coord(p)
    return {
        "format": "LCModel .COORD",
        "kind": "fit curves",
        "points": co.n_points,
        "ppm_range": (float(co.ppm.min()), float(co.ppm.max())),
        "metabolites": list(co.metabolites),
        **co.table.misc,
    }


def convert(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    edit: EditState | None = None,
    n_points: int | None = None,
    fwhmba: float | None = None,
    dwell_s: float | None = None,
    larmor_mhz: float | None = None,
) -> Path:
    """Convert between formats (``mrs convert``); the output type follows ``dst``'s suffix.

    * basis (``.npz`` or NIfTI-MRS basis) -> ``.npz`` / NIfTI-MRS / ``.BASIS``
      (``.BASIS`` holds one edit state: ``edit`` is required; ``n_points``
      and ``fwhmba`` are passed to :func:`write_basis`);
    * spectrum NIfTI-MRS -> ``.RAW`` (an edited file needs ``edit``; a batch
      must hold a single spectrum);
    * ``.RAW`` -> NIfTI-MRS (needs ``dwell_s`` and ``larmor_mhz``; ``n_points``,
      when given, is the NUNFIL the data must have).
    """
    from ..sim.basis import Basis
    from ..spectrum import EditedSpectra

    s, d = _existing_file(Path(src)), Path(dst)
    ks, kd = _kind_of(s), _kind_of(d)
    if edit is not None and edit not in EDIT_STATES:
        raise MRSDataError(f"edit must be one of {EDIT_STATES}, got {edit!r}")
    is_basis = ks == "npz" or (ks == "nifti" and nifti.describe(s)["kind"] == "basis")
    if is_basis:
        basis = Basis.load_npz(s) if ks == "npz" else load_basis(s)
        if kd == "npz":
            return basis.save_npz(d)
        if kd == "nifti":
            return save_basis(basis, d)
        if kd == "basis":
            if edit is None:
                raise MRSDataError(
                    "a .BASIS file holds one edit state: give edit (--edit off|on|diff)"
                )
            return write_basis(d, basis, edit, n_points=n_points, fwhmba=fwhmba)
    elif ks == "nifti" and kd == "raw":
        obj = load(s)
        if isinstance(obj, EditedSpectra):
            if edit is None:
                raise MRSDataError(f"'{s}' holds edit OFF and ON: give edit (--edit off|on|diff)")
            obj = obj[edit]
        if obj.batch_shape:
            if any(n != 1 for n in obj.batch_shape):
                raise MRSFormatError(s, "dims 5-7", "a single spectrum for .RAW", obj.batch_shape)
            obj = obj.replace(fid=obj.fid.reshape(-1))
        return write_raw(d, obj)
    elif ks == "raw" and kd == "nifti":
        if dwell_s is None or larmor_mhz is None:
            raise MRSDataError("converting a .RAW file needs dwell_s and larmor_mhz")
        spec = read_raw(s, dwell_s, larmor_mhz, n_points=n_points)
        return save(spec.replace(edit=edit) if edit else spec, d)
    raise MRSDataError(f"no conversion from {ks} ('{s.name}') to {kd} ('{d.name}')")


__all__ = [
    "BASIS_NAMES",
    "FIDA_NAME",
    "PAPER_NAME",
    "LCModelBasis",
    "LCModelCSV",
    "LCModelCoord",
    "LCModelTable",
    "basis_from_lcmodel",
    "control_text",
    "convert",
    "describe",
    "load",
    "load_basis",
    "read_basis",
    "read_coord",
    "read_csv",
    "read_raw",
    "read_table",
    "resolve_basis",
    "save",
    "save_basis",
    "write_basis",
    "write_control",
    "write_raw",
]

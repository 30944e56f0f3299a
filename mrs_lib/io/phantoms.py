"""Phantom scans with known concentrations: the design table and folders of real scans.

Chapter 5 of the book validates the quantifiers on phantoms. The Swansea
spectra of the paper are not public; their design (which phantom holds how
much of each metabolite) is, as the registry file
``swansea_phantom_design_mM.csv``. Users bring their own scans in this layout::

    ROOT/
      E1/                          one folder per series
        concentrations.json        {"<scan>": {"GABA": 2.0, "NAA": 15.0, ...}, ...} in mM;
                                   a metabolite that is not listed is 0 mM
        <scan>/                    one folder per scan, holding either
          edited.nii.gz            one NIfTI-MRS file with a DIM_EDIT dimension (OFF, ON), or
          EDIT_OFF.nii.gz          two NIfTI-MRS files, one per sub-spectrum
          EDIT_ON.nii.gz

Siemens DICOM (``.IMA``) or twix data convert to NIfTI-MRS with ``spec2nii``
(a separate tool; see the chapter). :func:`save_phantom_folder` writes the
same layout, so a digital phantom series round-trips through it.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MRSFormatError
from ..spectrum import EditedSpectra
from ..types import METABOLITES

DESIGN_REGISTRY_NAME = "swansea_phantom_design_mM.csv"
_DESIGN_COLUMNS = ("series", "phantom_id", "NAA", "Cr", "GABA", "Glu", "Gln")


@dataclass(frozen=True, eq=False)
class PhantomDesign:
    """One phantom of a design table: its series, identifier and concentrations (mM)."""

    series: str
    phantom_id: str
    concentrations_mm: Mapping[str, float]

    def vector(self, metabolites: Iterable[str] = METABOLITES) -> np.ndarray:
        """Concentrations in the order of ``metabolites`` (absent ones are 0 mM)."""
        return np.array([float(self.concentrations_mm.get(m, 0.0)) for m in metabolites])


@dataclass(frozen=True, eq=False)
class PhantomScan:
    """A MEGA-PRESS scan of a phantom with known concentrations (mM)."""

    series: str
    scan_id: str
    spectra: EditedSpectra
    concentrations_mm: Mapping[str, float]
    source: Path | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def vector(self, metabolites: Iterable[str] = METABOLITES) -> np.ndarray:
        """Known concentrations in the order of ``metabolites`` (absent ones are 0 mM)."""
        return np.array([float(self.concentrations_mm.get(m, 0.0)) for m in metabolites])


def _number(path: Path, field_name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise MRSFormatError(path, field_name, "a number (mM)", repr(text)) from None
    if not math.isfinite(value) or value < 0:
        raise MRSFormatError(path, field_name, "a finite concentration >= 0 mM", repr(text))
    return value


def load_design(path: str | Path | None = None) -> list[PhantomDesign]:
    """Read a phantom design table (default: the registry's Swansea E1-E4d design).

    Columns: ``series, phantom_id, NAA, Cr, GABA, Glu, Gln`` (mM). Every row is
    validated; a bad cell raises :class:`~mrs_lib.errors.MRSFormatError` naming
    the file, the row and the column.
    """
    if path is None:
        from .. import data

        path = data.fetch(DESIGN_REGISTRY_NAME)
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise MRSFormatError(path, "file", "an existing design table", "no such file") from None
    rows = list(csv.DictReader(text.splitlines()))
    if not rows:
        raise MRSFormatError(path, "rows", "a header and at least one phantom", "no rows")
    missing = [c for c in _DESIGN_COLUMNS if c not in rows[0]]
    if missing:
        raise MRSFormatError(
            path, "header", f"columns {list(_DESIGN_COLUMNS)}", f"missing {missing}"
        )
    design = []
    for i, row in enumerate(rows, start=2):
        conc: dict[str, float] = {
            m: _number(path, f"line {i}, column {m}", row[m] or "") for m in METABOLITES
        }
        design.append(PhantomDesign(row["series"], row["phantom_id"], conc))
    return design


def _read_concentrations(path: Path) -> dict[str, dict[str, float]]:
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise MRSFormatError(
            path, "file", "concentrations.json beside the scan folders", "missing"
        ) from None
    except json.JSONDecodeError as exc:
        raise MRSFormatError(path, "file", "valid JSON", str(exc)) from None
    if not isinstance(raw, dict):
        raise MRSFormatError(
            path, "top level", "an object {scan: {metabolite: mM}}", type(raw).__name__
        )
    out: dict[str, dict[str, float]] = {}
    for scan, conc in raw.items():
        if not isinstance(conc, dict):
            raise MRSFormatError(path, scan, "an object {metabolite: mM}", type(conc).__name__)
        unknown = sorted(set(conc) - set(METABOLITES))
        if unknown:
            raise MRSFormatError(
                path, f"{scan}.{unknown[0]}", f"one of {METABOLITES}", repr(unknown[0])
            )
        out[scan] = {m: _number(path, f"{scan}.{m}", str(v)) for m, v in conc.items()}
    return out


def _read_scan(folder: Path) -> EditedSpectra:
    from . import nifti

    single = sorted(folder.glob("*.nii*"))
    off, on = folder / "EDIT_OFF.nii.gz", folder / "EDIT_ON.nii.gz"
    if off.exists() and on.exists():
        a, b = nifti.load(off), nifti.load(on)
        if isinstance(a, EditedSpectra) or isinstance(b, EditedSpectra):
            raise MRSFormatError(
                off, "dim_edit", "one sub-spectrum per EDIT_OFF/EDIT_ON file", "both"
            )
        return EditedSpectra(off=a, on=b)
    if len(single) == 1:
        loaded = nifti.load(single[0])
        if not isinstance(loaded, EditedSpectra):
            raise MRSFormatError(
                single[0], "DIM_EDIT", "an edit dimension holding OFF and ON", "none"
            )
        return loaded
    raise MRSFormatError(
        folder,
        "scan files",
        "one NIfTI-MRS file with DIM_EDIT, or EDIT_OFF.nii.gz + EDIT_ON.nii.gz",
        f"{[p.name for p in single]}",
    )


def load_phantom_folder(root: str | Path) -> list[PhantomScan]:
    """Load every scan of a phantom folder (layout in the module docstring), sorted by name."""
    root = Path(root)
    if not root.is_dir():
        raise MRSFormatError(root, "folder", "a folder of phantom series", "no such folder")
    scans: list[PhantomScan] = []
    for series_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        known = _read_concentrations(series_dir / "concentrations.json")
        for scan_dir in sorted(p for p in series_dir.iterdir() if p.is_dir()):
            if scan_dir.name not in known:
                raise MRSFormatError(
                    series_dir / "concentrations.json",
                    scan_dir.name,
                    "an entry for every scan folder",
                    "missing",
                )
            scans.append(
                PhantomScan(
                    series_dir.name,
                    scan_dir.name,
                    _read_scan(scan_dir),
                    known[scan_dir.name],
                    scan_dir,
                )
            )
    if not scans:
        raise MRSFormatError(root, "scans", "at least one <series>/<scan>/ folder", "none")
    return scans


def save_phantom_folder(scans: Iterable[PhantomScan], root: str | Path) -> Path:
    """Write scans in the layout of :func:`load_phantom_folder` (NIfTI-MRS with DIM_EDIT)."""
    from . import nifti

    root = Path(root)
    per_series: dict[str, dict[str, dict[str, float]]] = {}
    for scan in scans:
        folder = root / scan.series / scan.scan_id
        folder.mkdir(parents=True, exist_ok=True)
        nifti.save(scan.spectra, folder / "edited.nii.gz")
        per_series.setdefault(scan.series, {})[scan.scan_id] = {
            m: float(v) for m, v in scan.concentrations_mm.items() if float(v) != 0.0
        }
    for series, conc in per_series.items():
        (root / series / "concentrations.json").write_text(
            json.dumps(conc, indent=1, sort_keys=True)
        )
    return root


__all__ = [
    "DESIGN_REGISTRY_NAME",
    "PhantomDesign",
    "PhantomScan",
    "load_design",
    "load_phantom_folder",
    "save_phantom_folder",
]

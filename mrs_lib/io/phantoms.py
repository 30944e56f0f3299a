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

A file may hold single transients along ``DIM_DYN``: they are averaged (no
alignment) and the scan's ``metadata`` says so; any other dimension larger
than 1 (coils, user dimensions) is refused. Concentrations are JSON numbers,
none negative, at least one above 0 mM per scan.

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

from ..errors import MRSDataError, MRSFormatError
from ..plausibility import check_signal
from ..spectrum import EditedSpectra, Spectrum
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
    expected = "concentrations.json beside the scan folders"
    if not path.exists():
        raise MRSFormatError(path, "file", expected, "missing")
    if not path.is_file():
        raise MRSFormatError(path, "file", expected, "not a regular file")
    try:
        text = path.read_bytes().decode("utf-8")
        raw = json.loads(text)
    except UnicodeDecodeError as exc:
        raise MRSFormatError(
            path, "file", "UTF-8 JSON text", f"binary data ({exc.reason})"
        ) from None
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, numbers over 4300 digits
        raise MRSFormatError(path, "file", "valid JSON", str(exc)[:200]) from None
    except OSError as exc:
        raise MRSFormatError(path, "file", "a readable file", str(exc)) from None
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
        values = {m: _concentration(path, f"{scan}.{m}", v) for m, v in conc.items()}
        if not any(v > 0 for v in values.values()):
            raise MRSFormatError(
                path,
                scan,
                "at least one metabolite above 0 mM (an all-zero truth cannot be scored)",
                values,
            )
        out[scan] = values
    return out


def _concentration(path: Path, field_name: str, value: object) -> float:
    """A JSON number >= 0 (mM); strings, booleans, null and nested values are refused."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MRSFormatError(path, field_name, "a number (mM)", value)
    v = float(value) if not isinstance(value, int) or abs(value) < 10**308 else math.inf
    if not math.isfinite(v) or v < 0:
        raise MRSFormatError(path, field_name, "a finite concentration >= 0 mM", value)
    return v


def _one_spectrum(path: Path, spec: Spectrum, tags: tuple[str, ...]) -> tuple[Spectrum, int]:
    """Average the ``DIM_DYN`` axes of ``spec``; any other axis must have size 1.

    Returns the single spectrum and the number of transients averaged.
    """
    shape = spec.batch_shape
    others = [
        f"{t} of size {n}" for t, n in zip(tags, shape, strict=True) if t != "DIM_DYN" and n > 1
    ]
    if others:
        raise MRSFormatError(
            path,
            "dims 5-7",
            "one spectrum per scan (DIM_DYN is averaged; combine coils etc. first, e.g. FSL-MRS)",
            ", ".join(others),
        )
    dyn = tuple(i for i, t in enumerate(tags) if t == "DIM_DYN")
    fid = spec.fid.mean(axis=dyn) if dyn else spec.fid
    n_avg = math.prod(shape[i] for i in dyn)
    return spec.replace(fid=fid.reshape(spec.n_points)), n_avg


def _load_sub(path: Path) -> tuple[Spectrum | EditedSpectra, int]:
    from . import nifti

    loaded, tags = nifti.load_tagged(path)
    if isinstance(loaded, Spectrum):
        return _one_spectrum(path, loaded, tags)
    off, n = _one_spectrum(path, loaded.off, tags)
    on, _ = _one_spectrum(path, loaded.on, tags)
    return EditedSpectra(off=off, on=on), n


def _read_scan(folder: Path) -> tuple[EditedSpectra, dict[str, Any]]:
    """The scan's OFF/ON pair (dynamics averaged) and notes on what was done to it."""
    single = sorted(folder.glob("*.nii*"))
    off, on = folder / "EDIT_OFF.nii.gz", folder / "EDIT_ON.nii.gz"
    if off.exists() and on.exists():
        (a, n_off), (b, n_on) = _load_sub(off), _load_sub(on)
        if isinstance(a, EditedSpectra) or isinstance(b, EditedSpectra):
            raise MRSFormatError(
                off, "dim_edit", "one sub-spectrum per EDIT_OFF/EDIT_ON file", "both"
            )
        try:
            spectra = EditedSpectra(off=a, on=b)
        except MRSDataError as exc:
            raise MRSFormatError(
                on, "acquisition", "the parameters of EDIT_OFF", str(exc)
            ) from None
        n_avg, source = max(n_off, n_on), on
    elif len(single) == 1:
        loaded, n_avg = _load_sub(single[0])
        if not isinstance(loaded, EditedSpectra):
            raise MRSFormatError(
                single[0], "DIM_EDIT", "an edit dimension holding OFF and ON", "none"
            )
        spectra, source = loaded, single[0]
    else:
        raise MRSFormatError(
            folder,
            "scan files",
            "one NIfTI-MRS file with DIM_EDIT, or EDIT_OFF.nii.gz + EDIT_ON.nii.gz",
            f"{[p.name for p in single]}",
        )
    for state in ("off", "on"):
        check_signal(spectra[state].fid, path=source, field=f"data (edit {state.upper()})")
    notes: dict[str, Any] = {}
    if n_avg > 1:
        notes["averaged_dynamics"] = n_avg
        notes["note"] = f"{n_avg} DIM_DYN transients averaged (no frequency or phase alignment)"
    return spectra, notes


def load_phantom_folder(root: str | Path) -> list[PhantomScan]:
    """Load every scan of a phantom folder (layout in the module docstring), sorted by name.

    A scan file with a ``DIM_DYN`` dimension (single transients, as scanners
    export them) is averaged over it, with a note in the scan's ``metadata``
    (``averaged_dynamics``, ``note``); other dimensions (coils, user
    dimensions) of size > 1 are refused. Every value is checked: plausible
    acquisition parameters (:mod:`mrs_lib.plausibility`), non-zero signal,
    concentrations >= 0 mM with at least one above 0 per scan; a bad one raises
    :class:`~mrs_lib.errors.MRSFormatError` naming the file and the field.
    """
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
            spectra, notes = _read_scan(scan_dir)
            scans.append(
                PhantomScan(
                    series_dir.name, scan_dir.name, spectra, known[scan_dir.name], scan_dir, notes
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

"""File formats: the only place where other tools' conventions are converted.

* :mod:`mrs_lib.io.nifti` - NIfTI-MRS (the library's own convention; chapter 1
  exports simulated spectra and bases in it),
* :mod:`mrs_lib.io.lcmodel` - LCModel ``.RAW``, ``.BASIS``, control file,
  ``.table`` / ``.csv`` / ``.COORD`` (conjugated and re-referenced to 4.65 ppm
  at the edge; chapter 6 runs LCModel through them),
* :mod:`mrs_lib.io.phantoms` - folders of phantom scans with known concentrations.

Readers raise :class:`~mrs_lib.errors.MRSFormatError` (file, field, expected)
for bad input, never return a wrong number.
"""

from __future__ import annotations

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

__all__ = [
    "LCModelBasis",
    "LCModelCSV",
    "LCModelCoord",
    "LCModelTable",
    "basis_from_lcmodel",
    "control_text",
    "load",
    "load_basis",
    "read_basis",
    "read_coord",
    "read_csv",
    "read_raw",
    "read_table",
    "save",
    "save_basis",
    "write_basis",
    "write_control",
    "write_raw",
]

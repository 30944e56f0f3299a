"""LCModel files: ``.RAW`` data, ``.BASIS`` sets, the control namelist and the outputs.

Chapter 6 of the book fits the same spectra with the library's LCModel-style
fitter and, when the user has one, with the real ``lcmodel`` binary; this
package is the file layer between them (formats as LCModel's manual describes them):

* :mod:`mrs_lib.io.lcmodel.raw` - ``.RAW`` data (:func:`write_raw`, :func:`read_raw`),
* :mod:`mrs_lib.io.lcmodel.basis` - ``.BASIS`` sets (:func:`write_basis`,
  :func:`read_basis`, :class:`LCModelBasis`, :func:`basis_from_lcmodel`),
* :mod:`mrs_lib.io.lcmodel.control` - the control file (:func:`control_text`,
  :func:`write_control`),
* :mod:`mrs_lib.io.lcmodel.outputs` - ``.table``, ``.csv`` and ``.COORD``
  (:func:`read_table`, :func:`read_csv`, :func:`read_coord`).

Every public name is importable from here.

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

from ._conventions import LCMODEL_PPM_CENTRE
from ._text import PARAM_RTOL as PARAM_RTOL
from ._text import PathLike as PathLike
from .basis import BASIS_FORMAT as BASIS_FORMAT
from .basis import MAX_FWHMBA_PPM as MAX_FWHMBA_PPM
from .basis import MAX_METABO_LEN as MAX_METABO_LEN
from .basis import MAX_NDATAB as MAX_NDATAB
from .basis import FFTNorm as FFTNorm
from .basis import LCModelBasis, basis_from_lcmodel, lcmodel_ppm_axis, read_basis, write_basis
from .control import CONTROL_KEYS, control_text, write_control
from .outputs import Concentration as Concentration
from .outputs import (
    LCModelCoord,
    LCModelCSV,
    LCModelCSVRow,
    LCModelTable,
    read_coord,
    read_csv,
    read_table,
)
from .raw import MAX_NUNFIL as MAX_NUNFIL
from .raw import RAW_FORMAT as RAW_FORMAT
from .raw import read_raw, write_raw

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

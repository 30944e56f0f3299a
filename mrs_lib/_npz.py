"""Reading the project's own ``.npz`` files (bases, edited spectra) with errors that name the field.

Shared by :meth:`mrs_lib.sim.Basis.load_npz` and
:func:`mrs_lib.quantify.read_spectra`; kept free of heavy imports so that
``mrs_lib.sim`` does not pull in the NIfTI-MRS stack.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from .errors import MRSFormatError
from .types import WATER_PPM


@contextmanager
def open_npz(path: str | Path, required: Iterable[str], what: str) -> Iterator[Any]:
    """Open ``path`` as a numpy archive holding every key in ``required``.

    ``what`` names the kind of file in the errors ("basis", "edited-spectra"):
    a missing file, an unreadable archive or a missing key raise
    :class:`~mrs_lib.errors.MRSFormatError` naming the file and the key.
    """
    path = Path(path)
    try:
        npz = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise MRSFormatError(
            path, "file", f"an existing {what} .npz file", "no such file"
        ) from None
    except Exception as exc:
        raise MRSFormatError(path, "file", "a numpy .npz archive", str(exc)) from None
    with npz:
        for key in required:
            if key not in npz.files:
                raise MRSFormatError(path, key, f"present in the {what} .npz", "missing")
        yield npz


def spectrum_header(npz: Any) -> dict[str, Any]:
    """The :class:`~mrs_lib.spectrum.Spectrum` keyword arguments stored beside the FIDs.

    ``ppm_reference`` defaults to water (4.65 ppm) and ``te_ms`` to unknown
    (``None``) when absent or NaN.
    """
    te = float(npz["te_ms"]) if "te_ms" in npz.files else float("nan")
    return {
        "dwell_s": float(npz["dwell_s"]),
        "larmor_mhz": float(npz["larmor_mhz"]),
        "ppm_reference": float(npz["ppm_reference"]) if "ppm_reference" in npz.files else WATER_PPM,
        "te_ms": te if np.isfinite(te) else None,
    }

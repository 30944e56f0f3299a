"""A real reference for the synthetic spectra: the TARQUIN fit export of an in vivo spectrum.

:func:`load_tarquin_fit` reads the TARQUIN fit export of a real in vivo
MEGA-PRESS DIFF spectrum (registry ``tarquin-megapress-diff/...``); chapter 2
compares its linewidths with the synthetic ones.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import MRSFormatError


@dataclass(frozen=True)
class TarquinFit:
    """A TARQUIN fit export: one real spectrum with its fit and components (real parts).

    ``ppm`` ascending; ``columns`` maps the header names (``Data``, ``Fit``,
    ``Baseline``, ``GABA_A``, ...) to arrays on that axis.
    """

    label: str
    ppm: np.ndarray
    columns: Mapping[str, np.ndarray] = field(default_factory=dict)

    @property
    def data(self) -> np.ndarray:
        return self.columns["Data"]

    @property
    def fit(self) -> np.ndarray:
        return self.columns["Fit"]

    @property
    def baseline(self) -> np.ndarray:
        return self.columns["Baseline"]

    def window(self, ppm_range: tuple[float, float]) -> TarquinFit:
        """The part of the spectrum inside ``ppm_range``."""
        sel = (self.ppm >= ppm_range[0]) & (self.ppm <= ppm_range[1])
        return TarquinFit(self.label, self.ppm[sel], {k: v[sel] for k, v in self.columns.items()})


def load_tarquin_fit(path: str | os.PathLike[str]) -> TarquinFit:
    """Read a TARQUIN fit export (``*_fit.txt``): voxel label line, CSV header, rows.

    The header must start with ``PPMScale`` and contain ``Data``; every row must
    have as many numeric fields as the header. Bad input raises
    :class:`~mrs_lib.errors.MRSFormatError` naming the line.
    """
    p = Path(path)
    try:
        lines = p.read_text().splitlines()
    except FileNotFoundError:
        raise MRSFormatError(p, "file", "an existing TARQUIN fit export", "no such file") from None
    except UnicodeDecodeError:
        raise MRSFormatError(p, "file", "a text file", "binary data") from None
    lines = [ln for ln in lines if ln.strip()]
    if len(lines) < 4:
        raise MRSFormatError(
            p,
            "file",
            "a label line, a header line and at least two data rows",
            f"{len(lines)} lines",
        )
    label = lines[0].strip()
    header = [h.strip() for h in lines[1].split(",")]
    if not header or header[0] != "PPMScale" or "Data" not in header:
        raise MRSFormatError(p, "line 2 (header)", "'PPMScale,Data,...'", lines[1])
    rows = []
    for lineno, ln in enumerate(lines[2:], start=3):
        fields = ln.split(",")
        if len(fields) != len(header):
            raise MRSFormatError(p, f"line {lineno}", f"{len(header)} comma-separated values", ln)
        try:
            rows.append([float(f) for f in fields])
        except ValueError:
            raise MRSFormatError(p, f"line {lineno}", "numbers", ln) from None
    arr = np.asarray(rows)
    if not np.all(np.isfinite(arr)):
        raise MRSFormatError(p, "data", "finite numbers", "NaN or inf")
    order = np.argsort(arr[:, 0])
    arr = arr[order]
    return TarquinFit(label, arr[:, 0], {h: arr[:, i] for i, h in enumerate(header) if i > 0})


__all__ = ["TarquinFit", "load_tarquin_fit"]

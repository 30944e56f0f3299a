"""Small valid inputs shared by the CLI tests (a tiny basis that loads in milliseconds)."""

from __future__ import annotations

import numpy as np

from mrs_lib.sim.basis import Basis
from mrs_lib.spectrum import Spectrum


def tiny_basis() -> Basis:
    """Five decaying singlets at their metabolites' main shifts: a valid 512-point basis."""
    n, dwell, larmor = 512, 1 / 2000, 123.23
    t = np.arange(n) * dwell
    ppm = np.array([3.03, 3.01, 2.45, 2.35, 2.01])
    hz = (ppm - 4.65) * larmor
    fid = np.exp((2j * np.pi * hz[:, None] - 10.0) * t)
    common = {"dwell_s": dwell, "larmor_mhz": larmor, "te_ms": 68.0}
    on, off = Spectrum(fid * 1.1, **common), Spectrum(fid, **common)
    return Basis(("Cr", "GABA", "Gln", "Glu", "NAA"), on, off, lw_hz=2.0)

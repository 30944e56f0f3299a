"""A basis of Lorentzian singlets: fast, exactly known, for tests and chapter 6's demonstration."""

from __future__ import annotations

import numpy as np

from ...sim.basis import Basis
from ...spectrum import Spectrum

#: Lines (ppm, relative protons) of the toy singlet basis; ``ON`` multiplies lines by factors.
TOY_LINES: dict[str, tuple[tuple[float, float, float], ...]] = {
    # name: ((ppm, protons, ON factor), ...): ON = factor * line; DIFF = (factor - 1) * line
    "Cr": ((3.03, 3.0, 1.0), (3.92, 2.0, 1.0)),
    "GABA": ((3.01, 2.0, 2.0), (2.28, 2.0, 1.0), (1.89, 2.0, 0.0)),
    "Gln": ((2.45, 2.0, 1.0), (3.77, 1.0, 1.2)),
    "Glu": ((2.35, 2.0, 1.0), (3.75, 1.0, 1.5)),
    "NAA": ((2.01, 3.0, 0.8), (2.60, 1.0, 1.0)),
}


def toy_basis(
    n_points: int = 1024,
    dwell_s: float = 1 / 2000,
    larmor_mhz: float = 123.2,
    lw_hz: float = 2.0,
    lines: dict[str, tuple[tuple[float, float, float], ...]] | None = None,
) -> Basis:
    """A basis of Lorentzian singlets (:data:`TOY_LINES`): a fast, exactly known test basis.

    Each metabolite's OFF FID is ``sum_k protons_k exp(2 pi i f_k t - pi lw t)``;
    its ON FID multiplies each line by its ON factor, so the DIFF has the
    edited lines only. Not a physical simulation (chapter 1 has that): it is
    for tests and the from-scratch demonstration of chapter 6.
    """
    table = TOY_LINES if lines is None else lines
    t = np.arange(n_points) * dwell_s
    off, on = [], []
    for name in table:
        o = np.zeros(n_points, complex)
        e = np.zeros(n_points, complex)
        for ppm, protons, factor in table[name]:
            line = protons * np.exp(2j * np.pi * (ppm - 4.65) * larmor_mhz * t - np.pi * lw_hz * t)
            o += line
            e += factor * line
        off.append(o)
        on.append(e)

    def spectra(fids: list[np.ndarray]) -> Spectrum:
        return Spectrum(
            np.array(fids), dwell_s=dwell_s, larmor_mhz=larmor_mhz, ppm_reference=4.65, te_ms=68.0
        )

    return Basis(
        tuple(table),
        spectra(on),
        spectra(off),
        lw_hz=lw_hz,
        params={"source": "toy singlets (mrs_lib.fit.lcm.toy_basis)"},
    )

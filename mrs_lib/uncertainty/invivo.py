"""An in-vivo-like spectrum from a phantom-like one: macromolecules and more metabolites.

In vivo MEGA-PRESS spectra hold much more than the five metabolites of the
phantom-trained networks: broad macromolecule lines (0.9, 1.7 and 3.0 ppm, the
last co-edited with GABA; Behar et al. 1994), choline (3.2 ppm) and
myo-inositol (3.56 ppm) among many others (Govindaraju et al. 2000). Chapter
8 and the tests add them as extra lines to check that the out-of-domain flags
catch such a spectrum (:mod:`mrs_lib.uncertainty.domain`).
"""

from __future__ import annotations

import numpy as np

from ..sim.basis import Basis
from ..spectrum import EditedSpectra, Spectrum
from ..synth.config import INVIVO_MM

#: ``(ppm, height relative to the OFF NAA peak, linewidth Hz, in the ON spectrum too)``
INVIVO_LINES: tuple[tuple[float, float, float, bool], ...] = (
    (0.90, 0.40, 30.0, True),  # macromolecules M1
    (1.72, 0.20, 30.0, True),  # macromolecules (co-edited at 3.0 ppm)
    (3.00, 0.15, 25.0, True),  # macromolecules M3 (co-edited: GABA+)
    (3.20, 0.60, 6.0, True),  # choline
    (3.56, 0.45, 10.0, True),  # myo-inositol
)


def _line(like: Spectrum, ppm: float, lw_hz: float) -> np.ndarray:
    t = like.time_s()
    hz = (ppm - like.ppm_reference) * like.larmor_mhz
    return np.exp(2j * np.pi * hz * t - np.pi * lw_hz * t)


def add_invivo_lines(
    spectra: EditedSpectra, scale: float = 1.0, lines=INVIVO_LINES
) -> EditedSpectra:
    """``spectra`` plus macromolecule, choline and myo-inositol lines (``INVIVO_LINES``).

    Heights are relative to each spectrum's OFF NAA peak (magnitude at
    1.9-2.1 ppm) times ``scale``; the lines are in phase with the data.
    """
    off = spectra.off
    ppm = off.ppm_axis()
    spec = np.abs(off.spectrum())
    naa = spec[..., np.abs(ppm - 2.008) < 0.1].max(axis=-1)
    extra_off = np.zeros(off.fid.shape, complex)
    extra_on = np.zeros(off.fid.shape, complex)
    for p0, height, lw, in_on in lines:
        line = _line(off, p0, lw)
        peak = np.abs(np.fft.fft(line)).max()
        add = (scale * height * naa / peak)[..., None] * line
        extra_off = extra_off + add
        if in_on:
            extra_on = extra_on + add
    return EditedSpectra(
        off=off.replace(fid=off.fid + extra_off),
        on=spectra.on.replace(fid=spectra.on.fid + extra_on),
    )


def invivo_concentration_spectra(
    basis: Basis,
    n: int,
    rng: np.random.Generator | int,
    lw_hz: tuple[float, float] = (4.0, 8.0),
    noise: float = 0.005,
) -> tuple[EditedSpectra, np.ndarray]:
    """``n`` spectra of the five metabolites at in-vivo-like concentrations, and those (mM).

    Concentrations uniform in :data:`mrs_lib.synth.config.INVIVO_MM`, one
    Lorentzian linewidth per spectrum in ``lw_hz`` (total), complex Gaussian
    time-domain noise of SD ``noise x max |FID|``. Only the five metabolites:
    :func:`add_invivo_lines` adds the rest.
    """
    rng = np.random.default_rng(rng)
    lo = np.array([INVIVO_MM[m][0] for m in basis.metabolites])
    hi = np.array([INVIVO_MM[m][1] for m in basis.metabolites])
    conc = rng.uniform(lo, hi, size=(int(n), len(lo)))
    extra = np.maximum(rng.uniform(*lw_hz, size=int(n)) - basis.lw_hz, 0.0)
    clean = basis.mix(conc).map(lambda s: s.broaden(extra))

    def noisy(s: Spectrum) -> Spectrum:
        sd = noise * np.abs(s.fid).max(axis=-1, keepdims=True)
        white = rng.standard_normal(s.fid.shape) + 1j * rng.standard_normal(s.fid.shape)
        return s.replace(fid=s.fid + sd * white)

    return EditedSpectra(off=noisy(clean.off), on=noisy(clean.on)), conc


__all__ = ["INVIVO_LINES", "add_invivo_lines", "invivo_concentration_spectra"]

"""What a MEGA editing pulse inverts: its frequency profile at named resonances (chapter 1).

MEGA-PRESS edits GABA with a frequency-selective 180 degree pulse at 1.9 ppm
(ON) or far away (OFF, 7.4-7.5 ppm). Whatever the ON pulse inverts and the OFF
pulse does not is *edited*: its coupling partners' evolution is refocused in
ON only and survives in the difference ON - OFF. The selectivity of the pulse
is therefore the selectivity of the experiment. The ON pulse is meant to invert
GABA's H3 protons (1.89 ppm, coupled to the H4 protons at 3.01 ppm), but a
Gaussian pulse of finite duration also reaches:

* NAA's acetyl singlet (2.01 ppm): inverted, a large negative line in DIFF;
* the H3 protons of glutamate and glutamine near 2.1 ppm: Glx co-edited at 3.75 ppm;
* macromolecules at 1.72 ppm, the coupling partner of the MM3co signal at
  3.0 ppm: co-edited under GABA (the "GABA+" of in vivo studies).

For one spin the pulse acts as a rotation; :func:`editing_profile` gives the
longitudinal magnetisation ``Mz`` after it (``+1`` untouched, ``-1`` inverted),
computed with :func:`mrs_lib.sim.pulses.inversion_profile` from the same
truncated Gaussian (:func:`mrs_lib.sim.pulses.gaussian_pulse`) that the
simulator of :mod:`mrs_lib.sim.sequence` uses. A shape stretched in time by a
factor ``k`` and scaled by area to the same flip angle has the same profile on
a frequency axis compressed by ``k``: the inverted band's width is inversely
proportional to the pulse duration (:func:`editing_bandwidth_hz`, ~60 Hz at
20 ms). The widget :func:`mrs_lib.widgets.editing_profile_figure` draws it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from .pulses import gaussian_pulse, inversion_profile, profile_fwhm_hz

#: Resonances near the ON pulse that decide what a MEGA-PRESS DIFF spectrum holds: label -> ppm.
#: GABA H3 (1.889 ppm) is the target; NAA's acetyl singlet (2.008 ppm), the Glx H3
#: protons (Glu 2.04/2.12, Gln 2.11/2.13 ppm; 2.10 as their centre) and the
#: macromolecule resonance at 1.72 ppm (coupled to MM3co at 3.0 ppm) are its neighbours.
EDITING_TARGETS: dict[str, float] = {
    "MM 1.72": 1.72,
    "GABA H3": 1.889,
    "NAA": 2.008,
    "Glx H3": 2.10,
}

#: The Larmor frequency of the paper's scanner (the ``paper`` preset), MHz.
PAPER_LARMOR_MHZ = 123.23


def editing_profile(
    ppm: npt.ArrayLike,
    centre_ppm: float,
    duration_ms: float = 20.0,
    larmor_mhz: float = PAPER_LARMOR_MHZ,
    *,
    sigma_frac: float = 0.53,
    n_steps: int = 100,
) -> np.ndarray:
    """``Mz`` after a Gaussian editing pulse centred at ``centre_ppm``, for spins at ``ppm``.

    ``+1``: untouched; ``-1``: fully inverted. The pulse is
    :func:`~mrs_lib.sim.pulses.gaussian_pulse` (``sigma_frac``, ``n_steps`` as in
    :class:`~mrs_lib.sim.sequence.MegaPress`), 180 degrees by area; the offset of
    a spin is ``(ppm - centre_ppm) * larmor_mhz`` Hz.
    """
    pulse = gaussian_pulse(duration_ms, n_steps=n_steps, sigma_frac=sigma_frac)
    offsets_hz = (np.asarray(ppm, dtype=float) - centre_ppm) * larmor_mhz
    return inversion_profile(pulse, offsets_hz)


def inverted_fraction(
    centre_ppm: float,
    duration_ms: float = 20.0,
    larmor_mhz: float = PAPER_LARMOR_MHZ,
    targets: Mapping[str, float] | None = None,
    *,
    sigma_frac: float = 0.53,
    n_steps: int = 100,
) -> dict[str, float]:
    """``(1 - Mz) / 2`` at each target resonance: 1 = inverted, 0 = untouched.

    ``targets`` maps labels to ppm (default :data:`EDITING_TARGETS`); ``sigma_frac``
    and ``n_steps`` shape the pulse as in :func:`editing_profile`. The
    difference of this fraction between the ON and the OFF pulse is how much a
    resonance is edited.
    """
    targets = EDITING_TARGETS if targets is None else targets
    ppm = np.array(list(targets.values()), dtype=float)
    mz = editing_profile(
        ppm, centre_ppm, duration_ms, larmor_mhz, sigma_frac=sigma_frac, n_steps=n_steps
    )
    return {label: float((1 - m) / 2) for label, m in zip(targets, mz, strict=True)}


def editing_bandwidth_hz(duration_ms: float = 20.0, *, sigma_frac: float = 0.53) -> float:
    """Full width at half inversion (Hz) of the Gaussian editing pulse: ~60 Hz at 20 ms.

    Proportional to ``1 / duration_ms`` (a time-stretched pulse of the same flip
    angle has a frequency-compressed profile).
    """
    pulse = gaussian_pulse(duration_ms, sigma_frac=sigma_frac)
    return profile_fwhm_hz(pulse, "inversion")


__all__ = [
    "EDITING_TARGETS",
    "PAPER_LARMOR_MHZ",
    "editing_bandwidth_hz",
    "editing_profile",
    "inverted_fraction",
]

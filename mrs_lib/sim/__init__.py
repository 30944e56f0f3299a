"""Simulation of MEGA-PRESS basis spectra (chapter 1 of the book).

* :mod:`~mrs_lib.sim.spins` - spin systems as data, strong-coupling Hamiltonians;
* :mod:`~mrs_lib.sim.pulses` - shaped RF pulses and their profiles;
* :mod:`~mrs_lib.sim.editing` - what an editing pulse inverts (GABA H3, NAA, Glx,
  the 1.72 ppm macromolecules);
* :mod:`~mrs_lib.sim.sequence` - the MEGA-PRESS density-matrix engine
  (eigenbasis evolution, coherence filters, 1D-projection slice profiles);
* :mod:`~mrs_lib.sim.presets` - named protocols;
* :mod:`~mrs_lib.sim.basis` - the :class:`Basis` container, :func:`simulate_basis`
  (cached) and the external FID-A reference.
"""

from .basis import (
    SIMULATOR_VERSION,
    Basis,
    basis_from_lines,
    load_fida_reference,
    simulate_basis,
    simulate_lines,
)
from .presets import PRESET_NAMES, PRESETS, Preset, get_preset
from .pulses import ShapedPulse, gaussian_pulse, sinc_pulse
from .sequence import LineList, MegaPress, pulse_acquire, simulate_system
from .spins import GABA_MODELS, SpinPart, SpinSystem, spin_system

__all__ = [
    "GABA_MODELS",
    "PRESETS",
    "PRESET_NAMES",
    "SIMULATOR_VERSION",
    "Basis",
    "LineList",
    "MegaPress",
    "Preset",
    "ShapedPulse",
    "SpinPart",
    "SpinSystem",
    "basis_from_lines",
    "gaussian_pulse",
    "get_preset",
    "load_fida_reference",
    "pulse_acquire",
    "simulate_basis",
    "simulate_lines",
    "simulate_system",
    "sinc_pulse",
    "spin_system",
]

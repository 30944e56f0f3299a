"""Simulation of MEGA-PRESS basis spectra (chapter 1 of the book)."""

from .basis import Basis, load_fida_reference

__all__ = ["Basis", "load_fida_reference"]

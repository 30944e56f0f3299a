"""Conventional quantification (chapter 6): an LCModel-style fitter, a Gannet-style
GABA+/Cr peak fit and an adapter for the external ``lcmodel`` binary.

Submodules are imported on use: ``from mrs_lib.fit.lcm import fit_lcm``.
"""

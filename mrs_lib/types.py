"""Names, string options and physical constants shared by every part of the library.

All string options are ``Literal`` aliases defined here and nowhere else, so a
typo is a type error and the allowed values are listed in one place
(see the book's introduction for the pipeline these names flow through).
"""

from __future__ import annotations

from typing import Literal, get_args

#: The five metabolites of the paper, in the order used for every target vector.
Metabolite = Literal["Cr", "GABA", "Gln", "Glu", "NAA"]
#: The metabolite names as a tuple, in target-vector order.
METABOLITES: tuple[Metabolite, ...] = get_args(Metabolite)

#: MEGA-PRESS sub-spectra. ``diff`` is always ``on - off`` inside the library
#: (Gannet's ``(on - off) / 2`` is applied only where a method asks for it).
EditState = Literal["off", "on", "diff"]
#: The sub-spectrum names as a tuple: ``("off", "on", "diff")``.
EDIT_STATES: tuple[EditState, ...] = get_args(EditState)

#: Lineshapes for broadening (time-domain apodisation, area preserving).
Lineshape = Literal["lorentzian", "gaussian", "voigt"]
#: The lineshape names as a tuple.
LINESHAPES: tuple[Lineshape, ...] = get_args(Lineshape)

#: The single scale switch (environment variable ``MRS_SCALE``).
Scale = Literal["tiny", "book", "paper"]
#: The scale names as a tuple, smallest first.
SCALES: tuple[Scale, ...] = get_args(Scale)

#: Quantifier families.
ModelName = Literal["cnn", "fcnn", "yae"]
#: The network family names as a tuple.
MODEL_NAMES: tuple[ModelName, ...] = get_args(ModelName)

#: Proton gyromagnetic ratio gamma / 2 pi in MHz per tesla (CODATA 2018).
PROTON_GAMMA_MHZ_PER_T: float = 42.577478518

#: Chemical shift of water at body temperature, the usual receiver centre (ppm).
WATER_PPM: float = 4.65

#: The network input grid of the paper: 1.0-4.5 ppm sampled at 2048 points.
NETWORK_PPM_RANGE: tuple[float, float] = (1.0, 4.5)
#: Number of points of the network input grid on ``NETWORK_PPM_RANGE``.
NETWORK_POINTS: int = 2048

__all__ = [
    "EDIT_STATES",
    "LINESHAPES",
    "METABOLITES",
    "MODEL_NAMES",
    "NETWORK_POINTS",
    "NETWORK_PPM_RANGE",
    "PROTON_GAMMA_MHZ_PER_T",
    "SCALES",
    "WATER_PPM",
    "EditState",
    "Lineshape",
    "Metabolite",
    "ModelName",
    "Scale",
]

"""Bases made for synthesis: a singlet oracle and a finely sampled simulated basis.

* :func:`singlet_basis` - one unbroadened singlet per metabolite: every line's
  position, phase, area and width is known, so tests and chapter 2 can check
  the generator's physics exactly;
* :func:`resolve_bases` - the bases of a synthesis: one, a list, or the bank of
  simulated variants (:mod:`mrs_lib.sim.variants`);
* :func:`fine_basis` - the simulated basis at 20 kHz for about 1 s, from which
  every acquisition grid of the ``full`` preset is an exact decimation
  (:func:`mrs_lib.synth.grid.resample_fid`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import MRSDataError
from ..io.bases import BasisSpec, resolve_basis
from ..sim import basis_from_lines, get_preset, simulate_lines
from ..sim.basis import Basis
from ..spectrum import Spectrum
from ..types import METABOLITES


def singlet_basis(
    ppms: Sequence[float] = (3.03, 3.0, 3.75, 2.35, 2.01),
    on_gain: Sequence[float] = (1.0, 1.5, 0.5, 0.7, 0.9),
    *,
    metabolites: Sequence[str] = METABOLITES,
    n_points: int = 2048,
    bw_hz: float = 2000.0,
    larmor_mhz: float = 127.731,
    ppm_reference: float = 3.0,
) -> Basis:
    """A toy basis: one unbroadened singlet per metabolite, ON = ``on_gain`` x OFF.

    Not MEGA-PRESS physics - an oracle: every line has a known position, phase
    (absorptive), area (``fid(0) = 1``) and linewidth (0 Hz), so tests and the
    chapter can check broadening, shifts, phases, noise and SNR exactly.
    """
    t = np.arange(int(n_points)) / float(bw_hz)
    fids = np.stack([np.exp(2j * np.pi * (p - ppm_reference) * larmor_mhz * t) for p in ppms])
    dwell_s = 1 / float(bw_hz)
    on = fids * np.asarray(on_gain, dtype=float)[:, np.newaxis]
    return Basis(
        tuple(metabolites)[: len(ppms)],
        Spectrum(on, dwell_s=dwell_s, larmor_mhz=larmor_mhz, ppm_reference=ppm_reference),
        Spectrum(fids, dwell_s=dwell_s, larmor_mhz=larmor_mhz, ppm_reference=ppm_reference),
        lw_hz=0.0,
        params={"source": "singlet_basis", "ppms": list(ppms), "on_gain": list(on_gain)},
    )


def fine_basis(
    preset: str = "paper",
    *,
    bw_hz: float = 20000.0,
    duration_s: float = 1.024,
    grid_points: int | None = None,
    **kwargs: Any,
) -> Basis:
    """A simulated basis sampled at ``bw_hz`` for ``duration_s`` (for the acquisition grids).

    The simulator keeps line lists (:func:`mrs_lib.sim.simulate_lines`), so any
    readout is exact; 20 kHz is a common multiple of 1250, 2000 and 4000 Hz, so
    every grid of the ``full`` preset is then an exact decimation
    (:func:`~mrs_lib.synth.grid.resample_fid`). ``grid_points`` as in
    :func:`mrs_lib.sim.simulate_basis`; other ``kwargs`` go to ``simulate_lines``.
    """
    pre = get_preset(preset)
    if grid_points is not None:
        pre = pre.replace(grid_points=int(grid_points))
    lines = simulate_lines(pre, **{"progress": False, **kwargs})
    n = round(float(duration_s) * float(bw_hz))
    return basis_from_lines(lines, pre.replace(bw_hz=float(bw_hz), n_points=n))


#: The ``basis`` name of :func:`resolve_bases` (and ``synthesize``) for the default bank.
BANK_NAME = "bank"
#: The bank plus the nominal ``paper`` basis, drawn for half of the spectra (:func:`resolve_bases`).
BANK_PAPER_NAME = "bank+paper"
#: Names of bases that vary the ``paper`` basis (scored on it in distribution).
BANK_NAMES: tuple[str, ...] = (BANK_NAME, BANK_PAPER_NAME)


def resolve_bases(spec: BasisSpec | Sequence[Basis]) -> tuple[Basis, ...]:
    """The bases a synthesis draws from, one per spectrum.

    ``"bank"`` (:data:`BANK_NAME`): the default bank of basis variants,
    :func:`mrs_lib.sim.variants.build_bank` with seed 0; ``"bank+paper"``
    (:data:`BANK_PAPER_NAME`): the bank and the nominal ``paper`` basis, the
    nominal one listed as often as the bank has variants, so that it makes
    half of the spectra (randomised training that keeps its in-distribution
    accuracy on the nominal basis); a list of
    :class:`~mrs_lib.sim.basis.Basis`: those; anything else: the one basis
    :func:`mrs_lib.io.bases.resolve_basis` makes of it.
    """
    if isinstance(spec, str) and spec == BANK_NAME:
        from ..sim.variants import build_bank

        return build_bank().bases
    if isinstance(spec, str) and spec == BANK_PAPER_NAME:
        from ..sim.variants import build_bank

        variants = build_bank().bases
        return (*variants, *[resolve_basis("paper")] * len(variants))
    if isinstance(spec, Sequence) and not isinstance(spec, str):
        bases = tuple(spec)
        if not bases or not all(isinstance(x, Basis) for x in bases):
            raise MRSDataError(
                f"argument 'basis': expected a non-empty list of bases, got {spec!r}"
            )
        return bases
    return (resolve_basis(spec),)


__all__ = [
    "BANK_NAME",
    "BANK_NAMES",
    "BANK_PAPER_NAME",
    "fine_basis",
    "resolve_bases",
    "singlet_basis",
]

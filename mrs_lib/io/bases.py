"""Bases by name or path: the one resolver behind ``--basis`` in every command.

A basis is named in one of four ways:

* ``"paper"`` - the project's simulated basis (:func:`mrs_lib.sim.simulate_basis`
  with the ``paper`` preset, chapter 1), built once and cached on disk and in
  memory;
* ``"fida"`` (:data:`FIDA_NAME`) - the external FID-A reference basis
  (:func:`mrs_lib.sim.load_fida_reference`);
* a ``.npz`` file written by ``mrs simulate`` (:meth:`mrs_lib.sim.Basis.load_npz`);
* a NIfTI-MRS basis (``.nii`` / ``.nii.gz``, :func:`mrs_lib.io.nifti.load_basis`).

Training (:func:`mrs_lib.synth.dataset.synthesize`), ``mrs synth`` and ``mrs fit``
all call :func:`resolve_basis`, so a name means the same basis everywhere.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from ..errors import MRSDataError
from ..sim.basis import Basis, load_fida_reference, simulate_basis
from .nifti import load_basis

PAPER_NAME = "paper"
FIDA_NAME = "fida"
BASIS_NAMES: tuple[str, ...] = (PAPER_NAME, FIDA_NAME)
"""Names :func:`resolve_basis` knows without a file."""

BasisSpec = str | os.PathLike[str] | Basis
"""What ``--basis`` and ``basis=`` accept: a name of :data:`BASIS_NAMES`, a file, or a basis."""


@functools.lru_cache(maxsize=4)
def _named(name: str) -> Basis:
    if name == FIDA_NAME:
        return load_fida_reference()
    return simulate_basis(PAPER_NAME, progress=False)


def resolve_basis(spec: BasisSpec) -> Basis:
    """The :class:`~mrs_lib.sim.Basis` named by ``spec`` (see the module docstring).

    Named bases are cached, so repeated calls return the same object; files
    are read anew each time. Raises :class:`~mrs_lib.errors.MRSDataError`
    naming what was expected for anything else.
    """
    if isinstance(spec, Basis):
        return spec
    text = os.fspath(spec)
    if text in BASIS_NAMES:
        return _named(text)
    path = Path(text)
    name = path.name.lower()
    if name.endswith(".npz"):
        return Basis.load_npz(path)
    if name.endswith((".nii", ".nii.gz")):
        return load_basis(path)
    raise MRSDataError(
        f"basis {text!r}: expected {PAPER_NAME!r} (simulated), {FIDA_NAME!r} (external FID-A "
        "reference), a .npz basis written by 'mrs simulate' or a NIfTI-MRS basis (.nii, .nii.gz)"
    )


__all__ = ["BASIS_NAMES", "FIDA_NAME", "PAPER_NAME", "BasisSpec", "resolve_basis"]

"""Uncertainty and trust for network estimates (chapter 8).

* :mod:`~mrs_lib.uncertainty.ensemble`: a deep ensemble shipped as one file
  (:func:`pack_ensemble`, :func:`load_ensemble`);
* :mod:`~mrs_lib.uncertainty.calibration`: conformal scale factors on the
  ensemble's spread per metabolite and nominal level, coverage checks;
* :mod:`~mrs_lib.uncertainty.domain`: out-of-domain flags (linewidth, SNR,
  shift, phase, residual water, ensemble disagreement, YAE reconstruction);
* :mod:`~mrs_lib.uncertainty.quantifier`: :class:`EnsembleQuantifier`, the
  calibrated ensemble behind ``mrs quantify --method cnn-ensemble``;
* :mod:`~mrs_lib.uncertainty.build`: :func:`build_ensemble` (``mrs ensemble
  build``) and :func:`evaluate_ensemble`;
* :mod:`~mrs_lib.uncertainty.plots`: the reliability diagram.
"""

from __future__ import annotations

from .build import build_ensemble, evaluate_ensemble
from .ensemble import Ensemble, is_ensemble, load_ensemble, pack_ensemble
from .plots import plot_reliability
from .quantifier import EnsembleQuantifier

__all__ = [
    "Ensemble",
    "EnsembleQuantifier",
    "build_ensemble",
    "evaluate_ensemble",
    "is_ensemble",
    "load_ensemble",
    "pack_ensemble",
    "plot_reliability",
]

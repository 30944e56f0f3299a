"""The public LCModel-style fitter: :class:`LCMFitter` (model + solver) and :func:`fit_lcm`."""

from __future__ import annotations

from typing import Any

from ..._threads import blas_threads
from ...errors import MRSDataError
from ...sim.basis import Basis
from ...spectrum import Spectrum
from ...types import EditState
from .config import LCMConfig, RatioPrior, resolve_config
from .model import LCMModel
from .result import LCMFit
from .solver import LCMSolver


class LCMFitter:
    """LCModel-style fitter for one basis and one edit state (:mod:`mrs_lib.fit.lcm`).

    Combines the model (:class:`~mrs_lib.fit.lcm.model.LCMModel`), which
    precomputes everything that depends only on the basis and the data's
    acquisition grid, with the solver (:class:`~mrs_lib.fit.lcm.solver.LCMSolver`);
    :meth:`fit` then fits one spectrum. Chapter 6 of the book builds it up
    from NNLS on a basis.

    Parameters
    ----------
    basis
        Basis set. One sampled otherwise than the data (another bandwidth,
        length, or a field within 20 %) is resampled to the data's grid, as
        LCModel does (:mod:`~mrs_lib.fit.lcm.resample`).
    mode
        ``"off"``, ``"on"`` or ``"diff"``: which basis spectra to fit with.
    config
        :class:`~mrs_lib.fit.lcm.config.LCMConfig`; keyword overrides may be
        given as ``**overrides``.
    """

    def __init__(
        self,
        basis: Basis,
        mode: EditState = "off",
        config: LCMConfig | None = None,
        **overrides: Any,
    ) -> None:
        cfg = resolve_config(mode, config, overrides)
        self.config = cfg
        self.mode = mode
        self.basis = basis
        self.metabolites = basis.metabolites
        self.model = LCMModel(basis, mode, cfg)
        self.solver = LCMSolver(self.model)

    def fit(self, spectrum: Spectrum, prior: RatioPrior | None = None) -> LCMFit:
        """Fit one spectrum (no batch dimension); :mod:`mrs_lib.fit.lcm` describes the model.

        ``prior``: an optional :class:`~mrs_lib.fit.lcm.config.RatioPrior` pulling the
        concentration ratios towards another estimate (e.g. a network's).
        """
        if spectrum.batch_shape:
            raise MRSDataError(
                f"argument 'spectrum': expected a single spectrum, got batch shape "
                f"{spectrum.batch_shape}; use fit_many()"
            )
        with blas_threads(self.config.blas_threads):
            return self.solver.fit(spectrum, prior)

    def fit_many(self, spectra: Spectrum) -> list[LCMFit]:
        """Fit every spectrum of a batch (any batch shape, flattened in C order)."""
        if not spectra.batch_shape:
            return [self.fit(spectra)]
        flat = spectra.replace(fid=spectra.fid.reshape(-1, spectra.n_points))
        return [self.fit(flat[i]) for i in range(flat.batch_shape[0])]


def fit_lcm(
    spectrum: Spectrum,
    basis: Basis,
    mode: EditState | None = None,
    config: LCMConfig | None = None,
    **overrides: Any,
) -> LCMFit | list[LCMFit]:
    """Fit one spectrum (or each of a batch) with :class:`LCMFitter`.

    ``mode`` defaults to ``spectrum.edit`` (then ``"off"``).
    """
    m: EditState = mode or spectrum.edit or "off"
    fitter = LCMFitter(basis, m, config, **overrides)
    return fitter.fit(spectrum) if not spectrum.batch_shape else fitter.fit_many(spectrum)

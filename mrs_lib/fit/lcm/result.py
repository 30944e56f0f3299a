"""What the LCModel-style fitter returns: :class:`LCMFit`, and OFF + DIFF results combined."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

#: Cramér-Rao %SD reported for a concentration on its bound (LCModel's convention).
SD_ON_BOUND = 999.0


@dataclass(frozen=True, eq=False)
class LCMFit:
    """One fitted spectrum: concentrations, %SD, nonlinear parameters and curves.

    Concentrations are in basis units: ``data ~ sum_j C_j basis_j``. Curves are
    on ``ppm`` (ascending) in data units, phased like the data.
    """

    metabolites: tuple[str, ...]
    concentrations: np.ndarray
    sd_percent: np.ndarray
    mode: str
    phase0_deg: float
    phase1_deg_per_ppm: float
    pivot_ppm: float
    shift_ppm: float
    lorentzian_hz: float
    gaussian_hz: float
    damping_hz: np.ndarray
    shifts_ppm: np.ndarray
    ppm: np.ndarray
    data: np.ndarray
    fit: np.ndarray
    baseline: np.ndarray
    components: np.ndarray
    residual_sd: float
    noise_sd: float
    n_starts: int
    nfev: int
    success: bool
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def residual(self) -> np.ndarray:
        """Data minus fit (including baseline)."""
        return self.data - self.fit

    def table(self) -> list[tuple[str, float, float]]:
        """Rows ``(metabolite, concentration, %SD)`` in basis order."""
        return [
            (m, float(c), float(s))
            for m, c, s in zip(self.metabolites, self.concentrations, self.sd_percent, strict=True)
        ]


def combine_edited(
    fit_off: LCMFit, fit_diff: LCMFit, from_diff: Sequence[str] = ("GABA",)
) -> tuple[np.ndarray, np.ndarray]:
    """Concentrations and %SD taking ``from_diff`` metabolites from the DIFF fit, the rest from OFF.

    Both fits use the same basis scale (DIFF basis = ON - OFF basis), so the
    numbers are directly comparable: this is how an edited acquisition is
    quantified with LCModel (GABA from the DIFF, the rest from the OFF).
    """
    conc = fit_off.concentrations.copy()
    sd = fit_off.sd_percent.copy()
    for m in from_diff:
        i = fit_off.metabolites.index(m)
        conc[i] = fit_diff.concentrations[fit_diff.metabolites.index(m)]
        sd[i] = fit_diff.sd_percent[fit_diff.metabolites.index(m)]
    return conc, sd

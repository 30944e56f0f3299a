"""The LCModel-style picture of one fit: data, fit, baseline, components and residual."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .result import LCMFit

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def plot_fit(
    fit: LCMFit, ax: Axes | None = None, components: bool = True, offset: float | None = None
) -> Axes:
    """Data, fit, baseline, per-metabolite curves and the residual of one :class:`LCMFit`.

    The residual is drawn above the spectrum (shifted by ``offset``, default
    0.6 x the data's range), LCModel style; the ppm axis runs high to low.
    Returns the matplotlib axes.
    """
    # Imported on use: importing the fitter should not load pyplot (nor choose its backend).
    import matplotlib.pyplot as plt

    if ax is None:
        _fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
    span = float(np.ptp(fit.data)) or 1.0
    off = 0.6 * span if offset is None else offset
    ax.plot(fit.ppm, fit.data, color="0.3", lw=1, label="data")
    ax.plot(fit.ppm, fit.fit, color="C3", lw=1.2, label="fit")
    if np.any(fit.baseline):
        ax.plot(fit.ppm, fit.baseline, color="C2", lw=1, label="baseline")
    if components:
        low = float(np.min(fit.data)) - 0.15 * span
        for i, (name, curve) in enumerate(zip(fit.metabolites, fit.components, strict=True)):
            if np.any(curve):
                ax.plot(fit.ppm, curve + low - 0.25 * span * i, lw=0.8, label=name)
    top = float(np.max(fit.data))
    ax.plot(fit.ppm, fit.residual + top + off, color="0.5", lw=0.8, label="residual")
    ax.set_xlim(fit.ppm.max(), fit.ppm.min())
    ax.set_xlabel("chemical shift (ppm)")
    ax.set_yticks([])
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
    ax.set_title(f"LCModel-style fit ({fit.mode.upper()})")
    return ax

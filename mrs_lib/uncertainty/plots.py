"""The reliability diagram: nominal against observed coverage of the ensemble's intervals."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def plot_reliability(
    calibration: Mapping[str, Any], quantity: str = "fraction", ax: Any = None, raw: bool = True
) -> Any:
    """Observed coverage on the independent check set against the nominal level, per metabolite.

    ``calibration`` is an ensemble's calibration record (``Ensemble.calibration``,
    with its ``check`` entry); ``quantity`` ``"fraction"`` or ``"ratio_to_cr"``.
    Solid lines: the calibrated intervals; dotted (``raw``): Gaussian intervals
    on the uncalibrated spread. The grey band marks the targets 63-73 % and
    91-98 % at the nominal 68 % and 95 %.
    """
    if ax is None:
        import matplotlib.pyplot as plt

        _fig, ax = plt.subplots(figsize=(4.5, 4.5))
    rel = calibration["check"][quantity]
    levels = rel["levels"]
    ax.plot([0, 1], [0, 1], color="k", lw=0.8, label="ideal")
    for lv, (lo, hi) in ((0.68, (0.63, 0.73)), (0.95, (0.91, 0.98))):
        ax.plot([lv, lv], [lo, hi], color="0.6", lw=6, alpha=0.5, solid_capstyle="butt")
    for i, (name, obs) in enumerate(rel["calibrated"].items()):
        ax.plot(levels, obs, "o-", ms=3, color=f"C{i}", label=name)
        if raw:
            ax.plot(levels, rel["raw"][name], ":", color=f"C{i}")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("nominal coverage")
    ax.set_ylabel(f"observed coverage (n = {rel['n']}, independent set)")
    ax.set_title("reliability: calibrated (solid), raw spread (dotted)")
    ax.legend(fontsize=7, loc="upper left")
    return ax


__all__ = ["plot_reliability"]

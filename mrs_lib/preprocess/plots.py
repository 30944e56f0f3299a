"""One plot per preprocessing step, each drawn from a :class:`PreprocessResult`.

Every function takes the result (and optionally a matplotlib ``Axes``) and
returns the axes; :func:`plot_all` puts them on one figure. Spectra are drawn
as real parts with the ppm axis running right to left.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .pipeline import PreprocessResult


def _axes(ax: Any) -> Any:
    if ax is None:
        import matplotlib.pyplot as plt

        _fig, ax = plt.subplots(figsize=(6, 3.5))
    return ax


def _spectrum_lines(
    ax: Any, result: PreprocessResult, fid: np.ndarray, label: str, ppm_range=(1.0, 5.0), **kw: Any
) -> None:
    like = result.scan.like()
    ppm = like.ppm_axis(fid.shape[-1])
    spec = np.fft.fftshift(np.fft.fft(fid, axis=-1), axes=-1)
    sel = (ppm >= ppm_range[0]) & (ppm <= ppm_range[1])
    ax.plot(ppm[sel], spec[..., sel].real.T, label=label, **kw)
    ax.set_xlim(ppm_range[1], ppm_range[0])
    ax.set_xlabel("chemical shift (ppm)")


def plot_coil_weights(result: PreprocessResult, ax: Any = None) -> Any:
    """Weight magnitude per coil (bars) and noise SD (dots)."""
    ax = _axes(ax)
    if result.coil is None:
        ax.set_title("coil combination: one coil")
        return ax
    w = np.abs(result.coil.weights)
    ax.bar(np.arange(len(w)), w / w.max(), color="C0", label="|weight| (relative)")
    ax.plot(result.coil.noise_sd / result.coil.noise_sd.max(), "o", color="C3", label="noise SD")
    ax.set_xlabel("coil")
    ax.set_title(f"coil combination ({result.coil.method})")
    ax.legend(fontsize=7)
    return ax


def plot_eddy_current(result: PreprocessResult, ax: Any = None) -> Any:
    """The eddy-current phase removed (degrees against time)."""
    ax = _axes(ax)
    if result.eddy_phase is None:
        ax.set_title("eddy-current correction: skipped")
        return ax
    t = result.scan.like().time_s()
    ax.plot(t * 1e3, np.degrees(result.eddy_phase))
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("phase (deg)")
    ax.set_title("eddy-current phase (water reference)")
    return ax


def plot_alignment(result: PreprocessResult, ax: Any = None) -> Any:
    """Per-transient frequency and phase corrections, OFF and ON."""
    ax = _axes(ax)
    if result.alignment is None:
        ax.set_title("alignment: skipped")
        return ax
    names = ("OFF", "ON") if result.alignment.shift_hz.shape[1] == 2 else ("",)
    for e, name in enumerate(names):
        ax.plot(result.alignment.shift_hz[:, e], ".-", label=f"shift {name} (Hz)")
    twin = ax.twinx()
    for e, name in enumerate(names):
        twin.plot(
            result.alignment.phase_deg[:, e],
            "x",
            alpha=0.6,
            label=f"phase {name}",
            color=f"C{e + 2}",
        )
    twin.set_ylabel("phase (deg)")
    ax.set_xlabel("transient")
    ax.set_ylabel("shift (Hz)")
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title("spectral registration")
    return ax


def plot_rejection(result: PreprocessResult, ax: Any = None) -> Any:
    """Robust z-score per transient with the threshold; rejected ones marked."""
    ax = _axes(ax)
    rej = result.rejection
    if rej is None:
        ax.set_title("rejection: skipped")
        return ax
    for e in range(rej.z.shape[1]):
        ax.plot(rej.z[:, e], ".", label=("OFF", "ON")[e] if rej.z.shape[1] == 2 else None)
        bad = np.flatnonzero(rej.rejected[:, e])
        ax.plot(bad, rej.z[bad, e], "rx", ms=9)
    ax.axhline(rej.threshold, color="k", ls="--", lw=0.8)
    ax.set_xlabel("transient")
    ax.set_ylabel("robust z")
    ax.set_title(f"rejection: {int(rej.rejected.sum())} transients")
    return ax


def plot_averaging(result: PreprocessResult, ax: Any = None) -> Any:
    """Averaged OFF before (unaligned) and after alignment and rejection."""
    ax = _axes(ax)
    _spectrum_lines(ax, result, result.stages["unaligned_average"][0], "unaligned", lw=0.8)
    _spectrum_lines(ax, result, result.stages["average"][0], "aligned", lw=0.8)
    ax.legend(fontsize=7)
    ax.set_title("average (OFF)")
    return ax


def plot_water_removal(result: PreprocessResult, ax: Any = None) -> Any:
    """Averaged OFF before and after HLSVD water removal (0.5-5.5 ppm)."""
    ax = _axes(ax)
    _spectrum_lines(ax, result, result.stages["average"][0], "before", (0.5, 5.5), lw=0.8)
    _spectrum_lines(ax, result, result.stages["water_removed"][0], "after", (0.5, 5.5), lw=0.8)
    ax.legend(fontsize=7)
    ax.set_title("residual water removal (HLSVD)")
    return ax


def plot_final(result: PreprocessResult, ax: Any = None) -> Any:
    """Final (referenced, phased) OFF, ON and DIFF spectra, 1.5-4.2 ppm."""
    ax = _axes(ax)
    final = result.stages["final"]
    names = ("OFF", "ON") if final.shape[0] == 2 else ("spectrum",)
    for e, name in enumerate(names):
        _spectrum_lines(ax, result, final[e], name, (1.5, 4.2), lw=0.8)
    if final.shape[0] == 2:
        _spectrum_lines(ax, result, final[1] - final[0], "DIFF", (1.5, 4.2), lw=0.8)
    for p in (2.008, 3.027):
        ax.axvline(p, color="k", lw=0.5, ls=":")
    ax.legend(fontsize=7)
    ax.set_title(
        f"referenced ({result.reference_shift_hz:+.2f} Hz), phased ({result.phase0_deg:+.1f} deg)"
    )
    return ax


PLOTS = (
    plot_coil_weights,
    plot_eddy_current,
    plot_alignment,
    plot_rejection,
    plot_averaging,
    plot_water_removal,
    plot_final,
)


def plot_all(result: PreprocessResult) -> Any:
    """Every step's plot on one figure (returns the figure)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 4, figsize=(18, 7), constrained_layout=True)
    for fn, ax in zip(PLOTS, axes.flat, strict=False):
        fn(result, ax)
    axes.flat[-1].axis("off")
    return fig


__all__ = [
    "PLOTS",
    "plot_alignment",
    "plot_all",
    "plot_averaging",
    "plot_coil_weights",
    "plot_eddy_current",
    "plot_final",
    "plot_rejection",
    "plot_water_removal",
]

"""Out-of-domain flags for network estimates: is this spectrum like the training spectra?

A network trained on simulated spectra of one synthesis preset (for the
shipped networks: phantom-like, five metabolites, Lorentzian lines of 2-10 Hz,
no shift, phase, water or macromolecules) quantifies anything it is given.
Before its numbers are reported, five features of the network input (the
complex OFF/ON spectra on the network's ppm grid, normalised as the network
sees them) are compared with the range they take on simulated spectra of the
network's own preset (:func:`fit_domain`), and so are two model-based
scores:

``linewidth_hz``
    full width at half maximum of the taller of the NAA (2.008 ppm) and Cr
    (3.027 ppm) singlets in the OFF spectrum, after removing the peak's phase;
``snr``
    that peak's height over the noise SD at 1.05-1.55 ppm (a region without
    signal of the five metabolites: macromolecules or lipids there lower it);
``shift_hz``
    the peak's offset from its nominal position;
``phase_deg``
    the peak's zero-order phase;
``water``
    the largest OFF/ON magnitude at 4.40-4.50 ppm (the edge of the grid, where
    residual water's line spills in) relative to the peak;
``disagreement``
    the ensemble's spread, each metabolite's divided by its median on
    simulated data, averaged: flagged above the 99th percentile on simulated
    data;
``reconstruction``
    the YAE's relative reconstruction error: flagged above the 99.9th
    percentile on simulated data (an autoencoder trained on five-metabolite
    spectra cannot rebuild peaks it never saw).

The feature limits are the 0.1st-99.9th percentiles on simulated data widened
by a quarter of their span (SNR: the 0.1st percentile x 0.8; water: the 99.9th
percentile x 1.5), so that in-distribution spectra are rarely flagged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..synth.config import SynthConfig
from ..types import NETWORK_PPM_RANGE

FEATURES: tuple[str, ...] = ("linewidth_hz", "snr", "shift_hz", "phase_deg", "water")
#: which side of each feature's limits is checked
_SIDES: dict[str, tuple[bool, bool]] = {
    "linewidth_hz": (True, True),
    "snr": (True, False),
    "shift_hz": (True, True),
    "phase_deg": (True, True),
    "water": (False, True),
}
PEAKS_PPM: tuple[float, ...] = (2.008, 3.027)
NOISE_PPM: tuple[float, float] = (1.05, 1.55)
WATER_PPM: tuple[float, float] = (4.40, 4.50)
#: the percentile of the disagreement and reconstruction scores on simulated data
DISAGREEMENT_PERCENTILE = 99.0
RECONSTRUCTION_PERCENTILE = 99.9
_MAX_HALF_WIDTH_PPM = 0.2


def grid_ppm(n_points: int, ppm_range: tuple[float, float] = NETWORK_PPM_RANGE) -> np.ndarray:
    """The ppm of each point of the network grid (increasing)."""
    return np.linspace(float(ppm_range[0]), float(ppm_range[1]), int(n_points))


def _half_width(a: np.ndarray, k: int, half: float, step: int, limit: int) -> float:
    """Points from ``k`` to where ``a`` falls below ``half`` going ``step`` (linear interp.)."""
    j = k
    for _ in range(limit):
        nxt = j + step
        if nxt < 0 or nxt >= a.size:
            return float("inf")
        if a[nxt] < half:
            frac = (a[j] - half) / (a[j] - a[nxt]) if a[j] != a[nxt] else 0.0
            return abs(j - k) + float(frac)
        j = nxt
    return float("inf")


def spectral_features(
    x4: np.ndarray, larmor_mhz: float, ppm_range: tuple[float, float] = NETWORK_PPM_RANGE
) -> dict[str, np.ndarray]:
    """The five features of inputs ``x4[n, 4, P]`` (rows off:real, off:imag, on:real, on:imag)."""
    x = np.asarray(x4, dtype=float)
    if x.ndim == 2:
        x = x[None]
    off = x[:, 0] + 1j * x[:, 1]
    on = x[:, 2] + 1j * x[:, 3]
    n, p = off.shape
    ppm = grid_ppm(p, ppm_range)
    dppm = float(ppm[1] - ppm[0])
    mag = np.abs(off)
    windows = [np.flatnonzero(np.abs(ppm - p0) < 0.1) for p0 in PEAKS_PPM]
    peak_idx = np.stack([w[np.argmax(mag[:, w], axis=1)] for w in windows], axis=1)  # [n, 2]
    heights = np.take_along_axis(mag, peak_idx, axis=1)
    which = np.argmax(heights, axis=1)
    k = peak_idx[np.arange(n), which]
    nominal = np.array(PEAKS_PPM)[which]
    h = heights[np.arange(n), which]
    rows = np.arange(n)
    lo = mag[rows, np.maximum(k - 1, 0)]
    mid = mag[rows, k]
    hi = mag[rows, np.minimum(k + 1, p - 1)]
    denom = lo - 2 * mid + hi
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = np.clip(np.where(denom != 0, 0.5 * (lo - hi) / denom, 0.0), -0.5, 0.5)
    shift = ppm[k] + delta * dppm - nominal
    # phase at the refined centre (linear interpolation of the complex spectrum): the grid
    # point nearest the peak is up to half a step off, where a narrow line's phase has turned
    nb = np.clip(k + np.sign(delta).astype(int), 0, p - 1)
    centre = off[rows, k] + np.abs(delta) * (off[rows, nb] - off[rows, k])
    phase = np.angle(centre)
    absorption = (off * np.exp(-1j * phase)[:, None]).real
    limit = int(_MAX_HALF_WIDTH_PPM / dppm)
    fwhm = np.empty(n)
    for i in range(n):
        a = absorption[i]
        half = 0.5 * a[k[i]]
        fwhm[i] = (
            _half_width(a, int(k[i]), half, -1, limit) + _half_width(a, int(k[i]), half, 1, limit)
        ) * dppm
    sel = (ppm >= NOISE_PPM[0]) & (ppm <= NOISE_PPM[1])
    u = ppm[sel] - ppm[sel].mean()
    design = np.stack([np.ones_like(u), u, u * u], axis=1)
    parts = np.concatenate([off[:, sel].real, off[:, sel].imag])  # [2n, m]
    coef, *_ = np.linalg.lstsq(design, parts.T, rcond=None)
    resid = parts.T - design @ coef
    noise = np.sqrt(0.5 * (resid[:, :n].var(axis=0) + resid[:, n:].var(axis=0)))
    wsel = (ppm >= WATER_PPM[0]) & (ppm <= WATER_PPM[1])
    water = np.maximum(np.abs(off[:, wsel]).max(axis=1), np.abs(on[:, wsel]).max(axis=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "linewidth_hz": fwhm * larmor_mhz,
            "snr": np.where(noise > 0, h / np.where(noise > 0, noise, 1.0), np.inf),
            "shift_hz": shift * larmor_mhz,
            "phase_deg": np.degrees(phase),
            "water": np.where(h > 0, water / np.where(h > 0, h, 1.0), np.inf),
        }


def disagreement(sd: np.ndarray, typical_sd: np.ndarray) -> np.ndarray:
    """Ensemble spread ``sd[n, k]``, each column over its typical value, averaged over columns."""
    return (np.asarray(sd, dtype=float) / np.asarray(typical_sd, dtype=float)).mean(axis=-1)


def reconstruction_error(yae: Any, x2: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Relative L2 error ``|recon - x| / |x|`` of a YAE on its inputs ``x2[n, rows, P]``."""
    import torch

    x = torch.as_tensor(np.asarray(x2, dtype=np.float32))
    out = []
    with torch.no_grad():
        for i in range(0, x.shape[0], batch_size):
            xb = x[i : i + batch_size]
            rec = yae.reconstruct(xb)
            num = torch.linalg.vector_norm((rec - xb).flatten(1), dim=1)
            den = torch.linalg.vector_norm(xb.flatten(1), dim=1).clamp_min(1e-12)
            out.append((num / den).numpy())
    return np.concatenate(out).astype(float) if out else np.zeros(0)


def preset_ranges(synth: str | SynthConfig) -> dict[str, str]:
    """The training ranges a synthesis preset draws from, in words (for the flags' reasons)."""
    cfg = SynthConfig.preset(synth) if isinstance(synth, str) else synth
    out = {
        "linewidth_hz": f"{cfg.base_lw_hz:g} Hz lines",
        "shift_hz": "no frequency shift",
        "phase_deg": "no phase error",
        "water": "no residual water",
        "snr": "noise of the preset",
    }
    for aug in cfg.augmentations:
        kind = type(aug).__name__
        if kind == "Linewidth":
            lo, hi = aug.lorentzian_hz  # type: ignore[attr-defined]
            out["linewidth_hz"] = f"{cfg.base_lw_hz + lo:g}-{cfg.base_lw_hz + hi:g} Hz lines"
        elif kind == "FrequencyShift":
            lo, hi = aug.shift_hz  # type: ignore[attr-defined]
            out["shift_hz"] = f"shifts {lo:g} to {hi:g} Hz"
        elif kind == "ZeroOrderPhase":
            lo, hi = aug.phase_deg  # type: ignore[attr-defined]
            out["phase_deg"] = f"phases {lo:g} to {hi:g} degrees"
        elif kind == "ResidualWater":
            out["water"] = "residual water"
        elif kind == "Noise":
            mode = aug.mode  # type: ignore[attr-defined]
            lo, hi = aug.fraction if mode == "relative" else aug.snr  # type: ignore[attr-defined]
            out["snr"] = f"noise {mode} {lo:g}-{hi:g}"
    return out


def fit_domain(
    features: Mapping[str, np.ndarray],
    sd: np.ndarray,
    yae_error: np.ndarray | None,
    *,
    synth: str,
    larmor_mhz: float,
    yae: str | None,
) -> dict[str, Any]:
    """Limits of the features and scores on simulated in-domain spectra (module docstring)."""
    limits: dict[str, dict[str, float | None]] = {}
    for name in FEATURES:
        v = np.asarray(features[name], dtype=float)
        v = v[np.isfinite(v)]
        q_lo, q_hi = (float(x) for x in np.percentile(v, [0.1, 99.9]))
        span = q_hi - q_lo
        check_lo, check_hi = _SIDES[name]
        if name == "snr":
            low, high = 0.8 * q_lo, None
        elif name == "water":
            low, high = None, 1.5 * q_hi
        else:
            low, high = q_lo - 0.25 * span, q_hi + 0.25 * span
        limits[name] = {
            "low": low if check_lo else None,
            "high": high if check_hi else None,
            "sim_p0.1": q_lo,
            "sim_p99.9": q_hi,
        }
    typical = np.median(np.asarray(sd, dtype=float), axis=0)
    dis = disagreement(sd, typical)
    out: dict[str, Any] = {
        "synth": synth,
        "larmor_mhz": float(larmor_mhz),
        "preset_ranges": preset_ranges(synth),
        "features": limits,
        "disagreement": {
            "typical_sd": [float(v) for v in typical],
            "threshold": float(np.percentile(dis, DISAGREEMENT_PERCENTILE)),
            "percentile": DISAGREEMENT_PERCENTILE,
        },
        "reconstruction": None,
        "n": int(np.asarray(sd).shape[0]),
    }
    if yae is not None and yae_error is not None:
        out["reconstruction"] = {
            "yae": yae,
            "threshold": float(np.percentile(yae_error, RECONSTRUCTION_PERCENTILE)),
            "percentile": RECONSTRUCTION_PERCENTILE,
        }
    return out


_LABELS = {
    "linewidth_hz": ("linewidth", "Hz"),
    "snr": ("SNR", ""),
    "shift_hz": ("frequency shift", "Hz"),
    "phase_deg": ("zero-order phase", "deg"),
    "water": ("residual water (relative to the NAA/Cr peak)", ""),
}


#: the first words of every reason :func:`flags` gives (one per feature and score)
REASONS: tuple[str, ...] = (
    *(label for label, _unit in _LABELS.values()),
    "ensemble disagreement",
    "YAE reconstruction error",
)


def flags(
    features: Mapping[str, np.ndarray],
    dis: np.ndarray,
    yae_error: np.ndarray | None,
    domain: Mapping[str, Any],
) -> list[list[str]]:
    """One list of reasons per spectrum (empty: inside the training domain)."""
    n = int(np.asarray(dis).shape[0])
    out: list[list[str]] = [[] for _ in range(n)]
    synth = domain.get("synth")
    ranges = domain.get("preset_ranges") or {}
    for name in FEATURES:
        lim = domain["features"][name]
        label, unit = _LABELS[name]
        values = np.asarray(features[name], dtype=float)
        for i, v in enumerate(values):
            low, high = lim.get("low"), lim.get("high")
            bad_low = low is not None and not v >= low
            bad_high = high is not None and not v <= high
            if bad_low or bad_high:
                lo_txt = "" if low is None else f"{low:.3g}"
                hi_txt = "" if high is None else f"{high:.3g}"
                span = f"{lo_txt} .. {hi_txt}"
                out[i].append(
                    f"{label} {v:.3g}{(' ' + unit) if unit else ''} outside {span} "
                    f"(simulated spectra of preset '{synth}': {ranges.get(name, '')})"
                )
    thr = float(domain["disagreement"]["threshold"])
    for i, d in enumerate(np.asarray(dis, dtype=float)):
        if not d <= thr:
            out[i].append(
                f"ensemble disagreement {d:.3g} above {thr:.3g} (99th percentile on simulated data)"
            )
    rec = domain.get("reconstruction")
    if rec is not None and yae_error is not None:
        thr_r = float(rec["threshold"])
        for i, e in enumerate(np.asarray(yae_error, dtype=float)):
            if not e <= thr_r:
                out[i].append(
                    f"YAE reconstruction error {e:.3g} above {thr_r:.3g} "
                    f"({rec['percentile']:g}th percentile on simulated data)"
                )
    return out


__all__ = [
    "FEATURES",
    "REASONS",
    "disagreement",
    "fit_domain",
    "flags",
    "grid_ppm",
    "preset_ranges",
    "reconstruction_error",
    "spectral_features",
]

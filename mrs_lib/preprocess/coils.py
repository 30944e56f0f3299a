"""Coil combination: phase-aligned, noise-weighted sum of the receive channels.

Each coil ``c`` sees the signal ``s_c x(t)`` (a complex sensitivity ``s_c``)
plus noise of variance ``sigma_c^2``. The SNR-optimal sum (Roemer et al.,
MRM 1990; Hall et al., NeuroImage 2014 for MRS) weights coil ``c`` by
``conj(s_c) / sigma_c^2``, which also removes each coil's phase. ``s_c`` is
taken from the first point of the water reference (``method="water"``), of
the metabolite data itself (``"first-point"``), or from the first singular
vector of the coil x time matrix of the averaged FID (``"svd"``, Rodgers &
Robson, MRM 2010). The same weights must be applied to the water reference
and the metabolite data, so that water scaling stays valid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..errors import MRSDataError

CoilMethod = Literal["water", "first-point", "svd"]


@dataclass(frozen=True)
class CoilWeights:
    """Complex weights per coil, the noise SD per coil and how they were obtained."""

    weights: np.ndarray
    noise_sd: np.ndarray
    method: str

    def record(self) -> dict[str, object]:
        return {
            "method": self.method,
            "n_coils": len(self.weights),
            "weight_abs": np.round(np.abs(self.weights), 6).tolist(),
            "weight_phase_deg": np.round(np.degrees(np.angle(self.weights)), 3).tolist(),
            "noise_sd": [float(f"{x:.6g}") for x in self.noise_sd],
        }


def coil_noise_sd(fid: np.ndarray, tail: float = 0.25) -> np.ndarray:
    """Noise SD per coil of ``fid[coil, ..., N]`` from the last ``tail`` of each FID.

    The mean tail over transients (signal left there, e.g. a slowly decaying
    water line) is subtracted first, so only the transient-to-transient part,
    the noise, is measured (scaled by ``sqrt(n / (n - 1))``).
    """
    n_tail = max(8, int(fid.shape[-1] * tail))
    t = fid[..., -n_tail:].reshape(fid.shape[0], -1, n_tail)
    n = t.shape[1]
    if n > 1:
        t = (t - t.mean(axis=1, keepdims=True)) * np.sqrt(n / (n - 1))
    else:
        t = t - t.mean(axis=-1, keepdims=True)
    return np.sqrt(np.mean(np.abs(t) ** 2, axis=(1, 2)) / 1.0)


def coil_weights(
    fid: np.ndarray,
    method: CoilMethod = "svd",
    water: np.ndarray | None = None,
    n_fit: int = 64,
) -> CoilWeights:
    """Weights for ``fid[coil, ..., N]`` (metabolite transients; ``water[coil, ..., N]``).

    Weights are scaled so that ``sum_c w_c s_c`` equals ``sqrt(sum_c |s_c|^2)``
    (the root-sum-of-squares amplitude of the signal) and real positive:
    the combined FID keeps the coils' common phase at zero.
    """
    if fid.ndim < 2:
        raise MRSDataError(f"coil combination: expected fid[coil, ..., N], got {fid.shape}")
    noise = coil_noise_sd(fid)
    if np.any(noise <= 0):
        raise MRSDataError("coil combination: a coil has zero noise (a constant or empty channel)")
    if method == "water":
        if water is None:
            raise MRSDataError("coil combination 'water' needs a water reference")
        if water.shape[0] != fid.shape[0]:
            raise MRSDataError(
                f"coil combination: the water reference has {water.shape[0]} coils, "
                f"the scan {fid.shape[0]}"
            )
        sens = water.reshape(water.shape[0], -1, water.shape[-1]).mean(axis=1)[:, 0]
    elif method == "first-point":
        sens = fid.reshape(fid.shape[0], -1, fid.shape[-1]).mean(axis=1)[:, 0]
    elif method == "svd":
        avg = fid.reshape(fid.shape[0], -1, fid.shape[-1]).mean(axis=1)[:, :n_fit]
        # prewhiten, take the dominant left singular vector, undo the whitening
        u, sv, _vh = np.linalg.svd(avg / noise[:, None], full_matrices=False)
        sens = u[:, 0] * sv[0] * noise
        # the sign/phase of a singular vector is arbitrary: fix it by the first point
        ref = np.vdot(sens, avg[:, 0])
        sens = sens * (np.exp(1j * np.angle(ref)) if abs(ref) > 0 else 1.0)
    else:
        raise MRSDataError(f"coil combination method {method!r}: expected water, first-point, svd")
    w = np.conj(sens) / noise**2
    gain = np.sum(w * sens)
    if not np.isfinite(gain) or abs(gain) == 0:
        raise MRSDataError("coil combination: no signal in any coil")
    w = w / gain * np.sqrt(np.sum(np.abs(sens) ** 2))
    return CoilWeights(w, noise, method)


def combine_coils(fid: np.ndarray, weights: CoilWeights) -> np.ndarray:
    """``sum_c w_c fid[c, ...]``: the combined ``fid[..., N]``."""
    if fid.shape[0] != len(weights.weights):
        raise MRSDataError(
            f"coil combination: {len(weights.weights)} weights for {fid.shape[0]} coils"
        )
    return np.tensordot(weights.weights, fid, axes=(0, 0))


__all__ = ["CoilMethod", "CoilWeights", "coil_noise_sd", "coil_weights", "combine_coils"]

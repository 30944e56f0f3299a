"""Raw MEGA-PRESS acquisitions simulated from a basis: coils, transients and their faults.

:func:`simulate_raw` turns a basis mixture into what a scanner records
before any processing: ``n_coils`` receive channels with complex
sensitivities and their own noise, ``n_pairs`` ON/OFF transient pairs with a
frequency drift, random per-shot frequency and phase jitter, a few
motion-corrupted shots (signal loss, broadening, a phase jump), a residual
water line many times taller than NAA, a broad lipid line at 1.3 ppm, an
eddy-current phase, a global frequency offset, and a water reference with
the same coils and eddy currents. The truth (applied shifts and phases,
corrupted shots, the clean average) comes back with it, for the tests and
the chapter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import MRSDataError
from ..sim.basis import Basis
from ..spectrum import EditedSpectra
from .raw import RawScan


@dataclass(frozen=True, eq=False)
class SimulatedRaw:
    """A simulated scan, its water reference and the truth."""

    scan: RawScan
    water: RawScan | None
    clean: EditedSpectra
    shift_hz: np.ndarray
    phase_deg: np.ndarray
    corrupted: np.ndarray
    offset_hz: float
    sensitivities: np.ndarray
    noise_sd: np.ndarray


def _line(t: np.ndarray, ppm: float, like_ref: float, larmor: float, lw: float) -> np.ndarray:
    return np.exp(2j * np.pi * (ppm - like_ref) * larmor * t - np.pi * lw * t)


def simulate_raw(
    basis: Basis,
    concentrations: np.ndarray,
    *,
    n_pairs: int = 32,
    n_coils: int = 4,
    n_points: int | None = 2048,
    lw_hz: float = 6.0,
    noise: float = 0.02,
    drift_hz: float = 4.0,
    jitter_hz: float = 1.0,
    phase_sd_deg: float = 10.0,
    corrupted: tuple[int, ...] = (),
    water_ratio: float = 0.0,
    lipid_ratio: float = 0.0,
    offset_hz: float = 0.0,
    eddy_deg: float = 0.0,
    water_reference: bool = True,
    order: str = "interleaved-off-first",
    rng: np.random.Generator | int = 0,
) -> SimulatedRaw:
    """Simulate ``fid[coil, 2 n_pairs (ON/OFF interleaved), N]`` (see the module docstring).

    ``noise`` is the per-coil noise SD relative to the first point of the clean
    OFF FID (for a coil of unit sensitivity); ``water_ratio`` / ``lipid_ratio``
    the height of those lines relative to the NAA peak height of the clean OFF
    spectrum; ``corrupted`` lists transient indices (0 .. 2 n_pairs - 1) hit by
    motion. ``order`` is the storage order (``interleaved-*`` or
    ``blocked-*``) along the dynamic axis; the returned RawScan is already
    split (``edit_order`` records the order used).
    """
    rng = np.random.default_rng(rng)
    conc = np.asarray(concentrations, float)
    clean = basis.mix(conc).map(lambda s: s.broaden(max(lw_hz - basis.lw_hz, 0.0)))
    if n_points is not None:
        clean = clean.map(lambda s: s.truncate(n_points) if s.n_points > n_points else s)
    like = clean.off
    n = like.n_points
    t = like.time_s()
    n_t = 2 * int(n_pairs)
    if any(not 0 <= i < n_t for i in corrupted):
        raise MRSDataError(f"simulate_raw: corrupted indices must lie in 0..{n_t - 1}")
    # nuisance lines, scaled to the NAA peak height of the clean OFF spectrum
    ppm = like.ppm_axis()
    naa_height = np.abs(like.spectrum()[np.abs(ppm - 2.008) < 0.05]).max()
    nuisance = np.zeros(n, complex)
    for ppm0, ratio, lw in ((4.68, water_ratio, 8.0), (1.3, lipid_ratio, 25.0)):
        if ratio > 0:
            line = _line(t, ppm0, like.ppm_reference, like.larmor_mhz, lw)
            height = np.abs(np.fft.fft(line)).max()
            nuisance += ratio * naa_height / height * line * np.exp(1j * rng.uniform(-np.pi, np.pi))
    base = np.stack([clean.off.fid, clean.on.fid])  # (2, N)
    # per-transient frequency: linear drift + jitter (+ offset); phase: random
    drift = np.linspace(-drift_hz / 2, drift_hz / 2, n_t)
    shift = offset_hz + drift + rng.normal(0, jitter_hz, n_t)
    phase = rng.normal(0, phase_sd_deg, n_t)
    ec = np.deg2rad(eddy_deg) * np.exp(-t / 0.05)
    shots = np.empty((n_t, n), complex)
    for i in range(n_t):
        sig = base[i % 2] + nuisance * rng.uniform(0.8, 1.2)
        if i in corrupted:  # motion: signal loss, broadening, a phase jump
            sig = 0.5 * sig * np.exp(-np.pi * 15.0 * t) * np.exp(1j * rng.uniform(1.0, 2.5))
            sig = sig * np.exp(2j * np.pi * rng.uniform(8, 15) * t)
        shots[i] = sig * np.exp(1j * (2 * np.pi * shift[i] * t + np.deg2rad(phase[i]) + ec))
    sens = rng.uniform(0.3, 1.0, n_coils) * np.exp(1j * rng.uniform(-np.pi, np.pi, n_coils))
    sd = noise * np.abs(base[0, 0]) * rng.uniform(0.8, 1.5, n_coils)

    def noisy(shape: tuple[int, ...]) -> np.ndarray:
        g = rng.standard_normal((*shape, 2))
        return sd.reshape(-1, *([1] * (len(shape) - 1))) * (g[..., 0] + 1j * g[..., 1]) / np.sqrt(2)

    raw = sens[:, None, None] * shots[None] + noisy((n_coils, n_t, n))
    split = raw.reshape(n_coils, int(n_pairs), 2, n)  # interleaved, OFF first
    params: dict[str, Any] = dict(
        dwell_s=like.dwell_s,
        larmor_mhz=like.larmor_mhz,
        ppm_reference=like.ppm_reference,
        te_ms=like.te_ms,
    )
    scan = RawScan(split, **params, edit_order=order, source="simulated")
    water = None
    if water_reference:
        w_line = (
            50.0 * np.abs(base[0, 0]) * _line(t, 4.68, like.ppm_reference, like.larmor_mhz, 6.0)
        )
        w_shots = w_line * np.exp(1j * (2 * np.pi * offset_hz * t + ec))
        w = sens[:, None, None] * np.broadcast_to(w_shots, (2, n))[None] + noisy((n_coils, 2, n))
        water = RawScan(w[:, :, None, :], **params, edit_order="none", source="simulated water")
    shift_pe = shift.reshape(int(n_pairs), 2)
    phase_pe = phase.reshape(int(n_pairs), 2)
    bad = np.zeros(n_t, bool)
    bad[list(corrupted)] = True
    return SimulatedRaw(
        scan, water, clean, shift_pe, phase_pe, bad.reshape(int(n_pairs), 2), offset_hz, sens, sd
    )


def dynamic_layout(scan: RawScan, order: str = "interleaved-off-first") -> np.ndarray:
    """``fid[coil, dyn, N]`` as a scanner stores it (inverse of :func:`raw.split_edit`)."""
    c, n, _e, p = scan.fid.shape
    pairs = scan.fid if order.endswith("off-first") else scan.fid[:, :, ::-1]
    if order.startswith("interleaved"):
        return pairs.reshape(c, 2 * n, p)
    if order.startswith("blocked"):
        return np.concatenate([pairs[:, :, 0], pairs[:, :, 1]], axis=1)
    raise MRSDataError(f"dynamic_layout: unknown order {order!r}")


__all__ = ["SimulatedRaw", "dynamic_layout", "simulate_raw"]

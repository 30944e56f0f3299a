"""Frequency and phase alignment of transients (spectral registration), rejection, averaging.

Spectral registration (Near et al., MRM 2015) finds, for each transient
``x(t)``, the frequency ``f`` and phase ``phi`` that minimise
``sum_t |ref(t) - x(t) exp(i (2 pi f t + phi))|^2`` over the first
``t_max_s`` of the FID, after both signals are restricted to a ppm band (the
spectrum outside it set to zero). Here the start comes from the exact maximum
of the cross-correlation ``|sum_t conj(ref) x exp(2 pi i f t)|`` on a fine
frequency grid (one zero-padded FFT per transient: no local minimum within
``max_shift_hz``), then Gauss-Newton steps with the analytic 2 x 2 normal
equations refine all transients at once.

Edited data: ON and OFF transients differ (the DIFF signal), so each
sub-spectrum is aligned to its own mean; then the averaged ON is aligned to
the averaged OFF on a band both share (Cr near 3.0 ppm, default 2.9-3.3).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import MRSDataError
from ..spectrum import Spectrum
from .water import hlsvd

Bands = tuple[float, float] | tuple[tuple[float, float], ...]


def _bands(ppm_range: Bands) -> list[tuple[float, float]]:
    if len(ppm_range) and isinstance(ppm_range[0], (tuple, list)):
        return [tuple(sorted(map(float, b))) for b in ppm_range]  # type: ignore[misc]
    return [tuple(sorted(map(float, ppm_range)))]  # type: ignore[list-item, arg-type]


def band_limit(
    fid: np.ndarray, like: Spectrum, ppm_range: Bands, taper_ppm: float = 0.1
) -> np.ndarray:
    """``fid[..., N]`` with its spectrum set to zero outside ``ppm_range`` (one band or several).

    The window rises and falls as a half cosine over ``taper_ppm`` (at most a
    third of the band) inside each edge: a sharp edge would cut the tail of a
    tall line outside the band into a ringing that does not move with the
    spectrum.
    """
    ppm = like.ppm_axis(fid.shape[-1])
    mask = np.zeros(ppm.shape)
    for lo, hi in _bands(ppm_range):
        inside = (ppm >= lo) & (ppm <= hi)
        if inside.sum() < 4:
            raise MRSDataError(f"alignment band {lo}-{hi} ppm holds fewer than 4 spectral points")
        taper = min(taper_ppm, (hi - lo) / 3)
        edge = np.clip(np.minimum(ppm - lo, hi - ppm) / taper, 0.0, 1.0) if taper > 0 else inside
        mask = np.maximum(mask, 0.5 - 0.5 * np.cos(np.pi * edge))
    spec = np.fft.fftshift(np.fft.fft(fid, axis=-1), axes=-1) * mask
    return np.fft.ifft(np.fft.ifftshift(spec, axes=-1), axis=-1)


def spectral_registration(
    fids: np.ndarray,
    ref: np.ndarray,
    dwell_s: float,
    *,
    n_fit: int | None = None,
    max_shift_hz: float = 30.0,
    iterations: int = 8,
) -> tuple[np.ndarray, np.ndarray]:
    """Shift (Hz) and phase (degrees) to apply to each of ``fids[n, N]`` to match ``ref[N]``.

    Maximises ``|C(f)| = |sum_t conj(ref(t)) x(t) exp(2 pi i f t)|`` over the
    first ``n_fit`` points (the least-squares match over ``f`` and ``phi``);
    both signals are usually band-limited first (:func:`band_limit`).
    Applying the result (``x * exp(i (2 pi f t + phi))``) aligns the transient.
    """
    fids = np.atleast_2d(fids)
    n = fids.shape[-1] if n_fit is None else min(int(n_fit), fids.shape[-1])
    prod = np.conj(ref[:n]) * fids[:, :n]
    w = 2 * np.pi * np.arange(n) * dwell_s
    # coarse: |C| on a grid of bw / (8 n) Hz (one zero-padded FFT per transient)
    pad = 1 << int(np.ceil(np.log2(8 * n)))
    c = np.fft.ifft(prod, n=pad, axis=-1) * pad  # sum_t p(t) exp(+2 pi i k t / pad)
    freqs = np.fft.fftfreq(pad, d=dwell_s)
    mag = np.where(np.abs(freqs) <= max_shift_hz, np.abs(c), -1.0)
    f = freqs[np.argmax(mag, axis=-1)]
    # fine: Newton steps on g(f) = |C(f)|^2
    for _ in range(iterations):
        e = prod * np.exp(1j * w * f[:, None])
        c0, c1, c2 = e.sum(-1), (1j * w * e).sum(-1), (-(w**2) * e).sum(-1)
        g1 = 2 * np.real(np.conj(c0) * c1)
        g2 = 2 * (np.abs(c1) ** 2 + np.real(np.conj(c0) * c2))
        step = np.where(g2 < 0, -g1 / np.where(g2 < 0, g2, -1.0), 0.0)
        step = np.clip(step, -0.5 / (n * dwell_s), 0.5 / (n * dwell_s))
        f = f + step
        if np.all(np.abs(step) < 1e-7):
            break
    c0 = (prod * np.exp(1j * w * f[:, None])).sum(-1)
    phase = np.degrees(-np.angle(c0))
    return f, phase


def apply_shift_phase(
    fid: np.ndarray, dwell_s: float, shift_hz: np.ndarray | float, phase_deg: np.ndarray | float
) -> np.ndarray:
    """``fid[..., N] * exp(i (2 pi f t + phi))`` with ``f``, ``phi`` of shape ``fid.shape[:-1]``."""
    t = np.arange(fid.shape[-1]) * dwell_s
    f = np.asarray(shift_hz, float)[..., None]
    p = np.deg2rad(np.asarray(phase_deg, float))[..., None]
    return fid * np.exp(1j * (2 * np.pi * f * t + p))


@dataclass(frozen=True)
class Alignment:
    """Per-transient corrections ``[transient, edit]`` (applied) and the ON-to-OFF correction."""

    shift_hz: np.ndarray
    phase_deg: np.ndarray
    ppm_range: tuple[float, float]
    on_off_shift_hz: float = 0.0
    on_off_phase_deg: float = 0.0
    on_off_ppm_range: Bands | None = None

    def record(self) -> dict[str, object]:
        return {
            "ppm_range": list(self.ppm_range),
            "shift_hz": np.round(self.shift_hz, 4).tolist(),
            "phase_deg": np.round(self.phase_deg, 3).tolist(),
            "on_off_shift_hz": round(float(self.on_off_shift_hz), 4),
            "on_off_phase_deg": round(float(self.on_off_phase_deg), 3),
            "on_off_ppm_range": None
            if self.on_off_ppm_range is None
            else [list(b) for b in _bands(self.on_off_ppm_range)],
        }


def align_transients(
    fid: np.ndarray,
    like: Spectrum,
    *,
    ppm_range: tuple[float, float] = (1.8, 4.2),
    t_max_s: float = 0.25,
    max_shift_hz: float = 30.0,
    passes: int = 2,
    water_ppm: tuple[float, float] | None = (4.2, 5.2),
    lipid_ppm: tuple[float, float] = (0.0, 1.6),
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Align ``fid[transient, N]`` to its own mean.

    Returns ``(aligned, shift_hz, phase_deg, limited)``: ``limited`` are the
    aligned transients restricted to ``ppm_range`` (water subtracted when it
    dominated), what the rejection step compares.

    The reference is the band-limited mean of the transients, then (``passes``
    > 1) the mean of the aligned ones; corrections are relative to that mean.
    When a residual water line in ``water_ppm`` dominates, the transients are
    first registered on it; when water or lipids (``lipid_ppm``) are tall, their
    HLSVD models are subtracted from each transient before registration
    (:func:`water_free_transients`): their tails
    would otherwise outweigh the metabolites in the band.
    """
    n_fit = max(16, round(t_max_s / like.dwell_s))
    shift0 = np.zeros(fid.shape[0])
    phase0 = np.zeros(fid.shape[0])
    work = fid
    mean = fid.mean(axis=0)
    if water_ppm is not None:
        wet = water_dominates(mean, like, ppm_range, water_ppm)
        fat = water_dominates(mean, like, ppm_range, lipid_ppm, ratio=1.0)
        if wet or fat:
            work, shift0, phase0 = water_free_transients(
                fid, like, ppm_range=water_ppm, also_ppm=(lipid_ppm,), register=wet
            )
    shift = np.zeros(fid.shape[0])
    phase = np.zeros(fid.shape[0])
    work = band_limit(work, like, ppm_range)
    ref = work.mean(axis=0)
    for _ in range(max(1, passes)):
        shift, phase = spectral_registration(
            work, ref, like.dwell_s, n_fit=n_fit, max_shift_hz=max_shift_hz
        )
        ref = apply_shift_phase(work, like.dwell_s, shift, phase).mean(axis=0)
    # the corrections compose: first the water-band ones (if any), then these
    limited = apply_shift_phase(work, like.dwell_s, shift, phase)
    shift, phase = shift + shift0, phase + phase0
    phase = (phase + 180.0) % 360.0 - 180.0
    return apply_shift_phase(fid, like.dwell_s, shift, phase), shift, phase, limited


def water_dominates(
    fid: np.ndarray,
    like: Spectrum,
    ppm_range: tuple[float, float],
    water_ppm: tuple[float, float],
    ratio: float = 3.0,
) -> bool:
    """True when the tallest line in ``water_ppm`` is ``ratio`` x the tallest in ``ppm_range``."""
    mag = np.abs(np.fft.fftshift(np.fft.fft(fid)))
    ppm = like.ppm_axis(fid.shape[-1])

    def peak(r: tuple[float, float]) -> float:
        sel = (ppm >= min(r)) & (ppm <= max(r))
        return float(mag[sel].max()) if sel.any() else 0.0

    return peak(water_ppm) > ratio * peak(ppm_range)


def water_free_transients(
    fid: np.ndarray,
    like: Spectrum,
    *,
    ppm_range: tuple[float, float] = (4.2, 5.2),
    also_ppm: tuple[tuple[float, float], ...] = ((0.0, 1.6),),
    register: bool = True,
    rank: int = 25,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Transients ``fid[n, N]`` with residual water (and lipids) subtracted, for alignment only.

    A tall water line, or lipids whose height changes from shot to shot,
    outweigh the metabolites in any registration. With ``register`` each
    transient is first registered on the water band (where water dominates);
    the HLSVD poles of the mean are computed once, and each transient's
    amplitudes on those poles come from one shared least-squares solve; the
    components in ``ppm_range`` and ``also_ppm`` (lipids below 1.6 ppm) are
    subtracted. Returns ``(cleaned transients, in the water-registered frame;
    water shift_hz; water phase_deg)`` (zeros without ``register``).
    """
    shift = np.zeros(fid.shape[0])
    phase = np.zeros(fid.shape[0])
    aligned = fid
    if register:
        n_fit = min(fid.shape[-1], round(0.25 / like.dwell_s))
        ref = band_limit(fid.mean(axis=0), like, ppm_range)
        shift, phase = spectral_registration(fid, ref, like.dwell_s, n_fit=n_fit)
        aligned = apply_shift_phase(fid, like.dwell_s, shift, phase)
    freq, damping, _amp = hlsvd(aligned.mean(axis=0), like.dwell_s, rank=rank)
    t = np.arange(fid.shape[-1]) * like.dwell_s
    keep = damping > -1.0 / (t[-1] + like.dwell_s)  # no growing components
    freq, damping = freq[keep], damping[keep]
    basis = np.exp((-damping[None, :] + 2j * np.pi * freq[None, :]) * t[:, None])  # (N, K)
    amps = np.linalg.lstsq(basis, aligned.T, rcond=None)[0]  # (K, n)
    ppm = like.hz_to_ppm(freq)
    drop = np.zeros(len(freq), bool)
    for lo, hi in (ppm_range, *also_ppm):
        drop |= (ppm >= min(lo, hi)) & (ppm <= max(lo, hi))
    return aligned - (basis[:, drop] @ amps[drop]).T, shift, phase


@dataclass(frozen=True)
class Rejection:
    """Robust z-scores ``[transient, edit]`` of the residual after alignment; True = rejected."""

    z: np.ndarray
    rejected: np.ndarray
    threshold: float
    ppm_range: tuple[float, float]

    def record(self) -> dict[str, object]:
        idx = np.argwhere(self.rejected)
        return {
            "threshold_z": self.threshold,
            "ppm_range": list(self.ppm_range),
            "rejected": [[int(i), int(e)] for i, e in idx],
            "n_rejected": int(self.rejected.sum()),
            "z": np.round(self.z, 3).tolist(),
        }


def robust_z(values: np.ndarray) -> np.ndarray:
    """``(v - median) / (1.4826 MAD)`` (MAD floored at 1e-12 of the median)."""
    med = np.median(values)
    mad = 1.4826 * np.median(np.abs(values - med))
    return (values - med) / max(mad, 1e-12 * abs(med), 1e-300)


def reject_transients(
    fid: np.ndarray,
    like: Spectrum,
    *,
    threshold: float = 3.5,
    ppm_range: tuple[float, float] = (1.8, 4.2),
    baseline_order: int = 6,
) -> Rejection:
    """Flag corrupted transients of aligned ``fid[transient, edit, N]``.

    For each sub-spectrum, the residual of each transient from the median
    spectrum (real and imaginary parts separately), less a polynomial
    baseline of ``baseline_order``, is summed over ``ppm_range``; a transient
    whose robust z-score exceeds ``threshold`` is rejected. Fewer than 4
    transients: nothing is rejected.
    """
    n, n_edit = fid.shape[:2]
    z = np.zeros((n, n_edit))
    if n < 4:
        return Rejection(z, np.zeros((n, n_edit), bool), threshold, ppm_range)
    spec = np.fft.fftshift(np.fft.fft(fid, axis=-1), axes=-1)
    ppm = like.ppm_axis(fid.shape[-1])
    lo, hi = sorted(ppm_range)
    band = spec[..., (ppm >= lo) & (ppm <= hi)]
    # a smooth baseline of the residual (tails of lines outside the band whose height
    # varies from shot to shot: residual water, lipids) is fitted and left out
    x = np.linspace(-1.0, 1.0, band.shape[-1])
    design = np.vander(x, baseline_order + 1)
    project = design @ np.linalg.pinv(design)  # (M, M) projection on the polynomials
    for e in range(n_edit):
        s = band[:, e]
        med = np.median(s.real, axis=0) + 1j * np.median(s.imag, axis=0)
        res = s - med
        res = res - res @ project.T
        z[:, e] = robust_z(np.log(np.sum(np.abs(res) ** 2, axis=-1) + 1e-300))
    return Rejection(z, z > threshold, float(threshold), (lo, hi))


def average(fid: np.ndarray, rejected: np.ndarray | None = None) -> np.ndarray:
    """Mean over transients of ``fid[transient, edit, N]``, leaving out rejected ones."""
    if rejected is None:
        return fid.mean(axis=0)
    keep = ~rejected
    counts = keep.sum(axis=0)
    if np.any(counts == 0):
        raise MRSDataError("averaging: every transient of a sub-spectrum was rejected")
    return np.einsum("te,ten->en", keep.astype(float), fid) / counts[:, None]


#: Bands where MEGA-PRESS ON and OFF agree (NAA aspartyl, Cho, Cr CH2): ON-to-OFF alignment.
ON_OFF_BANDS: tuple[tuple[float, float], ...] = ((2.5, 2.7), (3.15, 3.3), (3.85, 4.05))


def align_on_to_off(
    avg: np.ndarray,
    like: Spectrum,
    *,
    ppm_range: Bands = ON_OFF_BANDS,
    t_max_s: float = 0.25,
    max_shift_hz: float = 5.0,
) -> tuple[np.ndarray, float, float]:
    """Align the averaged ON (``avg[1]``) to OFF (``avg[0]``) on bands both share unedited.

    Returns ``(avg with ON corrected, shift_hz, phase_deg)``. The default bands
    avoid the edited signals (GABA under Cr at 3.0 ppm, Glx at 3.75, NAA at 2.0);
    ON and OFF interleave in time, so their offset is small (``max_shift_hz``).
    """
    n_fit = max(16, round(t_max_s / like.dwell_s))
    lim = band_limit(avg, like, ppm_range)
    f, p = spectral_registration(
        lim[1:2], lim[0], like.dwell_s, n_fit=n_fit, max_shift_hz=max_shift_hz
    )
    out = avg.copy()
    out[1] = apply_shift_phase(avg[1], like.dwell_s, f, p)
    return out, float(f[0]), float(p[0])


__all__ = [
    "ON_OFF_BANDS",
    "Alignment",
    "Rejection",
    "align_on_to_off",
    "align_transients",
    "apply_shift_phase",
    "average",
    "band_limit",
    "reject_transients",
    "robust_z",
    "spectral_registration",
    "water_free_transients",
]

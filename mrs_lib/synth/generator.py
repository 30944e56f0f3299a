"""Batched synthesis of MEGA-PRESS training spectra from a basis (chapter 2).

Pipeline (everything is linear until the normalisation, so it is done on
batches of FIDs with elementwise products and two FFTs per transform):

1. concentrations (:class:`ConcentrationPrior`: Sobol points in [0, 1)^5 as in
   the paper, uniform, phantom-like or in-vivo-like);
2. per-metabolite augmentations, then mixing ``fid = sum_m c_m basis_m``
   (a complex matrix product);
3. additive signals (macromolecules, water), then time-domain factors common
   to the whole acquisition (linewidth, shift, phase, eddy currents);
4. exact resampling to the network grid (:class:`GridTransform`);
5. grid-domain augmentations (first-order phase, baseline);
6. noise (time-domain complex Gaussian, transformed to the grid; see "Fast paths");
7. the paper's normalisation (:func:`normalise_rows`).

**Network grid and resampling.** The network sees ``n_points = 2048`` values on
``linspace(1.0, 4.5, 2048)`` ppm. method.md describes the paper's way: zero-fill
or truncate the FID so that exactly 2048 FFT bins fall in the window. Bins of an
FFT can only coincide with a fixed ppm grid if ``bw / N`` equals the grid
spacing, which for 2000 Hz at 127.7 MHz needs N = 9157.6 points: no FFT length
is exact, and the nearest fast length (9216) moves the window by up to half a
bin per acquisition bandwidth. We evaluate instead the discrete-time Fourier
transform ``X(f_k) = sum_n x_n exp(-2 pi i f_k n dwell)`` *at* the grid
frequencies - the limit of infinite zero-filling, exact for every bandwidth and
number of points - with Bluestein's chirp-z algorithm: a pre-chirp, one FFT and
one inverse FFT of length ``next_fast_len(T + M - 1)`` (4096 for T = M = 2048),
a post-chirp. That costs the same as one zero-filled FFT of length ~9216, so the
exact method is also the faster one. It equals :meth:`Spectrum.to_grid
<mrs_lib.spectrum.Spectrum.to_grid>` (scipy's ZoomFFT) to float32 precision.

**Noise on the grid.** Complex white noise ``w`` is circularly symmetric, so
``w * pre-chirp`` has the distribution of ``w``: the noise transform skips the
pre-chirp. The grid noise is the DTFT of white noise, correlated between
neighbouring grid points exactly as in a real acquisition; the SD of its real
part is ``sigma sqrt(T)`` at every point. (This is the ``exact=True`` path; by
default :class:`GridNoise` draws the same statistics more cheaply.)

**Fast paths** (default; ``SynthConfig(exact=True)`` turns them off). Measured
on the FID-A basis (2048 points at 2000 Hz), paper preset, one thread: 214 us
per spectrum exact, ~75 us fast (``benchmarks/synth.py``).

* *Noise* (:class:`GridNoise`, every config): white noise is invariant under a
  frequency shift and the window is ~4.5x narrower than the band, so the grid
  noise comes from ~T/4 samples at a longer dwell chosen so that the grid
  spacing is one bin of a short FFT (one zero-padded FFT of ~2400 points per
  acquisition instead of two of 4096). Per-bin variance exact; covariance
  between any two grid points within :data:`NOISE_CORR_TOL` (0.5 %) of the
  variance, computed per grid and tested against the Dirichlet kernel.
* *Clean signal* (:class:`LorentzianExpansion`, configs whose only signal
  augmentation is a Lorentzian :class:`Linewidth`, e.g. ``paper`` and
  ``paper-no-lw``): everything before noise is linear in
  the concentrations and analytic in the extra linewidth, so each metabolite's
  grid spectrum is a Chebyshev series in ``L`` whose coefficients are computed
  once by the exact transform; a block is then one small real matrix product.
  Error below :data:`EXPANSION_TOL` (1e-5) of each metabolite's peak by
  construction (tested < 1e-4 against the exact transform, measured ~2e-6).
  The noise SD is still ``fraction * max_t |FID|`` of the exact time-domain
  mixture, and the paper's normalisation is applied to ``clean + noise``.

**Normalisation** (method.md): every acquisition (row) is divided by the
maximum of ``|edit_off|`` (complex modulus) of the *noisy* spectrum over the
window; the clean copy is divided by the same number, so ``x - clean`` is the
noise in network units. Targets are concentrations divided by their sum
(training); :func:`max_normalise` gives the metric's max normalisation.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import threading
import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import scipy.fft as sfft

from ..errors import MRSDataError
from ..sim.basis import Basis
from ..spectrum import EditedSpectra, Spectrum
from ..types import METABOLITES, NETWORK_POINTS, NETWORK_PPM_RANGE
from .augment import (
    PEAK_PPM_RANGE,
    STAGES,
    Augmentation,
    Baseline,
    EddyCurrent,
    FirstOrderPhase,
    FrequencyShift,
    Linewidth,
    Macromolecules,
    MetaboliteLinewidth,
    MetaboliteShift,
    Noise,
    ResidualWater,
    SynthState,
    ZeroOrderPhase,
    complex_normal,
    from_dict,
)

Channel = str  # "off|on|diff" + ":" + "real|imag", e.g. "off:real"
DEFAULT_CHANNELS: tuple[Channel, ...] = ("off:real", "on:real")
_ACQ = ("off", "on", "diff")
_PART = ("real", "imag")
PriorKind = Literal["sobol", "uniform", "phantom", "invivo"]

#: Spectra per block: each block has its own child generator, so results do not
#: depend on the number of worker threads.
BLOCK_SIZE = 32


# ============================================================================ grid transform
class GridTransform:
    """Exact DTFT of FIDs ``[..., T]`` at ``M`` equally spaced ppm points (Bluestein chirp-z).

    ``X_k = sum_n x_n exp(-2 pi i f_k n dwell)`` with
    ``f_k = (ppm_k - ppm_reference) * larmor_mhz`` and
    ``ppm_k = linspace(lo, hi, M)``. Using ``k n = (k^2 + n^2 - (k - n)^2) / 2``
    the sum becomes a convolution with the chirp ``exp(i pi d^2 theta)``,
    ``theta = df * dwell``, done with FFTs of length ``L >= T + M - 1``.
    Computed in complex64 (relative error ~1e-6); constants in float64.
    """

    def __init__(
        self,
        n_time: int,
        dwell_s: float,
        larmor_mhz: float,
        ppm_reference: float,
        ppm_range: tuple[float, float] = NETWORK_PPM_RANGE,
        n_points: int = NETWORK_POINTS,
    ) -> None:
        lo, hi = float(ppm_range[0]), float(ppm_range[1])
        if not (lo < hi) or int(n_points) < 2:
            raise MRSDataError(
                f"argument 'ppm_range'/'n_points': expected lo < hi and >= 2 points, got {ppm_range}, {n_points}"
            )
        self.n_time, self.n_points = int(n_time), int(n_points)
        self.dwell_s, self.larmor_mhz, self.ppm_reference = (
            float(dwell_s),
            float(larmor_mhz),
            float(ppm_reference),
        )
        self.ppm = np.linspace(lo, hi, self.n_points)
        self.hz = (self.ppm - self.ppm_reference) * self.larmor_mhz
        half_bw = 0.5 / self.dwell_s
        if self.hz[0] < -half_bw - 1e-9 or self.hz[-1] > half_bw + 1e-9:
            raise MRSDataError(
                f"argument 'ppm_range': {lo}-{hi} ppm lies outside the acquired band "
                f"{self.ppm_reference - half_bw / self.larmor_mhz:.3f}-"
                f"{self.ppm_reference + half_bw / self.larmor_mhz:.3f} ppm"
            )
        T, M = self.n_time, self.n_points
        f0, df = self.hz[0], (self.hz[-1] - self.hz[0]) / (M - 1)
        theta = df * self.dwell_s
        n = np.arange(T, dtype=np.float64)
        k = np.arange(M, dtype=np.float64)

        def chirp(x: np.ndarray, sign: float) -> np.ndarray:
            # exp(sign * i pi x^2 theta), with the phase reduced mod 2 for accuracy
            return np.exp(sign * 1j * np.pi * np.mod(x * x * theta, 2.0))

        self.L = sfft.next_fast_len(T + M - 1)
        self.pre = (np.exp(-2j * np.pi * np.mod(f0 * self.dwell_s * n, 1.0)) * chirp(n, -1)).astype(
            np.complex64
        )
        h = np.zeros(self.L, dtype=np.complex128)
        h[:M] = chirp(k, +1)
        h[self.L - (T - 1) :] = chirp(np.arange(-(T - 1), 0, dtype=np.float64), +1)
        self.kernel = sfft.fft(h).astype(np.complex64)
        self.post = chirp(k, -1).astype(np.complex64)

    # scratch buffers are per thread (the generator runs blocks in threads) and are
    # reused, so the large FFT input is not a fresh, page-faulting allocation each time
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_local", None)
        return state

    def _scratch(self, shape: tuple[int, ...]) -> np.ndarray:
        local = self.__dict__.get("_local")
        if local is None:
            local = self.__dict__.setdefault("_local", threading.local())
        buf = getattr(local, "buf", None)
        size = int(np.prod(shape))
        if buf is None or buf.size < size:
            buf = np.empty(size, dtype=np.complex64)
            local.buf = buf
        return buf[:size].reshape(shape)

    @staticmethod
    def _fill(out: np.ndarray, x: np.ndarray, weight: np.ndarray | None) -> None:
        """``out = x * weight`` (complex64; a real float32 weight is fine too)."""
        if weight is None:
            out[...] = x
        else:
            np.multiply(x, weight, out=out)

    def _finish(self, buf: np.ndarray) -> np.ndarray:
        y = sfft.fft(buf, axis=-1, workers=1, overwrite_x=True)
        y *= self.kernel
        z = sfft.ifft(y, axis=-1, workers=1, overwrite_x=True)
        return np.multiply(z[..., : self.n_points], self.post)

    def prechirped(
        self, x: np.ndarray, weight: np.ndarray | None = None, add: np.ndarray | None = None
    ) -> np.ndarray:
        """Transform ``x * weight + add``, all already multiplied by :attr:`pre`.

        ``x`` complex64 ``[..., T]``; ``weight`` (real or complex) broadcasts to it;
        returns ``[..., M]``.
        """
        T = self.n_time
        buf = self._scratch((*x.shape[:-1], self.L))
        buf[..., T:] = 0
        self._fill(buf[..., :T], x, weight)
        if add is not None:
            buf[..., :T] += add
        return self._finish(buf)

    def prechirped_pair(
        self, x: np.ndarray, weight: np.ndarray | None, noise: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(Z(x * weight), Z(noise))`` for ``x, noise [n, a, T]`` in one FFT pass over ``[n, 2a, L]``."""
        T, a = self.n_time, x.shape[-2]
        buf = self._scratch((x.shape[0], 2 * a, self.L))
        buf[..., T:] = 0
        self._fill(buf[:, :a, :T], x, weight)
        buf[:, a:, :T] = noise
        out = self._finish(buf)
        return out[:, :a], out[:, a:]

    def white(self, w: np.ndarray) -> np.ndarray:
        """Transform circular white noise (distributionally identical to ``self(w)``)."""
        return self.prechirped(w)

    def __call__(self, fid: np.ndarray) -> np.ndarray:
        """The DTFT of ``fid`` ``[..., T]`` on the grid, complex64 ``[..., M]``."""
        x = np.asarray(fid)
        if x.shape[-1] != self.n_time:
            raise MRSDataError(
                f"argument 'fid': expected {self.n_time} time points, got {x.shape[-1]}"
            )
        return self.prechirped((x * self.pre).astype(np.complex64, copy=False))


@functools.lru_cache(maxsize=32)
def grid_transform(
    n_time: int,
    dwell_s: float,
    larmor_mhz: float,
    ppm_reference: float,
    ppm_range: tuple[float, float] = NETWORK_PPM_RANGE,
    n_points: int = NETWORK_POINTS,
) -> GridTransform:
    """Cached :class:`GridTransform` for one acquisition grid."""
    return GridTransform(n_time, dwell_s, larmor_mhz, ppm_reference, tuple(ppm_range), n_points)


# ============================================================================ fast paths
#: Largest correlation error (fraction of the per-bin variance) that the decimated noise
#: transform may make at any pair of grid points; see :class:`GridNoise`.
NOISE_CORR_TOL = 0.005
#: Relative accuracy (of each metabolite's tallest grid point) that the Chebyshev
#: linewidth expansion is built to; see :class:`LorentzianExpansion`.
EXPANSION_TOL = 1e-5
#: Most Chebyshev terms a linewidth expansion may use (wider ranges fall back to exact).
EXPANSION_MAX_TERMS = 40
_CHUNK = 64


def _dirichlet(alpha: np.ndarray, n: int) -> np.ndarray:
    """``sum_{j<n} exp(-i alpha j)`` (closed form; the limit ``n`` where ``alpha ~ 0 mod 2 pi``)."""
    a = np.asarray(alpha, dtype=np.float64)
    den = 1 - np.exp(-1j * a)
    small = np.abs(den) < 1e-12
    out = (1 - np.exp(-1j * a * n)) / np.where(small, 1.0, den)
    return np.where(small, complex(n), out)


class GridNoise:
    """Complex white time-domain noise on the network grid, by one short zero-padded FFT.

    The exact grid noise is the DTFT of ``T`` white samples of SD ``sigma`` at
    dwell ``dt``: a Gaussian vector with covariance ``sigma^2 D_T(f - g)``,
    ``D_T(f - g) = sum_{n<T} exp(-2 pi i (f - g) n dt)`` (per-bin variance
    ``T sigma^2``, i.e. real-part SD ``sigma sqrt(T)``), which depends only on the
    frequency *difference*: white noise is statistically invariant under a
    frequency shift. The network window (447 Hz for 1.0-4.5 ppm at 127.7 MHz)
    is much narrower than the acquisition band, so the same statistics follow
    from ``T'`` white samples of variance ``sigma^2 T / T'`` at a longer dwell
    ``tau`` chosen so that the grid spacing ``df`` is exactly one bin of a
    ``P``-point FFT, ``tau = 1 / (P df)``, with ``T' = round(T dt / tau)`` (the
    same acquisition time to within ``tau / 2``): the grid noise is then
    ``fft(w', n=P)[:M]``, one FFT of a fast length ``P >= M`` instead of the two
    of length ``>= T + M - 1`` of the chirp-z transform, and ``T' ~ T / 4``
    normal draws. Its covariance ``sigma^2 (T / T') D'_{T'}(f - g)`` equals the
    exact one at zero lag (the per-bin variance is exact); elsewhere the two
    differ only through ``(tau / dt) sin(x) / sin(x tau / dt)``, ``x = pi (f - g)
    dt`` (the shorter period ``1 / tau`` of the coarse DTFT) and the acquisition
    time mismatch. :attr:`max_corr_error` is the largest difference over every
    pair of grid points as a fraction of the per-bin variance, computed here;
    ``P`` is the smallest fast length keeping it below :data:`NOISE_CORR_TOL`
    (on the FID-A grid: 0.13 % at lag 1, median 0.17 %, 0.49 % at the far ends). ``ok`` is False when no ``P <= 4 M``
    does (a window nearly as wide as the band): use the exact transform then.
    """

    def __init__(self, gt: GridTransform, tol: float = NOISE_CORR_TOL) -> None:
        T, dt, M = gt.n_time, gt.dwell_s, gt.n_points
        span = float(gt.hz[-1] - gt.hz[0])
        df = span / (M - 1)
        lags = np.arange(M) * df
        exact = _dirichlet(2 * np.pi * lags * dt, T)
        self.n_points = M
        self.ok = False
        self.fft_len, self.n_time, self.max_corr_error, self.tau_s = 0, T, float("inf"), dt
        P = M
        while P <= 4 * M:
            P = sfft.next_fast_len(P)
            tau = 1.0 / (P * df)
            tp = max(1, round(T * dt / tau))
            if tau >= dt and tp <= P:
                approx = _dirichlet(2 * np.pi * lags * tau, tp) * (T / tp)
                err = float(np.abs(approx - exact).max() / T)
                if err <= tol:
                    self.ok = True
                    self.fft_len, self.n_time, self.max_corr_error, self.tau_s = P, tp, err, tau
                    break
            P += 1
        self.scale = np.float32(np.sqrt(T / self.n_time))
        self._gt = gt

    def __call__(
        self, rng: np.random.Generator, shape: tuple[int, ...], sigma: np.ndarray | None = None
    ) -> np.ndarray:
        """Grid noise ``[*shape, M]`` (complex64) for time-domain SD ``sigma`` (broadcast to ``shape``; default 1)."""
        s = (
            self.scale
            if sigma is None
            else (np.asarray(sigma, dtype=np.float32) * self.scale)[..., np.newaxis]
        )
        if not self.ok:
            return (
                self._gt.white(complex_normal(rng, (*shape, self._gt.n_time)))
                * np.float32(1 / self.scale)
                * s
            )
        w = complex_normal(rng, (*shape, self.n_time))
        spec = sfft.fft(w, n=self.fft_len, axis=-1, workers=1)
        return np.multiply(spec[..., : self.n_points], s)


class LorentzianExpansion:
    """Grid spectra of every basis FID under an extra Lorentzian ``L`` in ``[lo, hi]`` Hz, by Chebyshev series.

    The broadened grid spectrum ``S_m(L) = Z(basis_m exp(-pi L t))`` is an
    analytic function of ``L``; on ``[lo, hi]`` it is interpolated at ``K``
    Chebyshev points, ``S_m(L) ~ sum_k a_mk T_k(x)``, ``x = (2 L - lo - hi) /
    (hi - lo)``, with the coefficients ``a_mk`` (grid spectra, OFF and ON)
    computed once by exact chirp-z transforms. ``K`` is the smallest number of
    terms whose neglected tail ``sum_{k >= K} |a_mk|`` (a bound on the error,
    ``|T_k| <= 1``) is below ``tol`` times the smallest tallest-point
    ``max |S_m(L)|`` over the range, for every metabolite. A clean batch is then
    one real matrix product ``[n, n_met K] x [n_met K, 2 x M x 2]``:
    everything before noise is linear in the concentrations.
    ``ok`` is False when ``K`` would exceed ``max_terms`` (use the exact path).
    """

    def __init__(
        self,
        plan: GridPlan,
        lo: float,
        hi: float,
        *,
        tol: float = EXPANSION_TOL,
        max_terms: int = EXPANSION_MAX_TERMS,
    ) -> None:
        self.lo, self.hi = float(lo), float(hi)
        gt = plan.gt
        n_met, M = plan.n_metabolites, plan.n_points
        fids = plan.basis_pre_met.astype(np.complex128)  # [n_met, 2, T]
        t = plan.t
        if self.hi <= self.lo:
            spec = gt.prechirped((fids * np.exp(-np.pi * self.lo * t)).astype(np.complex64))
            self.coef = spec[:, np.newaxis]  # [n_met, 1, 2, M]
            self.n_terms, self.ok, self.max_error = 1, True, 0.0
        else:
            K = int(max_terms) + 8
            j = np.arange(K)
            x = np.cos(np.pi * (j + 0.5) / K)
            L = 0.5 * (self.hi + self.lo) + 0.5 * (self.hi - self.lo) * x
            decay = np.exp(-np.pi * L[:, np.newaxis] * t)  # [K, T]
            spec = np.stack(
                [  # [n_met, K nodes, 2, M], one metabolite at a time (scratch size)
                    gt.prechirped((f[np.newaxis] * decay[:, np.newaxis]).astype(np.complex64))
                    for f in fids
                ]
            ).astype(np.complex128)
            # Chebyshev coefficients: a_k = (2 / K) sum_j S(x_j) T_k(x_j), a_0 halved
            Tk = np.cos(np.pi * np.outer(np.arange(K), j + 0.5) / K)  # [k, j]
            a = np.einsum("kj,mjaf->mkaf", Tk, spec) * (2.0 / K)
            a[:, 0] *= 0.5
            peak = np.abs(spec).max(axis=(-2, -1)).min(axis=1)  # [n_met] smallest tallest point
            mag = np.abs(a).max(axis=(-2, -1))  # [n_met, K]
            tail = np.cumsum(mag[:, ::-1], axis=1)[:, ::-1]  # tail[m, k] = sum_{k' >= k} |a_mk'|
            need = [int(np.argmax(np.append(tail[m] <= tol * peak[m], True))) for m in range(n_met)]
            n_terms = max(1, max(need))
            self.ok = n_terms <= max_terms
            self.n_terms = min(n_terms, K)
            self.max_error = (
                float((tail[:, self.n_terms] / peak).max()) if self.n_terms < K else 0.0
            )
            self.coef = a[:, : self.n_terms].astype(np.complex64)
        # real matrix [n_met K, 2 M 2]: (re, im) interleaved
        self.matrix = (
            np.ascontiguousarray(self.coef).view(np.float32).reshape(n_met * self.n_terms, -1)
        )
        self.n_points = M
        # ... stored as column chunks [chunks, n_met K, _CHUNK]: each product is then small
        # enough for OpenBLAS to run it on the calling thread (its multithreaded sgemm spins
        # and is ~30x slower in CPU time on a loaded machine)
        rows, cols = self.matrix.shape
        pad = -cols % _CHUNK
        padded = np.concatenate([self.matrix, np.zeros((rows, pad), np.float32)], axis=1)
        self._chunks = np.ascontiguousarray(padded.reshape(rows, -1, _CHUNK).transpose(1, 0, 2))

    def chebyshev(self, lor_hz: np.ndarray) -> np.ndarray:
        """``T_k(x(L))`` ``[n, K]`` (float32)."""
        L = np.asarray(lor_hz, dtype=np.float64)
        n, K = L.shape[0], self.n_terms
        out = np.empty((n, K), dtype=np.float64)
        out[:, 0] = 1.0
        if K > 1:
            x = (2 * L - self.lo - self.hi) / (self.hi - self.lo)
            out[:, 1] = x
            for k in range(2, K):
                out[:, k] = 2 * x * out[:, k - 1] - out[:, k - 2]
        return out.astype(np.float32)

    def spectra(self, conc: np.ndarray, lor_hz: np.ndarray) -> np.ndarray:
        """Clean grid spectra ``[n, 2, M]`` (complex64) for concentrations ``[n, n_met]`` and widths ``[n]``."""
        c = np.asarray(conc, dtype=np.float32)
        n = c.shape[0]
        w = (c[:, :, np.newaxis] * self.chebyshev(lor_hz)[:, np.newaxis, :]).reshape(n, -1)
        out = np.empty((n, self._chunks.shape[0], _CHUNK), dtype=np.float32)
        np.matmul(w, self._chunks, out=out.transpose(1, 0, 2))
        flat = out.reshape(n, -1)[:, : self.matrix.shape[1]]
        return flat.view(np.complex64).reshape(n, 2, self.n_points)


# ============================================================================ network input
def _check_channels(channels: Sequence[str]) -> tuple[str, ...]:
    out = tuple(channels)
    if not out:
        raise MRSDataError("argument 'channels': expected at least one channel such as 'off:real'")
    for ch in out:
        acq, _, part = ch.partition(":")
        if acq not in _ACQ or part not in _PART:
            raise MRSDataError(
                f"channel {ch!r}: expected '<off|on|diff>:<real|imag>', e.g. 'off:real'"
            )
    return out


def grid_rows(
    spec: np.ndarray,
    channels: Sequence[str],
    scale: np.ndarray | None = None,
    *,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Rows ``[..., rows, M]`` (float32) from complex grid spectra ``spec[..., 2, M]`` (OFF, ON).

    If ``scale`` ``[...]`` is given every row is divided by it. ``out``: write there.
    """
    chans = _check_channels(channels)
    if out is None:
        out = np.empty((*spec.shape[:-2], len(chans), spec.shape[-1]), dtype=np.float32)
    for i, ch in enumerate(chans):
        acq, _, part = ch.partition(":")
        s = (
            spec[..., 0, :]
            if acq == "off"
            else spec[..., 1, :]
            if acq == "on"
            else spec[..., 1, :] - spec[..., 0, :]
        )
        out[..., i, :] = s.real if part == "real" else s.imag
    if scale is not None:
        safe = np.where(scale > 0, scale, 1.0).astype(np.float32)
        out /= safe[..., np.newaxis, np.newaxis]
    return out


def normalise_rows(
    spec: np.ndarray, channels: Sequence[str], *, out: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The paper's normalisation: rows divided by ``max |edit_off|`` over the window.

    ``spec`` is ``[..., 2, M]`` (OFF, ON). Returns ``(rows, scale)`` with
    ``scale[...] = max_k |spec[..., 0, k]|``. ``out``: write the rows there.
    """
    scale = np.abs(spec[..., 0, :]).max(axis=-1)
    return grid_rows(spec, channels, scale, out=out), scale


def network_input(
    spectra: EditedSpectra,
    channels: Sequence[str] = DEFAULT_CHANNELS,
    *,
    ppm_range: tuple[float, float] = NETWORK_PPM_RANGE,
    n_points: int = NETWORK_POINTS,
) -> np.ndarray:
    """Network input ``float32 [*batch, rows, n_points]`` from (real or synthetic) spectra.

    Each sub-spectrum is evaluated exactly on ``linspace(*ppm_range, n_points)``
    (DTFT by chirp-z, see the module docstring), the requested channels
    (``"off|on|diff" x "real|imag"``) are stacked, and every row is divided by
    the maximum of ``|edit_off|`` in the window (the paper's normalisation).
    Works on a single acquisition read from a file or on a batch; chapter 2.
    """
    off, on = spectra.off, spectra.on
    gt = grid_transform(
        off.n_points,
        off.dwell_s,
        off.larmor_mhz,
        off.ppm_reference,
        tuple(ppm_range),
        int(n_points),
    )
    spec = np.stack([gt(off.fid), gt(on.fid)], axis=-2)
    rows, _ = normalise_rows(spec, channels)
    return rows


def max_normalise(values: np.ndarray) -> np.ndarray:
    """Divide each vector (last axis) by its own maximum: the paper's metric space."""
    v = np.asarray(values, dtype=float)
    m = v.max(axis=-1, keepdims=True)
    return v / np.where(m > 0, m, 1.0)


def sum_normalise(values: np.ndarray) -> np.ndarray:
    """Divide each vector (last axis) by its sum: the training targets."""
    v = np.asarray(values, dtype=float)
    s = v.sum(axis=-1, keepdims=True)
    return v / np.where(s > 0, s, 1.0)


# ============================================================================ concentrations
#: Phantom-like ranges (mM), after the Swansea design (NAA 15, Cr 8, GABA 0-13.7,
#: Glu 12, Gln 3; shared data reference/swansea_phantom_design_mM.csv).
PHANTOM_MM: dict[str, tuple[float, float]] = {
    "Cr": (6.0, 10.0),
    "GABA": (0.0, 14.0),
    "Gln": (0.0, 4.0),
    "Glu": (0.0, 13.0),
    "NAA": (12.0, 18.0),
}
#: In-vivo-like ranges (mM) for adult brain (Govindaraju et al., NMR Biomed 2000;
#: de Graaf, In Vivo NMR Spectroscopy): tCr 6-10, GABA 1-2 (wide: 0.5-2.5), ...
INVIVO_MM: dict[str, tuple[float, float]] = {
    "Cr": (6.0, 10.0),
    "GABA": (0.5, 2.5),
    "Gln": (2.0, 6.0),
    "Glu": (6.0, 13.0),
    "NAA": (7.5, 17.0),
}


@dataclass(frozen=True)
class ConcentrationPrior:
    """How concentrations are drawn.

    ``"sobol"``: scrambled Sobol points in [0, 1)^d (the paper; no priors or
    ratios); ``"uniform"``: i.i.d. uniform [0, 1); ``"phantom"`` / ``"invivo"``:
    uniform within :data:`PHANTOM_MM` / :data:`INVIVO_MM` (mM; metabolites not
    listed get [0, 1)).
    """

    kind: PriorKind = "sobol"

    def __post_init__(self) -> None:
        if self.kind not in ("sobol", "uniform", "phantom", "invivo"):
            raise MRSDataError(
                f"field 'kind': expected sobol, uniform, phantom or invivo, got {self.kind!r}"
            )

    def sample(
        self, rng: np.random.Generator, n: int, metabolites: Sequence[str] = METABOLITES
    ) -> np.ndarray:
        d = len(metabolites)
        if self.kind == "sobol":
            return sobol_points(rng, n, d)
        if self.kind == "uniform":
            return rng.random((n, d))
        table = PHANTOM_MM if self.kind == "phantom" else INVIVO_MM
        lo = np.array([table.get(m, (0.0, 1.0))[0] for m in metabolites])
        hi = np.array([table.get(m, (0.0, 1.0))[1] for m in metabolites])
        return lo + (hi - lo) * rng.random((n, d))


def sobol_points(rng: np.random.Generator | int, n: int, d: int, *, skip: int = 0) -> np.ndarray:
    """``n`` scrambled Sobol points in [0, 1)^d after skipping ``skip`` (scrambling seeded by ``rng``)."""
    from scipy.stats import qmc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # balance warning for n not a power of 2
        sob = qmc.Sobol(d, scramble=True, rng=rng)
        if skip:
            sob.fast_forward(skip)
        return sob.random(n)


# ============================================================================ config
@dataclass(frozen=True)
class SynthConfig:
    """Everything that defines a synthetic data set except the basis, ``n`` and the seed.

    Parameters
    ----------
    name
        Label (a preset name or your own).
    prior
        Concentration prior.
    base_lw_hz
        Lorentzian linewidth every basis line gets before augmentation (the
        paper: 2 Hz, applied to its unbroadened basis). A basis that already
        carries ``lw_hz`` gets only the difference.
    augmentations
        Augmentation objects (:mod:`mrs_lib.synth.augment`), run by stage.
    grids
        Acquisition grids ``(bw_hz, n_points)`` drawn uniformly per spectrum,
        the basis resampled to each; ``None`` = the basis's own grid.
    channels, ppm_range, n_points
        Network input rows and grid.
    keep_clean
        Also produce the noiseless copy (needed by the YAE).
    exact
        Use the exact chirp-z path for everything. By default (``False``) the
        generator uses, where they apply, the fast paths of the module
        docstring ("Fast paths"): noise transformed at a decimated rate
        (:class:`GridNoise`, covariance within :data:`NOISE_CORR_TOL`) and, for
        configs whose only signal augmentation is a Lorentzian
        :class:`Linewidth`, clean spectra from a Chebyshev expansion in the
        linewidth (:class:`LorentzianExpansion`, error below
        :data:`EXPANSION_TOL` of the peak).
    """

    name: str = "paper"
    prior: ConcentrationPrior = field(default_factory=ConcentrationPrior)
    base_lw_hz: float = 2.0
    augmentations: tuple[Augmentation, ...] = (Linewidth(), Noise())
    grids: tuple[tuple[float, int], ...] | None = None
    channels: tuple[str, ...] = DEFAULT_CHANNELS
    ppm_range: tuple[float, float] = NETWORK_PPM_RANGE
    n_points: int = NETWORK_POINTS
    keep_clean: bool = True
    exact: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", _check_channels(self.channels))
        object.__setattr__(self, "augmentations", tuple(self.augmentations))
        for a in self.augmentations:
            if not isinstance(a, Augmentation):
                raise MRSDataError(
                    f"field 'augmentations': expected Augmentation objects, got {a!r}"
                )
        if sum(isinstance(a, Noise) for a in self.augmentations) > 1:
            raise MRSDataError("field 'augmentations': at most one Noise")
        if self.grids is not None:
            grids = tuple((float(bw), int(n)) for bw, n in self.grids)
            if not grids:
                raise MRSDataError("field 'grids': expected at least one (bw_hz, n_points) or None")
            object.__setattr__(self, "grids", grids)
        object.__setattr__(self, "ppm_range", (float(self.ppm_range[0]), float(self.ppm_range[1])))

    @property
    def noise(self) -> Noise | None:
        return next((a for a in self.augmentations if isinstance(a, Noise)), None)

    def replace(self, **changes: Any) -> SynthConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (provenance sidecars, CLI)."""
        return {
            "name": self.name,
            "prior": self.prior.kind,
            "base_lw_hz": self.base_lw_hz,
            "augmentations": [a.to_dict() for a in self.augmentations],
            "grids": None if self.grids is None else [list(g) for g in self.grids],
            "channels": list(self.channels),
            "ppm_range": list(self.ppm_range),
            "n_points": self.n_points,
            "keep_clean": self.keep_clean,
            "exact": self.exact,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SynthConfig:
        return cls(
            name=str(d["name"]),
            prior=ConcentrationPrior(d.get("prior", "sobol")),
            base_lw_hz=float(d.get("base_lw_hz", 2.0)),
            augmentations=tuple(from_dict(a) for a in d.get("augmentations", [])),
            grids=None if d.get("grids") is None else tuple(tuple(g) for g in d["grids"]),
            channels=tuple(d.get("channels", DEFAULT_CHANNELS)),
            ppm_range=tuple(d.get("ppm_range", NETWORK_PPM_RANGE)),
            n_points=int(d.get("n_points", NETWORK_POINTS)),
            keep_clean=bool(d.get("keep_clean", True)),
            exact=bool(d.get("exact", False)),
        )

    @classmethod
    def preset(cls, name: str, **changes: Any) -> SynthConfig:
        """A named preset (:data:`PRESETS`), optionally with fields replaced."""
        if name not in PRESETS:
            raise MRSDataError(f"synthesis preset {name!r}: expected one of {sorted(PRESETS)}")
        return PRESETS[name]().replace(**changes) if changes else PRESETS[name]()


def _paper() -> SynthConfig:
    """The paper: Sobol concentrations, 2 Hz basis line + Lorentzian U(0, 8) Hz, relative noise U(0, 0.03)."""
    return SynthConfig(
        name="paper", augmentations=(Linewidth((0.0, 8.0)), Noise("relative", (0.0, 0.03)))
    )


def _paper_no_lw() -> SynthConfig:
    """The paper before linewidth augmentation: 2 Hz basis line only, relative noise."""
    return SynthConfig(name="paper-no-lw", augmentations=(Noise("relative", (0.0, 0.03)),))


def _full() -> SynthConfig:
    """Every augmentation of :mod:`mrs_lib.synth.augment` with its documented ranges.

    Acquisition grids 1250/2000/4000 Hz with 1024-4096 points; grids that the
    basis cannot provide by exact decimation are skipped (listed in
    ``Synthesizer.skipped_grids``): a 2000 Hz basis gives only the 2000 Hz
    grids, a 20 kHz basis of >= 1.024 s gives all five.
    """
    return SynthConfig(
        name="full",
        augmentations=(
            MetaboliteLinewidth((0.0, 2.0)),
            MetaboliteShift((-1.0, 1.0)),
            Macromolecules(),
            ResidualWater(),
            Linewidth((0.0, 8.0), (0.0, 6.0)),
            FrequencyShift((-20.0, 20.0)),
            ZeroOrderPhase((-90.0, 90.0)),
            EddyCurrent(),
            FirstOrderPhase(),
            Baseline(),
            Noise("relative", (0.0, 0.03)),
        ),
        grids=((1250.0, 1024), (2000.0, 1024), (2000.0, 2048), (4000.0, 2048), (4000.0, 4096)),
    )


PRESETS = {"paper": _paper, "paper-no-lw": _paper_no_lw, "full": _full}


def as_config(config: SynthConfig | str) -> SynthConfig:
    return SynthConfig.preset(config) if isinstance(config, str) else config


# ============================================================================ per-grid plan
def resample_fid(fid: np.ndarray, dwell_s: float, new_dwell_s: float, new_n: int) -> np.ndarray:
    """FIDs on a coarser acquisition grid: exact decimation and truncation.

    ``new_dwell_s`` must be an integer multiple ``k`` of ``dwell_s`` (the samples
    ``fid[::k]``; lines outside the new band alias exactly as in an acquisition
    without a filter) and the new acquisition must not last longer than the
    basis. Arbitrary ratios are refused: a FID is one-sided (it starts at t = 0),
    so band-limited interpolation rings near t = 0. For the bandwidths 1250,
    2000 and 4000 Hz simulate the basis at 20 kHz (their common multiple).
    """
    fid = np.asarray(fid)
    n_old = fid.shape[-1]
    ratio = float(new_dwell_s) / float(dwell_s)
    k = round(ratio)
    if k < 1 or abs(ratio - k) > 1e-9 * max(1.0, ratio):
        raise MRSDataError(
            f"acquisition grid {1 / new_dwell_s:g} Hz: not reachable from the basis bandwidth "
            f"{1 / dwell_s:g} Hz by exact decimation (needs an integer ratio; simulate the basis "
            "at a common multiple such as 20000 Hz)"
        )
    if (int(new_n) - 1) * k > n_old - 1:
        raise MRSDataError(
            f"acquisition grid {new_n} points at {1 / new_dwell_s:g} Hz lasts longer than the basis "
            f"({n_old} points at {1 / dwell_s:g} Hz): simulate a longer basis"
        )
    return fid[..., : (int(new_n) - 1) * k + 1 : k].copy()


def feasible_grids(basis: Basis, grids: Sequence[tuple[float, int]]) -> list[tuple[float, int]]:
    """The grids of ``grids`` that :func:`resample_fid` can make from ``basis`` exactly."""
    out = []
    for bw, n in grids:
        try:
            resample_fid(np.zeros((1, basis.n_points)), basis.dwell_s, 1.0 / bw, n)
        except MRSDataError:
            continue
        out.append((float(bw), int(n)))
    return out


class GridPlan:
    """Precomputed state for one basis on one acquisition grid.

    Holds the basis resampled to the grid and broadened to ``base_lw_hz``,
    multiplied by the chirp-z pre-chirp (``basis_pre [2, n_met, T]``, OFF then
    ON), the :class:`GridTransform`, and constants the augmentations need.
    """

    def __init__(
        self,
        basis: Basis,
        grid: tuple[float, int] | None = None,
        *,
        base_lw_hz: float = 2.0,
        ppm_range: tuple[float, float] = NETWORK_PPM_RANGE,
        n_points: int = NETWORK_POINTS,
    ) -> None:
        fids = np.stack([basis.off.fid, basis.on.fid])
        dwell = basis.dwell_s
        if grid is not None:
            bw, n = float(grid[0]), int(grid[1])
            fids = resample_fid(fids, dwell, 1.0 / bw, n)
            dwell = 1.0 / bw
        self.metabolites = basis.metabolites
        self.n_metabolites = len(basis.metabolites)
        self.n_time = int(fids.shape[-1])
        self.dwell_s = float(dwell)
        self.bw_hz = 1.0 / self.dwell_s
        self.larmor_mhz = basis.larmor_mhz
        self.ppm_reference = basis.on.ppm_reference
        self.t = np.arange(self.n_time) * self.dwell_s
        self.t32 = self.t.astype(np.float32)
        extra = float(base_lw_hz) - basis.lw_hz
        if extra:
            fids = fids * np.exp(-np.pi * extra * self.t)
        self.fids = fids  # plain convention, float64 complex, [2, n_met, T]
        self.gt = grid_transform(
            self.n_time,
            self.dwell_s,
            self.larmor_mhz,
            self.ppm_reference,
            tuple(ppm_range),
            int(n_points),
        )
        self.pre = self.gt.pre
        pre_met = np.ascontiguousarray((fids * self.pre).transpose(1, 0, 2)).astype(np.complex64)
        self.basis_pre_met = pre_met  # [n_met, 2, T]
        # the same as a real matrix [n_met, 2 * T * 2] (re/im interleaved) for one sgemm
        self.basis_pre_real = pre_met.view(np.float32).reshape(self.n_metabolites, -1)
        self.grid_ppm = self.gt.ppm
        self.n_points = self.gt.n_points
        lo, hi = np.searchsorted(self.grid_ppm, PEAK_PPM_RANGE)
        self.peak_index = (int(lo), int(max(hi, lo + 1)))
        self.gaba_area = self._gaba_area()
        # for _max_abs_mix: a head of the FIDs and the largest |FID| after it, per metabolite
        self.head_len = min(self.n_time, max(64, self.n_time // 8))
        self.tail_max = np.abs(pre_met[:, :, self.head_len :]).max(
            axis=-1, initial=0.0
        )  # [n_met, 2]
        self.head_real = (
            np.ascontiguousarray(pre_met[:, :, : self.head_len])
            .view(np.float32)
            .reshape(self.n_metabolites, -1)
        )
        self._noise: GridNoise | None = None
        self._expansions: dict[tuple[float, float], LorentzianExpansion] = {}
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_lock"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @property
    def noise(self) -> GridNoise:
        """The decimated-rate noise transform of this grid (built on first use)."""
        with self._lock:
            if self._noise is None:
                self._noise = GridNoise(self.gt)
            return self._noise

    def expansion(self, lo: float, hi: float) -> LorentzianExpansion:
        """The Chebyshev linewidth expansion over extra Lorentzian widths ``[lo, hi]`` Hz (cached)."""
        key = (float(lo), float(hi))
        with self._lock:
            if key not in self._expansions:
                self._expansions[key] = LorentzianExpansion(self, *key)
            return self._expansions[key]

    def peak_off(self, spec: np.ndarray) -> np.ndarray:
        """Tallest ``|edit-OFF|`` point of grid spectra ``spec[n, 2, M]`` in the peak window ``[n]``
        (the SNR's signal; one definition for the exact and the fast paths)."""
        lo, hi = self.peak_index
        return np.abs(spec[:, 0, lo:hi]).max(axis=-1)

    def _gaba_area(self) -> float:
        """Area of the GABA DIFF multiplet (2.85-3.2 ppm) at unit concentration, FFT-sum units."""
        spec = np.fft.fftshift(np.fft.fft(self.fids, axis=-1), axes=-1)
        ppm = (
            self.ppm_reference
            + np.fft.fftshift(np.fft.fftfreq(self.n_time, self.dwell_s)) / self.larmor_mhz
        )
        if "GABA" in self.metabolites:
            i = self.metabolites.index("GABA")
            mask = (ppm >= 2.85) & (ppm <= 3.2)
            area = float(np.abs((spec[1, i] - spec[0, i]).real[mask].sum()))
            if area > 0:
                return area
        return float(np.abs(self.fids[0, :, 0]).mean() * self.n_time)


def singlet_basis(
    ppms: Sequence[float] = (3.03, 3.0, 3.75, 2.35, 2.01),
    on_gain: Sequence[float] = (1.0, 1.5, 0.5, 0.7, 0.9),
    *,
    metabolites: Sequence[str] = METABOLITES,
    n_points: int = 2048,
    bw_hz: float = 2000.0,
    larmor_mhz: float = 127.731,
    ppm_reference: float = 3.0,
) -> Basis:
    """A toy basis: one unbroadened singlet per metabolite, ON = ``on_gain`` x OFF.

    Not MEGA-PRESS physics - an oracle: every line has a known position, phase
    (absorptive), area (``fid(0) = 1``) and linewidth (0 Hz), so tests and the
    chapter can check broadening, shifts, phases, noise and SNR exactly.
    """
    t = np.arange(int(n_points)) / float(bw_hz)
    fids = np.stack([np.exp(2j * np.pi * (p - ppm_reference) * larmor_mhz * t) for p in ppms])
    common = {"dwell_s": 1 / float(bw_hz), "larmor_mhz": larmor_mhz, "ppm_reference": ppm_reference}
    on = fids * np.asarray(on_gain, dtype=float)[:, np.newaxis]
    return Basis(
        tuple(metabolites)[: len(ppms)],
        Spectrum(on, **common),
        Spectrum(fids, **common),
        lw_hz=0.0,
        params={"source": "singlet_basis", "ppms": list(ppms), "on_gain": list(on_gain)},
    )


def fine_basis(
    preset: str = "paper",
    *,
    bw_hz: float = 20000.0,
    duration_s: float = 1.024,
    grid_points: int | None = None,
    **kwargs: Any,
) -> Basis:
    """A simulated basis sampled at ``bw_hz`` for ``duration_s`` (for the acquisition grids).

    The simulator keeps line lists (:func:`mrs_lib.sim.simulate_lines`), so any
    readout is exact; 20 kHz is a common multiple of 1250, 2000 and 4000 Hz, so
    every grid of the ``full`` preset is then an exact decimation
    (:func:`resample_fid`). ``grid_points`` as in :func:`mrs_lib.sim.simulate_basis`;
    other ``kwargs`` go to ``simulate_lines``.
    """
    from ..sim import basis_from_lines, get_preset, simulate_lines

    pre = get_preset(preset)
    if grid_points is not None:
        pre = pre.replace(grid_points=int(grid_points))
    lines = simulate_lines(pre, **{"progress": False, **kwargs})
    n = round(float(duration_s) * float(bw_hz))
    return basis_from_lines(lines, pre.replace(bw_hz=float(bw_hz), n_points=n))


def measure_linewidth(
    ppm: np.ndarray,
    y: np.ndarray,
    centre_ppm: float,
    larmor_mhz: float,
    *,
    half_width_ppm: float = 0.08,
) -> tuple[float, float, float]:
    """Lorentzian fit of one line: ``(fwhm_hz, centre_ppm, r2)``.

    Fits ``a g^2 / ((x - x0)^2 + g^2) + b`` (absorption Lorentzian plus offset)
    to the real spectrum ``y`` within ``centre_ppm +- half_width_ppm``; the
    sim-to-real analysis of the paper estimates linewidths this way (fits
    kept when R^2 > 0.5). A negative line (NAA in DIFF) is fitted as such.
    """
    from scipy.optimize import curve_fit

    x = np.asarray(ppm, dtype=float)
    sel = np.abs(x - centre_ppm) <= half_width_ppm
    xs, ys = x[sel], np.asarray(y, dtype=float)[sel]
    if xs.size < 5:
        raise MRSDataError(
            f"measure_linewidth: fewer than 5 points within {half_width_ppm} ppm of {centre_ppm}"
        )
    sign = 1.0 if ys.max() >= -ys.min() else -1.0
    ys = sign * ys
    i = int(np.argmax(ys))

    def model(v: np.ndarray, a: float, x0: float, g: float, b: float) -> np.ndarray:
        return a * g * g / ((v - x0) ** 2 + g * g) + b

    p0 = [ys[i] - np.median(ys), xs[i], 0.02, float(np.median(ys))]
    try:
        (a, x0, g, b), _ = curve_fit(model, xs, ys, p0=p0, maxfev=5000)
    except RuntimeError:
        return float("nan"), float("nan"), 0.0
    resid = ys - model(xs, a, x0, g, b)
    r2 = 1.0 - float(resid @ resid) / float(((ys - ys.mean()) ** 2).sum())
    return float(2 * abs(g) * larmor_mhz), float(x0), r2


# ============================================================================ batch
@dataclass(frozen=True, eq=False)
class SynthBatch:
    """A batch of synthetic spectra.

    ``x`` float32 ``[n, rows, M]`` noisy network input; ``clean`` the same
    without noise (same normalisation; ``None`` if ``keep_clean=False``);
    ``concentrations`` ``[n, n_met]`` true values (order ``metabolites``);
    ``targets`` float32 concentrations / sum; ``snr`` ``[n]`` (defined in
    :class:`~mrs_lib.synth.augment.Noise`; without a clean copy the peak is
    read from the noisy spectrum, as on real data); ``scale`` ``[n]`` the normalisation
    divisor (grid spectrum units); ``params`` the drawn augmentation parameters
    (arrays with first axis ``n``); ``ppm`` the grid.
    """

    x: np.ndarray
    clean: np.ndarray | None
    concentrations: np.ndarray
    targets: np.ndarray
    snr: np.ndarray
    scale: np.ndarray
    params: dict[str, np.ndarray]
    metabolites: tuple[str, ...]
    channels: tuple[str, ...]
    ppm: np.ndarray

    def __len__(self) -> int:
        return int(self.x.shape[0])


class Synthesizer:
    """A basis and a config with everything precomputed; :meth:`generate` makes batches."""

    def __init__(self, basis: Basis, config: SynthConfig | str = "paper") -> None:
        cfg = as_config(config)
        n_met = len(basis.metabolites)
        augs = []
        for a in cfg.augmentations:
            if isinstance(a, MetaboliteLinewidth | MetaboliteShift) and a.n_metabolites != n_met:
                a = dataclasses.replace(a, n_metabolites=n_met)
            augs.append(a)
        self.config = cfg
        self.basis = basis
        self.stages = {s: [a for a in augs if a.stage == s] for s in STAGES}
        grids: tuple[Any, ...] = (None,)
        #: grids of the config that the basis cannot provide exactly (see resample_fid)
        self.skipped_grids: list[tuple[float, int]] = []
        if cfg.grids is not None:
            ok = feasible_grids(basis, cfg.grids)
            self.skipped_grids = [g for g in cfg.grids if g not in ok]
            if not ok:
                raise MRSDataError(
                    f"config {cfg.name!r}: none of the acquisition grids {cfg.grids} can be made from "
                    f"{basis!r} by exact decimation; simulate the basis at 20000 Hz"
                )
            grids = tuple(ok)
        self.grids = grids
        self.plans = [
            GridPlan(
                basis, g, base_lw_hz=cfg.base_lw_hz, ppm_range=cfg.ppm_range, n_points=cfg.n_points
            )
            for g in grids
        ]
        #: noise transformed at a decimated rate (GridNoise) rather than exactly
        self.fast_noise = not cfg.exact
        #: clean spectra from the Chebyshev linewidth expansion (LorentzianExpansion)
        self.fast_clean = False
        self._fast_lw: Linewidth | None = None
        if self.fast_noise:
            for plan in self.plans:
                _ = plan.noise
            time_augs = self.stages["time"]
            lw = time_augs[0] if len(time_augs) == 1 else None
            if not (self.stages["component"] or self.stages["signal"] or self.stages["grid"]) and (
                not time_augs or (isinstance(lw, Linewidth) and lw.gaussian_hz == (0.0, 0.0))
            ):
                lo, hi = lw.lorentzian_hz if lw is not None else (0.0, 0.0)
                self.fast_clean = all(plan.expansion(lo, hi).ok for plan in self.plans)
                self._fast_lw = lw

    # ------------------------------------------------------------------ one block
    def run_state(self, state: SynthState, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Run every stage on ``state``; return the drawn parameters."""
        params: dict[str, np.ndarray] = {}
        state.exact_noise = not self.fast_noise
        if self.fast_clean:
            return self._run_fast(state, rng)
        for aug in self.stages["component"]:
            params.update(aug(state, rng))
        state.mix()
        for stage in ("signal", "time"):
            for aug in self.stages[stage]:
                params.update(aug(state, rng))
        noise = self.config.noise
        fuse = not (self.fast_noise and self.config.keep_clean)  # else GridNoise is cheaper
        if noise is not None and noise.mode == "relative" and not self.stages["grid"] and fuse:
            # sigma is known before the transform and nothing acts on the grid: draw the
            # noise now (the same draws, in the same order, as the Noise stage would make)
            # and transform it in the same FFT pass; without a clean copy add it to the
            # signal first, Z(s) + Z(n) = Z(s + n), which halves the transforms
            p = noise.draw(rng, state.n)
            state.sigma = noise.sigma(state, p)
            white = complex_normal(rng, (state.n, 2, state.plan.n_time))
            white *= state.sigma[..., np.newaxis]
            state.transform(noise=white, separate=self.config.keep_clean)
            params.update(p)
            return params
        state.transform()
        for aug in self.stages["grid"]:
            params.update(aug(state, rng))
        for aug in self.stages["noise"]:
            params.update(aug(state, rng))
        return params

    def _run_fast(self, state: SynthState, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Linewidth + noise configs: clean spectra by the Chebyshev expansion, noise by GridNoise.

        Draws from ``rng`` in the same order as the stage-by-stage path.
        """
        params: dict[str, np.ndarray] = {}
        plan = state.plan
        lw = self._fast_lw
        if lw is not None:
            p = lw.draw(rng, state.n)
            params.update(p)
            exp = plan.expansion(*lw.lorentzian_hz)
            lor = p["lorentzian_hz"]
        else:
            exp = plan.expansion(0.0, 0.0)
            lor = np.zeros(state.n)
        state.spec = exp.spectra(state.conc, lor)
        state.peak_off = plan.peak_off(state.spec)
        noise = self.config.noise
        if noise is not None:
            if noise.mode == "relative":
                state.ref_amplitude = _max_abs_mix(state.conc, plan)
            params.update(noise(state, rng))
        return params

    def _block(
        self,
        conc: np.ndarray,
        grid_idx: np.ndarray,
        rng: np.random.Generator,
        x: np.ndarray,
        clean: np.ndarray | None,
    ) -> dict[str, Any]:
        """Synthesise one block into the output views ``x`` and ``clean``."""
        n = conc.shape[0]
        cfg = self.config
        snr = np.empty(n)
        scale = np.empty(n)
        sig = np.zeros((n, 2))
        params: dict[str, np.ndarray] = {}
        for g in np.unique(grid_idx):
            sel: Any = np.flatnonzero(grid_idx == g)
            if len(sel) == n:
                sel = slice(None)  # one grid: write the outputs in place, no gather/scatter
            plan = self.plans[int(g)]
            state = SynthState(plan, conc[sel])
            p = self.run_state(state, rng)
            assert state.spec is not None and state.peak_off is not None
            if state.noise is None:
                noisy = state.spec
            else:  # the noise array is ours: add in place
                noisy = state.noise
                noisy += state.spec
            if isinstance(sel, slice):
                _, scale[sel] = normalise_rows(noisy, cfg.channels, out=x)
                if clean is not None:
                    grid_rows(state.spec, cfg.channels, scale, out=clean)
            else:
                x[sel], scale[sel] = normalise_rows(noisy, cfg.channels)
                if clean is not None:
                    clean[sel] = grid_rows(state.spec, cfg.channels, scale[sel])
            sigma = state.sigma if state.sigma is not None else np.zeros((state.n, 2))
            sig[sel] = sigma
            with np.errstate(divide="ignore"):
                snr[sel] = state.peak_off / (sigma[:, 0] * np.sqrt(plan.n_time))
            if self.grids != (None,):
                p["grid_bw_hz"] = np.full(state.n, plan.bw_hz)
                p["grid_n_points"] = np.full(state.n, plan.n_time)
            for k, v in p.items():
                if k not in params:
                    params[k] = np.zeros((n, *np.shape(v)[1:]), dtype=np.asarray(v).dtype)
                params[k][sel] = v
        params["sigma_off"], params["sigma_on"] = sig[:, 0], sig[:, 1]
        return {"snr": snr, "scale": scale, "params": params}

    # ------------------------------------------------------------------ public
    def generate(
        self,
        n: int,
        rng: np.random.Generator | int,
        *,
        concentrations: np.ndarray | None = None,
        workers: int | None = None,
    ) -> SynthBatch:
        """``n`` spectra; deterministic given ``rng`` (independent of ``workers``)."""
        rng = np.random.default_rng(rng)
        n = int(n)
        if n < 1:
            raise MRSDataError(f"argument 'n': expected >= 1, got {n}")
        cfg = self.config
        if concentrations is None:
            conc = cfg.prior.sample(rng, n, self.basis.metabolites)
        else:
            conc = np.asarray(concentrations, dtype=float)
            if conc.shape != (n, len(self.basis.metabolites)):
                raise MRSDataError(
                    f"argument 'concentrations': expected shape {(n, len(self.basis.metabolites))}, got {conc.shape}"
                )
        grid_idx = (
            rng.integers(len(self.plans), size=n) if len(self.plans) > 1 else np.zeros(n, dtype=int)
        )
        starts = list(range(0, n, BLOCK_SIZE))
        child = rng.spawn(len(starts))
        x = np.empty((n, len(cfg.channels), cfg.n_points), dtype=np.float32)
        clean = np.empty_like(x) if cfg.keep_clean else None
        jobs = [
            (
                conc[s : s + BLOCK_SIZE],
                grid_idx[s : s + BLOCK_SIZE],
                r,
                x[s : s + BLOCK_SIZE],
                None if clean is None else clean[s : s + BLOCK_SIZE],
            )
            for s, r in zip(starts, child, strict=True)
        ]
        nw = default_workers() if workers is None else max(1, int(workers))
        if nw > 1 and len(jobs) > 1:
            with ThreadPoolExecutor(max_workers=min(nw, len(jobs))) as pool:
                parts = list(pool.map(lambda j: self._block(*j), jobs))
        else:
            parts = [self._block(*j) for j in jobs]
        params = {k: np.concatenate([p["params"][k] for p in parts]) for k in parts[0]["params"]}
        return SynthBatch(
            x=x,
            clean=clean,
            concentrations=conc,
            targets=sum_normalise(conc).astype(np.float32),
            snr=np.concatenate([p["snr"] for p in parts]),
            scale=np.concatenate([p["scale"] for p in parts]),
            params=params,
            metabolites=tuple(self.basis.metabolites),
            channels=cfg.channels,
            ppm=self.plans[0].grid_ppm,
        )


def _max_abs_mix(conc: np.ndarray, plan: GridPlan) -> np.ndarray:
    """``max_t |sum_m c_m basis_m(t)|`` ``[n, 2]`` (OFF, ON), what :meth:`SynthState.mix` records.

    Exact, but cheap: the maximum over the first ``H`` samples is compared with the
    bound ``sum_m |c_m| max_{t >= H} |basis_m(t)|`` on the rest; only rows where the
    bound could win are mixed in full.
    """
    c = np.asarray(conc, dtype=np.float32)
    H = plan.head_len
    head_fid = (
        np.einsum("nm,mk->nk", c, plan.head_real).view(np.complex64).reshape(c.shape[0], 2, H)
    )
    head = np.abs(head_fid).max(axis=-1)
    if H == plan.n_time:
        return head
    tail = np.abs(c) @ plan.tail_max  # [n, 2]
    redo = np.flatnonzero((head < tail).any(axis=-1))
    if redo.size:
        full = np.einsum("nm,mk->nk", c[redo], plan.basis_pre_real)
        head[redo] = np.abs(full.view(np.complex64).reshape(redo.size, 2, plan.n_time)).max(axis=-1)
    return head


def default_workers() -> int:
    """Threads used by :meth:`Synthesizer.generate`: the CPUs this process may use (at most 8)."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        n = os.cpu_count() or 1
    return max(1, min(8, n))


@functools.lru_cache(maxsize=8)
def _synthesizer(basis: Basis, config: SynthConfig) -> Synthesizer:
    return Synthesizer(basis, config)


def generate(
    basis: Basis,
    n: int,
    rng: np.random.Generator | int,
    config: SynthConfig | str = "paper",
    *,
    concentrations: np.ndarray | None = None,
    workers: int | None = None,
) -> SynthBatch:
    """Generate ``n`` synthetic MEGA-PRESS spectra from ``basis`` (chapter 2).

    ``config`` is a :class:`SynthConfig` or a preset name (``"paper"``,
    ``"paper-no-lw"``, ``"full"``). The plan (resampled basis, chirp-z
    constants) is cached per (basis object, config). Metabolite order is
    ``basis.metabolites``.
    """
    return _synthesizer(basis, as_config(config)).generate(
        n, rng, concentrations=concentrations, workers=workers
    )


def example(
    basis: Basis,
    concentrations: Sequence[float],
    *,
    lorentzian_hz: float = 0.0,
    gaussian_hz: float = 0.0,
    shift_hz: float = 0.0,
    phase_deg: float = 0.0,
    baseline_level: float = 0.0,
    snr: float | None = None,
    seed: int = 0,
    config: SynthConfig | str = "paper",
) -> SynthBatch:
    """One spectrum with *chosen* augmentation values (for figures and widgets).

    Applies :class:`Linewidth`, :class:`FrequencyShift`, :class:`ZeroOrderPhase`,
    :class:`Baseline` (shape drawn from ``seed``) and, if ``snr`` is given,
    :class:`Noise` in SNR mode, with the given values; the acquisition grid and
    base linewidth come from ``config``.
    """
    cfg = as_config(config)
    synth = _synthesizer(
        basis, cfg.replace(augmentations=(), grids=cfg.grids[:1] if cfg.grids else None)
    )
    plan = synth.plans[0]
    rng = np.random.default_rng(seed)
    state = SynthState(plan, np.asarray(concentrations, dtype=float)[np.newaxis])
    state.mix()
    one = np.ones(1)
    Linewidth((0, 0)).apply(
        state, {"lorentzian_hz": lorentzian_hz * one, "gaussian_hz": gaussian_hz * one}
    )
    FrequencyShift().apply(state, {"shift_hz": shift_hz * one})
    ZeroOrderPhase().apply(state, {"phase_deg": phase_deg * one})
    state.transform()
    bl = Baseline()
    p = bl.draw(rng, 1)
    p["baseline_level"] = baseline_level * one
    bl.apply(state, p)
    params: dict[str, np.ndarray] = {
        "lorentzian_hz": lorentzian_hz * one,
        "shift_hz": shift_hz * one,
        "phase_deg": phase_deg * one,
        **p,
    }
    if snr is not None:
        noise = Noise("snr", snr=(snr, snr))
        params.update(noise(state, rng))
    assert state.spec is not None and state.peak_off is not None
    noisy = state.spec if state.noise is None else state.spec + state.noise
    x, scale = normalise_rows(noisy, cfg.channels)
    clean = grid_rows(state.spec, cfg.channels, scale)
    sigma = state.sigma[:, 0] if state.sigma is not None else np.zeros(1)
    with np.errstate(divide="ignore"):
        snr_meas = state.peak_off / (sigma * np.sqrt(plan.n_time))
    conc = np.asarray(concentrations, dtype=float)[np.newaxis]
    return SynthBatch(
        x,
        clean,
        conc,
        sum_normalise(conc).astype(np.float32),
        snr_meas,
        scale,
        params,
        tuple(basis.metabolites),
        cfg.channels,
        plan.grid_ppm,
    )


__all__ = [
    "BLOCK_SIZE",
    "DEFAULT_CHANNELS",
    "EXPANSION_TOL",
    "INVIVO_MM",
    "NOISE_CORR_TOL",
    "PHANTOM_MM",
    "PRESETS",
    "ConcentrationPrior",
    "GridNoise",
    "GridPlan",
    "GridTransform",
    "LorentzianExpansion",
    "SynthBatch",
    "SynthConfig",
    "Synthesizer",
    "as_config",
    "example",
    "feasible_grids",
    "fine_basis",
    "generate",
    "grid_rows",
    "grid_transform",
    "max_normalise",
    "measure_linewidth",
    "network_input",
    "normalise_rows",
    "resample_fid",
    "singlet_basis",
    "sobol_points",
    "sum_normalise",
]

"""A basis sampled otherwise than the data, on the data's grid (as LCModel does).

LCModel takes a basis of any bandwidth, length and field strength: it keeps
each basis line at its ppm (for another field, the basis's frequency axis is
rescaled by ``larmor_data / larmor_basis``: the coupling constants scale with
it), cuts or zero-fills the basis spectrum to the data's bandwidth and
transforms back. Here the same is done without interpolating
the FIDs in time:

* the basis FID ``b(n dt_b)`` is read in the data's time units,
  ``t_n = n dt_b / r`` with ``r = larmor_data / larmor_basis`` (a line at
  ``nu`` Hz of the basis sits at ``r nu`` Hz in the data: same ppm);
* the model spectrum is its DFT *at the frequencies of the data's fitting
  window* (a chirp-z "zoom" transform; no interpolation), scaled to the
  data's dwell time with the trapezoid rule's first-point term
  (Euler-Maclaurin): for one continuous FID ``g`` sampled at ``dt`` and at
  ``dt'``, ``DFT'(f) = (dt/dt') DFT(f) + (1 - dt/dt') g(0) / 2 + O(dt^2)``.

Only the basis samples inside the data's acquisition time are used (the data
are truncated there too). A basis shorter than the data is accepted when its
FIDs have decayed by their end; a basis more than 20 % off in field is
refused (LCModel stops there too).
"""

from __future__ import annotations

import numpy as np
from scipy.signal import ZoomFFT

from ...errors import MRSDataError
from ...spectrum import Spectrum

#: Largest relative field difference between basis and data (LCModel: FATAL at 20 %).
MAX_FIELD_MISMATCH = 0.2
#: A basis shorter than the data must have decayed to this fraction of its peak by its end.
MAX_TAIL = 0.01


class Zoom:
    """The DFT of FIDs on the basis grid at the window's frequencies, in the data's units.

    ``x`` (last axis: ``n`` samples ``dt`` apart) maps to
    ``ratio * sum_n x_n exp(-2 pi i f_l n dt) + (1 - ratio) x_0 / 2`` with
    ``ratio = dt / dwell_data``, at the equally spaced ``f_l`` (Hz) of the window.
    """

    def __init__(self, n: int, freqs_hz: np.ndarray, dt: float, dwell_data: float) -> None:
        f = np.asarray(freqs_hz, dtype=float)
        step = np.diff(f)
        if f.size < 2 or not np.allclose(step, step[0], rtol=1e-9, atol=0.0) or step[0] <= 0:
            raise MRSDataError("resampled basis: the window frequencies are not equally spaced")
        self.n = int(n)
        self.ratio = float(dt / dwell_data)
        self._zoom = ZoomFFT(self.n, [f[0], f[0] + f.size * step[0]], m=f.size, fs=1.0 / dt)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        out = self._zoom(x, axis=-1)
        return self.ratio * out + (0.5 * (1.0 - self.ratio)) * x[..., :1]


def resample_basis(
    basis: Spectrum, data: Spectrum, window_hz: np.ndarray
) -> tuple[np.ndarray, float, Zoom]:
    """The basis FIDs on their own grid in the data's time units, that step, and the transform.

    ``window_hz`` are the frequencies (Hz from the data's receiver, ascending)
    of the fitting window. Returns ``(fid, dt, zoom)``: ``fid[:, n]`` is the
    basis at ``t_n = n dt`` (data time, up to the data's acquisition time) and
    ``zoom`` (:class:`Zoom`) maps FIDs on that grid to the data's window
    spectrum. Raises :class:`~mrs_lib.errors.MRSDataError` for a field more
    than :data:`MAX_FIELD_MISMATCH` off, a basis that stops before the data
    does without having decayed, or a window outside the basis's bandwidth.
    """
    r = data.larmor_mhz / basis.larmor_mhz
    if not (1.0 / (1.0 + MAX_FIELD_MISMATCH) < r < 1.0 + MAX_FIELD_MISMATCH):
        raise MRSDataError(
            f"field 'larmor_mhz': basis {basis.larmor_mhz!r} MHz and data {data.larmor_mhz!r} MHz "
            f"differ by more than {MAX_FIELD_MISMATCH:.0%}; simulate a basis at the data's field"
        )
    dt = basis.dwell_s / r
    t_data = data.n_points * data.dwell_s
    t_basis = basis.n_points * dt
    fid = np.atleast_2d(basis.fid)
    if t_basis < t_data * (1.0 - 1e-9):
        peak = np.abs(fid).max(axis=-1)
        tail = float(np.max(np.abs(fid[:, -8:]).max(axis=-1) / np.where(peak > 0, peak, 1.0)))
        if tail > MAX_TAIL:
            raise MRSDataError(
                f"field 'dwell_s': the data ({data.n_points} points of {data.dwell_s!r} s: "
                f"{t_data:.4g} s) last longer than the basis ({basis.n_points} points of "
                f"{basis.dwell_s!r} s: {t_basis:.4g} s here), whose FIDs have not decayed by "
                f"their end ({tail:.1%} of their peak); use a basis of at least {t_data:.4g} s"
            )
    n_use = min(basis.n_points, int(np.ceil(t_data / dt - 1e-9)))
    d_ref_hz = (basis.ppm_reference - data.ppm_reference) * data.larmor_mhz
    nyquist = 0.5 / dt
    w = np.asarray(window_hz, dtype=float)
    if np.any(np.abs(w - d_ref_hz) >= nyquist):
        raise MRSDataError(
            f"field 'dwell_s': the fitting window lies outside the basis's bandwidth "
            f"({1 / basis.dwell_s:g} Hz at {basis.larmor_mhz:g} MHz)"
        )
    return fid[:, :n_use], dt, Zoom(n_use, w, dt, data.dwell_s)


__all__ = ["MAX_FIELD_MISMATCH", "MAX_TAIL", "Zoom", "resample_basis"]

"""LCModel's model-free lineshape: a regularised convolution kernel shared by all metabolites.

LCModel :cite:p:`provencher1993` convolves every basis spectrum with one
lineshape ``S``, sampled at ``2 K + 1`` points ``inc`` grid points apart,
normalised to unit sum and penalised by the squared second differences of its
coefficients (a discrete ``integral S''^2``; the kernel goes to zero past its
ends). The half-width follows the linewidth of a preliminary fit: ``K inc``
grid points cover ``RFWHM / 2 = 0.9`` times its FWHM, with 5 <= K <= 11 and
the spacing ``inc`` growing for broad lines (LCModel's ``NSIDES``, ``INCSID``,
``RFWHM = 1.8``, ``NSIDMN = 5``, ``NSIDMX = 11``). Being short, the kernel
cannot make the long wings of a broad Lorentzian: LCModel then gives part of
the area to the baseline (measured: 8-24 % low at 5 Hz of extra Lorentzian).

A convolution in frequency is a product in time: the model FIDs are
multiplied by ``w(t) = sum_k S_k exp(2 pi i k h t)`` (``h`` the kernel spacing
in Hz), so the rest of the model (:mod:`~mrs_lib.fit.lcm.model`) is unchanged.
The free parameters are the ``2 K`` coefficients other than the centre one,
which is ``1 - sum`` of the others.
"""

from __future__ import annotations

import numpy as np

#: LCModel's RFWHM, NSIDMN, NSIDMX and INCSMX.
RFWHM, NSIDES_MIN, NSIDES_MAX, INC_MAX = 1.8, 5, 11, 15


def kernel_size(fwhm_ppm: float, ppm_step: float) -> tuple[int, int]:
    """``(K, inc)``: kernel points a side and their spacing in grid points (LCModel's rule).

    ``NSIDES = NINT(0.5 FWHM RFWHM / PPMINC)`` (at least ``NSIDMN``), ``INCSID =
    (NSIDES - 1) / NSIDMX + 1`` (integer division), then ``NSIDES =
    NINT((NSIDES + 0.001) / INCSID)``; ``NINT`` rounds halves away from zero.
    """
    k = max(NSIDES_MIN, _nint(0.5 * fwhm_ppm * RFWHM / ppm_step))
    inc = (k - 1) // NSIDES_MAX + 1
    k = _nint((k + 0.001) / inc)
    if inc > INC_MAX:
        inc, k = INC_MAX, NSIDES_MAX
    return int(k), int(inc)


def _nint(x: float) -> int:
    """Fortran's ``NINT`` for ``x >= 0``."""
    return int(np.floor(x + 0.5))


class Kernel:
    """A lineshape kernel of ``2 K + 1`` points ``h_hz`` apart on a time grid ``t`` (s).

    ``alpha`` weighs the roughness penalty (rows ``sqrt(alpha) D2 S``, in units
    of the prior SD, on the kernel padded with a zero at each end); with
    ``about_identity`` the penalty is on ``S - delta`` (the kernel's departure
    from no convolution: for a kernel on top of a fitted Voigt lineshape).
    """

    def __init__(
        self,
        k: int,
        inc: int,
        h_hz: float,
        t: np.ndarray,
        alpha: float,
        about_identity: bool = False,
    ) -> None:
        self.k, self.inc, self.h_hz, self.alpha = int(k), int(inc), float(h_hz), float(alpha)
        self.about_identity = bool(about_identity)
        offsets = np.arange(-self.k, self.k + 1)
        self.table = np.exp(2j * np.pi * self.h_hz * offsets[:, None] * t[None, :])
        n = 2 * self.k + 1
        d2 = np.diff(np.eye(n + 2), n=2, axis=0)[:, 1:-1]  # zero-padded second differences
        # d(D2 S)/d(free coefficients): the centre coefficient is 1 - sum of the others.
        self._d2_free = np.delete(d2 - d2[:, [self.k]], self.k, axis=1)
        self._d2_centre = d2[:, self.k]
        self._shifted = np.delete(self.table - self.table[self.k], self.k, axis=0)

    @property
    def n_free(self) -> int:
        return 2 * self.k

    def full(self, free: np.ndarray) -> np.ndarray:
        """All ``2 K + 1`` coefficients from the ``2 K`` free ones (unit sum)."""
        return np.insert(np.asarray(free, dtype=float), self.k, 1.0 - float(np.sum(free)))

    def time_factor(self, free: np.ndarray) -> np.ndarray:
        """``w(t) = sum_k S_k exp(2 pi i k h t)``."""
        return self.full(free) @ self.table

    def shifted(self) -> np.ndarray:
        """``exp(2 pi i k h t) - 1`` per free coefficient: d w / d S_k (the centre compensates)."""
        return self._shifted

    def roughness(self, free: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
        """Penalty rows ``sigma sqrt(alpha) D2 S`` and their derivative in the free coefficients."""
        w = sigma * np.sqrt(self.alpha)
        centre = 0.0 if self.about_identity else self._d2_centre
        return w * (self._d2_free @ free + centre), w * self._d2_free

    def initial(self, fwhm_hz: float) -> np.ndarray:
        """Free coefficients of a Gaussian of ``fwhm_hz`` cut to the kernel (unit sum)."""
        f = np.arange(-self.k, self.k + 1) * self.h_hz
        width = max(float(fwhm_hz), 1e-3)
        s = np.exp(-4.0 * np.log(2.0) * (f / width) ** 2)
        s /= s.sum()
        return np.delete(s, self.k)


__all__ = ["INC_MAX", "NSIDES_MAX", "NSIDES_MIN", "RFWHM", "Kernel", "kernel_size"]

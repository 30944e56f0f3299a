"""RF pulses: piecewise-constant shapes and their single-spin profiles (chapter 1).

A :class:`ShapedPulse` is a real amplitude shape sampled in ``n_steps`` equal
steps, a duration and a flip angle; the peak B1 (Hz) follows from scaling the
area to the flip angle, ``2 pi * sum(b1_hz) * dt = flip``. Off-resonance
application (the editing pulses) is handled by the simulator in the frame
rotating with the pulse carrier, which is the same as a linear phase ramp
``phi(t) = phi0 + 2 pi nu_off t`` in the receiver frame.

Three shapes are provided:

* :func:`gaussian_pulse` - the MEGA editing pulse: a Gaussian truncated at the
  pulse edges and shifted so it starts and ends at zero, with standard
  deviation 0.53 of the half duration (this matches the 99-point sample
  editing waveform shipped with FID-A to within 0.6 % of the peak). Its
  inversion FWHM is ~60 Hz at 20 ms and ~86 Hz at 14 ms (:ref:`physics-pulses`).
* :func:`sinc_pulse` - the slice-selective refocusing pulse of this project: a
  Hann-windowed sinc scaled to 180 degrees. A 180-degree sinc refocuses a
  narrower band than its small-tip time-bandwidth suggests: with four zero
  crossings (nominal tbw 6) the measured refocusing FWHM is only 4.0 / T
  (804 Hz at 5 ms). The default, six zero crossings, measures 5.6 / T
  (1113 Hz at 5 ms), close to the ~1150 Hz of the Mao pulse FID-A uses, so
  the chemical-shift displacement of the slices matches.
* :func:`optimized_refocusing_pulse` - the default refocusing pulse of the
  presets: a symmetric 10-term cosine series, 5 ms, whose coefficients were
  optimised (:func:`design_refocusing_pulse`) for a flat refocusing passband
  (efficiency >= 0.98 up to +-400 Hz) and a stop band beyond +-720 Hz with a
  peak B1 of 1 kHz: FWHM 1142 Hz (time-bandwidth 5.7), the band of the Mao
  pulse that FID-A uses. A windowed sinc's rounded passband loses ~8 % of
  every singlet and about 15 % of the GABA edit efficiency relative to it.

:func:`rotation_profile` gives the Cayley-Klein parameters ``(alpha, beta)``
of one spin over a range of offsets, from which inversion ``|beta|^2``-based
profiles follow (``Mz = 1 - 2 |beta|^2``; refocusing efficiency ``|beta|^2``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import MRSDataError


@dataclass(frozen=True, eq=False)
class ShapedPulse:
    """A piecewise-constant RF pulse.

    Parameters
    ----------
    name
        Label (``"gaussian"``, ``"sinc"``...).
    shape
        Real relative amplitude per step (sign changes allowed; any scale).
    duration_ms
        Total duration in ms.
    flip_deg
        Flip angle the shape is scaled to (by its area).
    """

    name: str
    shape: np.ndarray
    duration_ms: float
    flip_deg: float = 180.0

    def __post_init__(self) -> None:
        s = np.asarray(self.shape, dtype=float)
        if s.ndim != 1 or s.size < 1 or not np.all(np.isfinite(s)):
            raise MRSDataError("field 'shape': expected a finite 1-D array")
        if abs(s.sum()) < 1e-12:
            raise MRSDataError("field 'shape': area is zero, cannot scale to a flip angle")
        if not self.duration_ms > 0:
            raise MRSDataError(f"field 'duration_ms': expected > 0, got {self.duration_ms}")
        s = s.copy()
        s.setflags(write=False)
        object.__setattr__(self, "shape", s)

    @property
    def n_steps(self) -> int:
        return int(self.shape.size)

    @property
    def dt_s(self) -> float:
        return self.duration_ms * 1e-3 / self.n_steps

    @property
    def b1_hz(self) -> np.ndarray:
        """B1 amplitude per step in Hz (gamma B1 / 2 pi), scaled by area to ``flip_deg``."""
        return self.shape * (self.flip_deg / 360.0) / (self.shape.sum() * self.dt_s)

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "duration_ms": self.duration_ms,
            "flip_deg": self.flip_deg,
            "n_steps": self.n_steps,
            "shape_sha": _digest(self.shape),
        }


def _digest(a: np.ndarray) -> str:
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(a, dtype=float).tobytes()).hexdigest()[:16]


def gaussian_pulse(
    duration_ms: float, *, n_steps: int = 100, sigma_frac: float = 0.53, flip_deg: float = 180.0
) -> ShapedPulse:
    """Truncated Gaussian editing pulse, zero at both ends.

    ``a(tau) = (g(tau) - g(1)) / (1 - g(1))`` with ``g = exp(-tau^2 / (2 s^2))``,
    ``tau`` in [-1, 1] across the pulse and ``s = sigma_frac``.
    """
    tau = (np.arange(n_steps) + 0.5) / n_steps * 2 - 1
    g = np.exp(-(tau**2) / (2 * sigma_frac**2))
    edge = np.exp(-1 / (2 * sigma_frac**2))
    return ShapedPulse("gaussian", (g - edge) / (1 - edge), duration_ms, flip_deg)


def sinc_pulse(
    duration_ms: float = 5.0,
    *,
    zero_crossings: int = 6,
    n_steps: int = 250,
    flip_deg: float = 180.0,
) -> ShapedPulse:
    """Hann-windowed sinc refocusing pulse with ``zero_crossings`` interior zeros.

    ``a(tau) = sinc(k tau) * (0.5 + 0.5 cos(pi tau))`` with ``k = zero_crossings / 2 + 1``
    so that the sinc has ``zero_crossings / 2`` zeros on each side and ends on one:
    nominal (small-tip) time-bandwidth product ``2k``; the measured 180-degree
    refocusing FWHM times duration is 5.6 for the default six zero crossings
    (see the module docstring and :func:`profile_fwhm_hz`).
    """
    if zero_crossings < 0 or zero_crossings % 2:
        raise MRSDataError(
            f"argument 'zero_crossings': expected an even number, got {zero_crossings}"
        )
    k = zero_crossings / 2 + 1
    tau = (np.arange(n_steps) + 0.5) / n_steps * 2 - 1
    shape = np.sinc(k * tau) * (0.5 + 0.5 * np.cos(np.pi * tau))
    return ShapedPulse(f"sinc{zero_crossings}", shape, duration_ms, flip_deg)


#: Cosine-series coefficients ``a(tau) = sum_k c_k cos(k pi tau)`` of the default refocusing
#: pulse, from :func:`design_refocusing_pulse` (rounded to 6 decimals).
OPTIMIZED_REFOCUSING_COEFFS: tuple[float, ...] = (
    1.0,
    1.936114,
    2.201447,
    2.656447,
    1.323966,
    0.530248,
    0.265625,
    0.104491,
    0.008289,
    -0.017292,
)


def _cosine_shape(coeffs: np.ndarray | tuple[float, ...], n_steps: int) -> np.ndarray:
    tau = (np.arange(n_steps) + 0.5) / n_steps * 2 - 1
    return np.sum([c * np.cos(k * np.pi * tau) for k, c in enumerate(coeffs)], axis=0)


def optimized_refocusing_pulse(
    duration_ms: float = 5.0, *, n_steps: int = 250, flip_deg: float = 180.0
) -> ShapedPulse:
    """The project's refocusing pulse: optimised cosine series (module docstring), scaled to 180."""
    return ShapedPulse(
        "cosopt", _cosine_shape(OPTIMIZED_REFOCUSING_COEFFS, n_steps), duration_ms, flip_deg
    )


def design_refocusing_pulse(
    *,
    n_terms: int = 10,
    pass_hz: float = 430.0,
    stop_hz: float = 720.0,
    b1_max_hz: float = 1000.0,
    duration_ms: float = 5.0,
    n_steps: int = 125,
    maxiter: int = 300,
) -> np.ndarray:
    """Re-derive :data:`OPTIMIZED_REFOCUSING_COEFFS` (about 20 s).

    Minimises ``mean((1 - |beta|^2)^2)`` over ``|f| <= pass_hz`` plus
    ``mean(|beta|^4)`` over ``stop_hz <= |f| <= 2500`` Hz, with a quadratic
    penalty on B1 above ``b1_max_hz``, by L-BFGS-B from a least-squares cosine
    fit of the Hann-windowed six-zero-crossing sinc. Returns coefficients
    normalised to ``c_0 = 1``.
    """
    from scipy.optimize import minimize

    f_pass = np.linspace(0, pass_hz, 60)
    f_stop = np.linspace(stop_hz, 2500, 80)

    def cost(c: np.ndarray) -> float:
        p = ShapedPulse("design", _cosine_shape(c, n_steps), duration_ms)
        over = max(0.0, float(np.abs(p.b1_hz).max()) - b1_max_hz)
        rp, rs = refocusing_profile(p, f_pass), refocusing_profile(p, f_stop)
        return float(np.mean((1 - rp) ** 2) + np.mean(rs**2) + 1e-6 * over**2)

    tau = (np.arange(n_steps) + 0.5) / n_steps * 2 - 1
    start = np.sinc(4 * tau) * (0.5 + 0.5 * np.cos(np.pi * tau))
    basis = np.stack([np.cos(k * np.pi * tau) for k in range(n_terms)], axis=1)
    c0 = np.linalg.lstsq(basis, start, rcond=None)[0]
    res = minimize(cost, c0, method="L-BFGS-B", options={"maxiter": maxiter})
    return res.x / res.x[0]


def rotation_profile(pulse: ShapedPulse, offsets_hz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cayley-Klein ``(alpha, beta)`` of one spin after ``pulse`` at each offset (Hz).

    The pulse is applied along x in the frame rotating at its carrier; each
    step is an exact rotation about ``(2 pi b1, 0, 2 pi offset)``.
    """
    off = np.asarray(offsets_hz, dtype=float)
    a = np.ones(off.shape, complex)
    b = np.zeros(off.shape, complex)
    dt = pulse.dt_s
    for b1 in pulse.b1_hz:
        wx, wz = 2 * np.pi * b1, 2 * np.pi * off
        w = np.sqrt(wx**2 + wz**2)
        phi = w * dt
        with np.errstate(invalid="ignore", divide="ignore"):
            nx = np.where(w > 0, wx / np.where(w > 0, w, 1), 0.0)
            nz = np.where(w > 0, wz / np.where(w > 0, w, 1), 1.0)
        c, s = np.cos(phi / 2), np.sin(phi / 2)
        ar, br = c - 1j * nz * s, -1j * nx * s
        a, b = ar * a - np.conj(br) * b, br * a + np.conj(ar) * b
    return a, b


def inversion_profile(pulse: ShapedPulse, offsets_hz: np.ndarray) -> np.ndarray:
    """``Mz`` after the pulse starting from ``Mz = 1`` (``-1`` = full inversion)."""
    _a, b = rotation_profile(pulse, offsets_hz)
    return 1 - 2 * np.abs(b) ** 2


def refocusing_profile(pulse: ShapedPulse, offsets_hz: np.ndarray) -> np.ndarray:
    """Refocusing efficiency ``|beta|^2`` (1 = perfect spin echo with crushers)."""
    _a, b = rotation_profile(pulse, offsets_hz)
    return np.abs(b) ** 2


def profile_fwhm_hz(
    pulse: ShapedPulse, kind: str = "refocusing", span_hz: float | None = None
) -> float:
    """Full width at half maximum (Hz) of the pulse's refocusing or inversion profile."""
    span = span_hz if span_hz is not None else 20.0 / (pulse.duration_ms * 1e-3)
    f = np.linspace(0, span, 20001)
    prof = (
        refocusing_profile(pulse, f)
        if kind == "refocusing"
        else (1 - inversion_profile(pulse, f)) / 2
    )
    half = prof[0] / 2
    idx = int(np.argmax(prof < half))
    if idx == 0:
        raise MRSDataError(f"profile of {pulse.name} does not fall to half within {span} Hz")
    f0, f1, p0, p1 = f[idx - 1], f[idx], prof[idx - 1], prof[idx]
    return float(2 * (f0 + (half - p0) * (f1 - f0) / (p1 - p0)))


__all__ = [
    "OPTIMIZED_REFOCUSING_COEFFS",
    "ShapedPulse",
    "design_refocusing_pulse",
    "gaussian_pulse",
    "inversion_profile",
    "optimized_refocusing_pulse",
    "profile_fwhm_hz",
    "refocusing_profile",
    "rotation_profile",
    "sinc_pulse",
]

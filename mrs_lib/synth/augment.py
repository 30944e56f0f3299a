"""Physics-informed augmentations: one callable object per effect (chapter 2).

Every augmentation is a frozen dataclass holding its *ranges*. Calling it as
``aug(state, rng)`` draws one value per spectrum from ``rng`` (an explicit
:class:`numpy.random.Generator`), applies them to the batched working
:class:`SynthState` in place, and returns the drawn parameters as a dict of
arrays whose first axis is the batch (``n``). ``draw(rng, n)`` and
``apply(state, params)`` are also public, so a chapter or a widget can apply
chosen values instead of random ones.

The generator (:mod:`mrs_lib.synth.generator`) runs them in *stage* order,
each stage a point of the MEGA-PRESS signal chain where the effect enters:

``component``
    per metabolite, before mixing (its own T2 / linewidth, its own shift);
``signal``
    additive signals with their own FIDs (co-edited macromolecules, water);
``time``
    multiplicative, common to every line of one acquisition (B0
    inhomogeneity = linewidth, frequency offset/drift, receiver phase,
    eddy currents);
``grid``
    on the network's ppm grid after resampling (first-order phase, baseline);
``noise``
    thermal noise, added last (it is not phased or broadened).

Ranges and their sources (:ref:`physics-beyond`, :ref:`method-synthesis`):

* Linewidth. The paper applies a 2 Hz Lorentzian to the basis and then a
  variable Lorentzian per spectrum; its range is unpublished, the sim-to-real
  analysis searched 0.5-10 Hz. In vivo at 3 T: 5-10 Hz for a 27 mL voxel;
  solution phantoms 1-4 Hz, gels broader. Default extra Lorentzian
  U(0, 8) Hz on top of the 2 Hz basis line (total 2-10 Hz). Broadening is
  time-domain apodisation equal to 1 at t = 0, so line *areas* are preserved.
* Frequency shift: typical DL augmentation -20..+20 Hz (drift 0.1-1 Hz/min,
  several Hz/min after EPI; referencing errors). Per-metabolite shifts
  (temperature/pH) are a few hundredths of a ppm at most: +-1 Hz.
* Zero-order phase: -90..+90 degrees (the paper's phantoms were *not* phase
  corrected). First-order phase: +-5 degrees/ppm about 3.0 ppm, i.e. a
  receiver delay of up to ~0.11 ms at 127.7 MHz.
* Baseline: broad Gaussians (FWHM 0.4-2 ppm) and a low-order polynomial on
  the ppm grid, amplitude up to 20 % of the tallest metabolite peak.
* Residual water at 4.6-4.8 ppm, 5-20 Hz wide, amplitude log-uniform 0.05-5
  times the metabolite FID maximum, random phase (the paper clipped water).
* Co-edited macromolecules MM3co at 3.0 ppm: a Gaussian of ~14 Hz FWHM
  (Osprey's model), 40-60 % of GABA+ in vivo, absent in phantoms; added to the
  edit-ON acquisition only, so it appears in DIFF with GABA.
* Eddy currents: a decaying frequency offset df(t) = df0 exp(-t / tau),
  ``|df0| <= 5`` Hz, tau 10-100 ms (Klose, MRM 1990), i.e. a phase
  2 pi df0 tau (1 - exp(-t / tau)) that is 0 at t = 0 (area preserving).
* Noise: complex Gaussian in the time domain; see :class:`Noise`.

This module is long because it is the catalogue of every augmentation: eleven
small frozen dataclasses, one per physical effect, the registry that rebuilds
them from a stored config (:func:`from_dict`) and, above, the one table of their
ranges and sources. Split by stage, the table and the registry would have to
point into several modules for what is one list. The working state they act on
is :class:`~mrs_lib.synth.state.SynthState`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from ..errors import MRSDataError
from ..types import WATER_PPM
from .grid import complex_normal
from .state import SynthState

Stage = Literal["component", "signal", "time", "grid", "noise"]
STAGES: tuple[Stage, ...] = ("component", "signal", "time", "grid", "noise")
NoiseMode = Literal["relative", "snr"]

Params = dict[str, np.ndarray]


def _range(name: str, value: Iterable[float]) -> tuple[float, float]:
    lo, hi = (float(v) for v in value)
    if not (np.isfinite(lo) and np.isfinite(hi) and lo <= hi):
        raise MRSDataError(f"field '{name}': expected a finite range (low, high), got {value!r}")
    return (lo, hi)


def _uniform(
    rng: np.random.Generator, bounds: tuple[float, float], size: int | tuple[int, ...]
) -> np.ndarray:
    lo, hi = bounds
    if lo == hi:
        return np.full(size, lo, dtype=float)
    return rng.uniform(lo, hi, size=size)


# ---------------------------------------------------------------------------- base class
@dataclass(frozen=True)
class Augmentation:
    """Base class: ``aug(state, rng) -> params`` draws, applies and reports.

    Subclasses set ``stage`` and implement :meth:`draw` and :meth:`apply`.
    """

    stage: ClassVar[Stage] = "time"

    def draw(self, rng: np.random.Generator, n: int) -> Params:
        """Draw the parameters of ``n`` spectra (arrays with first axis ``n``)."""
        raise NotImplementedError

    def apply(
        self,
        state: SynthState,
        params: Mapping[str, np.ndarray],
        rng: np.random.Generator | None = None,
    ) -> None:
        """Apply given parameters to ``state`` in place."""
        raise NotImplementedError

    def __call__(self, state: SynthState, rng: np.random.Generator) -> Params:
        params = self.draw(rng, state.n)
        self.apply(state, params, rng)
        return params

    @property
    def name(self) -> str:
        return type(self).__name__

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly description (type plus fields), inverse of :func:`from_dict`."""
        d: dict[str, Any] = {"type": self.name}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            d[f.name] = list(v) if isinstance(v, tuple) else v
        return d


# ---------------------------------------------------------------------------- time stage
def cis(phase_rad: np.ndarray) -> np.ndarray:
    """``exp(i phase)`` as complex64 from float32 cos and sin (numpy's SIMD paths).

    ``np.exp(1j * x)`` would go through complex128 and be several times slower.
    """
    ph = np.asarray(phase_rad, dtype=np.float32)
    out = np.empty(ph.shape, dtype=np.complex64)
    np.cos(ph, out=out.real)
    np.sin(ph, out=out.imag)
    return out


def _decay(t: np.ndarray, lor_hz: np.ndarray, gau_hz: np.ndarray) -> np.ndarray:
    """``exp(-pi L t - (pi G t)^2 / (4 ln 2))`` broadcast over leading axes of L and G (float32)."""
    lor = np.asarray(lor_hz, dtype=np.float32)[..., np.newaxis]
    gau = np.asarray(gau_hz, dtype=np.float32)[..., np.newaxis]
    arg = (-np.pi * lor) * t
    if np.any(gau != 0):
        arg -= (np.float32(np.pi**2 / (4 * np.log(2))) * gau * gau) * (t * t)
    return np.exp(arg, dtype=np.float32)


@dataclass(frozen=True)
class Linewidth(Augmentation):
    """Extra Lorentzian and/or Gaussian broadening, one width per spectrum (FWHM, Hz).

    Lorentzian only (Gaussian range (0, 0)) is the paper's augmentation; both
    give a Voigt line. Apodisation ``exp(-pi L t) exp(-(pi G t)^2 / (4 ln 2))``
    equals 1 at t = 0: areas are preserved, heights drop. Parameters:
    ``lorentzian_hz``, ``gaussian_hz``.
    """

    lorentzian_hz: tuple[float, float] = (0.0, 8.0)
    gaussian_hz: tuple[float, float] = (0.0, 0.0)
    stage: ClassVar[Stage] = "time"

    def __post_init__(self) -> None:
        for name in ("lorentzian_hz", "gaussian_hz"):
            lo, hi = _range(name, getattr(self, name))
            if name == "gaussian_hz" and lo < 0:
                raise MRSDataError(f"field 'gaussian_hz': expected widths >= 0, got {(lo, hi)}")
            object.__setattr__(self, name, (lo, hi))

    def draw(self, rng: np.random.Generator, n: int) -> Params:
        return {
            "lorentzian_hz": _uniform(rng, self.lorentzian_hz, n),
            "gaussian_hz": _uniform(rng, self.gaussian_hz, n),
        }

    def apply(
        self,
        state: SynthState,
        params: Mapping[str, np.ndarray],
        rng: np.random.Generator | None = None,
    ) -> None:
        state.multiply_time(_decay(state.t, params["lorentzian_hz"], params["gaussian_hz"]))


@dataclass(frozen=True)
class FrequencyShift(Augmentation):
    """Move every line by ``shift_hz`` (positive = higher ppm): ``fid *= exp(2 pi i df t)``."""

    shift_hz: tuple[float, float] = (-20.0, 20.0)
    stage: ClassVar[Stage] = "time"

    def __post_init__(self) -> None:
        object.__setattr__(self, "shift_hz", _range("shift_hz", self.shift_hz))

    def draw(self, rng: np.random.Generator, n: int) -> Params:
        return {"shift_hz": _uniform(rng, self.shift_hz, n)}

    def apply(
        self,
        state: SynthState,
        params: Mapping[str, np.ndarray],
        rng: np.random.Generator | None = None,
    ) -> None:
        df = np.asarray(params["shift_hz"], dtype=np.float32)[:, np.newaxis]
        state.multiply_time(cis(np.float32(2 * np.pi) * df * state.t))


@dataclass(frozen=True)
class ZeroOrderPhase(Augmentation):
    """Receiver phase ``phi0`` (degrees): every line multiplied by ``exp(i phi0)``."""

    phase_deg: tuple[float, float] = (-90.0, 90.0)
    stage: ClassVar[Stage] = "time"

    def __post_init__(self) -> None:
        object.__setattr__(self, "phase_deg", _range("phase_deg", self.phase_deg))

    def draw(self, rng: np.random.Generator, n: int) -> Params:
        return {"phase_deg": _uniform(rng, self.phase_deg, n)}

    def apply(
        self,
        state: SynthState,
        params: Mapping[str, np.ndarray],
        rng: np.random.Generator | None = None,
    ) -> None:
        ph = cis(np.deg2rad(np.asarray(params["phase_deg"], dtype=np.float32)))
        state.multiply_time(np.broadcast_to(ph[:, np.newaxis], (state.n, state.plan.n_time)))


@dataclass(frozen=True)
class EddyCurrent(Augmentation):
    """Eddy-current-like lineshape distortion: a decaying frequency offset.

    Instantaneous offset ``df(t) = df0 exp(-t / tau)``; the FID is multiplied by
    ``exp(i 2 pi df0 tau (1 - exp(-t / tau)))`` (zero phase at t = 0, so areas
    are kept; lines become asymmetric). Parameters ``eddy_hz`` (df0) and
    ``eddy_tau_s``.
    """

    amplitude_hz: tuple[float, float] = (-5.0, 5.0)
    tau_s: tuple[float, float] = (0.01, 0.1)
    stage: ClassVar[Stage] = "time"

    def __post_init__(self) -> None:
        object.__setattr__(self, "amplitude_hz", _range("amplitude_hz", self.amplitude_hz))
        tau = _range("tau_s", self.tau_s)
        if tau[0] <= 0:
            raise MRSDataError(f"field 'tau_s': expected positive time constants, got {tau}")
        object.__setattr__(self, "tau_s", tau)

    def draw(self, rng: np.random.Generator, n: int) -> Params:
        return {
            "eddy_hz": _uniform(rng, self.amplitude_hz, n),
            "eddy_tau_s": _uniform(rng, self.tau_s, n),
        }

    def apply(
        self,
        state: SynthState,
        params: Mapping[str, np.ndarray],
        rng: np.random.Generator | None = None,
    ) -> None:
        df0 = np.asarray(params["eddy_hz"], dtype=np.float32)[:, np.newaxis]
        tau = np.asarray(params["eddy_tau_s"], dtype=np.float32)[:, np.newaxis]
        phi = np.float32(2 * np.pi) * df0 * tau * (1 - np.exp(-state.t / tau))
        state.multiply_time(cis(phi))


# ---------------------------------------------------------------------------- component stage
@dataclass(frozen=True)
class MetaboliteLinewidth(Augmentation):
    """Independent extra Lorentzian/Gaussian width per metabolite (T2 differences), FWHM Hz.

    Parameters ``met_lorentzian_hz`` and ``met_gaussian_hz`` of shape ``[n, n_met]``.
    Areas are preserved (apodisation is 1 at t = 0).
    """

    lorentzian_hz: tuple[float, float] = (0.0, 2.0)
    gaussian_hz: tuple[float, float] = (0.0, 0.0)
    n_metabolites: int = 5
    stage: ClassVar[Stage] = "component"

    def __post_init__(self) -> None:
        object.__setattr__(self, "lorentzian_hz", _range("lorentzian_hz", self.lorentzian_hz))
        g = _range("gaussian_hz", self.gaussian_hz)
        if g[0] < 0:
            raise MRSDataError(f"field 'gaussian_hz': expected widths >= 0, got {g}")
        object.__setattr__(self, "gaussian_hz", g)

    def draw(self, rng: np.random.Generator, n: int) -> Params:
        shape = (n, self.n_metabolites)
        return {
            "met_lorentzian_hz": _uniform(rng, self.lorentzian_hz, shape),
            "met_gaussian_hz": _uniform(rng, self.gaussian_hz, shape),
        }

    def apply(
        self,
        state: SynthState,
        params: Mapping[str, np.ndarray],
        rng: np.random.Generator | None = None,
    ) -> None:
        lor, gau = params["met_lorentzian_hz"], params["met_gaussian_hz"]
        if lor.shape != (state.n, state.plan.n_metabolites):
            raise MRSDataError(
                "parameter 'met_lorentzian_hz': expected shape "
                f"{(state.n, state.plan.n_metabolites)}, "
                f"got {lor.shape} (set n_metabolites to the basis size)"
            )
        state.multiply_components(_decay(state.t, lor, gau))


@dataclass(frozen=True)
class MetaboliteShift(Augmentation):
    """Independent small frequency shift per metabolite (Hz): ``met_shift_hz`` ``[n, n_met]``."""

    shift_hz: tuple[float, float] = (-1.0, 1.0)
    n_metabolites: int = 5
    stage: ClassVar[Stage] = "component"

    def __post_init__(self) -> None:
        object.__setattr__(self, "shift_hz", _range("shift_hz", self.shift_hz))

    def draw(self, rng: np.random.Generator, n: int) -> Params:
        return {"met_shift_hz": _uniform(rng, self.shift_hz, (n, self.n_metabolites))}

    def apply(
        self,
        state: SynthState,
        params: Mapping[str, np.ndarray],
        rng: np.random.Generator | None = None,
    ) -> None:
        df = np.asarray(params["met_shift_hz"], dtype=np.float32)[..., np.newaxis]
        state.multiply_components(cis(np.float32(2 * np.pi) * df * state.t))


# ---------------------------------------------------------------------------- signal stage
@dataclass(frozen=True)
class Macromolecules(Augmentation):
    """Co-edited macromolecule signal MM3co at 3.0 ppm, added to edit-ON only.

    A Gaussian line (``mm_fwhm_hz``, Osprey's ~14 Hz) whose *area* is
    ``mm_level`` times the area of the GABA DIFF multiplet (2.85-3.2 ppm) at
    unit GABA concentration, so ``mm_level = 1`` means as much MM3co signal as
    GABA at concentration 1 (in vivo MM3co is 40-60 % of GABA+, i.e. level
    ~0.7-1.5 times the GABA level). Independent of the GABA concentration.
    """

    level: tuple[float, float] = (0.0, 1.0)
    ppm: tuple[float, float] = (2.98, 3.02)
    fwhm_hz: tuple[float, float] = (12.0, 16.0)
    stage: ClassVar[Stage] = "signal"

    def __post_init__(self) -> None:
        for name in ("level", "ppm", "fwhm_hz"):
            object.__setattr__(self, name, _range(name, getattr(self, name)))

    def draw(self, rng: np.random.Generator, n: int) -> Params:
        return {
            "mm_level": _uniform(rng, self.level, n),
            "mm_ppm": _uniform(rng, self.ppm, n),
            "mm_fwhm_hz": _uniform(rng, self.fwhm_hz, n),
        }

    def apply(
        self,
        state: SynthState,
        params: Mapping[str, np.ndarray],
        rng: np.random.Generator | None = None,
    ) -> None:
        plan = state.plan
        # a line whose FID starts at A has area N A / 2 on the FFT grid (the other half of
        # sum(S) = N fid(0) is the first-point offset spread over the band), hence the 2
        amp = np.asarray(params["mm_level"], dtype=np.float32) * np.float32(
            2 * plan.gaba_area / plan.n_time
        )
        f = (
            np.asarray(params["mm_ppm"], dtype=np.float32) - np.float32(plan.ppm_reference)
        ) * np.float32(plan.larmor_mhz)
        fid = _line(state.t, amp, f, 0.0, np.asarray(params["mm_fwhm_hz"]), gaussian=True)
        state.add_signal(None, fid)


def _line(
    t: np.ndarray,
    amp: np.ndarray,
    f_hz: np.ndarray,
    phase_rad: np.ndarray | float,
    fwhm_hz: np.ndarray,
    *,
    gaussian: bool,
) -> np.ndarray:
    """FID of one line per spectrum ``[n, T]``: amplitude, frequency, phase, FWHM."""
    zeros = np.zeros_like(np.asarray(fwhm_hz, dtype=np.float32))
    decay = _decay(t, zeros, fwhm_hz) if gaussian else _decay(t, fwhm_hz, zeros)
    ph = np.asarray(phase_rad, dtype=np.float32)
    ph = ph[:, np.newaxis] if ph.ndim else ph
    osc = cis(np.float32(2 * np.pi) * np.asarray(f_hz, dtype=np.float32)[:, np.newaxis] * t + ph)
    osc *= np.asarray(amp, dtype=np.float32)[:, np.newaxis] * decay
    return osc


@dataclass(frozen=True)
class ResidualWater(Augmentation):
    """Residual water: a Lorentzian near 4.7 ppm with random amplitude and phase.

    Amplitude ``water_level`` (log-uniform) times the largest ``|FID|`` of the
    metabolite OFF signal; ON gets ``water_on_ratio`` times the OFF line (water
    suppression differs slightly between the two). Parameters ``water_level``,
    ``water_ppm``, ``water_fwhm_hz``, ``water_phase_deg``, ``water_on_ratio``.
    The tail reaches into the 1.0-4.5 ppm window; its peak lies outside.
    """

    level: tuple[float, float] = (0.05, 5.0)
    ppm: tuple[float, float] = (WATER_PPM - 0.05, WATER_PPM + 0.15)
    fwhm_hz: tuple[float, float] = (5.0, 20.0)
    on_ratio: tuple[float, float] = (0.8, 1.2)
    stage: ClassVar[Stage] = "signal"

    def __post_init__(self) -> None:
        for name in ("level", "ppm", "fwhm_hz", "on_ratio"):
            object.__setattr__(self, name, _range(name, getattr(self, name)))
        if self.level[0] <= 0:
            raise MRSDataError(
                f"field 'level': expected a positive range (log-uniform), got {self.level}"
            )

    def draw(self, rng: np.random.Generator, n: int) -> Params:
        lo, hi = np.log(self.level[0]), np.log(self.level[1])
        return {
            "water_level": np.exp(_uniform(rng, (lo, hi), n)),
            "water_ppm": _uniform(rng, self.ppm, n),
            "water_fwhm_hz": _uniform(rng, self.fwhm_hz, n),
            "water_phase_deg": _uniform(rng, (-180.0, 180.0), n),
            "water_on_ratio": _uniform(rng, self.on_ratio, n),
        }

    def apply(
        self,
        state: SynthState,
        params: Mapping[str, np.ndarray],
        rng: np.random.Generator | None = None,
    ) -> None:
        plan = state.plan
        assert state.ref_amplitude is not None, "water is scaled to the mixed metabolite signal"
        amp = np.asarray(params["water_level"], dtype=np.float32) * state.ref_amplitude[:, 0]
        f = (np.asarray(params["water_ppm"]) - plan.ppm_reference) * plan.larmor_mhz
        fid = _line(
            state.t,
            amp,
            f,
            np.deg2rad(params["water_phase_deg"]),
            np.asarray(params["water_fwhm_hz"]),
            gaussian=False,
        )
        ratio = np.asarray(params["water_on_ratio"], dtype=np.float32)[:, np.newaxis]
        state.add_signal(fid, fid * ratio, water=True)


# ---------------------------------------------------------------------------- grid stage
@dataclass(frozen=True)
class FirstOrderPhase(Augmentation):
    """Linear phase ``exp(i phi1 (ppm - pivot))`` (degrees per ppm) on the grid spectra.

    Physically a receiver delay ``d``: ``phi1 = 360 d larmor_mhz`` degrees per
    ppm. Applied exactly on the network grid to the signal (noise, added later
    at the receiver, is not phased).
    """

    deg_per_ppm: tuple[float, float] = (-5.0, 5.0)
    pivot_ppm: float = 3.0
    stage: ClassVar[Stage] = "grid"

    def __post_init__(self) -> None:
        object.__setattr__(self, "deg_per_ppm", _range("deg_per_ppm", self.deg_per_ppm))

    def draw(self, rng: np.random.Generator, n: int) -> Params:
        return {"phase1_deg_per_ppm": _uniform(rng, self.deg_per_ppm, n)}

    def apply(
        self,
        state: SynthState,
        params: Mapping[str, np.ndarray],
        rng: np.random.Generator | None = None,
    ) -> None:
        assert state.spec is not None
        phi1 = np.deg2rad(np.asarray(params["phase1_deg_per_ppm"], dtype=np.float32))[:, np.newaxis]
        rel = (state.plan.grid_ppm - self.pivot_ppm).astype(np.float32)
        state.spec *= cis(phi1 * rel)[:, np.newaxis]


@dataclass(frozen=True)
class Baseline(Augmentation):
    """Smooth random baseline on the ppm grid: broad Gaussians plus a quadratic.

    ``n_gaussians`` bumps (centres uniform in the window, FWHM ``fwhm_ppm``,
    amplitudes uniform in [-1, 1]) plus a polynomial ``a0 + a1 x + a2 x^2``
    (``x`` the window mapped to [-1, 1], coefficients uniform in [-1, 1]). The
    sum is rescaled so its maximum ``|value|`` is ``baseline_level`` times the
    tallest metabolite line of the OFF spectrum, and rotated by a random phase
    (baselines are not absorptive). ON gets the same baseline plus an
    independent one ``diff_fraction`` as strong, so DIFF keeps a small residue.
    """

    level: tuple[float, float] = (0.0, 0.2)
    n_gaussians: int = 3
    fwhm_ppm: tuple[float, float] = (0.4, 2.0)
    diff_fraction: float = 0.2
    stage: ClassVar[Stage] = "grid"

    def __post_init__(self) -> None:
        object.__setattr__(self, "level", _range("level", self.level))
        object.__setattr__(self, "fwhm_ppm", _range("fwhm_ppm", self.fwhm_ppm))

    def draw(self, rng: np.random.Generator, n: int) -> Params:
        k = self.n_gaussians
        return {
            "baseline_level": _uniform(rng, self.level, n),
            "baseline_phase_deg": _uniform(rng, (-180.0, 180.0), n),
            "baseline_centre": rng.uniform(0.0, 1.0, (n, 2, k)),
            "baseline_fwhm_ppm": _uniform(rng, self.fwhm_ppm, (n, 2, k)),
            "baseline_amp": rng.uniform(-1.0, 1.0, (n, 2, k)),
            "baseline_poly": rng.uniform(-1.0, 1.0, (n, 2, 3)),
        }

    def shapes(self, ppm: np.ndarray, params: Mapping[str, np.ndarray]) -> np.ndarray:
        """Real baseline shapes ``[n, 2, M]`` (OFF part, extra ON part), each ``max |.| = 1``."""
        lo, hi = float(ppm[0]), float(ppm[-1])
        x = ((ppm - lo) / (hi - lo)).astype(np.float32)  # 0..1
        centre = np.asarray(params["baseline_centre"], dtype=np.float32)[..., np.newaxis]
        sd = np.asarray(params["baseline_fwhm_ppm"], dtype=np.float32)[
            ..., np.newaxis
        ] / np.float32((hi - lo) * 2 * np.sqrt(2 * np.log(2)))
        z = (x - centre) / sd
        bumps = (
            np.asarray(params["baseline_amp"], dtype=np.float32)[..., np.newaxis]
            * np.exp(-0.5 * z * z)
        ).sum(axis=-2)
        u = 2 * x - 1
        poly = np.asarray(params["baseline_poly"], dtype=np.float32)
        bumps += poly[..., 0:1] + poly[..., 1:2] * u + poly[..., 2:3] * u * u
        peak = np.abs(bumps).max(axis=-1, keepdims=True)
        return bumps / np.where(peak > 0, peak, 1.0)

    def apply(
        self,
        state: SynthState,
        params: Mapping[str, np.ndarray],
        rng: np.random.Generator | None = None,
    ) -> None:
        assert state.spec is not None and state.peak_off is not None
        shp = self.shapes(state.plan.grid_ppm, params)
        scale = np.asarray(params["baseline_level"]) * state.peak_off
        rot = np.exp(1j * np.deg2rad(np.asarray(params["baseline_phase_deg"])))
        off = shp[:, 0] * (scale * rot)[:, np.newaxis]
        on = off + self.diff_fraction * shp[:, 1] * (scale * rot)[:, np.newaxis]
        state.spec[:, 0] += off.astype(np.complex64)
        state.spec[:, 1] += on.astype(np.complex64)


# ---------------------------------------------------------------------------- noise
@dataclass(frozen=True)
class Noise(Augmentation):
    """Complex white Gaussian noise in the time domain, added last.

    ``mode="relative"`` (the paper): the SD of each of the real and imaginary
    parts is ``sigma = f * max_t |FID|`` of that acquisition's noiseless
    metabolite signal, ``f ~ U(fraction)``; ``independent=True`` draws ``f``
    separately for OFF and ON (the realisations are always independent).

    ``mode="snr"``: ``snr ~ U(snr)`` and ``sigma = peak / (snr sqrt(T))`` with
    the SNR definition below, the same sigma for OFF and ON.

    **SNR** (recorded for every spectrum, both modes): the height of the tallest
    line of the noiseless edit-OFF metabolite spectrum (magnitude, so any phase
    is allowed; searched over 1.8-4.2 ppm; water and baseline excluded) on the
    network grid, divided by the standard deviation of the *real part* of the
    noise on that grid. For time-domain noise of SD ``sigma`` per component over
    ``T`` samples that SD is exactly ``sigma sqrt(T)`` at every grid point (the
    grid spectrum is the discrete-time Fourier transform of the FID), which is
    what one measures on real data over a signal-free region such as 8-10 ppm.

    Parameters: ``noise_fraction_off``/``_on`` (relative mode) or
    ``snr_target`` (SNR mode); the generator adds ``sigma_off``, ``sigma_on``
    and ``snr``.
    """

    mode: NoiseMode = "relative"
    fraction: tuple[float, float] = (0.0, 0.03)
    snr: tuple[float, float] = (5.0, 100.0)
    independent: bool = True
    stage: ClassVar[Stage] = "noise"

    def __post_init__(self) -> None:
        if self.mode not in ("relative", "snr"):
            raise MRSDataError(f"field 'mode': expected 'relative' or 'snr', got {self.mode!r}")
        frac = _range("fraction", self.fraction)
        snr = _range("snr", self.snr)
        if frac[0] < 0 or snr[0] <= 0:
            raise MRSDataError(
                f"fields 'fraction'/'snr': expected fraction >= 0 and snr > 0, got {frac}, {snr}"
            )
        object.__setattr__(self, "fraction", frac)
        object.__setattr__(self, "snr", snr)

    def draw(self, rng: np.random.Generator, n: int) -> Params:
        if self.mode == "snr":
            return {"snr_target": _uniform(rng, self.snr, n)}
        off = _uniform(rng, self.fraction, n)
        on = _uniform(rng, self.fraction, n) if self.independent else off.copy()
        return {"noise_fraction_off": off, "noise_fraction_on": on}

    def sigma(self, state: SynthState, params: Mapping[str, np.ndarray]) -> np.ndarray:
        """Time-domain noise SD per component, ``[n, 2]`` (OFF, ON)."""
        if self.mode == "snr":
            assert state.peak_off is not None
            s = state.peak_off / (np.asarray(params["snr_target"]) * np.sqrt(state.plan.n_time))
            return np.stack([s, s], axis=-1).astype(np.float32)
        assert state.ref_amplitude is not None
        frac = np.stack([params["noise_fraction_off"], params["noise_fraction_on"]], axis=-1)
        return (frac * state.ref_amplitude).astype(np.float32)

    def apply(
        self,
        state: SynthState,
        params: Mapping[str, np.ndarray],
        rng: np.random.Generator | None = None,
    ) -> None:
        if rng is None:
            raise MRSDataError("Noise.apply needs an rng for the noise realisation")
        sigma = self.sigma(state, params)
        if state.exact_noise:
            white = complex_normal(rng, (state.n, 2, state.plan.n_time))
            state.noise = state.plan.gt.white(white)
            state.noise *= sigma[..., np.newaxis]
        else:
            state.noise = state.plan.noise(rng, (state.n, 2), sigma)
        state.sigma = sigma


AUGMENTATIONS: dict[str, type[Augmentation]] = {
    cls.__name__: cls
    for cls in (
        Linewidth,
        FrequencyShift,
        ZeroOrderPhase,
        EddyCurrent,
        MetaboliteLinewidth,
        MetaboliteShift,
        Macromolecules,
        ResidualWater,
        FirstOrderPhase,
        Baseline,
        Noise,
    )
}


def from_dict(d: Mapping[str, Any]) -> Augmentation:
    """Rebuild an augmentation from :meth:`Augmentation.to_dict`."""
    d = dict(d)
    kind = d.pop("type", None)
    if kind not in AUGMENTATIONS:
        raise MRSDataError(f"augmentation type {kind!r}: expected one of {sorted(AUGMENTATIONS)}")
    cls = AUGMENTATIONS[kind]
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
    return cls(**kwargs)


__all__ = [
    "AUGMENTATIONS",
    "STAGES",
    "Augmentation",
    "Baseline",
    "EddyCurrent",
    "FirstOrderPhase",
    "FrequencyShift",
    "Linewidth",
    "Macromolecules",
    "MetaboliteLinewidth",
    "MetaboliteShift",
    "Noise",
    "ResidualWater",
    "ZeroOrderPhase",
    "cis",
    "from_dict",
]

"""Where the bench's spectra come from, and the bases the fitters quantify them with.

A *source* renders the basis of one acquisition (bandwidth, points) on demand:

* :class:`ExternalSource` (``"fida"``) - the external FID-A basis
  (:func:`mrs_lib.sim.load_fida_reference`: another group's simulator, ideal
  refocusing, 20 ms Gaussian editing, 127.731 MHz, 2048 points at 2000 Hz).
  It exists only as samples, so acquisitions it was not sampled on (the
  1250 Hz of series E1, the 4096 points of the other series) come from a
  model of each FID as a sum of damped complex exponentials
  (:func:`fit_damped_lines`, a matrix-pencil fit cached on disk). Samples
  the file holds are always taken from the file; the model only fills the
  rest (other sampling times, times after 1.024 s where the signal is below
  0.2 % of its start).
* :class:`SimulatedSource` (``"paper"``) - the project's own simulated line
  lists (:func:`mrs_lib.sim.simulate_lines`), exact at any acquisition; the
  bench renders from it to separate the basis mismatch from the
  imperfections.

:func:`fitter_bases` gives the fitters (``lcm``, the Gannet-style fit, real
LCModel) the project's ``paper`` protocol simulated *at the data's field*: a
basis at 123.23 MHz cannot fit spectra at 127.731 MHz, and the chemical
shifts in Hz and the strong-coupling patterns both depend on the field.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from .._threads import blas_threads
from ..errors import MRSDataError
from ..sim.basis import Basis, basis_from_lines, cache_dir, load_fida_reference, simulate_lines
from ..sim.presets import get_preset
from ..spectrum import Spectrum
from ..types import METABOLITES

#: The acquisition every source is rendered on at level (a): the FID-A basis's own.
NATIVE_ACQUISITION: tuple[float, int] = (2000.0, 2048)
#: Lorentzian linewidth (Hz) of every source basis: FID-A's files carry 2 Hz; the
#: project's basis is sampled with the same 2 Hz (the paper's basis line).
SOURCE_LW_HZ = 2.0
#: Bump when :func:`fit_damped_lines` changes (invalidates the disk cache).
LINE_MODEL_VERSION = "1"

BasisFor = Callable[[float, int], Basis]
"""``basis_for(bw_hz, n_points) -> Basis``: a basis sampled on one acquisition."""


class Source(Protocol):
    """What the renderer needs from a source of spectra."""

    name: str
    larmor_mhz: float

    def basis(self, bw_hz: float, n_points: int) -> Basis:
        """The source's basis (2 Hz lines) sampled at ``bw_hz`` with ``n_points``."""
        ...


# ---------------------------------------------------------------------------- line model
@dataclass(frozen=True)
class DampedLines:
    """``fid(t) = sum_k amp_k exp(rate_k t)`` (``rate`` complex, 1/s; ``Re(rate) < 0``)."""

    rate: np.ndarray
    amp: np.ndarray

    def fid(self, t_s: np.ndarray) -> np.ndarray:
        """The model at times ``t_s`` (seconds, any shape of 1-D array)."""
        return np.exp(np.outer(np.asarray(t_s, dtype=float), self.rate)) @ self.amp


def fit_damped_lines(
    fid: np.ndarray,
    dwell_s: float,
    *,
    pencil: int = 600,
    rel_tol: float = 1e-10,
    min_damping_hz: float = 0.5,
) -> DampedLines:
    """Model a noiseless FID as damped complex exponentials (matrix pencil, Hua & Sarkar 1990).

    The Hankel matrix of the samples (``pencil + 1`` columns) is reduced to its
    singular vectors above ``rel_tol`` of the largest singular value; the
    shift invariance of those vectors gives the poles ``z_k``, a least-squares
    fit on every sample the amplitudes. Poles are kept from growing: a Lorentzian
    width below ``min_damping_hz`` (some poles of a cluster of unresolved
    lines come out barely damped or growing) is raised to it before the amplitudes
    are fitted, so the model stays bounded when it extrapolates. On the FID-A
    basis the largest in-range error is below 5e-3 of each FID's maximum
    (singlets: 1e-10); :class:`ExternalSource` checks it.
    """
    from scipy.linalg import hankel, svd

    x = np.asarray(fid, dtype=complex)
    n = x.size
    cols = int(min(pencil, n // 2))
    if x.ndim != 1 or cols < 2:
        raise MRSDataError(
            f"argument 'fid': expected a 1-D FID of at least 4 points, got shape {x.shape}"
        )
    h = hankel(x[: n - cols], x[n - cols - 1 :])
    _, s, vh = svd(h, full_matrices=False, lapack_driver="gesdd")
    k = max(1, int((s > rel_tol * s[0]).sum()))
    v = vh[:k].T
    poles = np.linalg.eigvals(np.linalg.lstsq(v[:-1], v[1:], rcond=None)[0])
    rate = np.log(poles) / dwell_s
    rate = np.minimum(rate.real, -np.pi * min_damping_hz) + 1j * rate.imag
    t = np.arange(n) * dwell_s
    amp = np.linalg.lstsq(np.exp(np.outer(t, rate)), x, rcond=None)[0]
    return DampedLines(rate, amp)


def _cached_lines(fid: np.ndarray, dwell_s: float, label: str) -> DampedLines:
    """:func:`fit_damped_lines` with a disk cache keyed by the samples' sha256."""
    digest = hashlib.sha256(np.ascontiguousarray(fid, dtype=complex).tobytes())
    digest.update(json.dumps([LINE_MODEL_VERSION, dwell_s]).encode())
    path = cache_dir() / f"damped-{label}-{digest.hexdigest()[:20]}.npz"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                return DampedLines(z["rate"], z["amp"])
        except Exception:  # a damaged cache file is recomputed
            pass
    with blas_threads(1):  # many small dense problems: threads only contend
        lines = fit_damped_lines(fid, dwell_s)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with tmp.open("wb") as fh:
        np.savez(fh, rate=lines.rate, amp=lines.amp)
    os.replace(tmp, path)
    return lines


# ---------------------------------------------------------------------------- sources
class ExternalSource:
    """The external FID-A basis at any acquisition (see the module docstring).

    A test set, never training data: nothing in the project may be trained on
    it or tuned to it beyond reporting the bench's numbers.
    """

    name = "fida"
    #: largest in-range error of the line model, relative to each FID's maximum
    MODEL_TOL = 5e-3

    def __init__(self, metabolites: tuple[str, ...] = tuple(METABOLITES)) -> None:
        self.native = load_fida_reference(metabolites)  # type: ignore[arg-type]
        self.larmor_mhz = self.native.larmor_mhz
        self.metabolites = self.native.metabolites
        self._lines: dict[str, list[DampedLines]] | None = None
        self._cache: dict[tuple[float, int], Basis] = {}

    def lines(self) -> dict[str, list[DampedLines]]:
        """The damped-line model of every FID (``{"off": [...], "on": [...]}``), fitted once."""
        if self._lines is None:
            out: dict[str, list[DampedLines]] = {}
            t = self.native.on.time_s()
            for state in ("off", "on"):
                fids = self.native[state].fid
                models = []
                for met, fid in zip(self.metabolites, fids, strict=True):
                    m = _cached_lines(fid, self.native.dwell_s, f"fida-{met}-{state}")
                    err = np.abs(m.fid(t) - fid).max() / np.abs(fid).max()
                    if not err < self.MODEL_TOL:
                        raise MRSDataError(
                            f"FID-A {met} {state}: damped-line model error {err:.2e} of the "
                            f"FID maximum, expected below {self.MODEL_TOL:g}"
                        )
                    models.append(m)
                out[state] = models
            self._lines = out
        return self._lines

    def basis(self, bw_hz: float, n_points: int) -> Basis:
        key = (float(bw_hz), int(n_points))
        if key in self._cache:
            return self._cache[key]
        nat = self.native
        dwell = 1.0 / key[0]
        same_dwell = np.isclose(dwell, nat.dwell_s, rtol=1e-9)
        if same_dwell and key[1] <= nat.n_points:
            fids = {s: nat[s].fid[:, : key[1]] for s in ("off", "on")}
        else:
            t = np.arange(key[1]) * dwell
            lines = self.lines()
            fids = {}
            for s in ("off", "on"):
                arr = np.stack([m.fid(t) for m in lines[s]])
                if same_dwell:  # the file's samples where it has them
                    arr[:, : nat.n_points] = nat[s].fid
                fids[s] = arr
        common: dict[str, Any] = dict(
            dwell_s=dwell,
            larmor_mhz=nat.larmor_mhz,
            ppm_reference=nat.on.ppm_reference,
            te_ms=nat.on.te_ms,
        )
        b = Basis(
            nat.metabolites,
            Spectrum(fids["on"], **common),
            Spectrum(fids["off"], **common),
            lw_hz=nat.lw_hz,
            params={**nat.params, "acquisition": list(key)},
        )
        self._cache[key] = b
        return b


class SimulatedSource:
    """A preset of the project's simulator at any acquisition (2 Hz lines, exact sampling)."""

    def __init__(self, preset: str = "paper", larmor_mhz: float | None = None) -> None:
        pre = get_preset(preset)
        if larmor_mhz is not None:
            pre = pre.replace(larmor_mhz=float(larmor_mhz))
        self.preset = pre
        self.name = preset
        self.larmor_mhz = pre.sequence.larmor_mhz
        self._lines: Any = None
        self._cache: dict[tuple[float, int], Basis] = {}

    def basis(self, bw_hz: float, n_points: int) -> Basis:
        key = (float(bw_hz), int(n_points))
        if key not in self._cache:
            if self._lines is None:
                self._lines = simulate_lines(self.preset, progress=False)
            self._cache[key] = basis_from_lines(
                self._lines, self.preset.replace(bw_hz=key[0]), n_points=key[1], lw_hz=SOURCE_LW_HZ
            )
        return self._cache[key]


SOURCE_NAMES: tuple[str, ...] = ("fida", "paper")
"""``"fida"``: the external FID-A basis; ``"paper"``: the project's own ``paper`` basis."""

_SOURCES: dict[str, Source] = {}


def get_source(name: str) -> Source:
    """The source called ``name`` (one of :data:`SOURCE_NAMES`), built once per process."""
    if name not in SOURCE_NAMES:
        raise MRSDataError(f"bench source {name!r}: expected one of {SOURCE_NAMES}")
    if name not in _SOURCES:
        _SOURCES[name] = ExternalSource() if name == "fida" else SimulatedSource("paper")
    return _SOURCES[name]


def fitter_bases(larmor_mhz: float, basis: str = "paper") -> BasisFor:
    """``basis_for(bw_hz, n_points)`` of the fitters for data at ``larmor_mhz``.

    ``basis="paper"``: the project's ``paper`` protocol (shaped refocusing,
    20 ms editing at 1.9 ppm) simulated at ``larmor_mhz`` (about 15 s once,
    then cached on disk); ``basis="fida"``: the FID-A basis itself (the oracle
    of the bench: the basis that rendered the spectra). Either with the 2 Hz
    basis line.
    """
    if basis == "fida":
        src: Source = get_source("fida")
        if not np.isclose(src.larmor_mhz, larmor_mhz, rtol=1e-6):
            raise MRSDataError(
                f"fitter basis 'fida' is at {src.larmor_mhz} MHz, the data at {larmor_mhz} MHz"
            )
    elif basis == "paper":
        own = get_preset("paper").sequence.larmor_mhz
        src = get_source("paper") if np.isclose(own, larmor_mhz) else _at_field(larmor_mhz)
    else:
        raise MRSDataError(f"fitter basis {basis!r}: expected 'paper' or 'fida'")
    return src.basis


_AT_FIELD: dict[float, SimulatedSource] = {}


def _at_field(larmor_mhz: float) -> SimulatedSource:
    key = round(float(larmor_mhz), 6)
    if key not in _AT_FIELD:
        _AT_FIELD[key] = SimulatedSource("paper", larmor_mhz=key)
    return _AT_FIELD[key]


__all__ = [
    "LINE_MODEL_VERSION",
    "NATIVE_ACQUISITION",
    "SOURCE_LW_HZ",
    "SOURCE_NAMES",
    "BasisFor",
    "DampedLines",
    "ExternalSource",
    "SimulatedSource",
    "Source",
    "fit_damped_lines",
    "fitter_bases",
    "get_source",
]

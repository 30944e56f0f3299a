"""The basis container: per-metabolite edit-ON and edit-OFF FIDs (DIFF = ON - OFF).

A :class:`Basis` is what the simulator produces (chapter 1), what the dataset
generator mixes (chapter 2) and what the linear-combination fitter fits
(chapter 6). It holds two :class:`~mrs_lib.spectrum.Spectrum` objects with
batch shape ``(n_metabolites,)`` in the library's NIfTI-MRS convention, plus
the parameters that produced them.

:func:`simulate_basis` produces one from a named preset (``paper``,
``external-reference``, ``fida-default``, ``mrscloud-siemens``; see
:mod:`mrs_lib.sim.presets`), unbroadened, with the simulated line lists cached
on disk under :func:`cache_dir` keyed by the sha256 of every parameter and
:data:`SIMULATOR_VERSION`. :func:`load_fida_reference` loads the external FID-A
basis used to validate it.

The ``.npz`` layout is a contract shared with ``mrs simulate`` and other
tools: ``metabolites`` (str array), ``fid_on``, ``fid_off`` (complex,
``[n_metabolites, n_points]``), ``dwell_s``, ``larmor_mhz``, ``ppm_reference``,
``te_ms``, ``lw_hz`` (the Lorentzian linewidth already applied), and
``params_json`` (the simulation parameters as JSON, optional on read).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._npz import open_npz, spectrum_header
from .._zip import savez
from ..artifacts import ensure_writable
from ..errors import MRSDataError, MRSFormatError
from ..plausibility import check_lw_hz, check_signal
from ..spectrum import EditedSpectra, Spectrum
from ..types import METABOLITES, EditState, Metabolite
from .presets import Preset, get_preset
from .sequence import LineList, Refocusing, simulate_system
from .spins import GabaModel, spin_system

_NPZ_REQUIRED = ("metabolites", "fid_on", "fid_off", "dwell_s", "larmor_mhz", "ppm_reference")


@dataclass(frozen=True, eq=False)
class Basis:
    """Edit-ON and edit-OFF basis FIDs of several metabolites.

    Parameters
    ----------
    metabolites
        Names, in the order of the first axis of ``on.fid`` and ``off.fid``.
    on, off
        Spectra with batch shape ``(n_metabolites,)`` and equal acquisition
        parameters.
    lw_hz
        Lorentzian linewidth (Hz) already applied to the FIDs (0 = unbroadened);
        negative or absurd widths (above :data:`mrs_lib.plausibility.MAX_LW_HZ`)
        raise :class:`~mrs_lib.errors.MRSDataError`.
    params
        The parameters that produced the basis (preset, pulses, grid...), kept
        for provenance and cache keys.
    """

    metabolites: tuple[str, ...]
    on: Spectrum
    off: Spectrum
    lw_hz: float = 0.0
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = tuple(str(m) for m in self.metabolites)
        if len(set(names)) != len(names):
            raise MRSDataError(f"field 'metabolites': expected unique names, got {names}")
        self.on._check_compatible(self.off)
        for label, spec in (("on", self.on), ("off", self.off)):
            if spec.batch_shape != (len(names),):
                raise MRSDataError(
                    f"field '{label}': expected batch shape ({len(names)},) for metabolites "
                    f"{names}, got {spec.batch_shape}"
                )
        object.__setattr__(self, "metabolites", names)
        object.__setattr__(self, "on", self.on.replace(edit="on"))
        object.__setattr__(self, "off", self.off.replace(edit="off"))
        object.__setattr__(self, "lw_hz", check_lw_hz(self.lw_hz))
        object.__setattr__(self, "params", dict(self.params))

    # ---------------------------------------------------------------- access
    @property
    def diff(self) -> Spectrum:
        """DIFF = ON - OFF for every metabolite."""
        return (self.on - self.off).replace(edit="diff")

    @property
    def n_points(self) -> int:
        return self.on.n_points

    @property
    def dwell_s(self) -> float:
        return self.on.dwell_s

    @property
    def larmor_mhz(self) -> float:
        return self.on.larmor_mhz

    def __len__(self) -> int:
        return len(self.metabolites)

    def __getitem__(self, state: EditState) -> Spectrum:
        return EditedSpectra(off=self.off, on=self.on)[state]

    def index(self, metabolite: str) -> int:
        """Position of ``metabolite`` on the first axis (clear error if absent)."""
        try:
            return self.metabolites.index(metabolite)
        except ValueError:
            raise MRSDataError(
                f"metabolite {metabolite!r}: expected one of {self.metabolites}"
            ) from None

    def edited(self, metabolite: str) -> EditedSpectra:
        """The ON/OFF pair of one metabolite."""
        i = self.index(metabolite)
        return EditedSpectra(off=self.off[i], on=self.on[i])

    def select(self, metabolites: Iterable[str]) -> Basis:
        """A basis restricted to (and ordered as) ``metabolites``."""
        names = tuple(metabolites)
        idx = [self.index(m) for m in names]
        return Basis(names, self.on[idx], self.off[idx], self.lw_hz, self.params)

    def map(self, fn: Any, **changes: Any) -> Basis:
        """Apply ``fn(Spectrum) -> Spectrum`` to ON and OFF (e.g. resampling)."""
        return Basis(
            self.metabolites,
            fn(self.on),
            fn(self.off),
            changes.get("lw_hz", self.lw_hz),
            changes.get("params", self.params),
        )

    def broaden(self, lorentzian_hz: float = 0.0, gaussian_hz: float = 0.0) -> Basis:
        """Area-preserving broadening of every FID; ``lw_hz`` records the added Lorentzian."""
        return self.map(
            lambda s: s.broaden(lorentzian_hz, gaussian_hz), lw_hz=self.lw_hz + lorentzian_hz
        )

    def mix(self, concentrations: Sequence[float] | np.ndarray) -> EditedSpectra:
        """Linear combination ``sum_m c_m basis_m``.

        ``concentrations`` is ``(..., n_metabolites)``.
        """
        c = np.asarray(concentrations, dtype=float)
        if c.shape[-1:] != (len(self),):
            raise MRSDataError(
                f"argument 'concentrations': expected last axis {len(self)} "
                f"({self.metabolites}), got shape {c.shape}"
            )
        on = self.on.replace(fid=c @ self.on.fid, edit="on")
        off = self.off.replace(fid=c @ self.off.fid, edit="off")
        return EditedSpectra(off=off, on=on)

    # ----------------------------------------------------------------- files
    def save_npz(self, path: str | Path) -> Path:
        """Write the ``.npz`` contract described in the module docstring."""
        path = ensure_writable(path, "basis file")
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            savez(  # byte-reproducible (fixed zip timestamps)
                fh,
                {
                    "metabolites": np.array(self.metabolites, dtype=str),
                    "fid_on": self.on.fid.astype(np.complex128),
                    "fid_off": self.off.fid.astype(np.complex128),
                    "dwell_s": np.float64(self.dwell_s),
                    "larmor_mhz": np.float64(self.larmor_mhz),
                    "ppm_reference": np.float64(self.on.ppm_reference),
                    "te_ms": np.float64(np.nan if self.on.te_ms is None else self.on.te_ms),
                    "lw_hz": np.float64(self.lw_hz),
                    "params_json": np.array(json.dumps(dict(self.params), default=str)),
                },
            )
        return path

    @classmethod
    def load_npz(cls, path: str | Path) -> Basis:
        """Read a basis written by :meth:`save_npz` or ``mrs simulate``.

        Every field is checked (``mrs_lib._npz.NpzReader``): complex, finite,
        non-zero FIDs of shape ``(n_metabolites, n_points)``, unique names,
        scalar and plausible ``dwell_s``, ``larmor_mhz``, ``te_ms`` and ``lw_hz``,
        a JSON object in ``params_json``; anything else raises
        :class:`~mrs_lib.errors.MRSFormatError` naming the field.
        """
        path = Path(path)
        with open_npz(path, _NPZ_REQUIRED, "basis") as npz:
            names = npz.names("metabolites")
            fid_on = npz.fids("fid_on", min_ndim=2, max_ndim=2)
            fid_off = npz.fids("fid_off", min_ndim=2, max_ndim=2)
            for key, arr in (("fid_on", fid_on), ("fid_off", fid_off)):
                if arr.shape != (len(names), fid_on.shape[1]):
                    raise MRSFormatError(
                        path,
                        key,
                        f"shape ({len(names)}, n_points) for metabolites {names}, "
                        f"n_points = {fid_on.shape[1]} in fid_on and fid_off",
                        f"shape {arr.shape}",
                    )
            for name, on, off in zip(names, fid_on, fid_off, strict=True):
                check_signal(np.stack([on, off]), path=path, field=f"fid_on/fid_off ({name})")
            params = npz.json_object("params_json") if "params_json" in npz else {}
            common = spectrum_header(npz)
            lw = check_lw_hz(npz.number("lw_hz", default=0.0), path=path, field="lw_hz")
        try:
            return cls(names, Spectrum(fid_on, **common), Spectrum(fid_off, **common), lw, params)
        except MRSDataError as exc:
            raise MRSFormatError(path, "fid_on/fid_off", "finite complex FIDs", str(exc)) from None

    def __repr__(self) -> str:
        return (
            f"Basis({list(self.metabolites)}, n_points={self.n_points}, "
            f"bw_hz={self.on.bw_hz:g}, larmor_mhz={self.larmor_mhz:g}, lw_hz={self.lw_hz:g})"
        )


def load_fida_reference(metabolites: Iterable[Metabolite] = METABOLITES) -> Basis:
    """The external FID-A MEGA-PRESS basis (registry ``isbi-fida-megapress/*``).

    FID-A stores ``specs = fftshift(ifft(fids))`` on a descending-frequency axis;
    its ``fids`` already follow ``exp(+2 pi i f t)`` with ``ppm = 3.0 + f / larmor``
    (centre 3.0 ppm), i.e. the library convention, so the FIDs are taken as they
    are and ``ppm_reference`` is set to the file's centre. The files carry a
    2 Hz Lorentzian (``lw_hz=2``). Settings: the ``external-reference`` preset (chapter 1).
    """
    from scipy.io import loadmat

    from .. import data

    names = tuple(metabolites)
    fids: dict[str, list[np.ndarray]] = {"on": [], "off": []}
    meta: dict[str, Any] = {}
    for met in names:
        for state in ("on", "off"):
            fname = f"isbi-fida-megapress/{met}_{state.upper()}.mat"
            path = data.fetch(fname)
            mat = loadmat(path, squeeze_me=True)
            for key in ("fids", "dwelltime", "txfrq", "ppm"):
                if key not in mat:
                    raise MRSFormatError(path, key, "present in the FID-A struct", "missing")
            fids[state].append(np.asarray(mat["fids"], dtype=complex))
            ppm = np.asarray(mat["ppm"], dtype=float)
            n = ppm.size
            # FID-A's ppm axis has its centre (the receiver) between samples n/2-1 and n/2.
            centre = float(ppm[n // 2 - 1] + ppm[n // 2]) / 2 if n % 2 == 0 else float(ppm[n // 2])
            this = {
                "dwell_s": float(mat["dwelltime"]),
                "larmor_mhz": float(mat["txfrq"]) / 1e6,
                "ppm_reference": round(centre, 3),
                "te_ms": float(mat["te"]) if "te" in mat else 68.0,
            }
            for k, v in this.items():
                if k in meta and not np.isclose(meta[k], v, rtol=1e-6):
                    raise MRSFormatError(path, k, f"{meta[k]!r} as in the other files", repr(v))
                meta.setdefault(k, v)
    on = Spectrum(np.stack(fids["on"]), **meta)
    off = Spectrum(np.stack(fids["off"]), **meta)
    return Basis(names, on, off, lw_hz=2.0, params={"source": "FID-A (isbi-fida-megapress)"})


# ------------------------------------------------------------------ simulation
#: Bump when a change to the simulator changes its output (invalidates the cache).
SIMULATOR_VERSION = "2"


def cache_dir() -> Path:
    """Where simulated line lists are cached: ``<artifacts user dir>/sim-cache``."""
    from ..artifacts import user_dir

    d = user_dir() / "sim-cache"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _cache_key(payload: Mapping[str, Any]) -> str:
    import hashlib

    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def simulate_lines(
    preset: str | Preset = "paper",
    *,
    metabolites: Iterable[str] = METABOLITES,
    gaba: GabaModel = "near2013",
    cache: bool = True,
    progress: bool = True,
) -> dict[str, dict[str, LineList]]:
    """ON and OFF line lists per metabolite (frequencies relative to the receiver).

    Each metabolite is cached separately under :func:`cache_dir`, keyed by the
    sha256 of the sequence, the spin system and :data:`SIMULATOR_VERSION`.
    """
    from tqdm.auto import tqdm

    pre = get_preset(preset)
    names = tuple(metabolites)
    out: dict[str, dict[str, LineList]] = {}
    bar = tqdm(names, desc=f"simulate {pre.name}", disable=not progress, leave=False)
    for met in bar:
        bar.set_postfix_str(met)
        system = spin_system(met, gaba=gaba)
        payload = {
            "version": SIMULATOR_VERSION,
            "sequence": pre.sequence.as_dict(),
            "system": system.as_dict(),
        }
        key = _cache_key(payload)
        path = cache_dir() / f"lines-{met}-{key[:20]}.npz" if cache else None
        if path is not None and path.is_file():
            try:
                with np.load(path, allow_pickle=False) as z:
                    out[met] = {
                        m: LineList(z[f"{m}_freq_hz"], z[f"{m}_amp"]) for m in ("on", "off")
                    }
                continue
            except Exception:  # a damaged cache file is recomputed
                pass
        lines = simulate_system(system, pre.sequence, ("off", "on"))
        out[met] = {"on": lines["on"], "off": lines["off"]}
        if path is not None:
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            with tmp.open("wb") as fh:
                arrays: dict[str, Any] = {
                    **{f"{m}_freq_hz": lines[m].freq_hz for m in ("on", "off")},
                    **{f"{m}_amp": lines[m].amp for m in ("on", "off")},
                    "key_json": np.array(json.dumps(payload, sort_keys=True, default=str)),
                }
                savez(fh, arrays)
            os.replace(tmp, path)
    return out


def basis_from_lines(
    lines: Mapping[str, Mapping[str, LineList]],
    preset: str | Preset,
    *,
    n_points: int | None = None,
    lw_hz: float = 0.0,
    params: Mapping[str, Any] | None = None,
) -> Basis:
    """Sample line lists into a :class:`Basis` with the preset's readout (optional Lorentzian)."""
    pre = get_preset(preset)
    n = int(pre.n_points if n_points is None else n_points)  # 0 is refused, not the default
    if n < 1:
        raise MRSDataError(f"argument 'n_points': expected a number of points >= 1, got {n_points}")
    names = tuple(lines)
    fids = {
        m: np.stack([lines[met][m].fid(n, pre.dwell_s, lw_hz) for met in names])
        for m in ("on", "off")
    }
    common: dict[str, Any] = dict(
        dwell_s=pre.dwell_s,
        larmor_mhz=pre.sequence.larmor_mhz,
        ppm_reference=pre.sequence.ppm_reference,
        te_ms=pre.sequence.te_ms,
    )
    info = {
        **pre.as_dict(),
        "n_points": n,
        "simulator_version": SIMULATOR_VERSION,
        **(params or {}),
    }
    return Basis(
        names, Spectrum(fids["on"], **common), Spectrum(fids["off"], **common), lw_hz, info
    )


def simulate_basis(
    preset: str | Preset = "paper",
    *,
    metabolites: Iterable[str] = METABOLITES,
    n_points: int | None = None,
    grid_points: int | None = None,
    refocusing: Refocusing | None = None,
    gaba: GabaModel = "near2013",
    cache: bool = True,
    progress: bool = True,
) -> Basis:
    """Simulate (or load from the cache) an unbroadened MEGA-PRESS ON/OFF basis.

    Parameters
    ----------
    preset
        A name in :data:`~mrs_lib.sim.presets.PRESET_NAMES` (``"paper"``,
        ``"external-reference"``, ``"fida-default"``, ``"mrscloud-siemens"``) or a
        :class:`~mrs_lib.sim.presets.Preset`.
    metabolites
        Which metabolites, in this order (default: all five).
    n_points
        Readout points (default: the preset's); the bandwidth stays the preset's.
    grid_points
        Spatial positions per axis for shaped refocusing (default 41; small values
        for quick looks).
    refocusing
        ``"ideal"`` or ``"shaped"`` to override the preset.
    gaba
        GABA spin-system parameters (``"near2013"``, ``"kaiser2008"``, ``"govindaraju2000"``).
    cache
        Reuse and store line lists under :func:`cache_dir`.
    progress
        Show a tqdm progress bar.

    Returns
    -------
    Basis
        Unbroadened (``lw_hz = 0``), in the NIfTI-MRS convention; broaden it with
        :meth:`Basis.broaden`. Chapter 1 of the book walks through the physics.
    """
    if n_points is not None and n_points < 1:  # checked before the (slow) simulation
        raise MRSDataError(f"argument 'n_points': expected a number of points >= 1, got {n_points}")
    pre = get_preset(preset, refocusing=refocusing, grid_points=grid_points)
    lines = simulate_lines(pre, metabolites=metabolites, gaba=gaba, cache=cache, progress=progress)
    return basis_from_lines(lines, pre, n_points=n_points, params={"gaba": gaba})


__all__ = [
    "SIMULATOR_VERSION",
    "Basis",
    "basis_from_lines",
    "cache_dir",
    "load_fida_reference",
    "simulate_basis",
    "simulate_lines",
]

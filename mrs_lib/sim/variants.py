"""A cached bank of simulated basis variants for domain randomisation (chapter 7).

A network trained on one simulated basis learns that basis's exact peak
positions, multiplet shapes and editing profile; spectra from another
simulator (or a scanner) differ in all of them by small amounts the
simulation does not know for sure. :func:`build_bank` simulates ``n``
variants of the ``paper`` basis, each with its own draw, from a seeded
generator, of:

* the chemical shifts and J couplings of every metabolite, within their
  literature spread (``+-0.02`` ppm, ``+-0.5`` Hz; one offset per distinct
  value of a spin part, so equivalent spins stay equivalent), on top of a GABA
  parameter set drawn from :data:`~mrs_lib.sim.spins.GABA_MODELS` (Near 2013,
  Kaiser 2008, Govindaraju 2000);
* the editing pulse: ON and OFF centres (``+-0.03`` ppm) and duration
  (14-20 ms);
* the refocusing model: ideal, or shaped (``optimized`` or ``sinc``, 4.4-5.5 ms);
* the TE split: the first interval ``tau_1`` (4.5-8 ms, i.e. a share
  ``2 tau_1 / TE`` of 0.13-0.24), the rest laid out by
  :meth:`~mrs_lib.sim.sequence.MegaPress.with_te` at TE 68 ms;
* B0: the Larmor frequency 123.0-127.8 MHz (2.89-3.0 T).

Every variant keeps the ``paper`` readout (dwell, points, ``ppm_reference``),
so a :class:`~mrs_lib.synth.generator.Synthesizer` can mix them on one network
grid. The physics is :func:`~mrs_lib.sim.sequence.simulate_system` on
:func:`~mrs_lib.sim.spins.spin_system`; each variant's line lists are cached
under :func:`~mrs_lib.sim.basis.cache_dir` keyed by the sha256 of the
sequence, the spin systems and :data:`~mrs_lib.sim.basis.SIMULATOR_VERSION`,
and its parameters are recorded in ``Basis.params["variant"]``.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MRSDataError, MRSError
from ..types import METABOLITES
from .basis import SIMULATOR_VERSION, Basis, _cache_key, basis_from_lines, cache_dir
from .presets import Preset, get_preset
from .sequence import LineList, Refocusing, RefocusShape, simulate_system
from .spins import GABA_MODELS, GabaModel, SpinPart, SpinSystem, spin_system

#: Bump when the meaning of :class:`VariantParams` changes (part of the cache key).
BANK_VERSION = "1"

#: Ranges of the perturbations (module docstring).
SHIFT_PPM = 0.02
J_HZ = 0.5
EDIT_PPM = 0.03
EDIT_DURATION_MS = (14.0, 20.0)
REFOCUS_DURATION_MS = (4.4, 5.5)
TAU1_MS = (4.5, 8.0)
LARMOR_MHZ = (123.0, 127.8)


def default_bank_size() -> int:
    """Variants in a default bank: 64 (8 at ``MRS_SCALE=tiny``)."""
    from ..scale import pick

    return int(pick(tiny=8, book=64, paper=64))


def default_grid_points() -> int:
    """Spatial positions per axis of shaped refocusing: the preset's 41 (11 at tiny scale)."""
    from ..scale import pick

    return int(pick(tiny=11, book=41, paper=41))


@dataclass(frozen=True)
class VariantParams:
    """What one basis variant changes relative to the ``paper`` preset.

    Parameters
    ----------
    gaba
        GABA parameter set (:data:`~mrs_lib.sim.spins.GABA_MODELS`).
    shift_ppm, j_hz
        Per metabolite, per spin part, one offset per spin (ppm) and per coupling
        (Hz), in the order of :class:`~mrs_lib.sim.spins.SpinPart`; missing
        metabolites are unperturbed.
    edit_on_ppm, edit_off_ppm, edit_duration_ms
        The editing pulse.
    refocusing, refocus_shape, refocus_duration_ms
        The refocusing model (``"ideal"`` or ``"shaped"``) and shaped pulse.
    tau1_ms
        First interval (excitation to refocusing 1); the others follow at TE 68 ms.
    larmor_mhz
        Proton frequency (B0); the readout and ``ppm_reference`` stay the preset's.
    """

    gaba: GabaModel = "near2013"
    shift_ppm: Mapping[str, list[list[float]]] = field(default_factory=dict)
    j_hz: Mapping[str, list[list[float]]] = field(default_factory=dict)
    edit_on_ppm: float = 1.9
    edit_off_ppm: float = 7.4
    edit_duration_ms: float = 20.0
    refocusing: Refocusing = "shaped"
    refocus_shape: RefocusShape = "optimized"
    refocus_duration_ms: float = 5.0
    tau1_ms: float = 5.0
    larmor_mhz: float = 123.23

    @classmethod
    def nominal(cls, preset: str | Preset = "paper") -> VariantParams:
        """No perturbation: the preset's own values (its basis, bit for bit)."""
        seq = get_preset(preset).sequence
        return cls(
            edit_on_ppm=seq.edit_on_ppm,
            edit_off_ppm=seq.edit_off_ppm,
            edit_duration_ms=seq.edit_duration_ms,
            refocusing=seq.refocusing,
            refocus_shape=seq.refocus_shape,
            refocus_duration_ms=seq.refocus_duration_ms,
            tau1_ms=seq.taus_ms[0],
            larmor_mhz=seq.larmor_mhz,
        )

    @property
    def te1_share(self) -> float:
        """``2 tau_1 / TE`` at TE 68 ms (the first echo's share of the echo time)."""
        return 2 * self.tau1_ms / 68.0

    def as_dict(self) -> dict[str, Any]:
        """Plain data (JSON), as recorded in ``Basis.params["variant"]``."""
        d = dataclasses.asdict(self)
        d["shift_ppm"] = {k: [list(map(float, p)) for p in v] for k, v in self.shift_ppm.items()}
        d["j_hz"] = {k: [list(map(float, p)) for p in v] for k, v in self.j_hz.items()}
        d["te1_share"] = self.te1_share
        return d

    def preset(self, base: str | Preset = "paper", *, grid_points: int | None = None) -> Preset:
        """``base`` with this variant's sequence (the readout unchanged)."""
        pre = get_preset(base)
        seq = dataclasses.replace(
            pre.sequence,
            larmor_mhz=float(self.larmor_mhz),
            edit_on_ppm=float(self.edit_on_ppm),
            edit_off_ppm=float(self.edit_off_ppm),
            edit_duration_ms=float(self.edit_duration_ms),
            refocusing=self.refocusing,
            refocus_shape=self.refocus_shape,
            refocus_duration_ms=float(self.refocus_duration_ms),
            grid_points=pre.sequence.grid_points if grid_points is None else int(grid_points),
        )
        if seq.taus_ms[0] != self.tau1_ms:  # another TE split: re-lay the rest at the same TE
            taus = (float(self.tau1_ms), *seq.taus_ms[1:])
            seq = dataclasses.replace(seq, taus_ms=taus).with_te(pre.sequence.te_ms)
        return dataclasses.replace(pre, sequence=seq)

    def system(self, name: str) -> SpinSystem:
        """The spin system of metabolite ``name`` with this variant's offsets."""
        base = spin_system(name, gaba=self.gaba)
        shifts = self.shift_ppm.get(name)
        js = self.j_hz.get(name)
        if not shifts and not js:
            return base
        parts = []
        for i, p in enumerate(base.parts):
            ds = shifts[i] if shifts else [0.0] * p.n_spins
            dj = js[i] if js else [0.0] * len(p.couplings_hz)
            parts.append(
                SpinPart(
                    tuple(s + d for s, d in zip(p.shifts_ppm, ds, strict=True)),
                    tuple((k, m, j + d) for (k, m, j), d in zip(p.couplings_hz, dj, strict=True)),
                    p.scale,
                    p.labels,
                )
            )
        return dataclasses.replace(base, parts=tuple(parts), source=base.source + " (perturbed)")


def _offsets(rng: np.random.Generator, values: Iterable[float], spread: float) -> list[float]:
    """One uniform offset in ``+-spread`` per distinct value (equal values move together)."""
    vals = [float(v) for v in values]
    uniq = sorted(set(vals))
    draw = dict(zip(uniq, rng.uniform(-spread, spread, len(uniq)).tolist(), strict=True))
    return [draw[v] for v in vals]


def draw_variant(
    rng: np.random.Generator,
    metabolites: Iterable[str] = METABOLITES,
    *,
    preset: str | Preset = "paper",
) -> VariantParams:
    """One random :class:`VariantParams` (ranges: module docstring), drawn from ``rng``."""
    nom = VariantParams.nominal(preset)
    gaba: GabaModel = GABA_MODELS[int(rng.integers(len(GABA_MODELS)))]
    shifts: dict[str, list[list[float]]] = {}
    js: dict[str, list[list[float]]] = {}
    for met in metabolites:
        system = spin_system(met, gaba=gaba)
        shifts[met] = [_offsets(rng, p.shifts_ppm, SHIFT_PPM) for p in system.parts]
        js[met] = [_offsets(rng, [c[2] for c in p.couplings_hz], J_HZ) for p in system.parts]
    refocusing: Refocusing = "shaped" if rng.random() < 0.5 else "ideal"
    shape: RefocusShape = "optimized" if rng.random() < 0.5 else "sinc"
    return VariantParams(
        gaba=gaba,
        shift_ppm=shifts,
        j_hz=js,
        edit_on_ppm=nom.edit_on_ppm + rng.uniform(-EDIT_PPM, EDIT_PPM),
        edit_off_ppm=nom.edit_off_ppm + rng.uniform(-EDIT_PPM, EDIT_PPM),
        edit_duration_ms=float(rng.uniform(*EDIT_DURATION_MS)),
        refocusing=refocusing,
        refocus_shape=shape,
        refocus_duration_ms=float(rng.uniform(*REFOCUS_DURATION_MS)),
        tau1_ms=float(rng.uniform(*TAU1_MS)),
        larmor_mhz=float(rng.uniform(*LARMOR_MHZ)),
    )


def _cache_path(params: VariantParams, pre: Preset, metabolites: tuple[str, ...]) -> Path:
    """The cache file of one variant's basis, keyed by everything that makes it."""
    payload = {
        "version": SIMULATOR_VERSION,
        "bank": BANK_VERSION,
        "readout": [pre.n_points, pre.bw_hz],
        "sequence": pre.sequence.as_dict(),
        "systems": {m: params.system(m).as_dict() for m in metabolites},
    }
    return cache_dir() / f"variant-{_cache_key(payload)[:24]}.npz"


def variant_basis(
    params: VariantParams,
    *,
    preset: str | Preset = "paper",
    metabolites: Iterable[str] = METABOLITES,
    grid_points: int | None = None,
    cache: bool = True,
) -> Basis:
    """The unbroadened basis of one variant, on ``preset``'s readout grid.

    ``Basis.params["variant"]`` records ``params``
    (:meth:`VariantParams.as_dict`). With :meth:`VariantParams.nominal` this
    is :func:`~mrs_lib.sim.basis.simulate_basis` of the preset. With ``cache``
    the basis is stored under :func:`~mrs_lib.sim.basis.cache_dir` (``.npz``)
    and read back on later calls.
    """
    pre = params.preset(preset, grid_points=grid_points)
    names = tuple(metabolites)
    path = _cache_path(params, pre, names) if cache else None
    if path is not None and path.is_file():
        try:
            return Basis.load_npz(path)
        except (MRSError, OSError, ValueError):  # a damaged cache file is recomputed
            pass
    lines: dict[str, dict[str, LineList]] = {}
    for m in names:
        ll = simulate_system(params.system(m), pre.sequence, ("off", "on"))
        lines[m] = {"on": ll["on"], "off": ll["off"]}
    basis = basis_from_lines(lines, pre, params={"gaba": params.gaba, "variant": params.as_dict()})
    if path is not None:
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
        basis.save_npz(tmp)
        os.replace(tmp, path)
    return basis


def _build_one(
    args: tuple[VariantParams, str | Preset, tuple[str, ...], int | None, bool],
) -> Basis:
    params, preset, names, grid_points, cache = args
    return variant_basis(
        params, preset=preset, metabolites=names, grid_points=grid_points, cache=cache
    )


@dataclass(frozen=True)
class BasisBank:
    """Simulated basis variants and how long they took to build.

    ``bases[i]`` was simulated with ``params[i]``; ``build_s`` is the wall time
    of :func:`build_bank` (cache hits included), ``seed`` the generator seed.
    """

    bases: tuple[Basis, ...]
    params: tuple[VariantParams, ...]
    seed: int
    build_s: float

    def __len__(self) -> int:
        return len(self.bases)

    def __getitem__(self, i: int) -> Basis:
        return self.bases[i]


def build_bank(
    n: int | None = None,
    seed: int = 0,
    *,
    preset: str | Preset = "paper",
    metabolites: Iterable[str] = METABOLITES,
    grid_points: int | None = None,
    workers: int | None = None,
    cache: bool = True,
) -> BasisBank:
    """``n`` basis variants (default :func:`default_bank_size`) drawn from ``seed``.

    Variant ``i`` is drawn from the ``i``-th child of ``SeedSequence(seed)``,
    so a bank of ``n`` is the start of every larger bank of the same seed.
    Variants not in the cache are simulated in ``workers`` processes (default:
    the CPU count, at most the number to build). ``grid_points`` defaults to
    :func:`default_grid_points`.
    """
    t0 = time.perf_counter()
    n = default_bank_size() if n is None else int(n)
    if n < 1:
        raise MRSDataError(f"argument 'n': expected >= 1 variants, got {n}")
    gp = default_grid_points() if grid_points is None else int(grid_points)
    names = tuple(metabolites)
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n)]
    params = tuple(draw_variant(r, names, preset=preset) for r in rngs)
    jobs = [(p, preset, names, gp, cache) for p in params]
    todo = sum(
        not (cache and _cache_path(p, p.preset(preset, grid_points=gp), names).is_file())
        for p in params
    )
    nw = min(todo, os.cpu_count() or 1) if workers is None else max(1, int(workers))
    if nw > 1 and todo > 1:
        with ProcessPoolExecutor(max_workers=nw) as pool:
            bases = tuple(pool.map(_build_one, jobs))
    else:
        bases = tuple(_build_one(j) for j in jobs)
    return BasisBank(bases, params, int(seed), time.perf_counter() - t0)


__all__ = [
    "BANK_VERSION",
    "BasisBank",
    "VariantParams",
    "build_bank",
    "default_bank_size",
    "default_grid_points",
    "draw_variant",
    "variant_basis",
]

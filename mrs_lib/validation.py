"""Phantom validation (chapter 5): digital phantom series and scoring every quantifier on them.

The paper's decisive test is 144 spectra of 112 Swansea phantoms with known
concentrations, where networks trained on simulations lose accuracy (GABA
MAE 0.151-0.160 for the best networks, 0.220 for LCModel, max-normalised;
method.md). Those spectra are not public. This module provides

* :func:`digital_phantoms` - the *design* of the Swansea series E1-E4d
  (:func:`mrs_lib.io.phantoms.load_design`) turned into MEGA-PRESS scans
  with the imperfections real phantom scans have and the training data of the
  paper lacked: phantom linewidths (Lorentzian plus a Gaussian part from
  imperfect shimming), a residual frequency offset after referencing, an
  uncorrected zero-order phase, ON/OFF frequency drift, a per-series
  acquisition bandwidth (1250 Hz for E1, 2000 Hz for the others) and noise;
* :func:`score_scans` - any set of quantifiers (:mod:`mrs_lib.quantify`) run on
  phantom scans (digital ones or a user's real ones from
  :func:`mrs_lib.io.phantoms.load_phantom_folder`), scored with the paper's
  max-normalised metric, one row per method x scan x metabolite.

The numbers on digital phantoms measure robustness to *modelled*
imperfections; they are not the paper's phantom numbers and the chapter says so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import MRSDataError
from .io.phantoms import PhantomDesign, PhantomScan
from .metrics import max_normalise
from .quantify import Quantifier
from .sim.basis import Basis
from .spectrum import EditedSpectra, Spectrum
from .types import METABOLITES, EditState

#: Acquisition (bandwidth Hz, points) per Swansea series
#: (method.md: 1250 Hz for E1, 2000 Hz elsewhere).
SERIES_ACQUISITION: dict[str, tuple[float, int]] = {"E1": (1250.0, 2048)}
DEFAULT_ACQUISITION: tuple[float, int] = (2000.0, 4096)


@dataclass(frozen=True)
class PhantomConditions:
    """Ranges (uniform) of the imperfections of a digital phantom scan.

    Defaults follow physics.md section 5 and method.md: solution phantoms have
    ~1-4 Hz lines at 3 T; the paper's real spectra were only referenced (to NAA
    or Cr), not phase-corrected, so a residual offset of a fraction of a hertz
    and a zero-order phase error remain; ON and OFF are interleaved, so slow
    drift shifts them slightly against each other. Noise is complex Gaussian
    in the time domain with SD = ``noise_rel`` x max|FID| of the OFF scan (the
    paper's relative definition; 0.005-0.02 gives SNRs typical of phantoms).
    """

    lorentzian_hz: tuple[float, float] = (1.0, 4.0)
    gaussian_hz: tuple[float, float] = (0.0, 3.0)
    shift_hz: tuple[float, float] = (-1.0, 1.0)
    drift_hz: tuple[float, float] = (-0.5, 0.5)
    phase_deg: tuple[float, float] = (-15.0, 15.0)
    noise_rel: tuple[float, float] = (0.005, 0.02)

    def replace(self, **changes: Any) -> PhantomConditions:
        return dataclasses.replace(self, **changes)

    @classmethod
    def ideal(cls) -> PhantomConditions:
        """Phantoms exactly like the paper's training data: 2 Hz lines, no offsets, no phase."""
        return cls((2.0, 2.0), (0.0, 0.0), (0.0, 0.0), (0.0, 0.0), (0.0, 0.0), (0.005, 0.02))

    @classmethod
    def gel(cls) -> PhantomConditions:
        """Gel phantoms: broader lines (physics.md: gels broader than solutions)."""
        return cls(lorentzian_hz=(3.0, 7.0), gaussian_hz=(2.0, 5.0))


def _uniform(rng: np.random.Generator, bounds: tuple[float, float], n: int) -> np.ndarray:
    lo, hi = float(bounds[0]), float(bounds[1])
    if hi < lo:
        raise MRSDataError(f"range {bounds!r}: expected (low, high) with low <= high")
    return rng.uniform(lo, hi, size=n)


def phantom_scans(
    basis: Basis,
    concentrations_mm: np.ndarray,
    rng: np.random.Generator | int,
    conditions: PhantomConditions = PhantomConditions(),
) -> tuple[EditedSpectra, dict[str, np.ndarray]]:
    """MEGA-PRESS scans of phantoms with the given concentrations ``[n, n_met]`` (mM).

    Returns the edited spectra (batch ``(n,)``) and the drawn parameters. The
    basis's own ``lw_hz`` counts towards the Lorentzian width. Each
    imperfection is drawn per scan; the drift moves ON against OFF by the
    drawn amount (half each way).
    """
    rng = np.random.default_rng(rng)
    conc = np.asarray(concentrations_mm, dtype=float)
    if conc.ndim != 2 or conc.shape[1] != len(basis):
        raise MRSDataError(
            f"argument 'concentrations_mm': expected shape (n, {len(basis)}) "
            f"for {basis.metabolites}, "
            f"got {conc.shape}"
        )
    n = conc.shape[0]
    p = {
        "lorentzian_hz": _uniform(rng, conditions.lorentzian_hz, n),
        "gaussian_hz": _uniform(rng, conditions.gaussian_hz, n),
        "shift_hz": _uniform(rng, conditions.shift_hz, n),
        "drift_hz": _uniform(rng, conditions.drift_hz, n),
        "phase_deg": _uniform(rng, conditions.phase_deg, n),
        "noise_rel": _uniform(rng, conditions.noise_rel, n),
    }
    extra_lor = np.maximum(p["lorentzian_hz"] - basis.lw_hz, 0.0)
    clean = basis.mix(conc)
    out: dict[EditState, Spectrum] = {}
    sign_of: tuple[tuple[EditState, float], ...] = (("off", -0.5), ("on", 0.5))
    for state, sign in sign_of:
        s = clean[state].broaden(extra_lor, p["gaussian_hz"])
        out[state] = s.shift(hz=p["shift_hz"] + sign * p["drift_hz"]).phase(p["phase_deg"])
    sigma = p["noise_rel"] * np.abs(out["off"].fid).max(axis=-1)
    noisy = {}
    for state in ("off", "on"):
        s = out[state]
        white = rng.standard_normal(s.fid.shape) + 1j * rng.standard_normal(s.fid.shape)
        noisy[state] = s.replace(fid=s.fid + sigma[:, np.newaxis] * white / np.sqrt(2.0))
    p["sigma"] = sigma
    return EditedSpectra(off=noisy["off"], on=noisy["on"]), p


def digital_phantoms(
    design: Sequence[PhantomDesign],
    basis_for: Any,
    rng: np.random.Generator | int,
    conditions: PhantomConditions | Mapping[str, PhantomConditions] = PhantomConditions(),
) -> list[PhantomScan]:
    """Digital scans of a phantom design (e.g. the Swansea series E1-E4d).

    ``basis_for(bw_hz, n_points) -> Basis`` supplies the basis of each series'
    acquisition (:data:`SERIES_ACQUISITION`; sample one simulated line list at
    several bandwidths with :func:`mrs_lib.sim.basis.basis_from_lines`).
    ``conditions`` may differ per series (a mapping series -> conditions,
    missing series get the defaults).
    """
    rng = np.random.default_rng(rng)
    scans: list[PhantomScan] = []
    by_series: dict[str, list[PhantomDesign]] = {}
    for d in design:
        by_series.setdefault(d.series, []).append(d)
    for series, items in by_series.items():
        bw, n_points = SERIES_ACQUISITION.get(series, DEFAULT_ACQUISITION)
        basis = basis_for(bw, n_points)
        cond = (
            conditions.get(series, PhantomConditions())
            if isinstance(conditions, Mapping)
            else conditions
        )
        conc = np.array([d.vector(basis.metabolites) for d in items])
        spectra, params = phantom_scans(basis, conc, rng, cond)
        for i, d in enumerate(items):
            scans.append(
                PhantomScan(
                    series,
                    d.phantom_id,
                    EditedSpectra(off=spectra.off[i], on=spectra.on[i]),
                    dict(d.concentrations_mm),
                    None,
                    {k: float(v[i]) for k, v in params.items()}
                    | {"bw_hz": bw, "n_points": n_points},
                )
            )
    return scans


def series_bases(
    preset: str = "paper",
    *,
    refocusing: str | None = None,
    grid_points: int | None = None,
    lw_hz: float = 2.0,
    progress: bool = True,
) -> Any:
    """``basis_for(bw_hz, n_points) -> Basis`` for :func:`digital_phantoms`.

    Simulates (or loads from the cache) the preset's line lists once and samples
    them at each requested acquisition, with the paper's 2 Hz basis line.
    """
    from .sim.basis import basis_from_lines, simulate_lines
    from .sim.presets import get_preset

    pre = get_preset(preset, refocusing=refocusing, grid_points=grid_points)
    lines = simulate_lines(pre, progress=progress)
    cache: dict[tuple[float, int], Basis] = {}

    def basis_for(bw_hz: float, n_points: int) -> Basis:
        key = (float(bw_hz), int(n_points))
        if key not in cache:
            cache[key] = basis_from_lines(
                lines, pre.replace(bw_hz=key[0]), n_points=key[1], lw_hz=lw_hz
            )
        return cache[key]

    return basis_for


class PerAcquisition:
    """A quantifier made afresh for each acquisition (bandwidth, points) it meets.

    Fitters need a basis sampled like the data; the Swansea series differ in
    bandwidth (E1: 1250 Hz). ``make(bw_hz, n_points) -> Quantifier`` builds
    one per acquisition, cached.
    """

    def __init__(self, make: Any, name: str | None = None) -> None:
        self.make = make
        self.name = name or "per-acquisition"
        self._cache: dict[tuple[float, int], Quantifier] = {}

    def quantify(self, spectra: EditedSpectra) -> Any:
        key = (round(spectra.off.bw_hz, 6), spectra.off.n_points)
        if key not in self._cache:
            self._cache[key] = self.make(*key)
        return self._cache[key].quantify(spectra)


def _stack(scans: Sequence[PhantomScan]) -> EditedSpectra:
    first = scans[0].spectra
    return EditedSpectra(
        off=first.off.replace(fid=np.stack([s.spectra.off.fid for s in scans])),
        on=first.on.replace(fid=np.stack([s.spectra.on.fid for s in scans])),
    )


def _groups(scans: Sequence[PhantomScan]) -> list[list[int]]:
    """Indices of scans sharing acquisition parameters (so they can be quantified as one batch)."""
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, s in enumerate(scans):
        o = s.spectra.off
        groups.setdefault((o.n_points, o.dwell_s, o.larmor_mhz, o.ppm_reference), []).append(i)
    return list(groups.values())


def score_scans(
    quantifiers: Mapping[str, Quantifier],
    scans: Sequence[PhantomScan],
    metabolites: Sequence[str] = METABOLITES,
) -> Any:
    """Quantify every scan with every method; a long pandas table with the paper's metric.

    Columns: ``method, series, scan, metabolite, true_mm, estimate, true_norm,
    estimate_norm, abs_error`` where ``*_norm`` are max-normalised per scan
    (method.md) and ``abs_error = |estimate_norm - true_norm|``. A method that
    does not report a metabolite (the Gannet-style fit reports GABA and Cr)
    gets NaN there, and both its estimates and the truth are max-normalised
    over the metabolites it does report.
    """
    import pandas as pd

    if not scans:
        raise MRSDataError("argument 'scans': expected at least one phantom scan")
    mets = tuple(metabolites)
    truth = np.array([s.vector(mets) for s in scans])
    rows: list[dict[str, Any]] = []
    for label, q in quantifiers.items():
        est = np.full((len(scans), len(mets)), np.nan)
        for idx in _groups(scans):
            result = q.quantify(_stack([scans[i] for i in idx]))
            for j, m in enumerate(mets):
                if m in result.metabolites:
                    est[idx, j] = result.concentrations[:, result.metabolites.index(m)]
        # max-normalise over the metabolites this method reports, truth and estimate alike
        reported = ~np.isnan(est).all(axis=0)
        est_norm = np.full_like(est, np.nan)
        true_norm = np.full_like(est, np.nan)
        est_norm[:, reported] = max_normalise(np.nan_to_num(est[:, reported]))
        true_norm[:, reported] = max_normalise(truth[:, reported])
        for i, s in enumerate(scans):
            for j, m in enumerate(mets):
                rows.append(
                    {
                        "method": label,
                        "series": s.series,
                        "scan": s.scan_id,
                        "metabolite": m,
                        "true_mm": truth[i, j],
                        "estimate": est[i, j],
                        "true_norm": true_norm[i, j],
                        "estimate_norm": est_norm[i, j],
                        "abs_error": abs(est_norm[i, j] - true_norm[i, j]),
                    }
                )
    return pd.DataFrame(rows)


def mae_table(scores: Any, by: Iterable[str] = ("method",)) -> Any:
    """Mean absolute (max-normalised) error per metabolite, one row per group of ``by``."""
    return scores.pivot_table(
        index=list(by), columns="metabolite", values="abs_error", aggfunc="mean"
    )


__all__ = [
    "DEFAULT_ACQUISITION",
    "SERIES_ACQUISITION",
    "PerAcquisition",
    "PhantomConditions",
    "digital_phantoms",
    "mae_table",
    "phantom_scans",
    "score_scans",
    "series_bases",
]

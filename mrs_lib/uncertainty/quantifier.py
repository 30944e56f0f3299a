"""The calibrated ensemble as a quantifier: estimates, calibrated SDs, 95 % intervals, flags.

:class:`EnsembleQuantifier` takes the same input as every quantifier of
:mod:`mrs_lib.quantify` (an :class:`~mrs_lib.spectrum.EditedSpectra`) and
returns a :class:`~mrs_lib.quantify.QuantResult` whose concentrations are the
member mean (sum-normalised fractions), whose ``uncertainty`` is the
calibrated SD in % of the estimate (the same convention as the fitters'
Cramér-Rao %SD) and whose diagnostics hold, per spectrum, the calibrated SD,
the 95 % interval of each fraction and of each ratio to Cr, and the
out-of-domain flags (:mod:`mrs_lib.uncertainty.domain`).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import MRSError
from ..plausibility import require_signal
from ..quantify import QuantResult
from ..spectrum import EditedSpectra
from ..synth.inputs import network_input
from . import calibration as cal
from . import domain as dom
from .ensemble import Ensemble, load_ensemble

#: the complex input rows the flags need; the members read their own channels from them
COMPLEX_CHANNELS: tuple[str, ...] = ("off:real", "off:imag", "on:real", "on:imag")


def select_rows(x4: np.ndarray, channels: list[str]) -> np.ndarray:
    """The rows ``channels`` of a :data:`COMPLEX_CHANNELS` input ``x4[n, 4, P]``."""
    idx = []
    for c in channels:
        if c not in COMPLEX_CHANNELS:
            raise MRSError(f"ensemble input channel {c!r}: expected one of {COMPLEX_CHANNELS}")
        idx.append(COMPLEX_CHANNELS.index(c))
    return np.asarray(x4)[:, idx]


@dataclass(frozen=True, eq=False)
class Assessment:
    """Everything the ensemble says about a batch of inputs."""

    members: np.ndarray  # [M, n, 5] fractions
    mean: np.ndarray  # [n, 5]
    spread: np.ndarray  # [n, 5] raw SD over members
    sd: np.ndarray | None  # [n, 5] calibrated SD (None without calibration)
    interval_95: np.ndarray | None  # [n, 5, 2]
    ratio: np.ndarray  # [n, 4] mean of member ratios to Cr
    ratio_sd: np.ndarray | None
    ratio_interval_95: np.ndarray | None
    features: dict[str, np.ndarray]
    disagreement: np.ndarray | None
    reconstruction_error: np.ndarray | None
    flags: list[list[str]]


class EnsembleQuantifier:
    """A calibrated deep ensemble (default: the shipped ``cnn-ensemble``) as a quantifier."""

    def __init__(
        self,
        ensemble: str | os.PathLike[str] | Ensemble = "cnn-ensemble",
        *,
        yae: Any = "auto",
        name: str | None = None,
    ) -> None:
        self.ensemble = ensemble if isinstance(ensemble, Ensemble) else load_ensemble(ensemble)
        if self.ensemble.calibration is None or self.ensemble.domain is None:
            raise MRSError(
                f"ensemble {self.ensemble.path}: not calibrated (field 'calibration' is empty); "
                "run `mrs ensemble build` on its members"
            )
        self.metabolites = tuple(self.ensemble.members_meta[0].get("metabolites") or ())
        rec = self.ensemble.domain.get("reconstruction")
        if yae == "auto":
            yae = rec["yae"] if rec else None
        self.yae: Any = None
        self.yae_channels: list[str] = ["off:real", "on:real"]
        if isinstance(yae, str | os.PathLike):
            from ..train import load_model

            self.yae, meta = load_model(yae)
            self.yae_channels = list(meta.get("channels") or self.yae_channels)
        elif yae is not None:
            self.yae = yae
        path = self.ensemble.path or "ensemble"
        self.name = name or os.path.basename(str(path)).removesuffix(".pt")

    def inputs(self, spectra: EditedSpectra) -> np.ndarray:
        """Complex network input ``[n, 4, P]`` (:data:`COMPLEX_CHANNELS`)."""
        if not spectra.off.batch_shape:
            spectra = spectra.map(lambda s: s.replace(fid=s.fid[None]))
        return np.asarray(network_input(spectra, COMPLEX_CHANNELS))

    def assess(self, x4: np.ndarray, larmor_mhz: float) -> Assessment:
        """Member predictions, calibrated spread and flags of complex inputs ``x4``."""
        ens = self.ensemble
        calib = ens.calibration or {}
        domain = ens.domain or {}
        members = ens.predict_members(select_rows(x4, ens.channels))
        mean, spread = cal.member_stats(members)
        names = list(self.metabolites)
        sd = interval = None
        if "fraction" in calib:
            f68 = np.array([cal.factor(calib["fraction"], m, 0.68) for m in names])
            f95 = np.array([cal.factor(calib["fraction"], m, 0.95) for m in names])
            sd = f68 * spread
            interval = np.stack([mean - f95 * spread, mean + f95 * spread], axis=-1)
        cr = names.index("Cr")
        r_members = cal.ratio_members(members, cr)
        with np.errstate(invalid="ignore"):
            r_mean = np.nanmean(r_members, axis=0)
            r_spread = np.nanstd(r_members, axis=0, ddof=1)
        r_sd = r_int = None
        if "ratio_to_cr" in calib:
            rn = [f"{m}/Cr" for m in names if m != "Cr"]
            f68 = np.array([cal.factor(calib["ratio_to_cr"], m, 0.68) for m in rn])
            f95 = np.array([cal.factor(calib["ratio_to_cr"], m, 0.95) for m in rn])
            r_sd = f68 * r_spread
            r_int = np.stack([r_mean - f95 * r_spread, r_mean + f95 * r_spread], axis=-1)
        feats = dom.spectral_features(x4, larmor_mhz)
        dis = dom.disagreement(spread, np.asarray(domain["disagreement"]["typical_sd"]))
        rec = None
        if self.yae is not None:
            rec = dom.reconstruction_error(self.yae, select_rows(x4, self.yae_channels))
        return Assessment(
            members,
            mean,
            spread,
            sd,
            interval,
            r_mean,
            r_sd,
            r_int,
            feats,
            dis,
            rec,
            dom.flags(feats, dis, rec, domain),
        )

    def reconstruction(
        self, spectra: EditedSpectra
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]] | None:
        """``(ppm, input rows, YAE reconstruction, channel names)`` of the first spectrum.

        ``None`` without a YAE. The reconstruction is the YAE's estimate of the
        clean input: what a network that knows only the training domain makes
        of these data (the report draws it over the data with the residual).
        """
        if self.yae is None:
            return None
        import torch

        x = select_rows(self.inputs(spectra)[:1], self.yae_channels)
        with torch.no_grad():
            rec = self.yae.reconstruct(torch.as_tensor(x, dtype=torch.float32)).numpy()
        return dom.grid_ppm(x.shape[-1]), x[0], rec[0], list(self.yae_channels)

    def quantify(self, spectra: EditedSpectra) -> QuantResult:
        require_signal({"off": spectra.off.fid, "on": spectra.on.fid}, self.name)
        t0 = time.perf_counter()
        a = self.assess(self.inputs(spectra), float(spectra.off.larmor_mhz))
        rel = None
        if a.sd is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                rel = np.where(np.abs(a.mean) > 0, 100.0 * a.sd / np.abs(a.mean), np.inf)
        diag: dict[str, Any] = {
            "flags": a.flags,
            "sd": None if a.sd is None else a.sd.tolist(),
            "interval_95": None if a.interval_95 is None else a.interval_95.tolist(),
            "ratio_to_cr": a.ratio.tolist(),
            "ratio_to_cr_sd": None if a.ratio_sd is None else a.ratio_sd.tolist(),
            "ratio_to_cr_interval_95": None
            if a.ratio_interval_95 is None
            else a.ratio_interval_95.tolist(),
            "ensemble_spread": a.spread.tolist(),
            "features": {k: v.tolist() for k, v in a.features.items()},
            "disagreement": None if a.disagreement is None else a.disagreement.tolist(),
            "reconstruction_error": None
            if a.reconstruction_error is None
            else a.reconstruction_error.tolist(),
            "members": len(self.ensemble),
        }
        return QuantResult(self.metabolites, a.mean, rel, diag, self.name, time.perf_counter() - t0)


__all__ = ["COMPLEX_CHANNELS", "Assessment", "EnsembleQuantifier", "select_rows"]

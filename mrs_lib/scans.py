"""Users' own scans: preprocess, quantify, report ratios to Cr and water-scaled values.

:func:`quantify_scan` is what ``mrs quantify`` runs for each scan: the
preprocessing of :func:`mrs_lib.preprocess.preprocess` then any quantifier
of :func:`mrs_lib.quantify.get_quantifier`. A :class:`ScanResult` gives the
ratios to Cr, the uncertainties (Cramér-Rao %SD for the LCModel-style fit
and LCModel, the fit error % for the Gannet-style fit, the calibrated SD and
95 % interval of a deep ensemble, :mod:`mrs_lib.uncertainty`, with its
out-of-domain flags; none for a single network), water-scaled concentrations
when a water reference was given (fitters only: network outputs are
fractions) and the preprocessing record.

Water scaling (institutional units, mM), with the assumptions printed by
``mrs quantify``: ``[M] = c_M a_H 2 [W] R_W / (A_W R_M)``, where ``c_M`` is
the fitted amount in basis units, ``a_H`` the signal of one proton in one
basis unit (from the basis's Cr CH3 singlet, 3 protons, by HLSVD), ``A_W``
the water reference's signal (HLSVD amplitude of the water line, same coil
weights), ``[W]`` the MR-visible water concentration, and ``R = exp(-TE /
T2)`` the transverse relaxation attenuation of water and metabolites. T1
effects, partial volumes and editing efficiency beyond the basis are
ignored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .preprocess import PreprocessResult, RawScan, preprocess
from .quantify import Quantifier, QuantResult
from .sim.basis import Basis
from .spectrum import EditedSpectra

#: Assumptions of the water scaling (``mrs quantify`` prints them).
WATER_ASSUMPTIONS: dict[str, float] = {
    "water_concentration_mM": 55510.0,
    "tissue_water_fraction": 0.80,
    "water_t2_ms": 80.0,
    "metabolite_t2_ms": 200.0,
}


def proton_amplitude(
    basis: Basis, metabolite: str = "Cr", ppm: tuple[float, float] = (2.95, 3.1), protons: int = 3
) -> float:
    """Signal (FID amplitude) of one proton in one basis unit, from a singlet of the basis."""
    from .preprocess import hlsvd

    off = basis.off.fid[basis.index(metabolite)]
    like = basis.off
    freq, _d, amp = hlsvd(off, like.dwell_s, rank=20)
    ppm_k = like.hz_to_ppm(freq)
    sel = (ppm_k >= ppm[0]) & (ppm_k <= ppm[1])
    return float(np.abs(amp[sel].sum()) / protons)


def water_scale(
    concentrations: Mapping[str, float],
    basis: Basis,
    water_amplitude: float,
    te_ms: float | None,
    assumptions: Mapping[str, float] = WATER_ASSUMPTIONS,
) -> dict[str, float | None]:
    """Basis-unit amounts to water-scaled concentrations (mM, module docstring)."""
    a_h = proton_amplitude(basis)
    te = 0.0 if te_ms is None else float(te_ms)
    r_w = math.exp(-te / assumptions["water_t2_ms"])
    r_m = math.exp(-te / assumptions["metabolite_t2_ms"])
    w = assumptions["water_concentration_mM"] * assumptions["tissue_water_fraction"]
    factor = a_h * 2.0 * w * r_w / (water_amplitude * r_m)
    return {
        k: (None if not np.isfinite(v) else float(v * factor)) for k, v in concentrations.items()
    }


def _clean(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


@dataclass(frozen=True, eq=False)
class ScanResult:
    """One scan: its label, preprocessing, quantification and (optional) water scaling."""

    label: str
    preprocessing: PreprocessResult
    result: QuantResult
    uncertainty_kind: str | None
    water_scaled: dict[str, float | None] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def concentrations(self) -> dict[str, float | None]:
        row = self.result.concentrations[0]
        return {m: _clean(v) for m, v in zip(self.result.metabolites, row, strict=True)}

    @property
    def ratios_to_cr(self) -> dict[str, float | None]:
        if "Cr" not in self.result.metabolites:
            return {}
        members = self.result.diagnostics.get("ratio_to_cr")
        if members is not None:  # an ensemble: the member mean of the ratios (as calibrated)
            names = [m for m in self.result.metabolites if m != "Cr"]
            return {m: _clean(v) for m, v in zip(names, members[0], strict=True)}
        return {m: _clean(self.result.ratio(m)[0]) for m in self.result.metabolites if m != "Cr"}

    @property
    def uncertainties(self) -> dict[str, float | None] | None:
        unc = self.result.uncertainty
        if unc is not None:
            return {m: _clean(v) for m, v in zip(self.result.metabolites, unc[0], strict=True)}
        diag = self.result.diagnostics
        if "gaba_fit_error" in diag:  # Gannet-style: fit error % of GABA+ and Cr
            out: dict[str, float | None] = {m: None for m in self.result.metabolites}
            out["GABA"] = _clean(diag["gaba_fit_error"][0])
            out["Cr"] = _clean(diag["cr_fit_error"][0])
            return out
        return None

    @property
    def flags(self) -> list[str] | None:
        """Out-of-domain reasons (ensemble only; ``None`` when the method has no domain check)."""
        f = self.result.diagnostics.get("flags")
        return None if f is None else [str(r) for r in f[0]]

    def _ensemble_json(self) -> dict[str, Any]:
        d = self.result.diagnostics
        if d.get("interval_95") is None:
            return {}
        mets = list(self.result.metabolites)
        ratio_names = [m for m in mets if m != "Cr"]

        def per(values: Any, names: list[str]) -> dict[str, Any]:
            row = values[0]
            return {
                n: ([_clean(x) for x in v] if isinstance(v, list) else _clean(v))
                for n, v in zip(names, row, strict=True)
            }

        return {
            "ratios_to_cr_sd": per(d["ratio_to_cr_sd"], ratio_names),
            "ratios_to_cr_interval_95": per(d["ratio_to_cr_interval_95"], ratio_names),
            "fraction_sd": per(d["sd"], mets),
            "fraction_interval_95": per(d["interval_95"], mets),
            "ensemble_members": d.get("members"),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "scan": self.label,
            "method": self.result.method,
            "ratios_to_cr": self.ratios_to_cr,
            "concentrations": self.concentrations,
            "uncertainty": self.uncertainties,
            "uncertainty_kind": self.uncertainty_kind,
            "water_scaled_mM": self.water_scaled,
            "water_scaling_assumptions": dict(WATER_ASSUMPTIONS) if self.water_scaled else None,
            "notes": list(self.notes),
            "flags": self.flags,
            **self._ensemble_json(),
            "preprocessing": self.preprocessing.record(),
        }


def uncertainty_kind(method: str, ensemble: bool = False) -> str | None:
    """What the uncertainty of a method is: Cramér-Rao %SD, fit error %, ensemble SD, or none."""
    if ensemble:
        return "calibrated deep-ensemble SD, % of the estimate"
    if method in ("lcm", "lcmodel"):
        return "Cramér-Rao lower bound, %SD"
    if method == "gannet":
        return "fit error, % (Gannet-style)"
    return None


def quantify_scan(
    scan: RawScan,
    quantifier: Quantifier,
    *,
    water: RawScan | None = None,
    basis: Basis | None = None,
    label: str | None = None,
    **preprocess_kwargs: Any,
) -> ScanResult:
    """Preprocess ``scan`` (with its ``water`` reference) and quantify it with ``quantifier``.

    ``basis`` (the fitters' basis) enables water scaling when ``water`` is given.
    """
    pre = preprocess(scan, water, **preprocess_kwargs)
    if not isinstance(pre.spectra, EditedSpectra):
        from .errors import MRSDataError

        raise MRSDataError(
            f"{label or scan.source}: quantifiers need MEGA-PRESS OFF and ON sub-spectra; the "
            "scan holds one (pass the edit order if it is edited)"
        )
    result = quantifier.quantify(pre.spectra)
    notes: list[str] = []
    scaled = None
    if water is not None:
        if basis is not None and pre.water_amplitude:
            conc = {
                m: float(v)
                for m, v in zip(result.metabolites, result.concentrations[0], strict=True)
            }
            scaled = water_scale(conc, basis, pre.water_amplitude, scan.te_ms)
        else:
            notes.append("no water scaling: network outputs are fractions of the total")
    kind = uncertainty_kind(result.method, "interval_95" in result.diagnostics)
    flags = result.diagnostics.get("flags")
    if flags is not None and flags[0]:
        notes.append("outside the network's training domain: " + "; ".join(flags[0]))
    return ScanResult(label or str(scan.source), pre, result, kind, scaled, notes)


__all__ = [
    "WATER_ASSUMPTIONS",
    "ScanResult",
    "proton_amplitude",
    "quantify_scan",
    "uncertainty_kind",
    "water_scale",
]

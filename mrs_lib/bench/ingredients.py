"""Test-time ingredients around a network (chapter 7): referencing, a hybrid fit, a physics decoder.

Each ingredient wraps a quantifier (a network, or another wrapper) and is
itself a :class:`~mrs_lib.quantify.Quantifier`, named by a prefix::

    ref+cnn-cpu          # Cr/NAA frequency referencing and zero-order phase, then the network
    hybrid+cnn-cpu       # the LCModel-style fit with the network's ratios as a weak prior
    tta+cnn-cpu          # the physics decoder adapted to each spectrum, prior = the network
    hybrid+ref+cnn-cpu   # prefixes compose (the inner network sees referenced spectra)
    tta+none             # the decoder alone, no network: what the network's prior adds

* :class:`ReferencedQuantifier` (``ref``): residual water removed (HLSVD,
  :func:`~mrs_lib.preprocess.water.remove_water`), the offset and zero-order
  phase of the **OFF** spectrum estimated on its Cr 3.027 / NAA 2.008 ppm
  singlets (:func:`~mrs_lib.bench.decoder.reference_offset_phase`, built on
  :mod:`mrs_lib.preprocess.reference`) and refined by an OFF-only fit of the
  basis (:class:`~mrs_lib.bench.decoder.LCDecoder`, no prior), then the
  **same** correction applied to OFF and ON (the edit difference is kept);
* :class:`HybridQuantifier` (``hybrid``): the LCModel-style fit
  (:mod:`mrs_lib.fit.lcm`, OFF for every metabolite, DIFF for GABA) with a
  :class:`~mrs_lib.fit.lcm.config.RatioPrior` centred on the network's
  concentration ratios;
* :class:`DecoderQuantifier` (``tta``): :class:`~mrs_lib.bench.decoder.LCDecoder`
  (OFF and ON jointly, offset, phases, Voigt broadening, ON/OFF mismatch and a
  smooth baseline adapted per spectrum) with the network's ratios as prior.

The fits need a basis sampled like the data: ``basis`` is a
:class:`~mrs_lib.sim.basis.Basis`, a ``basis_for(bw_hz, n_points)`` callable, or
None for the project's ``paper`` protocol simulated at the data's field
(:func:`~mrs_lib.bench.sources.fitter_bases`). :func:`make_wrapped` builds any
name; :func:`split_method` parses one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, MutableMapping
from typing import Any

import numpy as np

from ..errors import MRSError
from ..fit.lcm import LCMFitter, RatioPrior, combine_edited
from ..plausibility import require_signal
from ..preprocess.water import remove_water
from ..quantify import Quantifier, QuantResult, get_quantifier, iter_acquisitions
from ..sim.basis import Basis
from ..spectrum import EditedSpectra
from .decoder import LCDecoder, reference_offset_phase

#: The prefixes :func:`make_wrapped` understands, in the order of the ablation.
INGREDIENTS: tuple[str, ...] = ("ref", "hybrid", "tta")
#: Prior SD (units of the largest concentration) of the hybrid and the decoder, chosen on
#: simulated spectra only (own-basis bench and robust-preset spectra; never the external bench).
DEFAULT_PRIOR_SD: float = 0.3
#: The inner name of the decoder without a network (``tta+none``): a plain linear-combination fit.
NO_NETWORK = "none"

BasisLike = Basis | Callable[[float, int], Basis] | None


def split_method(name: str) -> tuple[str | None, str]:
    """``"ref+cnn-cpu"`` -> ``("ref", "cnn-cpu")``; a name without a prefix -> ``(None, name)``.

    A ``+`` after an unknown prefix raises :class:`~mrs_lib.errors.MRSError`
    (so a typo is not read as a checkpoint path).
    """
    head, sep, rest = name.partition("+")
    if not sep:
        return None, name
    if head.lower() not in INGREDIENTS:
        raise MRSError(
            f"method {name!r}: unknown ingredient {head!r}, expected one of "
            f"{', '.join(p + '+<method>' for p in INGREDIENTS)}"
        )
    if not rest:
        raise MRSError(f"method {name!r}: nothing after {head + '+'!r}")
    return head.lower(), rest


class _Bases:
    """Basis per acquisition ``(bw_hz, n_points)`` (cached) from a :data:`BasisLike`."""

    def __init__(self, basis: BasisLike) -> None:
        self.basis = basis
        self._cache: dict[tuple[float, int, float], Basis] = {}

    def __call__(self, spectra: EditedSpectra) -> Basis:
        if isinstance(self.basis, Basis):
            return self.basis
        off = spectra.off
        key = (round(off.bw_hz, 6), off.n_points, round(off.larmor_mhz, 6))
        if key not in self._cache:
            if self.basis is None:
                from .sources import fitter_bases

                self._cache[key] = fitter_bases(off.larmor_mhz)(key[0], key[1])
            else:
                self._cache[key] = self.basis(key[0], key[1])
        return self._cache[key]


def _stack(acqs: list[EditedSpectra]) -> EditedSpectra:
    first = acqs[0]
    return EditedSpectra(
        off=first.off.replace(fid=np.stack([a.off.fid for a in acqs])),
        on=first.on.replace(fid=np.stack([a.on.fid for a in acqs])),
    )


def _in_order(result: QuantResult, metabolites: tuple[str, ...]) -> np.ndarray:
    """``result``'s concentrations as columns ``metabolites`` (NaN where it has none)."""
    out = np.full((len(result), len(metabolites)), np.nan)
    for j, m in enumerate(metabolites):
        if m in result.metabolites:
            out[:, j] = result.concentrations[:, result.metabolites.index(m)]
    return out


# ---------------------------------------------------------------------------- ref
class ReferencedQuantifier:
    """Frequency referencing and zero-order phasing before ``inner`` (module docstring).

    ``refine=False`` keeps the peak-based estimate (no basis needed);
    ``water=False`` skips the HLSVD water removal. The corrections found are
    in ``diagnostics`` (``shift_hz``, ``phase_deg``: those *of the data*).
    """

    def __init__(
        self,
        inner: Quantifier,
        basis: BasisLike = None,
        *,
        refine: bool = True,
        water: bool = True,
    ) -> None:
        self.inner = inner
        self.name = f"ref+{inner.name}"
        self.refine = refine
        self.water = water
        self._bases = _Bases(basis)
        self._decoders: dict[int, LCDecoder] = {}

    def estimate(self, acq: EditedSpectra) -> tuple[float, float]:
        """Offset (Hz) and zero-order phase (deg) of one acquisition, from its OFF spectrum."""
        shift, phase = reference_offset_phase(acq.off)
        if not self.refine:
            return shift, phase
        basis = self._bases(acq)
        dec = self._decoders.setdefault(id(basis), LCDecoder(basis, states=("off",)))
        fit = dec.fit(acq, init={"shift_hz": shift, "phase0_deg": phase})
        return fit.shift_hz, fit.phase0_deg

    def correct(self, spectra: EditedSpectra) -> tuple[EditedSpectra, np.ndarray, np.ndarray]:
        """The corrected acquisitions (batch ``(n,)``), offsets (Hz) and phases (deg) removed."""
        out, shifts, phases = [], [], []
        for acq in iter_acquisitions(spectra):
            if self.water:
                acq = acq.map(lambda s: s.replace(fid=remove_water(s.fid, s)[0]))
            shift, phase = self.estimate(acq)
            out.append(acq.map(lambda s, f=shift, p=phase: s.shift(hz=-f).phase(-p)))
            shifts.append(shift)
            phases.append(phase)
        return _stack(out), np.array(shifts), np.array(phases)

    def quantify(self, spectra: EditedSpectra) -> QuantResult:
        require_signal({"off": spectra.off.fid, "on": spectra.on.fid}, self.name)
        t0 = time.perf_counter()
        fixed, shifts, phases = self.correct(spectra)
        res = self.inner.quantify(fixed)
        diag = dict(res.diagnostics) | {"shift_hz": shifts.tolist(), "phase_deg": phases.tolist()}
        return QuantResult(
            res.metabolites,
            res.concentrations,
            res.uncertainty,
            diag,
            self.name,
            time.perf_counter() - t0,
        )


# ---------------------------------------------------------------------------- hybrid
class HybridQuantifier:
    """The LCModel-style fit regularised by ``inner``'s concentration ratios (module docstring).

    ``prior_sd``: SD of the :class:`~mrs_lib.fit.lcm.config.RatioPrior` in
    units of the largest concentration (large = the plain fit, small = the
    network). OFF for every metabolite, DIFF for ``from_diff`` (as ``lcm``).
    """

    def __init__(
        self,
        inner: Quantifier,
        basis: BasisLike = None,
        *,
        prior_sd: float = DEFAULT_PRIOR_SD,
        from_diff: tuple[str, ...] = ("GABA",),
        **config: Any,
    ) -> None:
        self.inner = inner
        self.name = f"hybrid+{inner.name}"
        self.prior_sd = float(prior_sd)
        self.from_diff = from_diff
        self.config = config
        self._bases = _Bases(basis)
        self._fitters: dict[int, dict[str, LCMFitter]] = {}

    def _fitters_for(self, basis: Basis) -> dict[str, LCMFitter]:
        if id(basis) not in self._fitters:
            self._fitters[id(basis)] = {
                m: LCMFitter(basis, m, **self.config) for m in ("off", "diff")
            }
        return self._fitters[id(basis)]

    def quantify(self, spectra: EditedSpectra) -> QuantResult:
        require_signal({"off": spectra.off.fid, "on": spectra.on.fid}, self.name)
        t0 = time.perf_counter()
        acqs = list(iter_acquisitions(spectra))
        net = self.inner.quantify(_stack(acqs) if spectra.off.batch_shape else spectra)
        basis = self._bases(acqs[0])
        mets = basis.metabolites
        means = _in_order(net, mets)
        conc, sd = [], []
        for acq, mean in zip(acqs, means, strict=True):
            fitters = self._fitters_for(self._bases(acq))
            prior = (
                RatioPrior(np.maximum(mean, 0.0), self.prior_sd) if np.nanmax(mean) > 0 else None
            )
            fits = {m: f.fit(acq[m], prior) for m, f in fitters.items()}  # type: ignore[index]
            c, s = combine_edited(fits["off"], fits["diff"], self.from_diff)
            conc.append(c)
            sd.append(s)
        return QuantResult(
            mets,
            np.array(conc),
            np.array(sd),
            {"prior_sd": self.prior_sd, "network": net.concentrations.tolist()},
            self.name,
            time.perf_counter() - t0,
        )


# ---------------------------------------------------------------------------- tta
class DecoderQuantifier:
    """``inner``'s estimate adapted to each spectrum by the physics decoder (module docstring).

    ``prior_sd`` as for :class:`HybridQuantifier`; ``decoder`` options go to
    :class:`~mrs_lib.bench.decoder.LCDecoder`. The adapted nuisance parameters
    are in ``diagnostics``.
    """

    def __init__(
        self,
        inner: Quantifier | None,
        basis: BasisLike = None,
        *,
        prior_sd: float = DEFAULT_PRIOR_SD,
        **decoder: Any,
    ) -> None:
        self.inner = inner
        self.name = f"tta+{NO_NETWORK if inner is None else inner.name}"
        self.prior_sd = float(prior_sd)
        self.decoder = decoder
        self._bases = _Bases(basis)
        self._decoders: dict[int, LCDecoder] = {}

    def quantify(self, spectra: EditedSpectra) -> QuantResult:
        require_signal({"off": spectra.off.fid, "on": spectra.on.fid}, self.name)
        t0 = time.perf_counter()
        acqs = list(iter_acquisitions(spectra))
        mets = self._bases(acqs[0]).metabolites
        if self.inner is None:
            means = np.zeros((len(acqs), len(mets)))
        else:
            net = self.inner.quantify(_stack(acqs) if spectra.off.batch_shape else spectra)
            means = _in_order(net, mets)
        conc = []
        diag: dict[str, list[float]] = {}
        for acq, mean in zip(acqs, means, strict=True):
            basis = self._bases(acq)
            dec = self._decoders.setdefault(id(basis), LCDecoder(basis, **self.decoder))
            prior = np.maximum(mean, 0.0) if np.nanmax(mean, initial=0.0) > 0 else None
            fit = dec.fit(acq, prior_mean=prior, prior_sd=self.prior_sd)
            conc.append(fit.concentrations)
            for k in ("shift_hz", "phase0_deg", "lorentzian_hz", "gaussian_hz", "residual_sd"):
                diag.setdefault(k, []).append(float(getattr(fit, k)))
        return QuantResult(mets, np.array(conc), None, diag, self.name, time.perf_counter() - t0)


# ---------------------------------------------------------------------------- factory
_WRAPPERS: dict[str, Callable[..., Quantifier]] = {
    "ref": ReferencedQuantifier,
    "hybrid": HybridQuantifier,
    "tta": DecoderQuantifier,
}


def make_wrapped(
    method: str,
    basis: BasisLike = None,
    *,
    networks: MutableMapping[str, Quantifier] | None = None,
    options: dict[str, dict[str, Any]] | None = None,
) -> Quantifier:
    """The quantifier named ``method``: ``<ingredient>+...+<checkpoint>`` or a bare checkpoint.

    ``networks`` caches loaded networks by name (pass a dict to share them
    between calls); ``options`` maps an ingredient to keyword arguments of its
    class (e.g. ``{"tta": {"prior_sd": 0.2}}``).
    """
    prefix, rest = split_method(method)
    if rest == NO_NETWORK:
        if prefix != "tta":
            raise MRSError(
                f"method {method!r}: only the decoder runs without a network ('tta+{NO_NETWORK}')"
            )
        return DecoderQuantifier(None, basis, **((options or {}).get(prefix, {})))
    if prefix is None:
        cache = networks if networks is not None else {}
        if method not in cache:
            cache[method] = get_quantifier("network", model=method, name=method)
        return cache[method]
    inner = make_wrapped(rest, basis, networks=networks, options=options)
    return _WRAPPERS[prefix](inner, basis, **((options or {}).get(prefix, {})))


__all__ = [
    "DEFAULT_PRIOR_SD",
    "INGREDIENTS",
    "NO_NETWORK",
    "BasisLike",
    "DecoderQuantifier",
    "HybridQuantifier",
    "ReferencedQuantifier",
    "make_wrapped",
    "split_method",
]

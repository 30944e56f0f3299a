"""Sample and sequence augmentations of the ``robust`` preset (chapter 7).

Three effects the ``full`` preset of :mod:`mrs_lib.synth.augment` leaves out,
one callable per effect, with the same contract (``aug(state, rng)`` draws
from the explicit ``rng``, applies in place, returns the drawn parameters):

:class:`T2Relaxation` (``component`` stage)
    Per-metabolite T2: every metabolite FID is weighted by
    ``exp(-(TE + t) / T2)``, the loss at the echo time and the decay during
    the readout (a Lorentzian of ``1 / (pi T2)`` Hz). In vivo at 3 T T2 is
    ~90 ms for GABA (Edden et al., MRM 2012) and 150-300 ms for the others;
    aqueous phantoms are longer. Default: log-uniform 100-500 ms.
:class:`EditingEfficiency` (``component`` stage)
    Per-metabolite editing efficiency ``e`` (0.8-1.05): the edit-ON basis of
    metabolite ``m`` becomes ``e ON_m + (1 - e) OFF_m``, so its DIFF scales
    by ``e`` and OFF is untouched (an editing pulse a little off-frequency,
    B1 error, a coupling slightly other than simulated).
:class:`OnOffMismatch` (``signal`` stage, after the additive signals)
    Frequency and phase of the edit-ON acquisition relative to edit-OFF
    (drift and motion between interleaved transients): ON multiplied by
    ``exp(i (2 pi df t + phi))``; default ``|df| <= 2`` Hz, ``|phi| <= 5``
    degrees. Put it after :class:`~mrs_lib.synth.augment.Macromolecules` and
    :class:`~mrs_lib.synth.augment.ResidualWater` in a config so that it
    shifts them too.

They are listed in :data:`SAMPLE_AUGMENTATIONS` (not in
:data:`mrs_lib.synth.augment.AUGMENTATIONS`, the catalogue of the ``full``
preset); :func:`augmentation_from_dict` rebuilds both kinds (configs use it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..errors import MRSDataError
from .augment import Augmentation, Params, Stage, _range, _uniform, cis
from .augment import from_dict as _base_from_dict
from .state import SynthState


def _check_shape(name: str, arr: np.ndarray, state: SynthState) -> None:
    if arr.shape != (state.n, state.plan.n_metabolites):
        raise MRSDataError(
            f"parameter {name!r}: expected shape {(state.n, state.plan.n_metabolites)}, "
            f"got {arr.shape} (set n_metabolites to the basis size)"
        )


@dataclass(frozen=True)
class T2Relaxation(Augmentation):
    """Per-metabolite T2 (ms), log-uniform: weight ``exp(-(TE + t) / T2)``.

    Parameter ``t2_ms`` ``[n, n_met]``; ``te_ms`` is the echo time of the basis.
    """

    t2_ms: tuple[float, float] = (100.0, 500.0)
    te_ms: float = 68.0
    n_metabolites: int = 5
    stage: ClassVar[Stage] = "component"

    def __post_init__(self) -> None:
        lo, hi = _range("t2_ms", self.t2_ms)
        if lo <= 0:
            raise MRSDataError(f"field 't2_ms': expected positive times, got {(lo, hi)}")
        object.__setattr__(self, "t2_ms", (lo, hi))

    def draw(self, rng: np.random.Generator, n: int) -> Params:
        log = _uniform(rng, (np.log(self.t2_ms[0]), np.log(self.t2_ms[1])), (n, self.n_metabolites))
        return {"t2_ms": np.exp(log)}

    def apply(
        self,
        state: SynthState,
        params: Mapping[str, np.ndarray],
        rng: np.random.Generator | None = None,
    ) -> None:
        t2 = np.asarray(params["t2_ms"], dtype=np.float32)
        _check_shape("t2_ms", t2, state)
        rate = (np.float32(1e3) / t2)[..., np.newaxis]  # 1/s
        te = np.float32(self.te_ms * 1e-3)
        state.multiply_components(np.exp(-rate * (te + state.t), dtype=np.float32))


@dataclass(frozen=True)
class EditingEfficiency(Augmentation):
    """Per-metabolite editing efficiency ``e``: ON_m -> ``e ON_m + (1 - e) OFF_m``.

    Parameter ``edit_efficiency`` ``[n, n_met]``; DIFF of metabolite ``m`` scales by ``e``.
    """

    efficiency: tuple[float, float] = (0.8, 1.05)
    n_metabolites: int = 5
    stage: ClassVar[Stage] = "component"

    def __post_init__(self) -> None:
        object.__setattr__(self, "efficiency", _range("efficiency", self.efficiency))

    def draw(self, rng: np.random.Generator, n: int) -> Params:
        return {"edit_efficiency": _uniform(rng, self.efficiency, (n, self.n_metabolites))}

    def apply(
        self,
        state: SynthState,
        params: Mapping[str, np.ndarray],
        rng: np.random.Generator | None = None,
    ) -> None:
        e = np.asarray(params["edit_efficiency"], dtype=np.float32)
        _check_shape("edit_efficiency", e, state)
        old = state.edit_efficiency
        state.edit_efficiency = e if old is None else old * e


@dataclass(frozen=True)
class OnOffMismatch(Augmentation):
    """Edit-ON frequency (Hz) and phase (degrees) relative to edit-OFF.

    Parameters ``onoff_shift_hz`` and ``onoff_phase_deg`` ``[n]``; the mixed
    metabolites and any signal already added (MM, water) in the ON acquisition
    are multiplied by ``exp(i (2 pi df t + phi))``.
    """

    shift_hz: tuple[float, float] = (-2.0, 2.0)
    phase_deg: tuple[float, float] = (-5.0, 5.0)
    stage: ClassVar[Stage] = "signal"

    def __post_init__(self) -> None:
        object.__setattr__(self, "shift_hz", _range("shift_hz", self.shift_hz))
        object.__setattr__(self, "phase_deg", _range("phase_deg", self.phase_deg))

    def draw(self, rng: np.random.Generator, n: int) -> Params:
        return {
            "onoff_shift_hz": _uniform(rng, self.shift_hz, n),
            "onoff_phase_deg": _uniform(rng, self.phase_deg, n),
        }

    def apply(
        self,
        state: SynthState,
        params: Mapping[str, np.ndarray],
        rng: np.random.Generator | None = None,
    ) -> None:
        if state.fid is None:
            raise MRSDataError("OnOffMismatch: expected mixed FIDs (run it after mixing)")
        df = np.asarray(params["onoff_shift_hz"], dtype=np.float32)[:, np.newaxis]
        ph = np.deg2rad(np.asarray(params["onoff_phase_deg"], dtype=np.float32))[:, np.newaxis]
        factor = cis(np.float32(2 * np.pi) * df * state.t + ph)  # [n, T]
        for arr in (state.fid, state.added, state.water):
            if arr is not None:
                arr[:, 1] *= factor


#: The augmentations of this module by name (:func:`~mrs_lib.synth.augment.from_dict` knows them).
SAMPLE_AUGMENTATIONS: dict[str, type[Augmentation]] = {
    c.__name__: c for c in (T2Relaxation, EditingEfficiency, OnOffMismatch)
}


def augmentation_from_dict(d: Mapping[str, Any]) -> Augmentation:
    """Rebuild any augmentation from its ``to_dict()``.

    The augmentations of this module, or (delegated to
    :func:`mrs_lib.synth.augment.from_dict`) those of :mod:`mrs_lib.synth.augment`.
    """
    cls = SAMPLE_AUGMENTATIONS.get(str(d.get("type")))
    if cls is None:
        return _base_from_dict(d)
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k != "type"}
    return cls(**kwargs)


__all__ = [
    "SAMPLE_AUGMENTATIONS",
    "EditingEfficiency",
    "OnOffMismatch",
    "T2Relaxation",
    "augmentation_from_dict",
]

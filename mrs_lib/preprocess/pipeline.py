"""``preprocess``: every step in the consensus order, each recorded with its parameters.

Order (Near et al., NMR Biomed 2021): coil combination, eddy-current
correction (with a water reference), frequency and phase alignment of the
transients (ON and OFF separately), rejection of corrupted transients,
averaging, residual water removal, ON-to-OFF alignment, frequency
referencing, zero-order phase. (Water removal comes before ON-to-OFF
alignment here: HLSVD does not depend on the shift, and a tall water tail
would outweigh Cr in the shared band.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._threads import blas_threads
from ..errors import MRSDataError
from ..spectrum import EditedSpectra, Spectrum
from . import align as _align
from .coils import CoilMethod, CoilWeights, coil_weights, combine_coils
from .raw import RawScan, to_spectra
from .reference import CR_PPM, find_reference_shift, refine_peak_shift, zero_order_phase
from .water import HLSVDResult, correct_eddy_currents, eddy_current_phase, remove_water

#: Step names, in the order :func:`preprocess` applies them.
STEPS: tuple[str, ...] = (
    "coil_combination",
    "eddy_current_correction",
    "alignment",
    "rejection",
    "averaging",
    "water_removal",
    "on_off_alignment",
    "frequency_referencing",
    "zero_order_phase",
)


@dataclass(frozen=True)
class Step:
    """One applied (or skipped) step: its name, the settings used and what it found."""

    name: str
    settings: dict[str, Any]
    found: dict[str, Any] = field(default_factory=dict)
    skipped: str | None = None

    def record(self) -> dict[str, Any]:
        out: dict[str, Any] = {"step": self.name, "settings": self.settings}
        if self.skipped:
            out["skipped"] = self.skipped
        else:
            out.update(self.found)
        return out


@dataclass(frozen=True, eq=False)
class PreprocessResult:
    """The preprocessed spectra and everything needed to see how they were made.

    ``spectra`` is an :class:`EditedSpectra` for MEGA-PRESS (a :class:`Spectrum`
    for unedited data); ``water`` the processed water reference (or ``None``);
    ``stages`` the sub-spectra ``[edit, N]`` after selected steps (for plots);
    ``transients`` the combined transients before and after alignment.
    """

    spectra: EditedSpectra | Spectrum
    water: Spectrum | None
    steps: tuple[Step, ...]
    coil: CoilWeights | None
    alignment: _align.Alignment | None
    rejection: _align.Rejection | None
    water_removal: tuple[HLSVDResult, ...]
    eddy_phase: np.ndarray | None
    reference_shift_hz: float
    phase0_deg: float
    water_amplitude: float | None
    stages: dict[str, np.ndarray]
    transients: dict[str, np.ndarray]
    scan: RawScan

    def step(self, name: str) -> Step:
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(name)

    def record(self) -> dict[str, Any]:
        """JSON-safe record: source, shape, edit order, then one entry per step in order."""
        return {
            "source": self.scan.source,
            "shape": {
                "coils": self.scan.n_coils,
                "transients": self.scan.n_transients,
                "edit": int(self.scan.fid.shape[2]),
                "points": self.scan.n_points,
            },
            "edit_order": self.scan.edit_order,
            "order": [s.name for s in self.steps],
            "steps": [s.record() for s in self.steps],
        }


def _water_reference(water: RawScan, weights: CoilWeights | None, scan: RawScan) -> np.ndarray:
    if water.n_points != scan.n_points or not np.isclose(water.dwell_s, scan.dwell_s, rtol=1e-9):
        raise MRSDataError(
            f"water reference: {water.n_points} points at {water.dwell_s} s do not match the "
            f"scan's {scan.n_points} at {scan.dwell_s} s"
        )
    if weights is not None and water.n_coils != len(weights.weights):
        raise MRSDataError(
            f"water reference: {water.n_coils} coils, the scan {len(weights.weights)}"
        )
    w = combine_coils(water.fid, weights) if weights is not None else water.fid[0]
    w = w.reshape(-1, w.shape[-1])
    # phase each transient on its first point before averaging (no drift correction needed)
    ph = np.exp(-1j * np.angle(w[:, :1]))
    return (w * ph).mean(axis=0) * np.exp(1j * np.angle(w[0, 0]))


def preprocess(
    scan: RawScan,
    water: RawScan | None = None,
    *,
    coil_method: CoilMethod | None = None,
    eddy_current: bool = True,
    align: bool = True,
    align_ppm: tuple[float, float] = (1.8, 4.2),
    align_t_max_s: float = 0.25,
    max_shift_hz: float = 30.0,
    reject_z: float | None = 3.5,
    on_off_ppm: _align.Bands = _align.ON_OFF_BANDS,
    water_removal: bool = True,
    water_ppm: tuple[float, float] = (4.2, 5.2),
    hlsvd_rank: int = 25,
    reference: bool = True,
    max_reference_shift_ppm: float = 0.4,
    phase: bool = True,
    keep_transients: bool = True,
) -> PreprocessResult:
    """Preprocess a raw scan (``water``: its water reference) into averaged sub-spectra.

    Steps and their order: :data:`STEPS`; each keyword switches or tunes one
    (``reject_z=None`` keeps every transient). ``coil_method`` defaults to
    water-reference weights when ``water`` is given, else prewhitened SVD.
    BLAS runs single-threaded inside (the problems are small; threads only
    contend).
    """
    with blas_threads(1):
        return _preprocess(
            scan,
            water,
            coil_method=coil_method,
            eddy_current=eddy_current,
            align=align,
            align_ppm=align_ppm,
            align_t_max_s=align_t_max_s,
            max_shift_hz=max_shift_hz,
            reject_z=reject_z,
            on_off_ppm=on_off_ppm,
            water_removal=water_removal,
            water_ppm=water_ppm,
            hlsvd_rank=hlsvd_rank,
            reference=reference,
            max_reference_shift_ppm=max_reference_shift_ppm,
            phase=phase,
            keep_transients=keep_transients,
        )


def _preprocess(
    scan: RawScan,
    water: RawScan | None,
    *,
    coil_method: CoilMethod | None,
    eddy_current: bool,
    align: bool,
    align_ppm: tuple[float, float],
    align_t_max_s: float,
    max_shift_hz: float,
    reject_z: float | None,
    on_off_ppm: _align.Bands,
    water_removal: bool,
    water_ppm: tuple[float, float],
    hlsvd_rank: int,
    reference: bool,
    max_reference_shift_ppm: float,
    phase: bool,
    keep_transients: bool,
) -> PreprocessResult:
    like = scan.like()
    steps: list[Step] = []

    # 1. coil combination
    weights: CoilWeights | None = None
    method = coil_method or ("water" if water is not None else "svd")
    if scan.n_coils > 1:
        weights = coil_weights(scan.fid, method, None if water is None else water.fid)
        fid = combine_coils(scan.fid, weights)
        steps.append(Step("coil_combination", {"method": method}, weights.record()))
    else:
        fid = scan.fid[0]
        steps.append(Step("coil_combination", {"method": method}, skipped="one coil"))
    # fid: [transient, edit, N]

    # 2. eddy-current correction
    water_fid = None if water is None else _water_reference(water, weights, scan)
    ec_phase = None
    if water_fid is not None and eddy_current:
        ec_phase, f_w = eddy_current_phase(water_fid, scan.dwell_s)
        fid = correct_eddy_currents(fid, ec_phase)
        water_fid = correct_eddy_currents(water_fid, ec_phase)
        steps.append(
            Step(
                "eddy_current_correction",
                {"method": "Klose (water phase, its frequency kept)"},
                {
                    "water_freq_hz": round(f_w, 4),
                    "max_abs_phase_deg": round(float(np.degrees(np.abs(ec_phase).max())), 3),
                },
            )
        )
    else:
        why = "no water reference" if water_fid is None else "disabled"
        steps.append(Step("eddy_current_correction", {}, skipped=why))

    transients: dict[str, np.ndarray] = {"combined": fid} if keep_transients else {}
    stages: dict[str, np.ndarray] = {"unaligned_average": fid.mean(axis=0)}

    # 3. alignment of transients, each sub-spectrum to its own mean
    n_t, n_e = fid.shape[:2]
    shift = np.zeros((n_t, n_e))
    phs = np.zeros((n_t, n_e))
    settings = {
        "ppm_range": list(align_ppm),
        "t_max_s": align_t_max_s,
        "max_shift_hz": max_shift_hz,
    }
    alignment: _align.Alignment | None = None
    limited = fid
    if align and n_t > 1:
        out = np.empty_like(fid)
        limited = np.empty_like(fid)
        for e in range(n_e):
            out[:, e], shift[:, e], phs[:, e], limited[:, e] = _align.align_transients(
                fid[:, e],
                like,
                ppm_range=align_ppm,
                t_max_s=align_t_max_s,
                max_shift_hz=max_shift_hz,
                water_ppm=water_ppm,
            )
        fid = out
        alignment = _align.Alignment(shift, phs, align_ppm)
        steps.append(Step("alignment", settings, alignment.record()))
    else:
        steps.append(Step("alignment", settings, skipped="one transient" if align else "disabled"))
    if keep_transients:
        transients["aligned"] = fid

    # 4. rejection
    rejection: _align.Rejection | None = None
    if reject_z is not None and n_t >= 4:
        rejection = _align.reject_transients(limited, like, threshold=reject_z, ppm_range=align_ppm)
        steps.append(Step("rejection", {"threshold_z": reject_z}, rejection.record()))
    else:
        why = "disabled" if reject_z is None else "fewer than 4 transients"
        steps.append(Step("rejection", {"threshold_z": reject_z}, skipped=why))

    # 5. averaging
    avg = _align.average(fid, None if rejection is None else rejection.rejected)
    n_rejected = np.zeros(n_e, int) if rejection is None else rejection.rejected.sum(axis=0)
    kept = [int(n_t - k) for k in n_rejected]
    steps.append(Step("averaging", {"weights": "equal"}, {"n_averaged": kept}))
    stages["average"] = avg

    # ON-to-OFF on the residual water line when it dominates: both sub-spectra carry it
    # unedited, while every metabolite band holds edited signal (GABA under Cr at 3.0 ppm)
    oo_band: _align.Bands = on_off_ppm
    oo_pre: tuple[float, float] | None = None
    if n_e == 2 and _align.water_dominates(avg[0], like, align_ppm, water_ppm):
        oo_band = water_ppm
        oo_pre = _align.align_on_to_off(avg, like, ppm_range=water_ppm)[1:]

    # 6. residual water (HLSVD commutes with the ON-to-OFF shift)
    removal: list[HLSVDResult] = []
    wset = {"method": "HLSVD", "ppm_range": list(water_ppm), "rank": hlsvd_rank}
    if water_removal:
        for e in range(n_e):
            avg[e], res = remove_water(avg[e], like, ppm_range=water_ppm, rank=hlsvd_rank)
            removal.append(res)
        steps.append(Step("water_removal", wset, {"per_edit": [r.record() for r in removal]}))
    else:
        steps.append(Step("water_removal", wset, skipped="disabled"))
    stages["water_removed"] = avg.copy()

    # 7. ON to OFF: on the water line (estimated above), else on Cr/Cho after water removal
    if n_e == 2:
        if oo_pre is None:
            avg, f_oo, p_oo = _align.align_on_to_off(avg, like, ppm_range=on_off_ppm)
        else:
            f_oo, p_oo = oo_pre
            avg[1] = _align.apply_shift_phase(avg[1], like.dwell_s, f_oo, p_oo)
        found = {"shift_hz": round(f_oo, 4), "phase_deg": round(p_oo, 3)}
        bands = [list(b) for b in _align._bands(oo_band)]
        steps.append(Step("on_off_alignment", {"ppm_bands": bands}, found))
        if alignment is not None:
            alignment = _align.Alignment(shift, phs, align_ppm, f_oo, p_oo, oo_band)
    else:
        steps.append(Step("on_off_alignment", {}, skipped="unedited data"))

    # 8. frequency referencing on OFF (shared by ON after step 6)
    ref_hz = 0.0
    rset = {"peaks_ppm": [3.027, 2.008], "max_shift_ppm": max_reference_shift_ppm}
    if reference:
        ref_hz = find_reference_shift(avg[0], like, max_shift_ppm=max_reference_shift_ppm)
        t = np.arange(avg.shape[-1]) * like.dwell_s
        avg = avg * np.exp(2j * np.pi * ref_hz * t)
        fine = refine_peak_shift(avg[0], like, CR_PPM)
        avg = avg * np.exp(2j * np.pi * fine * t)
        ref_hz += fine
        steps.append(Step("frequency_referencing", rset, {"shift_hz": round(ref_hz, 4)}))
        if water_fid is not None:
            water_fid = water_fid * np.exp(2j * np.pi * ref_hz * t)
    else:
        steps.append(Step("frequency_referencing", rset, skipped="disabled"))

    # 9. zero-order phase on OFF (ON shares it)
    phi0 = 0.0
    if phase:
        phi0 = zero_order_phase(avg[0], like)
        avg = avg * np.exp(1j * np.deg2rad(phi0))
        steps.append(
            Step("zero_order_phase", {"peaks_ppm": [3.027, 2.008]}, {"phase_deg": round(phi0, 3)})
        )
    else:
        steps.append(Step("zero_order_phase", {}, skipped="disabled"))
    stages["final"] = avg

    water_amp = None
    water_spec = None
    if water_fid is not None:
        # water signal = sum of the HLSVD amplitudes in the water band (the line's area)
        res = remove_water(water_fid, like, ppm_range=water_ppm, rank=8)[1]
        water_amp = float(np.abs(res.amplitude[res.removed].sum()))
        water_spec = scan.like(water_fid)
    return PreprocessResult(
        spectra=to_spectra(avg, scan),
        water=water_spec,
        steps=tuple(steps),
        coil=weights,
        alignment=alignment,
        rejection=rejection,
        water_removal=tuple(removal),
        eddy_phase=ec_phase,
        reference_shift_hz=ref_hz,
        phase0_deg=phi0,
        water_amplitude=water_amp,
        stages=stages,
        transients=transients,
        scan=scan,
    )


__all__ = ["STEPS", "PreprocessResult", "Step", "preprocess"]

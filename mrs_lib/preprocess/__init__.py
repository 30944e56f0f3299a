"""Preprocessing of raw MEGA-PRESS scans: from coils and transients to two averaged sub-spectra.

Each step is a function of NIfTI-MRS-shaped arrays (spectral axis last; coil,
transient and edit axes explicit, see :class:`RawScan`) with a plot in
:mod:`mrs_lib.preprocess.plots`; :func:`preprocess` applies them in the
consensus order (Near et al., NMR Biomed 2021) and records every step and its
parameters (per-transient shifts and phases, rejected transients, coil
weights) in a :class:`PreprocessResult`.

Which library does each step. We evaluated ``suspect`` 0.6.2 (PyPI; MIT)
and the ``nifti-mrs`` 1.4.1 package's own tools against writing the step.
``nifti-mrs`` (already a dependency) reads and writes the format and offers
only data-handling tools (split, merge, reorder, reshape, conjugate); it has
no processing (that lives in FSL-MRS, not on PyPI, GPL-like licence), so it
is used for input/output only. ``suspect`` has processing functions, but
they work on its own ``MRSData`` array subclass, run one transient at a time
in Python loops through ``scipy.optimize``, and the package's last release
targets Python 3.8-3.12 with no release since; adding it (with ``lmfit``,
``parsley``, ``pywavelets``, ``pydicom``) for steps that are a few lines of
vectorised numpy here was not worth it. Per step:

* **Coil combination** (:mod:`.coils`): own code. ``suspect``'s
  ``svd_weighting`` gives SVD weights without noise prewhitening from the
  water reference; we need the same weights for water and metabolites,
  water-reference, first-point or prewhitened SVD weights, and a record of
  them.
* **Eddy-current correction** (:mod:`.water`): own code (Klose 1990, a
  pointwise phase division; ``suspect`` has none).
* **Alignment** (:mod:`.align`): own code. ``suspect``'s
  ``spectral_registration`` fits one transient per ``scipy`` least-squares
  call from a zero start (a local minimum for drifts beyond a few Hz) and has
  no answer to a residual water line 100x NAA, whose tail outweighs the
  metabolites in any band. Ours starts from the exact cross-correlation
  maximum and refines all transients at once (Newton steps); when water (or
  lipid) dominates, transients are first registered on the water line and
  the HLSVD model of water and lipids is subtracted from each one (one shared
  least-squares solve) before the metabolite registration; ON and OFF are
  aligned separately, then ON to OFF on the water line when there is one,
  else on bands where ON and OFF agree (NAA aspartyl 2.5-2.7, Cho 3.15-3.3,
  Cr CH2 3.85-4.05 ppm; GABA sits under Cr at 3.0 ppm, so a Cr band would
  bias the DIFF).
* **Rejection and averaging** (:mod:`.align`): own code (neither package has
  rejection): robust z-score of the log residual from the median spectrum,
  less a polynomial baseline (shot-to-shot changes of water and lipid tails
  are not corruption).
* **Residual water removal** (:mod:`.water`): own HLSVD. ``suspect.processing
  .water_suppression.hsvd`` exists but takes a full dense SVD of the Hankel
  matrix and returns component dictionaries to rebuild; ours uses a Lanczos
  partial SVD (``scipy.sparse.linalg.svds``) and a least-squares amplitude fit
  over the whole FID.
* **Frequency referencing and zero-order phase** (:mod:`.reference`): own code;
  ``suspect`` offers phase estimators (``mag_real``, ``acme``) but no
  referencing, and ours must not lock onto water or lipids (water is removed
  first; the Cr + NAA two-peak template searched over +-0.4 ppm cannot reach
  lipids; the phase windows subtract the lipid tail under them).
* **Simulated raw scans** (:mod:`.simulate`): :func:`simulate_raw` for tests,
  benchmarks and the chapter.
* **Vendor input** (:mod:`mrs_lib.io.vendor`): ``spec2nii`` 0.8.15, the
  field's maintained converter (Siemens twix/.rda/DICOM, Philips SDAT/SPAR and
  DATA/LIST, GE P-files), called as a program, not reimplemented.
"""

from __future__ import annotations

from .align import (
    Alignment,
    Rejection,
    align_on_to_off,
    align_transients,
    apply_shift_phase,
    average,
    band_limit,
    reject_transients,
    spectral_registration,
)
from .coils import CoilWeights, coil_noise_sd, coil_weights, combine_coils
from .pipeline import STEPS, PreprocessResult, Step, preprocess
from .raw import (
    EDIT_ORDERS,
    RawScan,
    arrange,
    detect_edit_order,
    load_scan,
    load_vendor_scan,
    read_scan,
    scan_from_pair,
)
from .reference import find_reference_shift, refine_peak_shift, zero_order_phase
from .simulate import SimulatedRaw, dynamic_layout, simulate_raw
from .water import HLSVDResult, correct_eddy_currents, eddy_current_phase, hlsvd, remove_water

__all__ = [
    "EDIT_ORDERS",
    "STEPS",
    "Alignment",
    "CoilWeights",
    "HLSVDResult",
    "PreprocessResult",
    "RawScan",
    "Rejection",
    "SimulatedRaw",
    "Step",
    "align_on_to_off",
    "align_transients",
    "apply_shift_phase",
    "arrange",
    "average",
    "band_limit",
    "coil_noise_sd",
    "coil_weights",
    "combine_coils",
    "correct_eddy_currents",
    "detect_edit_order",
    "dynamic_layout",
    "eddy_current_phase",
    "find_reference_shift",
    "hlsvd",
    "load_scan",
    "load_vendor_scan",
    "preprocess",
    "read_scan",
    "refine_peak_shift",
    "reject_transients",
    "remove_water",
    "scan_from_pair",
    "simulate_raw",
    "spectral_registration",
    "zero_order_phase",
]

"""The generator's working state: one block of spectra on one acquisition grid.

:class:`SynthState` is what the augmentations (:mod:`mrs_lib.synth.augment`)
act on and what :class:`~mrs_lib.synth.generator.Synthesizer` turns into
network input: batched FIDs (already multiplied by the chirp-z pre-chirp of the
block's :class:`~mrs_lib.synth.plan.GridPlan`), time-domain factors, and after
:meth:`SynthState.transform` the spectra on the network grid.
"""

from __future__ import annotations

import numpy as np

from ..errors import MRSDataError
from .plan import GridPlan


class SynthState:
    """The batched working state of one block of synthetic spectra.

    Arrays have the batch axis first, then the acquisition axis (``0`` =
    edit-OFF, ``1`` = edit-ON):

    * ``conc`` ``[n, n_met]`` concentrations (arbitrary units, basis scale);
    * ``comp`` ``[n, n_met, T]`` per-metabolite time weights (``None`` = 1);
    * ``fid`` ``[n, 2, T]`` the mixed metabolite signal; ``added``
      ``[n, 2, T]`` extra FIDs counted as signal (MM); ``water`` ``[n, 2, T]``
      residual water (not counted in the SNR peak);
    * ``weight`` ``[n, T]`` time-domain factors common to every line;
    * after :meth:`transform`: ``spec`` ``[n, 2, M]`` the noiseless complex
      spectra on the network grid; after the noise stage ``noise`` ``[n, 2, M]``.

    Time-domain arrays are stored already multiplied by the grid transform's
    pre-chirp (see :class:`~mrs_lib.synth.grid.GridTransform`); use
    :meth:`plain_fid` to look at them in the ordinary convention.
    """

    def __init__(self, plan: GridPlan, conc: np.ndarray) -> None:
        self.plan = plan
        self.conc = np.ascontiguousarray(conc, dtype=np.float32)
        if self.conc.ndim != 2 or self.conc.shape[1] != plan.n_metabolites:
            raise MRSDataError(
                f"argument 'concentrations': expected shape (n, {plan.n_metabolites}), "
                f"got {self.conc.shape}"
            )
        self.n = int(self.conc.shape[0])
        self.comp: np.ndarray | None = None
        self.fid: np.ndarray | None = None
        self.added: np.ndarray | None = None
        self.water: np.ndarray | None = None
        self.weight: np.ndarray | None = None
        self.spec: np.ndarray | None = None
        self.noise: np.ndarray | None = None
        self.ref_amplitude: np.ndarray | None = None  # [n, 2] max |FID| of the metabolites
        self.peak_off: np.ndarray | None = None  # [n] tallest |OFF| metabolite line on the grid
        self.sigma: np.ndarray | None = None  # [n, 2] time-domain noise SD per component
        #: transform noise exactly (False: at a decimated rate, see grid.GridNoise)
        self.exact_noise = True
        #: ``[n, n_met]`` editing efficiency per metabolite (``None`` = 1): the edit-ON
        #: basis becomes ``e ON + (1 - e) OFF``, so DIFF scales by ``e``
        self.edit_efficiency: np.ndarray | None = None

    # ---------------------------------------------------------------- helpers
    @property
    def t(self) -> np.ndarray:
        """Sample times (s), float32 ``[T]``."""
        return self.plan.t32

    def multiply_components(self, factor: np.ndarray) -> None:
        """Multiply per-metabolite FIDs by ``factor`` ``[n, n_met, T]`` (before mixing)."""
        self.comp = factor if self.comp is None else self.comp * factor

    def multiply_time(self, factor: np.ndarray) -> None:
        """Multiply every FID of the spectrum by ``factor`` ``[n, T]`` (after mixing)."""
        self.weight = factor if self.weight is None else self.weight * factor

    def add_signal(
        self, fid_off: np.ndarray | None, fid_on: np.ndarray | None, *, water: bool = False
    ) -> None:
        """Add plain-convention FIDs ``[n, T]`` to OFF and/or ON."""
        target = "water" if water else "added"
        for i, f in enumerate((fid_off, fid_on)):
            if f is None:
                continue
            arr = getattr(self, target)
            if arr is None:
                arr = np.zeros((self.n, 2, self.plan.n_time), dtype=np.complex64)
                setattr(self, target, arr)
            arr[:, i] += f * self.plan.pre

    def mix(self) -> None:
        """``fid[:, a] = sum_m conc_m * basis_a,m`` (times per-metabolite weights, if any)."""
        plan = self.plan
        if self.edit_efficiency is not None:
            self._mix_edited(self.edit_efficiency)
        elif self.comp is None:
            # one real product [n, n_met] x [n_met, 2 * T * 2 (re, im)]; einsum, not BLAS:
            # multithreaded OpenBLAS is pathologically slow for an inner size of 5
            flat = np.einsum("nm,mk->nk", self.conc, plan.basis_pre_real)
            self.fid = flat.view(np.complex64).reshape(self.n, 2, plan.n_time)
        else:
            cw = self.comp * self.conc[:, :, np.newaxis]
            self.fid = np.einsum("nmt,mat->nat", cw, plan.basis_pre_met, optimize=True).astype(
                np.complex64, copy=False
            )
            self.comp = None
        assert self.fid is not None
        # max |FID| per acquisition (the pre-chirp has unit modulus)
        self.ref_amplitude = np.abs(self.fid).max(axis=-1)

    def _mix_edited(self, eff: np.ndarray) -> None:
        """:meth:`mix` with editing efficiencies: ON = sum_m c_m (e_m ON_m + (1 - e_m) OFF_m)."""
        basis = self.plan.basis_pre_met  # [n_met, 2, T]
        e = np.asarray(eff, dtype=np.float32)
        cw = self.conc[:, :, np.newaxis]
        cw = (
            np.broadcast_to(cw, (*cw.shape[:2], basis.shape[-1]))
            if self.comp is None
            else (self.comp * cw)
        )  # [n, n_met, T]
        off = np.einsum("nmt,mt->nt", cw, basis[:, 0], optimize=True)
        on = np.einsum("nmt,mt->nt", cw * e[:, :, np.newaxis], basis[:, 1], optimize=True)
        on += np.einsum("nmt,mt->nt", cw * (1 - e)[:, :, np.newaxis], basis[:, 0], optimize=True)
        self.fid = np.stack([off, on], axis=1).astype(np.complex64, copy=False)
        self.comp = None
        self.edit_efficiency = None

    def _signal(self, x: np.ndarray) -> np.ndarray:
        return x if self.weight is None else x * self.weight[:, np.newaxis]

    def transform(self, noise: np.ndarray | None = None, *, separate: bool = False) -> None:
        """Resample the signal to the network grid (exact chirp-z, see GridTransform).

        ``noise``: pre-chirped white noise ``[n, 2, T]`` already scaled by sigma.
        With ``separate`` the noise goes to ``self.noise`` (transformed in the same
        FFT pass); without, the result is the *noisy* spectrum and ``peak_off`` is
        measured on it (the fast path without a clean copy: 2 transforms, not 4).
        """
        assert self.fid is not None
        gt = self.plan.gt
        sig = self.fid if self.added is None else self.fid + self.added
        w = None if self.weight is None else self.weight[:, np.newaxis]
        if noise is not None and separate:
            spec, self.noise = gt.prechirped_pair(sig, w, noise)
            noise = None
        else:
            spec = gt.prechirped(sig, w, noise if self.water is None else None)
        self.peak_off = self.plan.peak_off(spec)
        if self.water is not None:
            spec += gt.prechirped(self.water, w, noise)
        self.spec = spec

    def plain_fid(self) -> np.ndarray:
        """The current noiseless time-domain signal ``[n, 2, T]`` in the library convention."""
        assert self.fid is not None
        sig = self.fid.copy()
        for extra in (self.added, self.water):
            if extra is not None:
                sig += extra
        return self._signal(sig) * np.conj(self.plan.pre)


__all__ = ["SynthState"]

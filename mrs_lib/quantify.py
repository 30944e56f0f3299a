"""One quantifier interface: networks, the LCModel-style fitter, real LCModel, Gannet.

Every method takes the same input, an :class:`~mrs_lib.spectrum.EditedSpectra`
(one acquisition or a batch), and returns the same :class:`QuantResult`, so
chapter 6 of the book loops over methods::

    for q in (get_quantifier("lcm", basis=basis), get_quantifier("gannet", basis=basis)):
        result = q.quantify(test.spectra)
        print(q.name, metrics.mae(result.concentrations, test.concentrations))

Concentrations are in each method's own units (basis units for the fitters,
sum-normalised fractions for the networks, basis-calibrated areas for the
Gannet-style fit); compare them through the max-normalised metric of the
paper (:func:`mrs_lib.metrics.max_normalise`, :ref:`method-metric`) or as ratios to Cr.
A method that does not report a metabolite puts NaN in its column.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ._zip import savez
from .errors import MRSDataError, MRSError
from .fit.lcm import LCMFitter, combine_edited
from .plausibility import require_signal
from .sim.basis import Basis
from .spectrum import EditedSpectra
from .types import METABOLITES, MODEL_NAMES

#: Names accepted by :func:`get_quantifier`.
METHODS: tuple[str, ...] = ("lcm", "gannet", "lcmodel", "network", *MODEL_NAMES)


@dataclass(frozen=True, eq=False)
class QuantResult:
    """Concentrations of a batch of spectra from one method.

    Parameters
    ----------
    metabolites
        Column names, in the order of :data:`mrs_lib.types.METABOLITES` for
        every built-in quantifier.
    concentrations
        ``[n_spectra, n_metabolites]``; NaN where the method reports nothing.
    uncertainty
        Cramér-Rao %SD of the same shape (999 = on a bound), or ``None`` for
        methods without one (networks).
    diagnostics
        Per-method extras (phases, linewidths, fit errors, ...), each either a
        scalar or a sequence with one entry per spectrum.
    method
        Name of the method.
    seconds
        Wall-clock time of the whole call.
    """

    metabolites: tuple[str, ...]
    concentrations: np.ndarray
    uncertainty: np.ndarray | None
    diagnostics: Mapping[str, Any]
    method: str
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        conc = np.atleast_2d(np.asarray(self.concentrations, dtype=float))
        if conc.shape[1] != len(self.metabolites):
            raise MRSDataError(
                f"QuantResult: {len(self.metabolites)} metabolites but concentrations "
                f"of shape {conc.shape}"
            )
        object.__setattr__(self, "concentrations", conc)
        object.__setattr__(self, "metabolites", tuple(self.metabolites))
        if self.uncertainty is not None:
            unc = np.atleast_2d(np.asarray(self.uncertainty, dtype=float))
            if unc.shape != conc.shape:
                raise MRSDataError(f"QuantResult: uncertainty shape {unc.shape} != {conc.shape}")
            object.__setattr__(self, "uncertainty", unc)
        object.__setattr__(self, "diagnostics", dict(self.diagnostics))

    def __len__(self) -> int:
        return int(self.concentrations.shape[0])

    @property
    def per_second(self) -> float:
        """Spectra quantified per second of wall-clock time."""
        return len(self) / self.seconds if self.seconds > 0 else float("inf")

    def max_normalised(self) -> np.ndarray:
        """Each row divided by its own maximum (NaN columns ignored for the maximum)."""
        c = self.concentrations
        m = np.nanmax(np.where(np.isnan(c), -np.inf, c), axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(m > 0, c / np.where(m > 0, m, 1.0), 0.0)

    def ratio(self, metabolite: str, reference: str = "Cr") -> np.ndarray:
        """``metabolite / reference`` per spectrum (NaN where the reference is not positive)."""
        i, k = self.metabolites.index(metabolite), self.metabolites.index(reference)
        ref = self.concentrations[:, k]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(ref > 0, self.concentrations[:, i] / ref, np.nan)

    def table(self, labels: Sequence[str] | None = None, digits: int = 4) -> str:
        """Plain-text table: one row per spectrum, concentration (and %SD) per metabolite."""
        labels = list(labels) if labels is not None else [str(i) for i in range(len(self))]
        width = max([len("spectrum"), *(len(s) for s in labels)])
        cols = [f"{m:>{digits + 8}}" for m in self.metabolites]
        lines = [f"{'spectrum':<{width}} " + " ".join(cols)]
        for r, lab in enumerate(labels):
            cells = []
            for j in range(len(self.metabolites)):
                c = self.concentrations[r, j]
                txt = "nan" if np.isnan(c) else f"{c:.{digits}g}"
                if self.uncertainty is not None and np.isfinite(self.uncertainty[r, j]):
                    txt += f" ({self.uncertainty[r, j]:.0f}%)"
                cells.append(f"{txt:>{digits + 8}}")
            lines.append(f"{lab:<{width}} " + " ".join(cells))
        return "\n".join(lines)


@runtime_checkable
class Quantifier(Protocol):
    """Anything with a ``name`` and ``quantify(EditedSpectra) -> QuantResult``."""

    name: str

    def quantify(self, spectra: EditedSpectra) -> QuantResult: ...


def iter_acquisitions(spectra: EditedSpectra) -> Iterator[EditedSpectra]:
    """Single acquisitions of a (possibly batched) :class:`EditedSpectra`, flattened in C order."""
    if not spectra.off.batch_shape:
        yield spectra
        return
    n = spectra.off.n_points
    off = spectra.off.replace(fid=spectra.off.fid.reshape(-1, n))
    on = spectra.on.replace(fid=spectra.on.fid.reshape(-1, n))
    for i in range(off.batch_shape[0]):
        yield EditedSpectra(off=off[i], on=on[i])


def _columns_for(basis: Basis | None) -> tuple[str, ...]:
    return tuple(METABOLITES) if basis is None else basis.metabolites


# ---------------------------------------------------------------------------- LCModel-style fit
class LCMQuantifier:
    """The library's LCModel-style fitter (:mod:`mrs_lib.fit.lcm`) as a quantifier.

    ``strategy="off+diff"`` (default) fits the OFF spectrum for every
    metabolite and the DIFF spectrum ('mega-press-3' mode) for the edited
    ones (``from_diff``, GABA by default), the way edited data are quantified
    with LCModel; ``"off"``, ``"on"`` or ``"diff"`` fit one sub-spectrum only.
    ``keep_fits=True`` keeps the :class:`~mrs_lib.fit.lcm.result.LCMFit` objects in
    ``result.extra["fits"]``.
    """

    def __init__(
        self,
        basis: Basis,
        strategy: str = "off+diff",
        from_diff: Sequence[str] = ("GABA",),
        keep_fits: bool = False,
        **config: Any,
    ) -> None:
        if strategy not in ("off+diff", "off", "on", "diff"):
            raise MRSDataError(
                f"LCMQuantifier: strategy {strategy!r} not in off+diff, off, on, diff"
            )
        self.name = "lcm"
        self.basis = basis
        self.strategy = strategy
        self.from_diff = tuple(m for m in from_diff if m in basis.metabolites)
        self.keep_fits = keep_fits
        modes = ("off", "diff") if strategy == "off+diff" else (strategy,)
        self._fitters = {m: LCMFitter(basis, m, **config) for m in modes}  # type: ignore[arg-type]

    def quantify(self, spectra: EditedSpectra) -> QuantResult:
        require_signal({"off": spectra.off.fid, "on": spectra.on.fid}, self.name)
        t0 = time.perf_counter()
        conc, sd, diag_rows, fits = [], [], [], []
        for acq in iter_acquisitions(spectra):
            per = {m: f.fit(acq[m]) for m, f in self._fitters.items()}  # type: ignore[index]
            if self.strategy == "off+diff":
                c, s = combine_edited(per["off"], per["diff"], self.from_diff)
            else:
                c, s = per[self.strategy].concentrations, per[self.strategy].sd_percent
            conc.append(c)
            sd.append(s)
            row: dict[str, Any] = {}
            for m, f in per.items():
                row.update(
                    {
                        f"{m}_phase0_deg": f.phase0_deg,
                        f"{m}_shift_ppm": f.shift_ppm,
                        f"{m}_lorentzian_hz": f.lorentzian_hz,
                        f"{m}_gaussian_hz": f.gaussian_hz,
                        f"{m}_residual_sd": f.residual_sd,
                        f"{m}_success": f.success,
                    }
                )
            diag_rows.append(row)
            fits.append(per)
        diagnostics: dict[str, Any] = {
            k: [r[k] for r in diag_rows] for k in (diag_rows[0] if diag_rows else {})
        }
        diagnostics["strategy"] = self.strategy
        return QuantResult(
            self.basis.metabolites,
            np.array(conc),
            np.array(sd),
            diagnostics,
            self.name,
            time.perf_counter() - t0,
            extra={"fits": fits} if self.keep_fits else {},
        )


# ---------------------------------------------------------------------------- Gannet-style fit
class GannetQuantifier:
    """Gannet-style GABA+/Cr peak fits (:mod:`mrs_lib.fit.gannet`) as a quantifier.

    Reports GABA and Cr only (NaN elsewhere). With a ``basis``, each peak
    area is divided by the area the same fit gives for one concentration
    unit of that metabolite alone, broadened to ``calibration_lw_hz`` (peak
    fits of multiplets depend on the linewidth, so calibrate at a typical
    one); the two numbers are then in basis units like the LCModel-style
    fit's. Without a basis they are raw areas. ``diagnostics["gaba_cr"]`` is
    the raw GABA+/Cr area ratio.
    """

    def __init__(self, basis: Basis | None = None, calibration_lw_hz: float = 5.0) -> None:
        self.name = "gannet"
        self.metabolites = _columns_for(basis)
        self._unit = {"GABA": 1.0, "Cr": 1.0}
        if basis is not None:
            from .fit.gannet import fit_creatine, fit_gaba

            for m in ("GABA", "Cr"):
                if m not in basis.metabolites:
                    raise MRSDataError(f"GannetQuantifier: the basis lacks {m}")
            ref = basis.select(["GABA", "Cr"]).broaden(max(0.0, calibration_lw_hz - basis.lw_hz))
            self._unit["GABA"] = fit_gaba(ref.edited("GABA").diff).area
            self._unit["Cr"] = fit_creatine(ref.edited("Cr").off).area

    def quantify(self, spectra: EditedSpectra) -> QuantResult:
        from .fit.gannet import fit_gannet

        require_signal({"off": spectra.off.fid, "on": spectra.on.fid}, self.name)
        t0 = time.perf_counter()
        rows: list[np.ndarray] = []
        diag: dict[str, list[float]] = {
            k: [] for k in ("gaba_cr", "gaba_fit_error", "cr_fit_error", "gaba_fwhm_ppm")
        }
        ig, ic = self.metabolites.index("GABA"), self.metabolites.index("Cr")
        for acq in iter_acquisitions(spectra):
            g = fit_gannet(acq)
            c = np.full(len(self.metabolites), np.nan)
            c[ig] = g.gaba.area / self._unit["GABA"]
            c[ic] = g.cr.area / self._unit["Cr"]
            rows.append(c)
            diag["gaba_cr"].append(g.gaba_cr)
            diag["gaba_fit_error"].append(g.gaba.fit_error_percent)
            diag["cr_fit_error"].append(g.cr.fit_error_percent)
            diag["gaba_fwhm_ppm"].append(g.gaba.fwhm_ppm)
        return QuantResult(
            self.metabolites, np.array(rows), None, diag, self.name, time.perf_counter() - t0
        )


# ---------------------------------------------------------------------------- real LCModel
class LCModelQuantifier:
    """The external ``lcmodel`` binary (:mod:`mrs_lib.fit.lcmodel`) as a quantifier.

    Same strategy as :class:`LCMQuantifier`: the OFF spectrum for every
    metabolite, the DIFF ('mega-press-3') for ``from_diff``. Concentrations are
    in basis units (the weights of the basis spectra that make up the data: the
    adapter writes an orthonormally scaled ``.BASIS``). Spectra run in parallel,
    ``workers`` LCModel processes at a time (default: the CPU count), each in its own
    working folder (``workdir/<index>-off``, ``workdir/<index>-diff`` when ``workdir``
    is given and kept, temporary ones otherwise); results are in input order and
    equal the serial ones. Raises :class:`~mrs_lib.errors.MRSError` with
    installation notes when no binary is found.
    """

    def __init__(
        self,
        basis: Basis,
        binary: str | None = None,
        from_diff: Sequence[str] = ("GABA",),
        workdir: str | None = None,
        workers: int | None = None,
        **control: Any,
    ) -> None:
        from .fit.lcmodel import find_lcmodel

        self.name = "lcmodel"
        self.basis = basis
        self.binary = find_lcmodel(binary)
        self.from_diff = tuple(m for m in from_diff if m in basis.metabolites)
        self.workdir = workdir
        self.workers = workers
        self.control = control

    def quantify(self, spectra: EditedSpectra) -> QuantResult:
        from pathlib import Path

        from .fit.lcmodel import run_lcmodel_batch

        require_signal({"off": spectra.off.fid, "on": spectra.on.fid}, self.name)
        t0 = time.perf_counter()
        acqs = list(iter_acquisitions(spectra))
        wd = None if self.workdir is None else Path(self.workdir)
        runs = run_lcmodel_batch(
            [a[m] for a in acqs for m in ("off", "diff")],
            self.basis,
            ["off", "diff"] * len(acqs),
            binary=self.binary,
            workdirs=[wd and wd / f"{i}-{m}" for i in range(len(acqs)) for m in ("off", "diff")],
            workers=self.workers,
            **self.control,
        )
        conc: list[np.ndarray] = []
        sd: list[np.ndarray] = []
        diag: dict[str, list[Any]] = {"off_fwhm_ppm": [], "off_snr": [], "diff_fwhm_ppm": []}
        for off, dif in zip(runs[0::2], runs[1::2], strict=True):
            c, s = off.concentrations.copy(), off.sd_percent.copy()
            for m in self.from_diff:
                i = self.basis.metabolites.index(m)
                c[i], s[i] = dif.concentrations[i], dif.sd_percent[i]
            conc.append(c)
            sd.append(s)
            diag["off_fwhm_ppm"].append(off.table.fwhm_ppm)
            diag["off_snr"].append(off.table.snr)
            diag["diff_fwhm_ppm"].append(dif.table.fwhm_ppm)
        return QuantResult(
            self.basis.metabolites,
            np.array(conc).reshape(len(conc), len(self.basis)),
            np.array(sd).reshape(len(sd), len(self.basis)),
            diag,
            self.name,
            time.perf_counter() - t0,
        )


# ---------------------------------------------------------------------------- networks
class NetworkQuantifier:
    """A trained network (CNN, FCNN or YAE) as a quantifier.

    ``model`` is a checkpoint name or path (loaded with
    :func:`mrs_lib.train.load_model`) or an ``nn.Module``. The input is built
    with :func:`mrs_lib.synth.network_input` using the checkpoint's channels
    (``meta["channels"]``, or ``channels=``). Outputs are sum-normalised
    fractions; there is no uncertainty.
    """

    def __init__(
        self,
        model: Any,
        channels: Sequence[str] | None = None,
        name: str | None = None,
        device: str = "cpu",
    ) -> None:
        from . import train

        meta: dict[str, Any] = {}
        if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
            model, meta = train.load_model(model, device=device)
        self.model = model
        self.meta = meta
        self.channels = channels if channels is not None else meta.get("channels")
        label = name or meta.get("model_name") or type(model).__name__.lower()
        self.name = str(label)
        self.metabolites = tuple(METABOLITES)

    def inputs(self, spectra: EditedSpectra) -> np.ndarray:
        """The network input ``[batch, rows, 2048]`` for ``spectra``."""
        from .synth import network_input

        if not spectra.off.batch_shape:
            spectra = spectra.map(lambda s: s.replace(fid=s.fid[None]))
        if self.channels is None:
            return np.asarray(network_input(spectra))
        return np.asarray(network_input(spectra, self.channels))

    def quantify(self, spectra: EditedSpectra) -> QuantResult:
        from .train import predict

        require_signal({"off": spectra.off.fid, "on": spectra.on.fid}, self.name)
        t0 = time.perf_counter()
        pred = predict(self.model, self.inputs(spectra))
        return QuantResult(
            self.metabolites,
            np.asarray(pred, dtype=float),
            None,
            {},
            self.name,
            time.perf_counter() - t0,
        )


# ---------------------------------------------------------------------------- test sets
@dataclass(frozen=True, eq=False)
class TestSet:
    """Time-domain test spectra with their true concentrations (for fitters and networks alike).

    ``spectra`` has batch shape ``(n,)``; ``concentrations`` is ``[n, n_metabolites]``
    in basis units; ``params`` holds the per-spectrum linewidth (Hz) and noise SDs.
    """

    spectra: EditedSpectra
    concentrations: np.ndarray
    metabolites: tuple[str, ...]
    params: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.concentrations.shape[0])

    __test__ = False  # not a pytest class


def paper_test_set(
    basis: Basis,
    n: int,
    rng: np.random.Generator | int,
    lw_range_hz: tuple[float, float] = (2.0, 8.0),
    sigma_range: tuple[float, float] = (0.0, 0.03),
) -> TestSet:
    """Simulated MEGA-PRESS test spectra as the paper makes them (:ref:`method-synthesis`).

    Concentrations uniform in [0, 1)^n_met; one total Lorentzian linewidth per
    spectrum uniform in ``lw_range_hz`` (the basis's own ``lw_hz`` counts
    towards it); complex Gaussian time-domain noise with SD ``U(sigma_range)
    x max|FID|`` drawn independently for OFF and ON (DIFF recomputed). Kept
    in the time domain so that fitters and networks see the same spectra
    (chapter 6; :mod:`mrs_lib.synth` makes the networks' grid-domain sets).
    """
    rng = np.random.default_rng(rng)
    conc = rng.uniform(0.0, 1.0, size=(int(n), len(basis)))
    lw = rng.uniform(*lw_range_hz, size=int(n))
    extra = np.maximum(lw - basis.lw_hz, 0.0)
    clean = basis.mix(conc).map(lambda s: s.broaden(extra))
    out, sig = [], {}
    for state in ("off", "on"):
        s = clean[state]
        rel = rng.uniform(*sigma_range, size=int(n))
        sigma = rel * np.abs(s.fid).max(axis=-1)
        noise = rng.standard_normal(s.fid.shape) + 1j * rng.standard_normal(s.fid.shape)
        out.append(s.replace(fid=s.fid + sigma[:, None] * noise))
        sig[f"sigma_{state}"] = rel
    return TestSet(
        EditedSpectra(off=out[0], on=out[1]),
        conc,
        basis.metabolites,
        {"lw_hz": lw, **sig},
    )


def save_spectra_npz(
    path: str | Any,
    spectra: EditedSpectra,
    concentrations: np.ndarray | None = None,
    metabolites: Sequence[str] = METABOLITES,
) -> Any:
    """Write edited spectra as ``.npz`` (``fid_off``, ``fid_on``, ``dwell_s``, ``larmor_mhz``,
    ``ppm_reference``, ``te_ms``, optional ``concentrations`` and ``metabolites``): what
    ``mrs fit`` reads besides NIfTI-MRS."""
    from pathlib import Path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    extra: dict[str, Any] = {}
    if concentrations is not None:
        extra = {
            "concentrations": np.asarray(concentrations, float),
            "metabolites": np.array(metabolites),
        }
    te = spectra.off.te_ms
    with path.open("wb") as fh:
        savez(  # byte-reproducible (fixed zip timestamps)
            fh,
            {
                "fid_off": spectra.off.fid,
                "fid_on": spectra.on.fid,
                "dwell_s": spectra.off.dwell_s,
                "larmor_mhz": spectra.off.larmor_mhz,
                "ppm_reference": spectra.off.ppm_reference,
                "te_ms": np.nan if te is None else te,
                **extra,
            },
        )
    return path


def read_spectra(path: str | Any) -> tuple[EditedSpectra, np.ndarray | None]:
    """Edited spectra from a NIfTI-MRS file (with ``DIM_EDIT``) or a :func:`save_spectra_npz` file.

    Returns ``(spectra, true concentrations or None)``. Every field of a ``.npz``
    is checked (``mrs_lib._npz.read_edited``); a bad one raises
    :class:`~mrs_lib.errors.MRSFormatError` naming it.
    """
    from pathlib import Path

    from ._npz import read_edited
    from .errors import MRSFormatError
    from .spectrum import Spectrum

    p = Path(path)
    if p.suffix == ".npz":
        off, on, common, truth = read_edited(p)
        return EditedSpectra(off=Spectrum(off, **common), on=Spectrum(on, **common)), truth
    from .io import nifti

    loaded = nifti.load(p)
    if not isinstance(loaded, EditedSpectra):
        raise MRSFormatError(p, "DIM_EDIT", "edit-OFF and edit-ON sub-spectra", "a single spectrum")
    return loaded, None


def score(result: QuantResult, truth: np.ndarray) -> dict[str, Any]:
    """The paper's metric for one method: max-normalised MAE per metabolite, GABA/Cr error, speed.

    Columns a method does not report (NaN) get NaN MAE; the max-normalisation
    of a prediction then uses only its reported columns, so methods reporting
    a subset (the Gannet-style fit: GABA and Cr) are scored on the GABA/Cr
    ratio (:func:`mrs_lib.metrics.ratio_errors`, spectra with true Cr below
    5% of their maximum left out) rather than on the max-normalised MAE.
    """
    from . import metrics

    truth = np.asarray(truth, dtype=float)
    pred = result.concentrations
    complete = ~np.isnan(pred).any(axis=0)
    mae = np.full(pred.shape[1], np.nan)
    if complete.all():
        mae = metrics.mae(pred, truth)
    out: dict[str, Any] = {
        "method": result.method,
        "n": len(result),
        "mae": dict(zip(result.metabolites, mae.tolist(), strict=True)),
        "spectra_per_s": result.per_second,
    }
    if "Cr" in result.metabolites and "GABA" in result.metabolites:
        ratio = metrics.ratio_errors(np.nan_to_num(pred), truth, result.metabolites, "Cr")
        out["gaba_cr_mae"] = ratio["GABA"]["mae"]
        out["gaba_cr_median_ae"] = ratio["GABA"]["median_ae"]
    return out


# ---------------------------------------------------------------------------- factory
def get_quantifier(method: str, **kwargs: Any) -> Quantifier:
    """A quantifier by name: ``lcm``, ``gannet``, ``lcmodel``, or a network.

    Keyword arguments go to the class: ``basis=`` for the fitters (required
    for ``lcm`` and ``lcmodel``), ``model=`` (checkpoint name, path or module)
    for ``network``; ``cnn``/``fcnn``/``yae`` load the checkpoint of that name
    unless ``model=`` is given.
    """
    m = method.lower()
    if m == "lcm":
        return LCMQuantifier(**kwargs)
    if m == "gannet":
        return GannetQuantifier(**kwargs)
    if m == "lcmodel":
        return LCModelQuantifier(**kwargs)
    if m == "network" or m in MODEL_NAMES:
        model = kwargs.pop("model", None if m == "network" else m)
        if model is None:
            raise MRSError(
                "get_quantifier('network'): pass model=<checkpoint name, path or nn.Module>"
            )
        return NetworkQuantifier(model, **kwargs)
    raise MRSError(
        f"unknown quantification method {method!r}: expected one of {', '.join(METHODS)}"
    )


__all__ = [
    "METHODS",
    "GannetQuantifier",
    "LCMQuantifier",
    "LCModelQuantifier",
    "NetworkQuantifier",
    "QuantResult",
    "Quantifier",
    "TestSet",
    "get_quantifier",
    "iter_acquisitions",
    "paper_test_set",
    "read_spectra",
    "save_spectra_npz",
    "score",
]

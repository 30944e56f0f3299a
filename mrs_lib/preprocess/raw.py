"""A raw single-voxel acquisition with explicit coil, transient and edit axes.

:class:`RawScan` holds ``fid[coil, transient, edit, point]`` (NIfTI-MRS
convention, spectral axis last) and the acquisition parameters. It is built
from a NIfTI-MRS file with any of ``DIM_COIL``, ``DIM_DYN``, ``DIM_EDIT``
(:func:`load_scan`), from separate averaged ON and OFF files
(:func:`scan_from_pair`) or from arrays. Vendors order the MEGA-PRESS
sub-spectra differently: a ``DIM_EDIT`` axis (labelled or not), ON/OFF
interleaved along ``DIM_DYN`` (Siemens, GE), or in blocks (some Philips
exports). :func:`detect_edit_order` tells them apart from the data (the
editing pulse at 1.9 ppm takes most of NAA's 2.01 ppm signal away in ON
transients); the ``edit=`` argument overrides it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np

from ..errors import MRSDataError, MRSFormatError
from ..spectrum import EditedSpectra, Spectrum
from ..types import WATER_PPM

PathLike = str | os.PathLike[str]

#: How the sub-spectra are stored: ``auto`` detects, the others override detection.
EditOrder = Literal[
    "auto",
    "none",
    "dim-off-first",
    "dim-on-first",
    "interleaved-off-first",
    "interleaved-on-first",
    "blocked-off-first",
    "blocked-on-first",
]
EDIT_ORDERS: tuple[str, ...] = get_args(EditOrder)

#: Tags this reader understands; any other higher dimension must have size 1.
KNOWN_TAGS = ("DIM_COIL", "DIM_DYN", "DIM_EDIT")
#: Welch t statistic of the NAA/Cr feature between the two groups needed to accept an ordering.
MIN_EDIT_T = 6.0


@dataclass(frozen=True, eq=False)
class RawScan:
    """``fid[coil, transient, edit, point]`` with the acquisition parameters.

    The edit axis has size 2 (OFF, ON) for MEGA-PRESS, 1 for unedited data
    (a water reference). ``edit_order`` records how the sub-spectra were found.
    """

    fid: np.ndarray
    dwell_s: float
    larmor_mhz: float
    ppm_reference: float = WATER_PPM
    te_ms: float | None = None
    edit_order: str = "none"
    source: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        arr = np.asarray(self.fid)
        if arr.ndim != 4 or arr.shape[-1] < 16 or arr.shape[2] not in (1, 2):
            raise MRSDataError(
                "RawScan.fid: expected shape (coils, transients, edit 1 or 2, points >= 16), "
                f"got {arr.shape}"
            )
        if not np.all(np.isfinite(arr)):
            raise MRSDataError("RawScan.fid: expected finite samples, found NaN/inf")
        object.__setattr__(self, "fid", arr.astype(np.complex128, copy=False))
        # the Spectrum constructor checks the parameters
        self.like()

    @property
    def n_coils(self) -> int:
        return int(self.fid.shape[0])

    @property
    def n_transients(self) -> int:
        return int(self.fid.shape[1])

    @property
    def edited(self) -> bool:
        return int(self.fid.shape[2]) == 2

    @property
    def n_points(self) -> int:
        return int(self.fid.shape[-1])

    def like(self, fid: np.ndarray | None = None, edit: Any = None) -> Spectrum:
        """A :class:`Spectrum` with this scan's parameters (the FID of the scan's first point)."""
        return Spectrum(
            fid=self.fid[0, 0, 0] if fid is None else fid,
            dwell_s=self.dwell_s,
            larmor_mhz=self.larmor_mhz,
            ppm_reference=self.ppm_reference,
            te_ms=self.te_ms,
            edit=edit,
            metadata={"source_file": self.source} if self.source else {},
        )

    def replace_fid(self, fid: np.ndarray) -> RawScan:
        return RawScan(
            fid,
            self.dwell_s,
            self.larmor_mhz,
            self.ppm_reference,
            self.te_ms,
            self.edit_order,
            self.source,
            dict(self.metadata),
        )

    def save(self, path: PathLike) -> Path:
        """Write as NIfTI-MRS: ``DIM_COIL``, ``DIM_DYN`` and a labelled ``DIM_EDIT`` (if edited)."""
        from ..io.nifti import _write

        fid = np.moveaxis(self.fid, -1, 0)  # (N, coil, dyn, edit)
        tags = ["DIM_COIL", "DIM_DYN", "DIM_EDIT"]
        headers: dict[int, dict[str, Any]] = {2: {"EditCondition": ["OFF", "ON"]}}
        if not self.edited:
            fid, tags, headers = fid[..., 0], tags[:2], {}
        return _write(
            path,
            fid,
            tags,
            self.like(),
            dim_headers=headers,
            user={"kind": "raw", "metadata": self.metadata},
        )


def _region_max(mag: np.ndarray, ppm: np.ndarray, lo: float, hi: float) -> np.ndarray:
    sel = (ppm >= lo) & (ppm <= hi)
    if not sel.any():
        raise MRSDataError(f"the spectrum does not cover {lo}-{hi} ppm")
    return mag[..., sel].max(axis=-1)


def naa_cr_feature(fid: np.ndarray, like: Spectrum) -> np.ndarray:
    """Per-transient ratio of the largest magnitude near NAA (1.75-2.25 ppm) and Cr (2.8-3.25).

    ``fid`` is ``(coil, transient, N)``; coils are summed in magnitude, so no
    phase or coil weight is needed. MEGA-PRESS ON transients have a much
    smaller value (the 1.9 ppm editing pulse saturates NAA).
    """
    spec = np.fft.fftshift(np.fft.fft(fid, axis=-1), axes=-1)
    mag = np.abs(spec).sum(axis=0)
    ppm = like.ppm_axis(fid.shape[-1])
    return _region_max(mag, ppm, 1.75, 2.25) / np.maximum(_region_max(mag, ppm, 2.8, 3.25), 1e-30)


def _welch_t(x: np.ndarray, group: np.ndarray) -> float:
    a, b = x[group == 0], x[group == 1]
    if len(a) < 2 or len(b) < 2:
        return float(abs(a.mean() - b.mean()) / (1e-3 + 0.05 * abs(a.mean() + b.mean())))
    se = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    return float((a.mean() - b.mean()) / max(se, 1e-12))


def detect_edit_order(fid: np.ndarray, like: Spectrum) -> tuple[str, float]:
    """Ordering of ON/OFF transients along the dynamic axis of ``fid[coil, dyn, N]``.

    Returns ``(order, t)``: one of the ``interleaved-*`` / ``blocked-*`` orders
    of :data:`EDIT_ORDERS` and the Welch t statistic of :func:`naa_cr_feature`
    between the two groups it implies. Raises :class:`MRSDataError` when
    neither ordering separates the transients (t below ``MIN_EDIT_T``, 6).
    """
    n = fid.shape[1]
    if n < 2 or n % 2:
        raise MRSDataError(
            f"edit detection: {n} transients along DIM_DYN cannot hold ON/OFF pairs; pass the "
            "edit order (e.g. --edit none for unedited data)"
        )
    feat = naa_cr_feature(fid, like)
    idx = np.arange(n)
    best: tuple[str, float] = ("", 0.0)
    for kind, group in (("interleaved", idx % 2), ("blocked", (idx >= n // 2).astype(int))):
        t = _welch_t(feat, group)  # > 0: group 0 has more NAA, i.e. is OFF
        if abs(t) > abs(best[1]):
            best = (f"{kind}-{'off' if t > 0 else 'on'}-first", t)
    if abs(best[1]) < MIN_EDIT_T:
        raise MRSDataError(
            f"edit detection: the transients do not split into ON and OFF (NAA/Cr t = "
            f"{abs(best[1]):.1f} < {MIN_EDIT_T}); pass the order explicitly "
            f"({', '.join(EDIT_ORDERS[1:])})"
        )
    return best[0], abs(best[1])


def split_edit(fid: np.ndarray, order: str) -> np.ndarray:
    """``fid[coil, dyn, N]`` -> ``fid[coil, dyn/2, 2 (OFF, ON), N]`` for a DIM_DYN ordering."""
    n = fid.shape[1]
    if n % 2:
        raise MRSDataError(f"edit order {order!r}: an odd number of transients ({n})")
    if order.startswith("interleaved"):
        pairs = fid.reshape(fid.shape[0], n // 2, 2, fid.shape[-1])
    elif order.startswith("blocked"):
        pairs = np.stack([fid[:, : n // 2], fid[:, n // 2 :]], axis=2)
    else:
        raise MRSDataError(f"edit order {order!r} does not split DIM_DYN")
    return pairs[:, :, ::-1] if order.endswith("on-first") else pairs


def arrange(
    fid: np.ndarray,
    tags: tuple[str, ...],
    params: dict[str, Any],
    *,
    edit: str = "auto",
    edit_labels: list[Any] | None = None,
    source: str | None = None,
) -> RawScan:
    """Arrange ``fid[*higher, N]`` with NIfTI-MRS ``tags`` into a :class:`RawScan`."""
    where = source or "input"
    if edit not in EDIT_ORDERS:
        raise MRSDataError(f"edit order {edit!r}: expected one of {', '.join(EDIT_ORDERS)}")
    if len(tags) != fid.ndim - 1:
        raise MRSFormatError(source, "dim tags", f"{fid.ndim - 1} tags", tags)
    for axis, tag in enumerate(tags):
        if tag not in KNOWN_TAGS and fid.shape[axis] != 1:
            raise MRSFormatError(
                source,
                f"dim_{axis + 5} ({tag})",
                f"one of {', '.join(KNOWN_TAGS)} (other dimensions must have size 1)",
                f"size {fid.shape[axis]}",
            )
    if len(set(tags)) != len(tags):
        raise MRSFormatError(source, "dim tags", "each tag once", tags)
    arr = fid.reshape(
        *(s for s, t in zip(fid.shape[:-1], tags, strict=True) if t in KNOWN_TAGS), -1
    )
    kept = [t for t in tags if t in KNOWN_TAGS]
    for tag in KNOWN_TAGS:  # add missing axes of size 1, then order them coil, dyn, edit
        if tag not in kept:
            arr = arr[np.newaxis]
            kept.insert(0, tag)
    arr = np.moveaxis(arr, [kept.index(t) for t in KNOWN_TAGS], [0, 1, 2])
    like = Spectrum(fid=arr[0, 0, 0], **params)
    if arr.shape[2] not in (1, 2):
        raise MRSFormatError(
            source, "DIM_EDIT", "2 sub-spectra (MEGA-PRESS OFF, ON)", f"size {arr.shape[2]}"
        )
    order = edit
    if arr.shape[2] == 2:
        if edit.startswith(("interleaved", "blocked")) or edit == "none":
            raise MRSDataError(f"{where}: edit order {edit!r} conflicts with its DIM_EDIT axis")
        if edit == "auto":
            lower = [str(x).strip().lower() for x in edit_labels or []]
            if sorted(lower) == ["off", "on"]:
                order = "dim-off-first" if lower[0] == "off" else "dim-on-first"
            else:  # unlabelled: the sub-spectrum with less NAA is ON
                flat = arr.reshape(arr.shape[0], -1, arr.shape[-1])
                f = naa_cr_feature(flat, like).reshape(arr.shape[1], 2).mean(axis=0)
                order = "dim-off-first" if f[0] > f[1] else "dim-on-first"
        if order == "dim-on-first":
            arr = arr[:, :, ::-1]
    else:
        arr = arr[:, :, 0]
        if edit.startswith("dim"):
            raise MRSDataError(f"{where}: edit order {edit!r} needs a DIM_EDIT axis of size 2")
        if edit == "auto":
            order = detect_edit_order(arr, like)[0] if arr.shape[1] > 1 else "none"
        arr = arr[:, :, np.newaxis] if order == "none" else split_edit(arr, order)
    return RawScan(np.ascontiguousarray(arr), **params, edit_order=order, source=source)


def load_scan(path: PathLike, *, edit: str = "auto") -> RawScan:
    """Read a NIfTI-MRS file with any of ``DIM_COIL``, ``DIM_DYN``, ``DIM_EDIT`` as a RawScan.

    ``edit`` picks the sub-spectrum layout (:data:`EDIT_ORDERS`); ``auto`` uses
    a labelled ``DIM_EDIT`` axis, or detects the order (:func:`detect_edit_order`).
    """
    from ..io.nifti import load_raw

    fid, tags, params, labels = load_raw(path)
    return arrange(fid, tags, params, edit=edit, edit_labels=labels, source=str(path))


def load_vendor_scan(path: PathLike, *, edit: str = "auto") -> RawScan:
    """Convert a vendor file with spec2nii (:mod:`mrs_lib.io.vendor`) and read it as a RawScan."""
    import tempfile

    from ..io.vendor import convert_vendor

    with tempfile.TemporaryDirectory(prefix="mrs-spec2nii-") as tmp:
        files = convert_vendor(path, tmp)
        if len(files) != 1:
            raise MRSFormatError(
                path, "file", "one spectroscopy series", f"{len(files)} NIfTI-MRS files"
            )
        from ..io.nifti import load_raw

        fid, tags, params, labels = load_raw(files[0])
    return arrange(fid, tags, params, edit=edit, edit_labels=labels, source=str(path))


def read_scan(path: PathLike, *, edit: str = "auto") -> RawScan:
    """A NIfTI-MRS file (:func:`load_scan`) or a vendor file (:func:`load_vendor_scan`)."""
    from ..io.vendor import is_vendor

    if is_vendor(path):
        return load_vendor_scan(path, edit=edit)
    return load_scan(path, edit=edit)


def scan_from_pair(off: PathLike, on: PathLike) -> RawScan:
    """Separate OFF and ON files (e.g. Siemens ``.rda`` exports of averaged sub-spectra)."""
    scans = [read_scan(p, edit="none") for p in (off, on)]
    a, b = scans
    for name in ("dwell_s", "larmor_mhz", "n_points"):
        if not np.isclose(getattr(a, name), getattr(b, name), rtol=1e-9):
            raise MRSFormatError(on, name, f"the OFF file's {getattr(a, name)!r}", getattr(b, name))
    if a.fid.shape[:2] != b.fid.shape[:2]:
        raise MRSFormatError(on, "dims", f"the OFF file's {a.fid.shape[:2]}", b.fid.shape[:2])
    fid = np.concatenate([a.fid, b.fid], axis=2)
    return RawScan(
        fid, a.dwell_s, a.larmor_mhz, a.ppm_reference, a.te_ms, "separate-files", str(off)
    )


def to_spectra(fid: np.ndarray, scan: RawScan) -> EditedSpectra | Spectrum:
    """``fid[edit, N]`` (or ``[edit, batch, N]``) as EditedSpectra (2 states) or a Spectrum."""
    if fid.shape[0] == 2:
        return EditedSpectra(off=scan.like(fid[0]), on=scan.like(fid[1]))
    return scan.like(fid[0])


__all__ = [
    "EDIT_ORDERS",
    "EditOrder",
    "RawScan",
    "arrange",
    "detect_edit_order",
    "load_scan",
    "load_vendor_scan",
    "naa_cr_feature",
    "read_scan",
    "scan_from_pair",
    "split_edit",
    "to_spectra",
]

"""NIfTI-MRS files for spectra, MEGA-PRESS pairs and basis sets (through the ``nifti-mrs`` package).

Chapter 1 of the book exports its simulated spectra and basis sets in this
format, the community standard (Clarke et al., MRM 2022;88:2358) that
FSL-MRS, spant, Osprey and spec2nii read and write.

Conventions:

* **No conjugation.** The NIfTI-MRS file convention *is* the library's
  (``fid ~ exp(+2 pi i f t)``, ``spectrum = fftshift(fft(fid))``, ppm rising
  with frequency), so the stored array is the FID as it is. (The package's
  ``NIFTI_MRS[...]`` indexing returns the *conjugate*, FSL-MRS's internal
  convention; this module therefore reads ``NIFTI_MRS.image`` and writes
  with ``no_conj=True``.)
* **Header.** ``SpectrometerFrequency`` = ``larmor_mhz``; pixdim[4] =
  ``dwell_s``; ``SpecFreqChemShift`` (+ ``RxOffset`` on reading) =
  ``ppm_reference``; ``EchoTime`` = ``te_ms / 1000`` (seconds);
  ``ResonantNucleus`` = ``1H``.
* **Dimensions.** A single voxel (dimensions 1-3 of size 1), the FID along
  dimension 4. A :class:`~mrs_lib.spectrum.Spectrum`'s batch dimensions
  become ``DIM_DYN``, ``DIM_USER_0``, ``DIM_USER_1``. An
  :class:`~mrs_lib.spectrum.EditedSpectra` puts ``DIM_EDIT`` (size 2, OFF then
  ON, ``dim_5_header = {"EditCondition": ["OFF", "ON"]}``) first. A
  :class:`~mrs_lib.sim.basis.Basis` stores metabolites along ``DIM_USER_0``
  (names in ``dim_5_header["Metabolite"]``) and the edit state along
  ``DIM_EDIT``.
* **Provenance.** A user-defined header key ``mrs_lib`` (JSON) records the
  object kind, the edit state of a single sub-spectrum, basis ``lw_hz`` and
  ``params``, and the metadata.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import MRSDataError, MRSError, MRSFormatError
from ..plausibility import check_dwell, check_larmor, check_lw_hz, check_signal, check_te
from ..spectrum import EditedSpectra, Spectrum
from ..types import EDIT_STATES

if TYPE_CHECKING:
    from ..sim.basis import Basis

PathLike = str | os.PathLike[str]

#: Tags given to a Spectrum's batch dimensions, in order.
BATCH_TAGS: tuple[str, ...] = ("DIM_DYN", "DIM_USER_0", "DIM_USER_1")
_USER_KEY = "mrs_lib"
_METABOLITE_KEY = "Metabolite"


def _check_suffix(path: Path) -> None:
    name = path.name.lower()
    if not (name.endswith(".nii") or name.endswith(".nii.gz")):
        raise MRSDataError(f"NIfTI-MRS path must end in .nii or .nii.gz, got '{path}'")


def _json_safe(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=str))


def _write(
    path: PathLike,
    fid: np.ndarray,
    tags: list[str],
    like: Spectrum,
    *,
    dim_headers: Mapping[int, Mapping[str, Any]] | None = None,
    dim_infos: Mapping[int, str] | None = None,
    user: Mapping[str, Any],
    edit_pulse: Mapping[str, Any] | None = None,
) -> Path:
    """``fid`` is ``(N, *higher)``; write it as one voxel with the given higher tags."""
    from nifti_mrs.create_nmrs import gen_nifti_mrs_hdr_ext
    from nifti_mrs.hdr_ext import Hdr_Ext

    from .. import __version__

    path = Path(path)
    _check_suffix(path)
    if len(tags) > 3:
        raise MRSDataError(f"NIfTI-MRS holds at most 3 higher dimensions, got {len(tags)} ({tags})")
    data = np.ascontiguousarray(fid.reshape((1, 1, 1, *fid.shape)))
    hdr = Hdr_Ext(float(like.larmor_mhz), "1H", dimensions=data.ndim)
    for d, tag in enumerate(tags):
        hdr.set_dim_info(
            d,
            tag,
            info=(dim_infos or {}).get(d),
            hdr=dict((dim_headers or {})[d]) if dim_headers and d in dim_headers else None,
        )
    hdr.set_standard_def("SpecFreqChemShift", float(like.ppm_reference))
    if like.te_ms is not None:
        hdr.set_standard_def("EchoTime", float(like.te_ms) / 1000.0)
    hdr.set_standard_def("ConversionMethod", f"mrs_lib {__version__}")
    if edit_pulse is not None:
        hdr.set_standard_def("EditPulse", _json_safe(dict(edit_pulse)))
    hdr.set_user_def(
        _USER_KEY,
        json.dumps(dict(user), default=str),
        "mrs_lib object kind, edit state, basis linewidth/parameters and metadata (JSON)",
    )
    img = gen_nifti_mrs_hdr_ext(data, float(like.dwell_s), hdr, no_conj=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(str(path))
    return path


def save(
    obj: Spectrum | EditedSpectra,
    path: PathLike,
    *,
    edit_pulse: Mapping[str, Any] | None = None,
) -> Path:
    """Write a Spectrum or an EditedSpectra (OFF/ON along ``DIM_EDIT``) as NIfTI-MRS.

    ``edit_pulse`` optionally fills the standard ``EditPulse`` header, e.g.
    ``{"OFF": {"PulseOffset": 7.5}, "ON": {"PulseOffset": 1.9}}`` (ppm). Batch
    dimensions are kept (``DIM_DYN``, then user dimensions). See the module
    docstring for the layout.
    """
    if isinstance(obj, EditedSpectra):
        batch = obj.off.batch_shape
        if len(batch) > 2:
            raise MRSDataError(f"save: an EditedSpectra may have at most 2 batch dims, got {batch}")
        fid = np.stack([obj.off.fid, obj.on.fid])  # (2, *batch, N)
        fid = np.moveaxis(fid, -1, 0)  # (N, 2, *batch)
        tags = ["DIM_EDIT", *BATCH_TAGS[: len(batch)]]
        user: dict[str, Any] = {"kind": "edited", "metadata": obj.off.metadata}
        return _write(
            path,
            fid,
            tags,
            obj.off,
            dim_headers={0: {"EditCondition": ["OFF", "ON"]}},
            dim_infos={0: "MEGA-PRESS sub-spectra: edit OFF, edit ON"},
            user=user,
            edit_pulse=edit_pulse,
        )
    if isinstance(obj, Spectrum):
        batch = obj.batch_shape
        if len(batch) > 3:
            raise MRSDataError(f"save: a Spectrum may have at most 3 batch dims, got {batch}")
        fid = np.moveaxis(obj.fid, -1, 0)
        user = {"kind": "spectrum", "edit": obj.edit, "metadata": obj.metadata}
        return _write(
            path, fid, list(BATCH_TAGS[: len(batch)]), obj, user=user, edit_pulse=edit_pulse
        )
    raise MRSDataError(f"save: expected a Spectrum or EditedSpectra, got {type(obj).__name__}")


def save_basis(basis: Basis, path: PathLike) -> Path:
    """Write a :class:`~mrs_lib.sim.basis.Basis` as NIfTI-MRS (metabolites x edit OFF/ON)."""
    fid = np.stack([basis.off.fid, basis.on.fid], axis=-1)  # (n_met, N, 2)
    fid = np.moveaxis(fid, 1, 0)  # (N, n_met, 2)
    user = {
        "kind": "basis",
        "lw_hz": basis.lw_hz,
        "params": basis.params,
        "metadata": basis.on.metadata,
    }
    return _write(
        path,
        fid,
        ["DIM_USER_0", "DIM_EDIT"],
        basis.off,
        dim_headers={
            0: {
                _METABOLITE_KEY: {
                    "Value": list(basis.metabolites),
                    "Description": "basis metabolite names",
                }
            },
            1: {"EditCondition": ["OFF", "ON"]},
        },
        dim_infos={0: "metabolites", 1: "MEGA-PRESS sub-spectra: edit OFF, edit ON"},
        user=user,
    )


# ============================================================================ reading
class _Parsed:
    """What every reader needs from one NIfTI-MRS file."""

    def __init__(self, path: Path) -> None:
        from nifti_mrs.nifti_mrs import NIFTI_MRS

        if not path.exists():
            raise MRSFormatError(path, "file", "an existing NIfTI-MRS file", "no such file")
        if not path.is_file():
            raise MRSFormatError(path, "file", "a NIfTI-MRS file", "not a regular file")
        _check_declared_size(path)
        try:
            img = NIFTI_MRS(str(path))
            data = np.asarray(img.image[:])
            shape = tuple(int(s) for s in img.shape)
            tags = list(img.dim_tags)
            hdr = img.hdr_ext.to_dict()
            dwell = float(img.dwelltime)
            larmor = float(img.spectrometer_frequency[0])
            ppm_ref = float(img.axes.ppmshift)
            nucleus = str(img.nucleus[0])
        except MRSError:
            raise
        except Exception as exc:  # nibabel, fslpy and nifti_mrs raise many types
            raise MRSFormatError(
                path, "file", "a valid NIfTI-MRS file", f"{type(exc).__name__}: {exc}"
            ) from None
        self.path = path
        if not np.iscomplexobj(data):
            raise MRSFormatError(path, "data", "complex samples", str(data.dtype))
        if data.size != math.prod(shape):
            raise MRSFormatError(path, "data", f"shape {shape}", data.shape)
        data = data.reshape(shape)
        if shape[:3] != (1, 1, 1):
            raise MRSFormatError(path, "dims 1-3", "a single voxel (1, 1, 1)", shape[:3])
        check_dwell(dwell, path=path, field="pixdim[4] (dwell time, s)")
        check_larmor(larmor, path=path, field="SpectrometerFrequency")
        if not math.isfinite(ppm_ref):
            raise MRSFormatError(path, "SpecFreqChemShift", "a finite number", ppm_ref)
        if nucleus != "1H":
            raise MRSFormatError(path, "ResonantNucleus", "1H", nucleus)
        self.fid = np.moveaxis(data[0, 0, 0], 0, -1)  # (*higher, N)
        self.tags: list[str] = [str(t) for t in tags[: len(shape) - 4]]
        self.hdr = hdr
        te = hdr.get("EchoTime")
        self.params: dict[str, Any] = dict(
            dwell_s=dwell,
            larmor_mhz=larmor,
            ppm_reference=ppm_ref,
            # EchoTime is stored in seconds (68 there is the ms value written unconverted: refused);
            # check_te rounds away the float noise of the ms -> s -> ms trip.
            te_ms=None if te is None else check_te(te, unit="s", path=path, field="EchoTime"),
        )
        user = hdr.get(_USER_KEY)
        self.user: dict[str, Any] = {}
        if isinstance(user, Mapping) and isinstance(user.get("Value"), str):
            try:
                loaded = json.loads(user["Value"])
            except json.JSONDecodeError:
                raise MRSFormatError(path, _USER_KEY, "a JSON object", user["Value"]) from None
            if isinstance(loaded, dict):
                self.user = loaded

    def dim_header(self, axis: int) -> Mapping[str, Any]:
        h = self.hdr.get(f"dim_{axis + 5}_header")
        return h if isinstance(h, Mapping) else {}

    def edit_order(self, axis: int) -> tuple[int, int]:
        """(index of OFF, index of ON) along the DIM_EDIT axis."""
        field_name = f"dim_{axis + 5}_header EditCondition"
        size = self.fid.shape[axis]
        if size != 2:
            raise MRSFormatError(
                self.path, f"dim_{axis + 5} (DIM_EDIT)", "2 entries (OFF, ON)", size
            )
        labels = self.dim_header(axis).get("EditCondition")
        if not isinstance(labels, list) or len(labels) != 2:
            raise MRSFormatError(self.path, field_name, "a list naming OFF and ON", labels)
        lower = [str(x).strip().lower() for x in labels]
        if sorted(lower) != ["off", "on"]:
            raise MRSFormatError(self.path, field_name, "the labels OFF and ON", labels)
        return lower.index("off"), lower.index("on")

    def spectrum(self, fid: np.ndarray, edit: Any = None) -> Spectrum:
        try:
            return Spectrum(fid=fid, edit=edit, metadata=self.metadata(), **self.params)
        except MRSDataError as exc:
            raise MRSFormatError(self.path, "data", "finite complex samples", str(exc)) from None

    def metadata(self) -> dict[str, Any]:
        meta = self.user.get("metadata")
        out = dict(meta) if isinstance(meta, Mapping) else {}
        out.setdefault("source_file", str(self.path))
        return out


def load(path: PathLike) -> Spectrum | EditedSpectra:
    """Read a single-voxel NIfTI-MRS file.

    A ``DIM_EDIT`` dimension of size 2 whose ``EditCondition`` header names
    OFF and ON (in either order) gives an :class:`EditedSpectra`; other higher
    dimensions become batch dimensions in file order. Files without
    ``DIM_EDIT`` give a :class:`Spectrum` (with its ``edit`` state when this
    library wrote it). Dwell time, spectrometer frequency, ppm reference and
    echo time come from the header (module docstring) and must be plausible
    (:mod:`mrs_lib.plausibility`: an ``EchoTime`` of 68, milliseconds where
    the standard wants seconds, is refused with that explanation). The
    declared data size is checked against the file before anything is read.
    """
    return load_tagged(path)[0]


def load_tagged(path: PathLike) -> tuple[Spectrum | EditedSpectra, tuple[str, ...]]:
    """:func:`load`, plus the dimension tags of the batch dimensions (``DIM_EDIT`` left out).

    ``tags[i]`` names batch axis ``i`` of the returned FIDs (``"DIM_DYN"``,
    ``"DIM_COIL"``, ...), e.g. to average dynamics
    (:func:`mrs_lib.io.phantoms.load_phantom_folder` does).
    """
    parsed = _Parsed(Path(path))
    if "DIM_EDIT" in parsed.tags:
        axis = parsed.tags.index("DIM_EDIT")
        i_off, i_on = parsed.edit_order(axis)
        fid = np.moveaxis(parsed.fid, axis, 0)
        tags = tuple(t for i, t in enumerate(parsed.tags) if i != axis)
        edited = EditedSpectra(off=parsed.spectrum(fid[i_off]), on=parsed.spectrum(fid[i_on]))
        return edited, tags
    edit = parsed.user.get("edit")
    return parsed.spectrum(parsed.fid, edit if edit in EDIT_STATES else None), tuple(parsed.tags)


def load_raw(
    path: PathLike,
) -> tuple[np.ndarray, tuple[str, ...], dict[str, Any], list[Any] | None]:
    """Raw acquisition arrays: ``(fid, tags, params, edit_labels)``, nothing combined or averaged.

    ``fid`` is ``(*higher, N)`` in file order and ``tags[i]`` names higher axis ``i``
    (``DIM_COIL``, ``DIM_DYN``, ``DIM_EDIT``, ...); ``params`` holds ``dwell_s``,
    ``larmor_mhz``, ``ppm_reference`` and ``te_ms`` (checked as in :func:`load`);
    ``edit_labels`` is the ``EditCondition`` list of the ``DIM_EDIT`` header, or
    ``None`` when there is none. :mod:`mrs_lib.preprocess` reads scans with it.
    """
    parsed = _Parsed(Path(path))
    labels = None
    if "DIM_EDIT" in parsed.tags:
        found = parsed.dim_header(parsed.tags.index("DIM_EDIT")).get("EditCondition")
        labels = list(found) if isinstance(found, list) else None
    return parsed.fid, tuple(parsed.tags), dict(parsed.params), labels


#: Deflate cannot expand data more than ~1032-fold: a larger declared size is a lie.
_DEFLATE_MAX_RATIO = 1032


def _check_declared_size(path: Path) -> None:
    """Refuse a header whose declared data (dims x datatype) the file cannot hold, unread.

    Read lazily with nibabel (header only). For ``.nii`` the file must be at
    least ``vox_offset + nbytes`` long; for ``.nii.gz`` the declared size must
    be within deflate's largest ratio of the file size, and the stream is then
    decompressed in 1 MiB pieces (nothing kept) to check that it holds as much.
    """
    import gzip

    import nibabel as nib

    try:
        img: Any = nib.load(str(path))
        shape = tuple(int(n) for n in img.header.get_data_shape())
        itemsize = int(img.header.get_data_dtype().itemsize)
        offset = int(getattr(img.dataobj, "offset", 0))
    except Exception as exc:  # nibabel raises many types for a damaged header
        raise MRSFormatError(
            path, "file", "a valid NIfTI-MRS file", f"{type(exc).__name__}: {exc}"
        ) from None
    need = offset + math.prod(shape) * itemsize
    size = path.stat().st_size
    gz = path.name.lower().endswith(".gz")
    expected = f"dimensions whose data fit in the file ({size} bytes on disk)"
    declared = f"dims {shape} x {itemsize} bytes = {need} bytes"
    if need > (size * _DEFLATE_MAX_RATIO + 1024 if gz else size):
        raise MRSFormatError(path, "dim (header)", expected, declared)
    if not gz:
        return
    held = 0
    try:
        with gzip.open(path, "rb") as fh:
            while held < need:
                piece = fh.read(min(1 << 20, need - held))
                if not piece:
                    break
                held += len(piece)
    except Exception as exc:  # BadGzipFile, EOFError (truncated), zlib.error
        raise MRSFormatError(
            path, "file", "a complete gzip stream", f"{type(exc).__name__}: {exc}"
        ) from None
    if held < need:
        raise MRSFormatError(path, "dim (header)", expected, f"{declared}; {held} held")


def load_basis(path: PathLike) -> Basis:
    """Read a basis written by :func:`save_basis`.

    Metabolite names lie along ``DIM_USER_0``, OFF/ON along ``DIM_EDIT``.
    """
    from ..sim.basis import Basis

    parsed = _Parsed(Path(path))
    if "DIM_EDIT" not in parsed.tags:
        raise MRSFormatError(parsed.path, "dim tags", "a DIM_EDIT dimension (OFF, ON)", parsed.tags)
    met_axis = next(
        (a for a in range(len(parsed.tags)) if _METABOLITE_KEY in parsed.dim_header(a)), None
    )
    if met_axis is None or len(parsed.tags) != 2:
        raise MRSFormatError(
            parsed.path,
            "dim headers",
            f"two higher dims: metabolites (header '{_METABOLITE_KEY}') and DIM_EDIT",
            parsed.tags,
        )
    names = parsed.dim_header(met_axis)[_METABOLITE_KEY]
    names = names.get("Value") if isinstance(names, Mapping) else names
    n_met = parsed.fid.shape[met_axis]
    if (
        not isinstance(names, list)
        or len(names) != n_met
        or not all(isinstance(n, str) for n in names)
    ):
        raise MRSFormatError(
            parsed.path,
            f"dim_{met_axis + 5}_header {_METABOLITE_KEY}",
            f"{n_met} metabolite names",
            names,
        )
    edit_axis = parsed.tags.index("DIM_EDIT")
    i_off, i_on = parsed.edit_order(edit_axis)
    fid = np.moveaxis(parsed.fid, (met_axis, edit_axis), (1, 0))  # (2, n_met, N)
    lw = check_lw_hz(parsed.user.get("lw_hz", 0.0), path=parsed.path, field=f"{_USER_KEY}.lw_hz")
    params = parsed.user.get("params", {})
    if not isinstance(params, Mapping):
        raise MRSFormatError(parsed.path, f"{_USER_KEY}.params", "a JSON object", params)
    for j, name in enumerate(names):
        check_signal(fid[:, j], path=parsed.path, field=f"data ({name}, edit OFF and ON)")
    try:
        return Basis(
            tuple(names), parsed.spectrum(fid[i_on]), parsed.spectrum(fid[i_off]), lw, params
        )
    except MRSDataError as exc:
        raise MRSFormatError(parsed.path, "basis", "a valid basis", str(exc)) from None


def describe(path: PathLike) -> dict[str, Any]:
    """Summary of a NIfTI-MRS file for ``mrs info``.

    It gives the kind, shape, tags and acquisition parameters.
    """
    parsed = _Parsed(Path(path))
    out: dict[str, Any] = {
        "format": "NIfTI-MRS",
        "kind": parsed.user.get("kind", "basis" if _is_basis(parsed) else "spectrum"),
        "points": int(parsed.fid.shape[-1]),
        "dims": {t: int(s) for t, s in zip(parsed.tags, parsed.fid.shape[:-1], strict=True)},
        **parsed.params,
    }
    if "DIM_EDIT" in parsed.tags:
        out["edit"] = parsed.dim_header(parsed.tags.index("DIM_EDIT")).get("EditCondition")
    elif parsed.user.get("edit"):
        out["edit"] = parsed.user["edit"]
    if _is_basis(parsed):
        axis = next(a for a in range(len(parsed.tags)) if _METABOLITE_KEY in parsed.dim_header(a))
        names = parsed.dim_header(axis)[_METABOLITE_KEY]
        out["metabolites"] = names.get("Value") if isinstance(names, Mapping) else names
        out["lw_hz"] = parsed.user.get("lw_hz")
    return out


def _is_basis(parsed: _Parsed) -> bool:
    return any(_METABOLITE_KEY in parsed.dim_header(a) for a in range(len(parsed.tags)))


__all__ = [
    "BATCH_TAGS",
    "describe",
    "load",
    "load_basis",
    "load_raw",
    "load_tagged",
    "save",
    "save_basis",
]

"""Reading the project's own ``.npz`` files (bases, edited spectra) with errors that name the field.

Shared by :meth:`mrs_lib.sim.Basis.load_npz` and
:func:`mrs_lib.quantify.read_spectra`; kept free of heavy imports so that
``mrs_lib.sim`` does not pull in the NIfTI-MRS stack.

Every field is guarded, not just the open: :class:`NpzReader` reads each
``.npy`` member itself (no pickles, no object arrays, no structured dtypes),
checks the shape and dtype its header declares against the bytes the archive
really holds *before* allocating, and its typed accessors
(:meth:`~NpzReader.number`, :meth:`~NpzReader.fids`, :meth:`~NpzReader.names`,
:meth:`~NpzReader.json_object`, ...) turn a wrong type, shape or value into
:class:`~mrs_lib.errors.MRSFormatError` naming the file, the field, what was
expected and what was found.
"""

from __future__ import annotations

import json
import math
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from .errors import MRSError, MRSFormatError
from .plausibility import check_dwell, check_larmor, check_te
from .types import WATER_PPM

#: Deflate cannot expand data more than ~1032-fold: a larger declared size is a lie.
_DEFLATE_MAX_RATIO = 1032
#: Bytes read per call when filling an array from the archive.
_CHUNK = 1 << 24


def _describe(value: np.ndarray) -> str:
    text = f"{value.dtype} array of shape {value.shape}"
    if value.ndim == 0 and value.dtype.kind in "biufcUS":
        text += f" ({value.item()!r})"
    return text


class NpzReader:
    """Guarded read access to the members of one ``.npz`` archive (see the module docstring).

    ``reader[key]`` returns the array stored under ``key`` (member
    ``key.npy``); ``reader.files`` lists the keys. Obtain one with :func:`open_npz`.
    """

    def __init__(self, path: Path, zf: zipfile.ZipFile, what: str) -> None:
        self.path = path
        self.what = what
        self._zf = zf
        self._size = path.stat().st_size
        self._infos = {
            i.filename[: -len(".npy")]: i for i in zf.infolist() if i.filename.endswith(".npy")
        }
        self.files = list(self._infos)

    def __contains__(self, key: object) -> bool:
        return key in self._infos

    # ------------------------------------------------------------------ raw members
    def __getitem__(self, key: str) -> np.ndarray:
        info = self._infos.get(key)
        if info is None:
            raise MRSFormatError(self.path, key, f"present in the {self.what} .npz", "missing")
        try:
            return self._read(key, info)
        except MRSError:
            raise
        except Exception as exc:  # zipfile, zlib and numpy's header parser raise many types
            raise MRSFormatError(
                self.path, key, "a readable .npy member", f"{type(exc).__name__}: {exc}"
            ) from None

    def _read(self, key: str, info: zipfile.ZipInfo) -> np.ndarray:
        if info.compress_type == zipfile.ZIP_STORED:
            limit = info.compress_size
        elif info.compress_type == zipfile.ZIP_DEFLATED:
            limit = info.compress_size * _DEFLATE_MAX_RATIO + 1024
        else:
            raise MRSFormatError(
                self.path, key, "a stored or deflated member (np.savez)", info.compress_type
            )
        if info.compress_size > self._size or info.file_size > limit:
            raise MRSFormatError(
                self.path,
                key,
                f"a member no larger than the file can hold ({self._size} bytes on disk)",
                f"{info.file_size} bytes declared",
            )
        with self._zf.open(info) as fh:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
            else:
                raise MRSFormatError(self.path, key, ".npy format 1.0 or 2.0", version)
            if dtype.hasobject or dtype.fields is not None or dtype.kind not in "biufcUS":
                raise MRSFormatError(
                    self.path, key, "a plain numeric or text array (no objects)", str(dtype)
                )
            count = math.prod(int(s) for s in shape)
            nbytes = count * dtype.itemsize
            held = info.file_size - fh.tell()
            if nbytes != held:
                raise MRSFormatError(
                    self.path,
                    key,
                    f"{nbytes} data bytes for the declared shape {shape} of {dtype}",
                    f"{held} bytes in the archive",
                )
            arr = np.empty(count, dtype=dtype)
            flat = arr.view(np.uint8) if nbytes else np.empty(0, np.uint8)
            done = 0
            while done < nbytes:
                piece = fh.read(min(_CHUNK, nbytes - done))
                if not piece:
                    raise MRSFormatError(
                        self.path, key, f"{nbytes} data bytes", f"{done} (truncated)"
                    )
                flat[done : done + len(piece)] = np.frombuffer(piece, np.uint8)
                done += len(piece)
        return arr.reshape(shape[::-1]).T if fortran else arr.reshape(shape)

    # ------------------------------------------------------------------ typed fields
    def number(self, key: str, *, default: float | None = None, positive: bool = False) -> float:
        """A finite real scalar (0-d integer or float array); ``default`` when absent."""
        if key not in self and default is not None:
            return default
        value = self[key]
        expected = "a positive number" if positive else "a finite number"
        if value.ndim != 0 or value.dtype.kind not in "iuf":
            raise MRSFormatError(self.path, key, f"{expected} (a scalar)", _describe(value))
        v = float(value)
        if not math.isfinite(v) or (positive and v <= 0):
            raise MRSFormatError(self.path, key, expected, v)
        return v

    def optional_number(self, key: str) -> float | None:
        """A finite real scalar, or ``None`` when absent or NaN (the writers' 'unknown')."""
        if key not in self:
            return None
        value = self[key]
        if value.ndim != 0 or value.dtype.kind not in "iuf":
            raise MRSFormatError(self.path, key, "a number or NaN (a scalar)", _describe(value))
        v = float(value)
        if math.isnan(v):
            return None
        if not math.isfinite(v):
            raise MRSFormatError(self.path, key, "a finite number or NaN", v)
        return v

    def text(self, key: str) -> str:
        """A 0-d string array."""
        value = self[key]
        if value.ndim != 0 or value.dtype.kind not in "US":
            raise MRSFormatError(self.path, key, "a text scalar", _describe(value))
        item = value.item()
        return item.decode("utf-8", errors="replace") if isinstance(item, bytes) else str(item)

    def json_object(self, key: str) -> dict[str, Any]:
        """A 0-d string holding a JSON object."""
        text = self.text(key)
        try:
            loaded = json.loads(text)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, >4300-digit integers
            raise MRSFormatError(self.path, key, "a JSON object", f"{exc}") from None
        if not isinstance(loaded, dict):
            raise MRSFormatError(self.path, key, "a JSON object", type(loaded).__name__)
        return loaded

    def names(self, key: str) -> tuple[str, ...]:
        """A 1-d (or 0-d) array of non-empty, unique strings."""
        value = self[key]
        if value.ndim > 1 or value.dtype.kind not in "US":
            raise MRSFormatError(self.path, key, "a 1-d array of names", _describe(value))
        names = tuple(
            (v.decode("utf-8", errors="replace") if isinstance(v, bytes) else str(v)).strip()
            for v in np.atleast_1d(value).tolist()
        )
        if not names or not all(names) or len(set(names)) != len(names):
            raise MRSFormatError(self.path, key, "unique, non-empty names", names)
        return names

    def fids(self, key: str, *, min_ndim: int = 1, max_ndim: int = 8) -> np.ndarray:
        """Complex FIDs ``(*batch, n_points)``: complex dtype, ``n_points >= 2``, finite samples.

        Real or boolean arrays are refused: a real "FID" has a mirrored spectrum
        and would be fitted as if it were data.
        """
        value = self[key]
        if value.dtype.kind != "c":
            raise MRSFormatError(
                self.path, key, "complex FIDs (complex64 or complex128)", _describe(value)
            )
        if not min_ndim <= value.ndim <= max_ndim or value.shape[-1] < 2:
            raise MRSFormatError(
                self.path,
                key,
                f"{min_ndim} to {max_ndim} dimensions (*batch, n_points) with n_points >= 2",
                f"shape {value.shape}",
            )
        bad = value.size - int(np.count_nonzero(np.isfinite(value)))
        if bad:
            raise MRSFormatError(self.path, key, "finite samples", f"{bad} NaN/inf samples")
        return value

    def reals(self, key: str) -> np.ndarray:
        """A finite real (integer or float) array."""
        value = self[key]
        if value.dtype.kind not in "iuf":
            raise MRSFormatError(self.path, key, "real numbers", _describe(value))
        if not np.all(np.isfinite(value)):
            raise MRSFormatError(self.path, key, "finite numbers", "NaN/inf")
        return value.astype(float, copy=False)


@contextmanager
def open_npz(path: str | Path, required: Iterable[str], what: str) -> Iterator[NpzReader]:
    """Open ``path`` as a numpy archive holding every key in ``required``.

    ``what`` names the kind of file in the errors ("basis", "edited-spectra"):
    a missing file, an unreadable archive or a missing key raise
    :class:`~mrs_lib.errors.MRSFormatError` naming the file and the key; the
    yielded :class:`NpzReader` guards every field read afterwards.
    """
    path = Path(path)
    if not path.exists():
        raise MRSFormatError(path, "file", f"an existing {what} .npz file", "no such file")
    if not path.is_file():
        raise MRSFormatError(path, "file", f"a {what} .npz file", "not a regular file")
    try:
        zf = zipfile.ZipFile(path)
    except Exception as exc:  # BadZipFile, OSError, ValueError, ...
        raise MRSFormatError(
            path, "file", "a numpy .npz archive", f"{type(exc).__name__}: {exc}"
        ) from None
    with zf:
        reader = NpzReader(path, zf, what)
        for key in required:
            if key not in reader:
                raise MRSFormatError(path, key, f"present in the {what} .npz", "missing")
        yield reader


def spectrum_header(npz: NpzReader) -> dict[str, Any]:
    """The :class:`~mrs_lib.spectrum.Spectrum` keyword arguments stored beside the FIDs.

    ``dwell_s`` and ``larmor_mhz`` must be plausible (:mod:`mrs_lib.plausibility`);
    ``ppm_reference`` defaults to water (4.65 ppm) and ``te_ms`` to unknown
    (``None``) when absent or NaN; a ``te_ms`` that is present must be a
    plausible echo time in ms.
    """
    te = npz.optional_number("te_ms")
    return {
        "dwell_s": check_dwell(npz.number("dwell_s"), path=npz.path, field="dwell_s"),
        "larmor_mhz": check_larmor(npz.number("larmor_mhz"), path=npz.path, field="larmor_mhz"),
        "ppm_reference": npz.number("ppm_reference", default=WATER_PPM),
        "te_ms": None if te is None else check_te(te, unit="ms", path=npz.path, field="te_ms"),
    }


def read_edited(
    path: Path,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any], np.ndarray | None]:
    """``(fid_off, fid_on, Spectrum keywords, concentrations or None)`` of an edited-spectra file.

    The layout of :func:`mrs_lib.quantify.save_spectra_npz`: complex finite
    FIDs of equal shape ``(*batch, n_points)``, the header of
    :func:`spectrum_header`, optional ``concentrations`` of shape
    ``(*batch, n_metabolites)`` (finite) with optional ``metabolites`` names.
    """
    with open_npz(path, ("fid_off", "fid_on", "dwell_s", "larmor_mhz"), "edited-spectra") as npz:
        common = spectrum_header(npz)
        off, on = npz.fids("fid_off"), npz.fids("fid_on")
        if on.shape != off.shape:
            raise MRSFormatError(path, "fid_on", f"shape {off.shape} as fid_off", on.shape)
        truth = None
        if "concentrations" in npz:
            truth = npz.reals("concentrations")
            batch = off.shape[:-1]
            if "metabolites" in npz:
                n_met = len(npz.names("metabolites"))
            else:
                n_met = truth.shape[-1] if truth.ndim == len(batch) + 1 else 0
            if n_met < 1 or truth.shape != (*batch, n_met):
                raise MRSFormatError(
                    path,
                    "concentrations",
                    f"shape {(*batch, max(n_met, 1))} (one row per spectrum)",
                    truth.shape,
                )
    return off, on, common, truth


__all__ = ["NpzReader", "open_npz", "read_edited", "spectrum_header"]

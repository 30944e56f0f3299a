"""The one on-disk format of stored synthetic sets: an uncompressed ``.npz`` read by memory map.

Both :func:`mrs_lib.synth.dataset.make_dataset` (stored training sets) and the
cache of :func:`mrs_lib.synth.dataset.synthesize` write it with
:func:`write_store` and read it with :func:`read_store`:

* a member ``meta.json`` (JSON: what the set is, see the writers);
* one ``.npy`` member per array: ``x``, optionally ``clean``, ``targets``,
  ``concentrations``, ``snr``, ``scale`` and ``params/<name>`` (the cache adds
  ``ppm``).

Members are stored uncompressed (``ZIP_STORED``), so :func:`read_store` maps
each one straight from the archive (:func:`npz_member_memmap`) and a reader
touches only the spectra it uses; ``numpy.load`` reads the file as an ordinary
``.npz`` too. The file is written under a temporary name in the same folder and
renamed into place, so a reader never sees a partial set. Members carry fixed
timestamps and go in a fixed order (``mrs_lib._zip``), so the same set is
the same bytes: its recorded sha256 is reproducible from the seed.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .._zip import ZIP64_FROM, member
from ..artifacts import ensure_writable
from ..errors import MRSFormatError

MapMode = Literal["r", "c"]
"""``"r"``: read-only maps; ``"c"``: copy-on-write (writes stay in this process)."""

_META = "meta.json"
#: arrays of a stored set (:func:`mrs_lib.synth.dataset.make_dataset`) with one row per spectrum
SET_ROWS = ("targets", "concentrations", "snr", "scale")
_SPECTRA_DTYPES = (np.dtype(np.float16), np.dtype(np.float32))
#: ``meta.json`` keys of a stored set and their types (``(int, low)``: an integer ``>= low``)
SET_META: dict[str, type | tuple[type, int]] = {
    "metabolites": list,
    "channels": list,
    "config": dict,
    "seed": (int, 0),
    "chunk_size": (int, 1),
}


def npz_member_memmap(
    path: Path, zf: zipfile.ZipFile, name: str, *, mode: MapMode = "r"
) -> np.ndarray:
    """Memory-map one uncompressed ``.npy`` member of a zip archive.

    The member's ``.npy`` header is checked before anything is mapped: a plain
    numeric dtype (no objects), and a declared shape whose bytes lie inside the
    member and the file; otherwise :class:`~mrs_lib.errors.MRSFormatError`
    names the member.
    """
    try:
        return _member_memmap(path, zf, name, mode)
    except MRSFormatError:
        raise
    except Exception as exc:  # numpy's header parser and mmap raise many types
        raise MRSFormatError(
            path, name, "a readable .npy member", f"{type(exc).__name__}: {exc}"
        ) from None


def _member_memmap(path: Path, zf: zipfile.ZipFile, name: str, mode: MapMode) -> np.ndarray:
    info = zf.getinfo(name)
    if info.compress_type != zipfile.ZIP_STORED:
        raise MRSFormatError(
            path, name, "an uncompressed member (written by make_dataset)", "compressed"
        )
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        fh.seek(info.header_offset)
        local = fh.read(30)
        if local[:4] != b"PK\x03\x04":
            raise MRSFormatError(path, name, "a zip local file header", local[:4])
        n_name = int.from_bytes(local[26:28], "little")
        n_extra = int.from_bytes(local[28:30], "little")
        start = info.header_offset + 30 + n_name + n_extra
        fh.seek(start)
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        else:
            raise MRSFormatError(path, name, ".npy format 1.0 or 2.0", version)
        offset = fh.tell()
    if dtype.hasobject or dtype.fields is not None or dtype.kind not in "biuf":
        raise MRSFormatError(path, name, "a numeric array (no objects)", str(dtype))
    nbytes = math.prod(int(n) for n in shape) * dtype.itemsize
    held = info.file_size - (offset - start)
    if nbytes != held or offset + nbytes > size:
        raise MRSFormatError(
            path,
            name,
            f"{nbytes} data bytes for the declared shape {shape} of {dtype}",
            f"{held} bytes in the member, {max(size - offset, 0)} left in the file",
        )
    if nbytes == 0:
        return np.empty(shape, dtype=dtype)
    return np.memmap(
        path, dtype=dtype, mode=mode, offset=offset, shape=shape, order="F" if fortran else "C"
    )


def write_store(
    path: str | os.PathLike[str], meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]
) -> Path:
    """Write ``meta`` and ``arrays`` (member name without ``.npy`` -> array) to ``path``.

    Atomic: the archive is built as ``<path>.partial<pid>`` beside ``path`` and
    renamed over it. Arrays are streamed in pieces, so a memory-mapped array is
    never loaded whole. Byte-reproducible: ``meta.json`` first, then the arrays
    by name, every member with a fixed timestamp. Returns ``path``.
    """
    out = ensure_writable(path, "dataset file")
    partial = out.with_name(f"{out.name}.partial{os.getpid()}")
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            zf.writestr(member(_META), json.dumps(dict(meta), default=str))
            for name in sorted(arrays):
                arr = np.asanyarray(arrays[name])
                info, big = member(f"{name}.npy"), arr.nbytes >= ZIP64_FROM
                with zf.open(info, "w", force_zip64=big) as fh:
                    np.lib.format.write_array(fh, arr, allow_pickle=False)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return out


def read_store(
    path: str | os.PathLike[str],
    *,
    mode: MapMode = "r",
    required: Iterable[str] = (),
    per_spectrum: Iterable[str] = (),
    meta_keys: Mapping[str, type | tuple[type, int]] | None = None,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """``(meta, arrays)`` of a file written by :func:`write_store`, every array memory-mapped.

    Array keys are the member names without ``.npy`` (``"x"``, ``"params/snr"``
    ...). A file that is not such an archive raises
    :class:`~mrs_lib.errors.MRSFormatError` naming what was expected, as does
    a missing array of ``required``, an array of ``per_spectrum`` that is
    missing or whose first axis differs
    from ``x``'s, or a key of ``meta_keys`` missing from ``meta.json`` or of
    another type (a ``list`` must hold strings; ``(int, low)`` is an integer
    ``>= low``).
    """
    p = Path(path)
    try:
        zf = zipfile.ZipFile(p)
    except Exception as exc:  # BadZipFile, IsADirectoryError, ValueError, ...
        raise MRSFormatError(
            p, "file", "a dataset .npz written by make_dataset", f"{type(exc).__name__}: {exc}"
        ) from None
    with zf:
        names = set(zf.namelist())
        if _META not in names or "x.npy" not in names:
            raise MRSFormatError(
                p, "meta.json/x.npy", "present (written by make_dataset)", sorted(names)[:5]
            )
        meta = _read_meta(p, zf)
        arrays = {
            nm[: -len(".npy")]: npz_member_memmap(p, zf, nm, mode=mode)
            for nm in sorted(names)
            if nm.endswith(".npy")
        }
    for key in required:
        if key not in arrays:
            raise MRSFormatError(p, f"{key}.npy", "present (written by make_dataset)", "missing")
    _check_layout(p, meta, arrays, per_spectrum, meta_keys or {})
    return meta, arrays


def _check_layout(
    path: Path,
    meta: Mapping[str, Any],
    arrays: Mapping[str, np.ndarray],
    per_spectrum: Iterable[str],
    meta_keys: Mapping[str, type | tuple[type, int]],
) -> None:
    n = arrays["x"].shape[0] if arrays["x"].ndim else None
    if n is None:
        raise MRSFormatError(path, "x.npy", "an array (n_spectra, ...)", "a scalar")
    for key in ("x", "clean"):  # the spectra, read on access as float32
        arr = arrays.get(key)
        if arr is not None and (arr.dtype not in _SPECTRA_DTYPES or arr.shape[:1] != (n,)):
            raise MRSFormatError(
                path,
                f"{key}.npy",
                f"float16 or float32 spectra, {n} rows",
                f"{arr.dtype} {arr.shape}",
            )
    big = float(np.finfo(np.float32).max)
    for key in per_spectrum:
        arr = arrays.get(key)
        if arr is None:
            raise MRSFormatError(path, f"{key}.npy", "present (written by make_dataset)", "missing")
        if arr.ndim == 0 or arr.shape[0] != n:
            raise MRSFormatError(path, f"{key}.npy", f"{n} rows as in x.npy", arr.shape)
        if arr.dtype.kind not in "iuf" or not np.all(np.abs(np.asarray(arr)) <= big):
            raise MRSFormatError(path, f"{key}.npy", "finite real numbers", str(arr.dtype))
    for key, spec in meta_keys.items():
        value = meta.get(key)
        kind, low = spec if isinstance(spec, tuple) else (spec, None)
        ok = isinstance(value, kind) and not isinstance(value, bool)
        if ok and isinstance(value, list):
            ok = all(isinstance(v, str) for v in value)
        if ok and low is not None:
            ok = isinstance(value, int) and value >= low
        if not ok:
            expected = "a list of names" if kind is list else f"a JSON {kind.__name__}"
            expected += "" if low is None else f" >= {low}"
            raise MRSFormatError(path, f"{_META} {key}", expected, value)


def _read_meta(path: Path, zf: zipfile.ZipFile) -> dict[str, Any]:
    """The ``meta.json`` member: a JSON object, read within the file's own size."""
    info = zf.getinfo(_META)
    if info.compress_type != zipfile.ZIP_STORED or info.file_size > os.path.getsize(path):
        raise MRSFormatError(
            path, _META, "an uncompressed member within the file", f"{info.file_size} bytes"
        )
    try:
        meta = json.loads(zf.read(info).decode("utf-8"))
    except Exception as exc:  # BadZipFile (CRC), UnicodeDecodeError, JSONDecodeError, ...
        raise MRSFormatError(
            path, _META, "a JSON object (written by make_dataset)", f"{type(exc).__name__}: {exc}"
        ) from None
    if not isinstance(meta, dict):
        raise MRSFormatError(path, _META, "a JSON object", type(meta).__name__)
    return meta


__all__ = ["SET_META", "SET_ROWS", "MapMode", "npz_member_memmap", "read_store", "write_store"]

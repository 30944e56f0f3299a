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
renamed into place, so a reader never sees a partial set.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..errors import MRSFormatError

MapMode = Literal["r", "c"]
"""``"r"``: read-only maps; ``"c"``: copy-on-write (writes stay in this process)."""

_META = "meta.json"
#: members over this size are written with zip64 headers (the zip format's 32-bit limit)
_ZIP64_FROM = 1 << 30


def npz_member_memmap(
    path: Path, zf: zipfile.ZipFile, name: str, *, mode: MapMode = "r"
) -> np.ndarray:
    """Memory-map one uncompressed ``.npy`` member of a zip archive."""
    info = zf.getinfo(name)
    if info.compress_type != zipfile.ZIP_STORED:
        raise MRSFormatError(
            path, name, "an uncompressed member (written by make_dataset)", "compressed"
        )
    with open(path, "rb") as fh:
        fh.seek(info.header_offset)
        local = fh.read(30)
        if local[:4] != b"PK\x03\x04":
            raise MRSFormatError(path, name, "a zip local file header", local[:4])
        n_name = int.from_bytes(local[26:28], "little")
        n_extra = int.from_bytes(local[28:30], "little")
        fh.seek(info.header_offset + 30 + n_name + n_extra)
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        offset = fh.tell()
    if int(np.prod(shape)) == 0:
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
    never loaded whole. Returns ``path``.
    """
    out = Path(path)
    partial = out.with_name(f"{out.name}.partial{os.getpid()}")
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            zf.writestr(_META, json.dumps(dict(meta), default=str))
            for name in sorted(arrays):
                arr = np.asanyarray(arrays[name])
                with zf.open(f"{name}.npy", "w", force_zip64=arr.nbytes >= _ZIP64_FROM) as fh:
                    np.lib.format.write_array(fh, arr, allow_pickle=False)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return out


def read_store(
    path: str | os.PathLike[str], *, mode: MapMode = "r"
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """``(meta, arrays)`` of a file written by :func:`write_store`, every array memory-mapped.

    Array keys are the member names without ``.npy`` (``"x"``, ``"params/snr"``
    ...). A file that is not such an archive raises
    :class:`~mrs_lib.errors.MRSFormatError` naming what was expected.
    """
    p = Path(path)
    try:
        zf = zipfile.ZipFile(p)
    except zipfile.BadZipFile as exc:
        raise MRSFormatError(
            p, "file", "a dataset .npz written by make_dataset", str(exc)
        ) from None
    with zf:
        names = set(zf.namelist())
        if _META not in names or "x.npy" not in names:
            raise MRSFormatError(
                p, "meta.json/x.npy", "present (written by make_dataset)", sorted(names)[:5]
            )
        meta: dict[str, Any] = json.loads(zf.read(_META))
        arrays = {
            nm[: -len(".npy")]: npz_member_memmap(p, zf, nm, mode=mode)
            for nm in sorted(names)
            if nm.endswith(".npy")
        }
    return meta, arrays


__all__ = ["MapMode", "npz_member_memmap", "read_store", "write_store"]

"""Byte-reproducible zip archives: the same arrays always give the same bytes.

:func:`numpy.savez` and :meth:`zipfile.ZipFile.writestr` with a plain member
name stamp every member with the current time, so two runs with the same seed
write files whose sha256 differ. Every zip-based writer of the library
(:meth:`mrs_lib.sim.Basis.save_npz`, :func:`mrs_lib.quantify.save_spectra_npz`,
the stored synthetic sets of :mod:`mrs_lib.synth.store`) builds its members with
:func:`member`: a fixed timestamp (1980-01-01, the zip format's epoch), fixed
permissions and a fixed "made by" system; members go in the order the caller
gives. ``torch.save`` already writes fixed timestamps, so checkpoints need
nothing here. The sha256 recorded in a provenance sidecar
(:mod:`mrs_lib.artifacts`) is then reproducible from the seed.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Mapping
from typing import IO, Any

import numpy as np

#: the timestamp of every member: the earliest date a zip archive can hold
FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
#: members at or over this size get zip64 headers (the zip format's 32-bit limit)
ZIP64_FROM = 1 << 30


def member(name: str, compress_type: int = zipfile.ZIP_STORED) -> zipfile.ZipInfo:
    """A :class:`zipfile.ZipInfo` for ``name`` that does not depend on the clock or the OS."""
    info = zipfile.ZipInfo(name, date_time=FIXED_DATE_TIME)
    info.compress_type = compress_type
    info.create_system = 3  # Unix, wherever the file is written
    info.external_attr = 0o100644 << 16  # a regular file, rw-r--r--
    return info


def savez(file: str | os.PathLike[str] | IO[bytes], arrays: Mapping[str, Any]) -> None:
    """Write ``arrays`` as an uncompressed ``.npz`` that :func:`numpy.load` reads, reproducibly.

    Like ``numpy.savez(file, **arrays)`` (member ``<key>.npy`` per array, in
    the mapping's order, pickles refused) but with :func:`member` headers, so
    equal arrays give equal bytes.
    """
    with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for key, value in arrays.items():
            arr = np.asanyarray(value)
            with zf.open(member(f"{key}.npy"), "w", force_zip64=arr.nbytes >= ZIP64_FROM) as fh:
                np.lib.format.write_array(fh, arr, allow_pickle=False)


__all__ = ["FIXED_DATE_TIME", "ZIP64_FROM", "member", "savez"]

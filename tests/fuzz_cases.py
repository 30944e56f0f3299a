"""Malformed inputs for the reader fuzz suite (tests/test_fuzz_readers.py): seeds and mutations.

Every reader gets a small valid seed file and hypothesis strategies of
mutations of it, at two levels:

* **bytes** - the file truncated, bytes flipped, inserted, deleted, zeroed,
  ranges duplicated (:func:`byte_ops`, :func:`mutate_bytes`);
* **fields** - one field of the format replaced by a value of the wrong kind
  (NaN/inf, negative, zero, huge, a string for a number, a vector for a
  scalar, an object array, booleans, a shape far larger than the file, a real
  FID, JSON that is not an object...; :data:`VALUE_KINDS`, :func:`swap`), then
  written in the format's own container (zip, torch zip, NIfTI-2 + JSON
  extension, namelist text) so the mutation reaches the field's reader, not
  just the container's.

Deterministic: strategies draw everything (no unseeded randomness here).
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
from collections.abc import Mapping
from typing import Any

import numpy as np
from hypothesis import strategies as st

# ============================================================================ bytes
BYTE_OPS = ("truncate", "flip", "insert", "delete", "zero", "dup")


def byte_ops(max_size: int = 3) -> st.SearchStrategy[list[tuple[str, float, bytes]]]:
    """Lists of ``(op, where in [0, 1], bytes)`` for :func:`mutate_bytes`."""
    op = st.tuples(
        st.sampled_from(BYTE_OPS), st.floats(0.0, 1.0), st.binary(min_size=1, max_size=8)
    )
    return st.lists(op, min_size=1, max_size=max_size)


def mutate_bytes(data: bytes, ops: list[tuple[str, float, bytes]]) -> bytes:
    """Apply byte-level mutations (positions relative to the current length)."""
    for op, where, piece in ops:
        i = min(int(where * len(data)), max(len(data) - 1, 0))
        if op == "truncate":
            data = data[:i]
        elif op == "flip":
            data = (
                data[:i]
                + bytes(b ^ 0xFF for b in data[i : i + len(piece)])
                + data[i + len(piece) :]
            )
        elif op == "insert":
            data = data[:i] + piece + data[i:]
        elif op == "delete":
            data = data[:i] + data[i + len(piece) :]
        elif op == "zero":
            data = (
                data[:i] + bytes(len(data[i : i + 16 * len(piece)])) + data[i + 16 * len(piece) :]
            )
        else:  # dup
            data = data[:i] + data[i : i + 32] + data[i:]
    return data


# ============================================================================ values
#: Kinds of wrong (or edge-case) values a field may be swapped for.
VALUE_KINDS = (
    "drop",
    "nan",
    "inf",
    "negative",
    "zero",
    "huge",
    "tiny",
    "string",
    "number_string",
    "vector",
    "matrix",
    "empty",
    "bool",
    "int",
    "object",
    "real",
    "complex_scalar",
    "json_list",
    "bad_json",
    "digits5000",
    "times1000",
    "divide1000",
    "declared_huge",
)


def swap(value: Any, kind: str) -> Any:
    """``value`` replaced by a value of ``kind`` (numpy arrays for the npz layouts).

    ``"drop"`` returns :data:`DROP`; ``"declared_huge"`` returns :data:`HUGE`
    (the writer then declares a shape of 2^39 points over a few bytes).
    """
    with np.errstate(all="ignore"):  # the swapped-in values may overflow on purpose
        return _swap(np.asarray(value), kind)


def _swap(arr: np.ndarray, kind: str) -> Any:
    if kind == "drop":
        return DROP
    if kind == "declared_huge":
        return HUGE
    if kind == "nan":
        return np.full(arr.shape, np.nan, dtype=complex if arr.dtype.kind == "c" else float)
    if kind == "inf":
        return np.full(arr.shape, np.inf)
    if kind == "negative":
        return -np.abs(arr) - 1 if arr.dtype.kind in "iufc" else np.float64(-1.0)
    if kind == "zero":
        return np.zeros_like(arr) if arr.dtype.kind in "iufcb" else np.float64(0.0)
    if kind == "huge":
        return np.full(arr.shape, 1e300) if arr.dtype.kind in "iufc" else np.float64(1e300)
    if kind == "tiny":
        return np.full(arr.shape, 1e-300) if arr.dtype.kind in "iufc" else np.float64(1e-300)
    if kind == "string":
        return np.array("not a number")
    if kind == "number_string":
        return np.array("5e-4")
    if kind == "vector":
        return np.repeat(arr.reshape(-1)[:1] if arr.size else np.zeros(1), 3)
    if kind == "matrix":
        return np.zeros((2, 3))
    if kind == "empty":
        return np.zeros((0,), dtype=arr.dtype if arr.dtype.kind != "U" else float)
    if kind == "bool":
        return np.ones(arr.shape, dtype=bool)
    if kind == "int":
        return arr.real.astype(np.int64) if arr.dtype.kind in "iufc" else np.int64(7)
    if kind == "object":
        return np.array([{"a": 1}, None], dtype=object)
    if kind == "real":
        return arr.real.copy() if arr.dtype.kind == "c" else arr
    if kind == "complex_scalar":
        return np.complex128(1 + 2j)
    if kind == "json_list":
        return np.array("[1, 2, 3]")
    if kind == "bad_json":
        return np.array('{"a": ')
    if kind == "digits5000":
        return np.array('{"a": ' + "9" * 5000 + "}")
    if kind == "times1000":
        return arr * 1000 if arr.dtype.kind in "iufc" else arr
    if kind == "divide1000":
        return arr / 1000 if arr.dtype.kind in "iufc" else arr
    raise ValueError(kind)


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


DROP = _Marker("DROP")
HUGE = _Marker("HUGE")


def npy_bytes(value: Any) -> bytes:
    """One ``.npy`` member; :data:`HUGE` declares 2^39 complex points over 64 bytes of data."""
    if value is HUGE:
        buf = io.BytesIO()
        header = {"descr": "<c16", "fortran_order": False, "shape": (2**39,)}
        np.lib.format.write_array_header_1_0(buf, header)
        return buf.getvalue() + bytes(64)
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asanyarray(value), allow_pickle=True)
    return buf.getvalue()


def npz_bytes(arrays: Mapping[str, Any], *, compress: bool = False) -> bytes:
    """A ``.npz`` archive of ``arrays`` (members ``<key>.npy``; :data:`DROP` leaves one out)."""
    buf = io.BytesIO()
    mode = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(buf, "w", compression=mode) as zf:
        for key, value in arrays.items():
            if value is not DROP:
                zf.writestr(f"{key}.npy", npy_bytes(value))
    return buf.getvalue()


def field_ops(keys: tuple[str, ...]) -> st.SearchStrategy[list[tuple[str, str]]]:
    """Lists of ``(key, value kind)``: which fields to swap for what."""
    pair = st.tuples(st.sampled_from(keys), st.sampled_from(VALUE_KINDS))
    return st.lists(pair, min_size=0, max_size=3)


def mutate_fields(arrays: Mapping[str, Any], ops: list[tuple[str, str]]) -> dict[str, Any]:
    out = dict(arrays)
    for key, kind in ops:
        out[key] = swap(out.get(key, np.float64(1.0)), kind)
    return out


# ============================================================================ JSON values
JSON_KINDS = (
    "drop",
    "null",
    "string",
    "number_string",
    "bool",
    "list",
    "object",
    "negative",
    "zero",
    "huge",
    "nan",
    "times1000",
    "divide1000",
    "digits5000",
)


def swap_json(value: Any, kind: str) -> Any:
    """A JSON-able replacement for ``value`` (``DROP`` to remove the key)."""
    plain = isinstance(value, (int, float)) and not isinstance(value, bool)
    number = float(value) if plain and abs(value) < 1e300 else 1.0
    return {
        "drop": DROP,
        "null": None,
        "string": "not a number",
        "number_string": str(number),
        "bool": True,
        "list": [number, number],
        "object": {"Value": number},
        "negative": -abs(number) - 1,
        "zero": 0,
        "huge": 1e300,
        "nan": float("nan"),
        "times1000": number * 1000,
        "divide1000": number / 1000,
        "digits5000": int("9" * 4000),
    }[kind]


def json_ops(keys: tuple[str, ...]) -> st.SearchStrategy[list[tuple[str, str]]]:
    pair = st.tuples(st.sampled_from(keys), st.sampled_from(JSON_KINDS))
    return st.lists(pair, min_size=0, max_size=3)


def mutate_json(obj: dict[str, Any], ops: list[tuple[str, str]]) -> dict[str, Any]:
    out = dict(obj)
    for key, kind in ops:
        new = swap_json(out.get(key), kind)
        if new is DROP:
            out.pop(key, None)
        else:
            out[key] = new
    return out


def dump_json(obj: Any) -> str:
    """JSON text; integers of thousands of digits are written out (Python's str limit aside)."""
    big: list[int] = []

    def encode(o: Any) -> Any:
        if isinstance(o, dict):
            return {k: encode(v) for k, v in o.items()}
        if isinstance(o, list):
            return [encode(v) for v in o]
        if isinstance(o, int) and not isinstance(o, bool) and abs(o) > 10**300:
            big.append(o)
            return f"@@BIG{len(big) - 1}@@"
        return o

    text = json.dumps(encode(obj))
    for i in range(len(big)):
        text = text.replace(f'"@@BIG{i}@@"', "9" * 5000)
    return text


# ============================================================================ NIfTI-2
#: ``(name, struct format, offset)`` of NIfTI-2 header fields worth breaking.
NIFTI2_FIELDS: dict[str, tuple[str, int]] = {
    "datatype": ("<h", 12),
    "bitpix": ("<h", 14),
    "dim0": ("<q", 16),
    "dim1": ("<q", 24),
    "dim4": ("<q", 48),
    "dim5": ("<q", 56),
    "pixdim4": ("<d", 136),
    "vox_offset": ("<q", 168),
    "scl_slope": ("<d", 176),
}
NIFTI2_VALUES = (0, -1, 1, 2, 3, 7, 2**27, 2**40, float("nan"), float("inf"), 1e-12, 1e12)


def nifti_header_ops() -> st.SearchStrategy[list[tuple[str, float]]]:
    pair = st.tuples(st.sampled_from(sorted(NIFTI2_FIELDS)), st.sampled_from(NIFTI2_VALUES))
    return st.lists(pair, min_size=0, max_size=2)


def set_nifti_fields(data: bytes, ops: list[tuple[str, float]]) -> bytes:
    out = bytearray(data)
    for name, value in ops:
        fmt, offset = NIFTI2_FIELDS[name]
        if fmt in ("<h", "<q"):
            v = 0 if value != value or value in (float("inf"),) else int(value)
            lo, hi = (-(2**15), 2**15 - 1) if fmt == "<h" else (-(2**63), 2**63 - 1)
            v = min(max(v, lo), hi)
            out[offset : offset + struct.calcsize(fmt)] = struct.pack(fmt, v)
        else:
            out[offset : offset + 8] = struct.pack(fmt, float(value))
    return bytes(out)


def nifti_json(data: bytes) -> dict[str, Any]:
    """The NIfTI-MRS JSON header extension of an uncompressed NIfTI-2 file written by nifti_mrs."""
    esize = struct.unpack("<i", data[544:548])[0]
    text = data[552 : 544 + esize].rstrip(b"\x00 ").decode()
    return json.loads(text)


def with_nifti_json(data: bytes, obj: dict[str, Any]) -> bytes:
    """The file with its JSON extension replaced by ``obj`` (esize and vox_offset updated)."""
    esize = struct.unpack("<i", data[544:548])[0]
    payload = dump_json(obj).encode()
    new_esize = -(-(8 + len(payload)) // 16) * 16
    ext = struct.pack("<ii", new_esize, 44) + payload.ljust(new_esize - 8, b" ")
    body = data[544 + esize :]
    header = bytearray(data[:544])
    header[168:176] = struct.pack("<q", 544 + new_esize)
    return bytes(header) + ext + body

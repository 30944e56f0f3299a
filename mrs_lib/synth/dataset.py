"""Datasets of synthetic spectra: on the fly and stored (chapter 2), plus a real reference.

* :class:`SynthDataset` - a deterministic on-the-fly torch dataset: spectrum
  ``i`` depends only on ``(seed, i)`` (and the basis and config). Spectra are
  made in *chunks* of ``chunk_size`` (default 256) with the generator
  ``default_rng([seed, chunk])``; Sobol concentrations are the points
  ``chunk * chunk_size ...`` of one scrambled sequence seeded by ``seed``, so
  the set as a whole is the paper's Sobol design. :meth:`SynthDataset.batch`
  and :meth:`SynthDataset.batches` are the fast paths for training.
* :func:`make_dataset` writes the same spectra to one compact file (an
  uncompressed ``.npz`` whose members are memory-mapped on read; spectra in
  float16: 100k x 2 rows x 2048 = 0.8 GB for ``x`` and as much for ``clean``)
  with a provenance sidecar (:mod:`mrs_lib.artifacts`); :class:`StoredDataset`
  reads it lazily, so training at 100k fits easily in 4 GB of RAM.
  ``StoredDataset(path)[i]`` equals ``SynthDataset(basis, n, seed, config)[i]``
  up to the storage precision.
* :func:`load_tarquin_fit` reads the TARQUIN fit export of a real in vivo
  MEGA-PRESS DIFF spectrum (registry ``tarquin-megapress-diff/...``).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MRSDataError, MRSFormatError
from ..sim.basis import Basis
from .generator import SynthBatch, SynthConfig, Synthesizer, as_config, sobol_points

CHUNK_SIZE = 256
FORMAT_VERSION = 1


def _torch() -> Any:
    import torch

    return torch


# ============================================================================ on the fly
class SynthDataset:
    """On-the-fly synthetic spectra, deterministic per ``(seed, index)``.

    ``dataset[i]`` is ``(x, y, clean)``: torch float32 tensors ``[rows, M]``,
    ``[n_met]`` (targets = concentrations / sum) and ``[rows, M]``. Per-item
    access generates (and caches) the item's whole chunk; use :meth:`batch`
    or :meth:`batches` for training. Works with ``torch.utils.data.DataLoader``
    (``__getitems__`` fetches a whole batch at once).
    """

    def __init__(
        self,
        basis: Basis,
        n: int,
        seed: int,
        config: SynthConfig | str = "paper",
        *,
        chunk_size: int = CHUNK_SIZE,
        workers: int | None = None,
    ) -> None:
        if int(n) < 1:
            raise MRSDataError(f"argument 'n': expected >= 1, got {n}")
        self.basis = basis
        self.n = int(n)
        self.seed = int(seed)
        self.config = as_config(config)
        self.chunk_size = int(chunk_size)
        self.workers = workers
        self.synth = Synthesizer(basis, self.config)
        self._cache: dict[int, SynthBatch] = {}

    def __len__(self) -> int:
        return self.n

    @property
    def n_chunks(self) -> int:
        return -(-self.n // self.chunk_size)

    def chunk(self, c: int) -> SynthBatch:
        """The spectra ``c * chunk_size ...`` as a :class:`SynthBatch` (cached, last 4 chunks)."""
        if c in self._cache:
            return self._cache[c]
        if not 0 <= c < self.n_chunks:
            raise IndexError(f"chunk {c} out of range 0..{self.n_chunks - 1}")
        start = c * self.chunk_size
        m = min(self.chunk_size, self.n - start)
        rng = np.random.default_rng([self.seed, c])
        conc = None
        if self.config.prior.kind == "sobol":
            conc = sobol_points(self.seed, m, len(self.basis.metabolites), skip=start)
        batch = self.synth.generate(m, rng, concentrations=conc, workers=self.workers)
        if len(self._cache) >= 4:
            self._cache.pop(next(iter(self._cache)))
        self._cache[c] = batch
        return batch

    def _check(self, index: int) -> int:
        i = int(index)
        if i < 0:
            i += self.n
        if not 0 <= i < self.n:
            raise IndexError(f"index {index} out of range for {self.n} spectra")
        return i

    def __getitem__(self, index: int) -> tuple[Any, Any, Any]:
        torch = _torch()
        i = self._check(index)
        b = self.chunk(i // self.chunk_size)
        r = i % self.chunk_size
        clean = b.clean[r] if b.clean is not None else np.empty(0, np.float32)
        return (
            torch.from_numpy(b.x[r].copy()),
            torch.from_numpy(b.targets[r].copy()),
            torch.from_numpy(clean.copy()),
        )

    def synth_batch(self, indices: Sequence[int]) -> SynthBatch:
        """The spectra at ``indices`` (any order) as one :class:`SynthBatch` (numpy)."""
        idx = np.array([self._check(i) for i in indices], dtype=np.int64)
        chunks = idx // self.chunk_size
        parts = {int(c): self.chunk(int(c)) for c in np.unique(chunks)} if len(idx) else {}
        rows = idx % self.chunk_size

        def take(get: Callable[[SynthBatch], np.ndarray | None]) -> np.ndarray | None:
            first = get(next(iter(parts.values())))
            if first is None:
                return None
            out = np.empty((len(idx), *first.shape[1:]), dtype=first.dtype)
            for c, b in parts.items():
                sel = chunks == c
                out[sel] = get(b)[rows[sel]]  # type: ignore[index]
            return out

        b0 = next(iter(parts.values()))
        params = {k: take(lambda b, k=k: b.params[k]) for k in b0.params}
        return SynthBatch(
            x=take(lambda b: b.x),  # type: ignore[arg-type]
            clean=take(lambda b: b.clean),
            concentrations=take(lambda b: b.concentrations),  # type: ignore[arg-type]
            targets=take(lambda b: b.targets),  # type: ignore[arg-type]
            snr=take(lambda b: b.snr),  # type: ignore[arg-type]
            scale=take(lambda b: b.scale),  # type: ignore[arg-type]
            params={k: v for k, v in params.items() if v is not None},
            metabolites=b0.metabolites,
            channels=b0.channels,
            ppm=b0.ppm,
        )

    def batch(self, indices: Sequence[int]) -> tuple[Any, Any, Any]:
        """``(x, y, clean)`` torch tensors for ``indices`` (fast batched path)."""
        torch = _torch()
        b = self.synth_batch(indices)
        clean = b.clean if b.clean is not None else np.empty((len(b), 0), np.float32)
        return torch.from_numpy(b.x), torch.from_numpy(b.targets), torch.from_numpy(clean)

    def __getitems__(self, indices: Sequence[int]) -> list[tuple[Any, Any, Any]]:
        x, y, clean = self.batch(indices)
        return [(x[i], y[i], clean[i]) for i in range(len(indices))]

    def batches(
        self, batch_size: int, *, shuffle: bool = True, epoch: int = 0, drop_last: bool = False
    ) -> Iterator[tuple[Any, Any, Any]]:
        """Iterate over the whole set in batches, generating each chunk once.

        With ``shuffle`` the chunk order and the order inside a window of two
        chunks are permuted by ``default_rng([seed, epoch, 1])``: spectra are
        i.i.d., so this is as good as a full shuffle and costs no extra
        synthesis.
        """
        yield from _chunked_batches(
            self, batch_size, shuffle=shuffle, epoch=epoch, drop_last=drop_last
        )


def _chunked_batches(
    ds: Any, batch_size: int, *, shuffle: bool, epoch: int, drop_last: bool
) -> Iterator[tuple[Any, Any, Any]]:
    bs = int(batch_size)
    if bs < 1:
        raise MRSDataError(f"argument 'batch_size': expected >= 1, got {batch_size}")
    rng = np.random.default_rng([ds.seed, int(epoch), 1])
    order = rng.permutation(ds.n_chunks) if shuffle else np.arange(ds.n_chunks)
    pending: list[np.ndarray] = []
    n_pending = 0
    for pos, c in enumerate(order):
        lo = int(c) * ds.chunk_size
        idx = np.arange(lo, min(lo + ds.chunk_size, ds.n))
        pending.append(idx)
        n_pending += len(idx)
        last = pos == len(order) - 1
        if n_pending < 2 * ds.chunk_size and not last:
            continue
        pool = np.concatenate(pending)
        if shuffle:
            pool = rng.permutation(pool)
        n_take = len(pool) if last else (len(pool) // bs) * bs
        for s in range(0, n_take, bs):
            sel = pool[s : s + bs]
            if len(sel) < bs and drop_last:
                break
            x, y, clean = ds.batch(sel)
            yield x, y, clean
        pending = [pool[n_take:]]
        n_pending = len(pending[0])


# ============================================================================ stored
def _npz_member_memmap(path: Path, zf: zipfile.ZipFile, name: str) -> np.ndarray:
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
        path, dtype=dtype, mode="r", offset=offset, shape=shape, order="F" if fortran else "C"
    )


def make_dataset(
    basis: Basis,
    n: int,
    seed: int,
    config: SynthConfig | str = "paper",
    path: str | os.PathLike[str] = "synth.npz",
    *,
    dtype: str = "float16",
    chunk_size: int = CHUNK_SIZE,
    workers: int | None = None,
    basis_source: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Generate ``n`` spectra as :class:`SynthDataset` would and store them in ``path``.

    The file is an uncompressed ``.npz`` with members ``x``, ``clean``
    (``dtype``, default float16), ``targets``, ``concentrations``, ``snr``,
    ``scale``, ``params/<name>`` and ``meta`` (JSON: config, metabolites,
    channels, grid); a provenance sidecar ``<path>.json`` records the config,
    seed, basis and sha256 (:func:`mrs_lib.artifacts.save`). Memory use is
    bounded (spectra go to disk chunk by chunk). Returns the sidecar record plus
    ``seconds`` and ``spectra_per_s``.
    """
    from .. import artifacts

    cfg = as_config(config)
    ds = SynthDataset(basis, n, seed, cfg, chunk_size=chunk_size, workers=workers)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    store = np.dtype(dtype)
    if store not in (np.dtype(np.float16), np.dtype(np.float32)):
        raise MRSDataError(f"argument 'dtype': expected float16 or float32, got {dtype!r}")
    rows, m = len(cfg.channels), cfg.n_points
    small: dict[str, np.ndarray] = {}
    params: dict[str, np.ndarray] = {}
    _torch()  # the noise generator's import is not part of the synthesis time
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".synth-") as tmp:
        tmpd = Path(tmp)
        x = np.lib.format.open_memmap(tmpd / "x.npy", mode="w+", dtype=store, shape=(ds.n, rows, m))
        clean = (
            np.lib.format.open_memmap(
                tmpd / "clean.npy", mode="w+", dtype=store, shape=(ds.n, rows, m)
            )
            if cfg.keep_clean
            else None
        )
        for c in range(ds.n_chunks):
            b = ds.chunk(c)
            lo, hi = c * ds.chunk_size, c * ds.chunk_size + len(b)
            x[lo:hi] = b.x
            if clean is not None and b.clean is not None:
                clean[lo:hi] = b.clean
            for key, val in (
                ("targets", b.targets),
                ("concentrations", b.concentrations),
                ("snr", b.snr),
                ("scale", b.scale),
            ):
                if key not in small:
                    small[key] = np.empty((ds.n, *val.shape[1:]), dtype=np.float32)
                small[key][lo:hi] = val
            for key, val in b.params.items():
                if key not in params:
                    params[key] = np.empty((ds.n, *val.shape[1:]), dtype=np.float32)
                params[key][lo:hi] = val
            ds._cache.clear()
            if progress is not None:
                progress(hi, ds.n)
        seconds = time.perf_counter() - t0
        x.flush()
        del x
        if clean is not None:
            clean.flush()
            del clean
        meta = {
            "format": "mrs_lib.synth dataset",
            "format_version": FORMAT_VERSION,
            "n": ds.n,
            "seed": ds.seed,
            "chunk_size": ds.chunk_size,
            "config": cfg.to_dict(),
            "metabolites": list(basis.metabolites),
            "channels": list(cfg.channels),
            "ppm": [float(cfg.ppm_range[0]), float(cfg.ppm_range[1]), cfg.n_points],
            "basis": {"source": basis_source, "repr": repr(basis), "params": dict(basis.params)},
        }
        for key, val in small.items():
            np.save(tmpd / f"{key}.npy", val)
        for key, val in params.items():
            np.save(tmpd / f"param__{key}.npy", val)
        partial = out.with_name(out.name + ".partial")
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            zf.writestr("meta.json", json.dumps(meta, default=str))
            for f in sorted(tmpd.glob("*.npy")):
                arc = f.name.replace("param__", "params/")
                zf.write(f, arcname=arc)
        shutil.move(partial, out)
    record = artifacts.save(
        out,
        config={
            "synth": cfg.to_dict(),
            "n": ds.n,
            "chunk_size": ds.chunk_size,
            "dtype": store.name,
            "basis": meta["basis"],
        },
        seed=ds.seed,
        kind="synthetic dataset",
    )
    record["seconds"] = seconds
    record["spectra_per_s"] = ds.n / seconds if seconds > 0 else float("inf")
    return record


class StoredDataset:
    """A dataset written by :func:`make_dataset`, memory-mapped (float16 -> float32 on access).

    Same item and batch interface as :class:`SynthDataset`. ``verify=True``
    checks the file's sha256 against its provenance sidecar first.
    """

    def __init__(self, path: str | os.PathLike[str], *, verify: bool = False) -> None:
        from .. import artifacts

        self.path = Path(path)
        if not self.path.is_file():
            raise MRSFormatError(
                self.path, "file", "an existing dataset file (mrs synth --out)", "no such file"
            )
        self.record = artifacts.verify(self.path) if verify else None
        try:
            zf = zipfile.ZipFile(self.path)
        except zipfile.BadZipFile as exc:
            raise MRSFormatError(
                self.path, "file", "a dataset .npz written by make_dataset", str(exc)
            ) from None
        with zf:
            names = set(zf.namelist())
            if "meta.json" not in names or "x.npy" not in names:
                raise MRSFormatError(
                    self.path,
                    "meta.json/x.npy",
                    "present (written by make_dataset)",
                    sorted(names)[:5],
                )
            self.meta: dict[str, Any] = json.loads(zf.read("meta.json"))
            self.x = _npz_member_memmap(self.path, zf, "x.npy")
            self.clean = (
                _npz_member_memmap(self.path, zf, "clean.npy") if "clean.npy" in names else None
            )
            arrays = {}
            for nm in names:
                if nm.endswith(".npy") and nm not in ("x.npy", "clean.npy"):
                    arrays[nm[:-4]] = np.asarray(_npz_member_memmap(self.path, zf, nm))
        self.targets = arrays.pop("targets")
        self.concentrations = arrays.pop("concentrations")
        self.snr = arrays.pop("snr")
        self.scale = arrays.pop("scale")
        self.params = {k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith("params/")}
        self.n = int(self.x.shape[0])
        self.seed = int(self.meta.get("seed", 0))
        self.chunk_size = int(self.meta.get("chunk_size", CHUNK_SIZE))
        self.metabolites = tuple(self.meta["metabolites"])
        self.channels = tuple(self.meta["channels"])
        self.config = SynthConfig.from_dict(self.meta["config"])

    @classmethod
    def load(cls, name: str) -> StoredDataset:
        """Load a stored set by artifact name (sha256 checked), see :mod:`mrs_lib.artifacts`."""
        from .. import artifacts

        path, _record = artifacts.load(name)
        return cls(path)

    def __len__(self) -> int:
        return self.n

    @property
    def n_chunks(self) -> int:
        return -(-self.n // self.chunk_size)

    def _clean(self, idx: Any) -> np.ndarray:
        if self.clean is None:
            return np.empty((*np.shape(np.arange(self.n)[idx]), 0), np.float32)
        return np.asarray(self.clean[idx], dtype=np.float32)

    def __getitem__(self, index: int) -> tuple[Any, Any, Any]:
        torch = _torch()
        i = int(index)
        if not -self.n <= i < self.n:
            raise IndexError(f"index {index} out of range for {self.n} spectra")
        return (
            torch.from_numpy(np.asarray(self.x[i], dtype=np.float32)),
            torch.from_numpy(np.array(self.targets[i], dtype=np.float32)),
            torch.from_numpy(self._clean(i)),
        )

    def batch(self, indices: Sequence[int]) -> tuple[Any, Any, Any]:
        torch = _torch()
        idx = np.asarray(indices, dtype=np.int64)
        order = np.argsort(idx)  # sorted reads are faster on a memory map
        inv = np.empty_like(order)
        inv[order] = np.arange(len(order))
        s = idx[order]
        x = np.asarray(self.x[s], dtype=np.float32)[inv]
        clean = self._clean(s)[inv]
        return (
            torch.from_numpy(x),
            torch.from_numpy(np.array(self.targets[idx], dtype=np.float32)),
            torch.from_numpy(clean),
        )

    def __getitems__(self, indices: Sequence[int]) -> list[tuple[Any, Any, Any]]:
        x, y, clean = self.batch(indices)
        return [(x[i], y[i], clean[i]) for i in range(len(indices))]

    def batches(
        self, batch_size: int, *, shuffle: bool = True, epoch: int = 0, drop_last: bool = False
    ) -> Iterator[tuple[Any, Any, Any]]:
        """Iterate in batches (same order as :meth:`SynthDataset.batches` for the same seed/epoch)."""
        yield from _chunked_batches(
            self, batch_size, shuffle=shuffle, epoch=epoch, drop_last=drop_last
        )


# ============================================================================ real reference
@dataclass(frozen=True)
class TarquinFit:
    """A TARQUIN fit export: one real spectrum with its fit and components (real parts).

    ``ppm`` ascending; ``columns`` maps the header names (``Data``, ``Fit``,
    ``Baseline``, ``GABA_A``, ...) to arrays on that axis.
    """

    label: str
    ppm: np.ndarray
    columns: Mapping[str, np.ndarray] = field(default_factory=dict)

    @property
    def data(self) -> np.ndarray:
        return self.columns["Data"]

    @property
    def fit(self) -> np.ndarray:
        return self.columns["Fit"]

    @property
    def baseline(self) -> np.ndarray:
        return self.columns["Baseline"]

    def window(self, ppm_range: tuple[float, float]) -> TarquinFit:
        """The part of the spectrum inside ``ppm_range``."""
        sel = (self.ppm >= ppm_range[0]) & (self.ppm <= ppm_range[1])
        return TarquinFit(self.label, self.ppm[sel], {k: v[sel] for k, v in self.columns.items()})


def load_tarquin_fit(path: str | os.PathLike[str]) -> TarquinFit:
    """Read a TARQUIN fit export (``*_fit.txt``): voxel label line, CSV header, rows.

    The header must start with ``PPMScale`` and contain ``Data``; every row must
    have as many numeric fields as the header. Bad input raises
    :class:`~mrs_lib.errors.MRSFormatError` naming the line.
    """
    p = Path(path)
    try:
        lines = p.read_text().splitlines()
    except FileNotFoundError:
        raise MRSFormatError(p, "file", "an existing TARQUIN fit export", "no such file") from None
    except UnicodeDecodeError:
        raise MRSFormatError(p, "file", "a text file", "binary data") from None
    lines = [ln for ln in lines if ln.strip()]
    if len(lines) < 4:
        raise MRSFormatError(
            p,
            "file",
            "a label line, a header line and at least two data rows",
            f"{len(lines)} lines",
        )
    label = lines[0].strip()
    header = [h.strip() for h in lines[1].split(",")]
    if not header or header[0] != "PPMScale" or "Data" not in header:
        raise MRSFormatError(p, "line 2 (header)", "'PPMScale,Data,...'", lines[1])
    rows = []
    for lineno, ln in enumerate(lines[2:], start=3):
        fields = ln.split(",")
        if len(fields) != len(header):
            raise MRSFormatError(p, f"line {lineno}", f"{len(header)} comma-separated values", ln)
        try:
            rows.append([float(f) for f in fields])
        except ValueError:
            raise MRSFormatError(p, f"line {lineno}", "numbers", ln) from None
    arr = np.asarray(rows)
    if not np.all(np.isfinite(arr)):
        raise MRSFormatError(p, "data", "finite numbers", "NaN or inf")
    order = np.argsort(arr[:, 0])
    arr = arr[order]
    return TarquinFit(label, arr[:, 0], {h: arr[:, i] for i, h in enumerate(header) if i > 0})


__all__ = [
    "CHUNK_SIZE",
    "StoredDataset",
    "SynthDataset",
    "TarquinFit",
    "load_tarquin_fit",
    "make_dataset",
]

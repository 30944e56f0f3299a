"""Datasets of synthetic spectra: on the fly, stored, and cached whole sets (chapter 2).

* :class:`SynthDataset` - a deterministic on-the-fly torch dataset: spectrum
  ``i`` depends only on ``(seed, i)`` (and the basis and config). Spectra are
  made in *chunks* of ``chunk_size`` (default 256) with the generator
  ``default_rng([seed, chunk])``; Sobol concentrations are the points
  ``chunk * chunk_size ...`` of one scrambled sequence seeded by ``seed``, so
  the set as a whole is the paper's Sobol design. :meth:`SynthDataset.batch`
  and :meth:`SynthDataset.batches` are the fast paths for training.
* :func:`make_dataset` writes the same spectra to one compact file (an
  uncompressed ``.npz`` whose members are memory-mapped on read, see
  :mod:`mrs_lib.synth.store`; spectra in float16: 100k x 2 rows x 2048 = 0.8 GB
  for ``x`` and as much for ``clean``) with a provenance sidecar
  (:mod:`mrs_lib.artifacts`); :class:`StoredDataset` reads it lazily, so
  training at 100k fits easily in 4 GB of RAM.
  ``StoredDataset(path)[i]`` equals ``SynthDataset(basis, n, seed, config)[i]``
  up to the storage precision.
* :func:`synthesize` - a whole :class:`~mrs_lib.synth.generator.SynthBatch` made
  in large chunks (the training sets of chapter 4), optionally cached in the
  same file format, keyed by everything that defines it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import artifacts
from ..errors import MRSDataError, MRSFormatError
from ..io.bases import BASIS_NAMES, BasisSpec
from ..sim.basis import Basis
from .bases import resolve_bases
from .config import SynthConfig, as_config, sobol_points
from .generator import SynthBatch, Synthesizer, generate
from .store import SET_META, SET_ROWS, read_store, write_store

if TYPE_CHECKING:  # torch itself is imported on first use, see _torch
    from torch import Tensor

CHUNK_SIZE = 256
FORMAT_VERSION = 1

Item = tuple["Tensor", "Tensor", "Tensor"]
"""``(x, y, clean)`` torch float32 tensors of one spectrum or one batch."""
Indices = Sequence[int] | np.ndarray
"""Positions of spectra in a set: a sequence or an integer array."""


def _torch() -> ModuleType:
    """The torch module, imported on first use: making or reading sets needs numpy only."""
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

    def __getitem__(self, index: int) -> Item:
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

    def synth_batch(self, indices: Indices) -> SynthBatch:
        """The spectra at ``indices`` (any order) as one :class:`SynthBatch` (numpy)."""
        idx = np.array([self._check(i) for i in indices], dtype=np.int64)
        chunks = idx // self.chunk_size
        parts = {int(c): self.chunk(int(c)) for c in np.unique(chunks)} if len(idx) else {}
        rows = idx % self.chunk_size

        b0 = next(iter(parts.values()))

        def take(get: Callable[[SynthBatch], np.ndarray]) -> np.ndarray:
            first = get(b0)
            out = np.empty((len(idx), *first.shape[1:]), dtype=first.dtype)
            for c, b in parts.items():
                sel = chunks == c
                out[sel] = get(b)[rows[sel]]
            return out

        def param(key: str) -> np.ndarray:
            return take(lambda b: b.params[key])

        def clean(b: SynthBatch) -> np.ndarray:
            assert b.clean is not None  # every chunk of one config has it, or none has
            return b.clean

        return SynthBatch(
            x=take(lambda b: b.x),
            clean=None if b0.clean is None else take(clean),
            concentrations=take(lambda b: b.concentrations),
            targets=take(lambda b: b.targets),
            snr=take(lambda b: b.snr),
            scale=take(lambda b: b.scale),
            params={k: param(k) for k in b0.params},
            metabolites=b0.metabolites,
            channels=b0.channels,
            ppm=b0.ppm,
        )

    def batch(self, indices: Indices) -> Item:
        """``(x, y, clean)`` torch tensors for ``indices`` (fast batched path)."""
        torch = _torch()
        b = self.synth_batch(indices)
        clean = b.clean if b.clean is not None else np.empty((len(b), 0), np.float32)
        return torch.from_numpy(b.x), torch.from_numpy(b.targets), torch.from_numpy(clean)

    def __getitems__(self, indices: Indices) -> list[Item]:
        x, y, clean = self.batch(indices)
        return [(x[i], y[i], clean[i]) for i in range(len(indices))]

    def batches(
        self, batch_size: int, *, shuffle: bool = True, epoch: int = 0, drop_last: bool = False
    ) -> Iterator[Item]:
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
    ds: SynthDataset | StoredDataset, batch_size: int, *, shuffle: bool, epoch: int, drop_last: bool
) -> Iterator[Item]:
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
def _set_meta(
    cfg: SynthConfig,
    basis: Basis,
    *,
    n: int,
    seed: int,
    chunk_size: int,
    basis_source: str | None,
) -> dict[str, Any]:
    """The ``meta.json`` of a stored set: what :class:`StoredDataset` needs, and provenance."""
    return {
        "format": "mrs_lib.synth dataset",
        "format_version": FORMAT_VERSION,
        "n": n,
        "seed": seed,
        "chunk_size": chunk_size,
        "config": cfg.to_dict(),
        "metabolites": list(basis.metabolites),
        "channels": list(cfg.channels),
        "ppm": [float(cfg.ppm_range[0]), float(cfg.ppm_range[1]), cfg.n_points],
        "basis": {"source": basis_source, "repr": repr(basis), "params": dict(basis.params)},
    }


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
    cfg = as_config(config)
    ds = SynthDataset(basis, n, seed, cfg, chunk_size=chunk_size, workers=workers)
    out = artifacts.ensure_writable(path, "dataset file")
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
        meta = _set_meta(
            cfg, basis, n=ds.n, seed=ds.seed, chunk_size=ds.chunk_size, basis_source=basis_source
        )
        members: dict[str, np.ndarray] = {**small, "x": x}
        if clean is not None:
            members["clean"] = clean
        members.update({f"params/{key}": val for key, val in params.items()})
        write_store(out, meta, members)
        del x, clean, members
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
        self.path = Path(path)
        if not self.path.is_file():
            raise MRSFormatError(
                self.path, "file", "an existing dataset file (mrs synth --out)", "no such file"
            )
        self.record = artifacts.verify(self.path) if verify else None
        self.meta, arrays = read_store(self.path, per_spectrum=SET_ROWS, meta_keys=SET_META)
        self.x = arrays.pop("x")
        self.clean = arrays.pop("clean", None)
        arrays = {k: np.asarray(v) for k, v in arrays.items()}
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
        try:
            self.config = SynthConfig.from_dict(self.meta["config"])
        except Exception as exc:  # KeyError, TypeError, ValueError, MRSDataError, ...
            raise MRSFormatError(
                self.path, "meta.json config", "a synthesis configuration", f"{exc!r}"
            ) from None

    @classmethod
    def load(cls, name: str) -> StoredDataset:
        """Load a stored set by artifact name (sha256 checked), see :mod:`mrs_lib.artifacts`."""
        path, _record = artifacts.load(name)
        return cls(path)

    def __len__(self) -> int:
        return self.n

    @property
    def n_chunks(self) -> int:
        return -(-self.n // self.chunk_size)

    def _clean(self, idx: int | np.ndarray) -> np.ndarray:
        if self.clean is None:
            return np.empty((*np.shape(np.arange(self.n)[idx]), 0), np.float32)
        return np.asarray(self.clean[idx], dtype=np.float32)

    def __getitem__(self, index: int) -> Item:
        torch = _torch()
        i = int(index)
        if not -self.n <= i < self.n:
            raise IndexError(f"index {index} out of range for {self.n} spectra")
        return (
            torch.from_numpy(np.asarray(self.x[i], dtype=np.float32)),
            torch.from_numpy(np.array(self.targets[i], dtype=np.float32)),
            torch.from_numpy(self._clean(i)),
        )

    def batch(self, indices: Indices) -> Item:
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

    def __getitems__(self, indices: Indices) -> list[Item]:
        x, y, clean = self.batch(indices)
        return [(x[i], y[i], clean[i]) for i in range(len(indices))]

    def batches(
        self, batch_size: int, *, shuffle: bool = True, epoch: int = 0, drop_last: bool = False
    ) -> Iterator[Item]:
        """Iterate in batches (in :meth:`SynthDataset.batches` order for the same seed, epoch)."""
        yield from _chunked_batches(
            self, batch_size, shuffle=shuffle, epoch=epoch, drop_last=drop_last
        )


# ============================================================================ cached sets
#: version of the :func:`synthesize` cache key; bump it when the cached content changes
#: (2: one ``.npz`` per set in the :mod:`mrs_lib.synth.store` format, was a folder of ``.npy``)
CACHE_FORMAT = 2


def synthesize(
    n: int,
    seed: int,
    synth: SynthConfig | str = "paper",
    basis: BasisSpec | Sequence[Basis] = "paper",
    *,
    chunk: int = 10_000,
    cache_dir: str | os.PathLike[str] | None = None,
) -> SynthBatch:
    """``n`` spectra of synthesis preset or :class:`~mrs_lib.synth.config.SynthConfig` ``synth``.

    Made in chunks, which keep the generator's complex intermediates small at
    the 100k scale; chunk ``k`` uses the ``k``-th child of
    ``SeedSequence(seed)``. ``basis`` is anything
    :func:`mrs_lib.io.bases.resolve_basis` accepts (``"paper"``, ``"fida"``, a
    file or a :class:`~mrs_lib.sim.Basis`), a list of bases (one drawn per
    spectrum) or ``"bank"`` (:data:`~mrs_lib.synth.bases.BANK_NAME`: the default bank of basis
    variants, :func:`~mrs_lib.synth.bases.resolve_bases`). Returns a
    :class:`~mrs_lib.synth.generator.SynthBatch` (``x``, ``clean``, ``targets``,
    ``snr``, ``params`` ... concatenated).

    With ``cache_dir`` the set is stored there in the format of
    :func:`make_dataset` (:mod:`mrs_lib.synth.store`, at full precision) under a
    key of (n, seed, synthesis config, basis, chunk), and later calls
    memory-map it (copy-on-write), so several training runs share one copy in
    the page cache instead of each generating its own.
    """
    if n < 1:
        raise MRSDataError(f"synthesize: expected n >= 1 spectra, got {n}")
    cfg = as_config(synth)
    bases = resolve_bases(basis)
    b = bases[0]
    path: Path | None = None
    key: dict[str, Any] = {}
    if cache_dir is not None:
        key = {
            "n": n,
            "seed": seed,
            "synth": cfg.to_dict(),
            "basis": [_basis_key(basis, x) for x in bases]
            if len(bases) > 1
            else _basis_key(basis, b),
            "chunk": chunk,
            "format": CACHE_FORMAT,
        }
        digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()
        path = Path(cache_dir) / f"{cfg.name}-{n}-{seed}-{digest[:12]}.npz"
        if path.is_file():
            return _load_cached(path)
    sizes = [min(chunk, n - i) for i in range(0, n, chunk)]
    seeds = np.random.SeedSequence(seed).spawn(len(sizes))
    parts = [
        generate(bases if len(bases) > 1 else b, k, np.random.default_rng(s), cfg)
        for k, s in zip(sizes, seeds, strict=True)
    ]
    first = parts[0]
    if len(parts) > 1:
        clean = [p.clean for p in parts if p.clean is not None]
        first = dataclasses.replace(
            first,
            x=np.concatenate([p.x for p in parts]),
            clean=None if first.clean is None else np.concatenate(clean),
            concentrations=np.concatenate([p.concentrations for p in parts]),
            targets=np.concatenate([p.targets for p in parts]),
            snr=np.concatenate([p.snr for p in parts]),
            scale=np.concatenate([p.scale for p in parts]),
            params={k: np.concatenate([p.params[k] for p in parts]) for k in first.params},
        )
    if path is not None:
        _save_cached(first, path, key=key, config=cfg, basis=b)
    return first


def _basis_key(spec: BasisSpec | Sequence[Basis], basis: Basis) -> str:
    """A named basis by its name; any other (a file, an object) by the sha256 of its content."""
    if isinstance(spec, str) and spec in BASIS_NAMES:
        return spec
    h = hashlib.sha256()
    h.update(json.dumps([list(basis.metabolites), basis.lw_hz]).encode())
    for s in (basis.off, basis.on):
        h.update(json.dumps([s.dwell_s, s.larmor_mhz, s.ppm_reference]).encode())
        h.update(np.ascontiguousarray(s.fid, dtype=np.complex128).tobytes())
    return f"sha256:{h.hexdigest()}"


def _save_cached(
    batch: SynthBatch, path: Path, *, key: dict[str, Any], config: SynthConfig, basis: Basis
) -> None:
    """Store ``batch`` as :func:`make_dataset` would (full precision, plus ``ppm`` and the key)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = _set_meta(
        config,
        basis,
        n=len(batch),
        seed=key["seed"],
        chunk_size=key["chunk"],
        basis_source=key["basis"],
    )
    meta["cache_key"] = key
    arrays = {
        "x": batch.x,
        "concentrations": batch.concentrations,
        "targets": batch.targets,
        "snr": batch.snr,
        "scale": batch.scale,
        "ppm": batch.ppm,
        **{f"params/{k}": v for k, v in batch.params.items()},
    }
    if batch.clean is not None:
        arrays["clean"] = batch.clean
    write_store(path, meta, arrays)


def _load_cached(path: Path) -> SynthBatch:
    """A set stored by :func:`_save_cached`, every array memory-mapped copy-on-write."""
    meta, arrays = read_store(
        path,
        mode="c",
        required=("ppm",),
        per_spectrum=SET_ROWS,
        meta_keys={"metabolites": list, "channels": list},
    )
    return SynthBatch(
        x=arrays["x"],
        clean=arrays.get("clean"),
        concentrations=arrays["concentrations"],
        targets=arrays["targets"],
        snr=arrays["snr"],
        scale=arrays["scale"],
        params={k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith("params/")},
        metabolites=tuple(meta["metabolites"]),
        channels=tuple(meta["channels"]),
        ppm=arrays["ppm"],
    )


__all__ = [
    "CACHE_FORMAT",
    "CHUNK_SIZE",
    "StoredDataset",
    "SynthDataset",
    "make_dataset",
    "synthesize",
]

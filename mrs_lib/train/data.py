"""Training data for the loop: in-memory tensors or a torch Dataset, and the order of an epoch.

Training data can be a :class:`mrs_lib.synth.SynthBatch`-like object
(attributes ``x``, ``targets`` and optionally ``clean``), a tuple
``(x, y[, clean])`` of arrays or tensors, or any torch ``Dataset`` whose items
are such tuples; :func:`as_training_data` wraps each in an object with
``len()``, ``rows`` and ``batches()``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset

from ..errors import MRSDataError

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]
"""``(x, y, clean or None)`` of one batch."""


class TensorData:
    """In-memory ``(x, y, clean)`` with fast shuffled batches (no per-item Python calls)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, clean: torch.Tensor | None) -> None:
        self.x, self.y, self.clean = x, y, clean

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def rows(self) -> int:
        """Input rows per spectrum."""
        return int(self.x.shape[1])

    def batches(
        self, batch_size: int, generator: torch.Generator | None, order: torch.Tensor | None = None
    ) -> Iterator[Batch]:
        """Batches in ``order``, else shuffled with ``generator``, else in storage order."""
        n = len(self)
        if order is None:
            order = (
                torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
            )
        for i in range(0, len(order), batch_size):
            idx = order[i : i + batch_size]
            yield self.x[idx], self.y[idx], None if self.clean is None else self.clean[idx]


class DatasetData:
    """A generic torch ``Dataset`` of ``(x, y[, clean])`` items through a DataLoader."""

    def __init__(self, dataset: Dataset[Any]) -> None:
        self.dataset = dataset
        first = dataset[0]
        self._rows = int(torch.as_tensor(np.asarray(first[0])).shape[0])

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    @property
    def rows(self) -> int:
        """Input rows per spectrum."""
        return self._rows

    def batches(
        self, batch_size: int, generator: torch.Generator | None, order: torch.Tensor | None = None
    ) -> Iterator[Batch]:
        """Batches in ``order``, else shuffled with ``generator``, else in storage order."""
        ds = self.dataset if order is None else Subset(self.dataset, order.tolist())
        loader = DataLoader(
            ds,
            batch_size=batch_size,
            shuffle=generator is not None and order is None,
            generator=generator,
        )
        for item in loader:
            x, y = item[0].float(), item[1].float()
            clean = item[2].float() if len(item) > 2 else None
            yield x, y, clean


TrainingData = TensorData | DatasetData
"""What :func:`as_training_data` returns."""


def _tensor(a: Any, what: str) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(a) if not isinstance(a, torch.Tensor) else a)
    if t.is_complex():
        raise MRSDataError(f"{what}: expected real network input, got a complex array")
    t = t.float()
    if not torch.isfinite(t).all():
        raise MRSDataError(f"{what}: expected finite values, got NaN or inf")
    return t


def as_training_data(data: Any, what: str = "data") -> TrainingData:
    """Wrap ``data`` (SynthBatch-like, tuple of arrays, or torch Dataset) for the loop."""
    if hasattr(data, "x") and hasattr(data, "targets"):
        x, y, clean = data.x, data.targets, getattr(data, "clean", None)
    elif isinstance(data, TensorDataset):
        x, y, *rest = data.tensors
        clean = rest[0] if rest else None
    elif isinstance(data, tuple | list) and len(data) in (2, 3):
        x, y = data[0], data[1]
        clean = data[2] if len(data) == 3 else None
    elif isinstance(data, Dataset):
        return DatasetData(data)
    else:
        raise MRSDataError(
            f"{what}: expected a SynthBatch, a tuple (x, y[, clean]) or a torch Dataset, "
            f"got {type(data).__name__}"
        )
    xt, yt = _tensor(x, f"{what} x"), _tensor(y, f"{what} y")
    ct = None if clean is None else _tensor(clean, f"{what} clean")
    if xt.ndim != 3:
        raise MRSDataError(f"{what} x: expected shape [n, rows, points], got {tuple(xt.shape)}")
    if yt.ndim != 2 or yt.shape[0] != xt.shape[0]:
        raise MRSDataError(
            f"{what} y: expected shape [{xt.shape[0]}, n_outputs], got {tuple(yt.shape)}"
        )
    if ct is not None and ct.shape != xt.shape:
        raise MRSDataError(f"{what} clean: expected shape {tuple(xt.shape)}, got {tuple(ct.shape)}")
    return TensorData(xt, yt, ct)


def fingerprint(data: TrainingData, samples: int = 8) -> dict[str, Any]:
    """Size, rows and a sha256 of ``samples`` evenly spaced items of ``data`` (float32 bytes).

    Cheap (a few spectra are read, whatever the size of the set) and enough to
    tell two synthetic sets apart: another seed, preset or basis changes every
    spectrum. A resumed training run compares it with the one stored in
    ``last.pt`` (:func:`mrs_lib.train.checkpoint.run_settings`).
    """
    n = len(data)
    picks = sorted({int(i) for i in np.linspace(0, n - 1, min(samples, n)).round()}) if n else []
    h = hashlib.sha256()
    has_clean = False
    for i in picks:
        if isinstance(data, TensorData):
            item: tuple[Any, ...] = (
                data.x[i],
                data.y[i],
                None if data.clean is None else data.clean[i],
            )
        else:
            item = tuple(data.dataset[i])
        for part in item[:3]:
            if part is None:
                continue
            t = part if isinstance(part, torch.Tensor) else torch.as_tensor(np.asarray(part))
            h.update(t.detach().cpu().float().contiguous().numpy().tobytes())
        has_clean = has_clean or (len(item) > 2 and item[2] is not None)
    return {"n": n, "rows": data.rows, "clean": has_clean, "sha256": h.hexdigest()[:16]}


def epoch_order(n: int, epoch_size: int, epoch: int, seed: int) -> torch.Tensor:
    """Indices of (0-based) ``epoch``: the slice ``[epoch * size, (epoch + 1) * size)`` of the
    concatenation of shuffled passes over ``n`` spectra (pass ``p`` shuffled with seed
    ``(seed, p)``)."""
    start = epoch * epoch_size
    parts, pos = [], start
    while pos < start + epoch_size:
        p, off = divmod(pos, n)
        perm = torch.randperm(
            n, generator=torch.Generator().manual_seed(seed * 100_003 + 7919 * p + 1)
        )
        take = min(n - off, start + epoch_size - pos)
        parts.append(perm[off : off + take])
        pos += take
    return torch.cat(parts)


def epoch_batches(
    data: TrainingData, *, batch_size: int, epoch: int, seed: int, epoch_size: int | None
) -> Iterator[Batch]:
    """The training batches of (0-based) ``epoch``.

    The whole set shuffled with seed ``seed * 100_003 + epoch``, or with
    ``epoch_size`` the epoch's slice of successive shuffled passes
    (:func:`epoch_order`).
    """
    if epoch_size is not None:
        return data.batches(batch_size, None, epoch_order(len(data), epoch_size, epoch, seed))
    return data.batches(batch_size, torch.Generator().manual_seed(seed * 100_003 + epoch))


__all__ = [
    "Batch",
    "DatasetData",
    "TensorData",
    "TrainingData",
    "as_training_data",
    "epoch_batches",
    "epoch_order",
    "fingerprint",
]

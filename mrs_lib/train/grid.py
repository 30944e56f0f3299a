"""Training-set size and learning rate against validation error: a small grid (chapter 4).

Chapter 4's widget switches between precomputed views of one grid of training
runs, one run per (training-set size, learning rate). Every run sees the same
number of spectra (``epochs x spectra_per_epoch``), so a small training set is
revisited many times and a large one a few times; the learning rate is held
constant (no schedule, no early stopping) so that its effect is not hidden.
After every epoch the run records the summed max-normalised MAE
(:func:`mrs_lib.metrics.mae`) on the validation spectra *and* on (up to 1,000
of) its own training spectra, both in evaluation mode: the gap between the two
is overfitting.

:func:`learning_grid` returns the grid's tidy table. It first looks for a
stored result of the same :class:`GridSpec` (the book-scale grid is shipped in
``mrs_lib/assets``, found by :func:`mrs_lib.artifacts.locate`), else trains the
grid (seconds at ``MRS_SCALE=tiny``) and stores it with a provenance sidecar
in the user's artifact folder (:func:`mrs_lib.artifacts.user_dir`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .. import artifacts
from ..errors import MRSDataError
from ..models import build_model, resolve_config
from ..scale import get_scale
from ..types import ModelName, Scale
from .config import TrainConfig
from .data import TrainingData, as_training_data
from .trainer import Trainer

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

#: Spectra of the training set scored after every epoch (the overfitting probe).
TRAIN_PROBE = 1000

#: Columns of the table of :func:`run_learning_grid`, one row per run and epoch.
GRID_COLUMNS = (
    "n_train",
    "lr",
    "epoch",
    "spectra_seen",
    "train_mae",
    "val_mae",
    "val_mae_GABA",
    "train_loss",
    "val_loss",
    "time_s",
)


@dataclass(frozen=True)
class GridSpec:
    """What one learning grid trains: network, sizes, learning rates, budget and data.

    Attributes
    ----------
    model, preset
        Network family and preset (:func:`mrs_lib.models.build_model`).
    sizes
        Training-set sizes; the smaller sets are the first spectra of the largest.
    lrs
        Constant Adam learning rates.
    epochs, spectra_per_epoch
        Budget of every run: ``epochs`` validations, ``spectra_per_epoch``
        spectra between two (several passes over a small set).
    batch_size
        Spectra per optimiser step.
    n_val
        Validation spectra (drawn with ``seed + 1``).
    synth
        Synthesis preset (:func:`mrs_lib.synth.synthesize`).
    seed
        Seeds the training spectra, the weights and the order of the batches.
    """

    model: ModelName = "cnn"
    preset: str = "cpu"
    sizes: tuple[int, ...] = (500, 2000, 8000)
    lrs: tuple[float, ...] = (1e-4, 1e-3, 1e-2)
    epochs: int = 10
    spectra_per_epoch: int = 4000
    batch_size: int = 64
    n_val: int = 1000
    synth: str = "paper"
    seed: int = 0

    def __post_init__(self) -> None:
        def bad(key: str, expected: str) -> MRSDataError:
            return MRSDataError(
                f"grid spec, key '{key}': expected {expected}, got {getattr(self, key)!r}"
            )

        if (
            not self.sizes
            or any(int(n) < 1 for n in self.sizes)
            or len(set(self.sizes)) < len(self.sizes)
        ):
            raise bad("sizes", "distinct positive training-set sizes")
        if (
            not self.lrs
            or any(float(r) <= 0 for r in self.lrs)
            or len(set(self.lrs)) < len(self.lrs)
        ):
            raise bad("lrs", "distinct positive learning rates")
        for key in ("epochs", "spectra_per_epoch", "batch_size", "n_val"):
            if int(getattr(self, key)) < 1:
                raise bad(key, "an integer >= 1")
        # stored as tuples, whatever sequence was given (the spec is hashed)
        object.__setattr__(self, "sizes", tuple(int(n) for n in self.sizes))
        object.__setattr__(self, "lrs", tuple(float(r) for r in self.lrs))

    def to_dict(self) -> dict[str, Any]:
        """JSON form (tuples as lists), the configuration stored in the sidecar."""
        d = asdict(self)
        d["sizes"], d["lrs"] = list(self.sizes), list(self.lrs)
        return d

    @property
    def artifact_name(self) -> str:
        """``learning-grid-<model>-<12 hex digits of the spec's sha256>.csv``."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return f"learning-grid-{self.model}-{hashlib.sha256(text.encode()).hexdigest()[:12]}.csv"

    def train_config(self, lr: float) -> TrainConfig:
        """Constant ``lr``, no early stopping, ``epochs`` of ``spectra_per_epoch`` spectra."""
        return TrainConfig(
            lr=lr,
            batch_size=self.batch_size,
            max_epochs=self.epochs,
            patience=0,
            plateau_patience=self.epochs + 1,
            epoch_size=self.spectra_per_epoch,
            seed=self.seed,
        )


#: The grid of each scale: a few seconds at tiny, ~10 CPU minutes at book (shipped).
GRID_SPECS: dict[Scale, GridSpec] = {
    "tiny": GridSpec(
        preset="tiny", sizes=(32, 128), lrs=(1e-3, 1e-2), epochs=3, spectra_per_epoch=128, n_val=32
    ),
    "book": GridSpec(),
    "paper": GridSpec(sizes=(2000, 8000, 32000), epochs=20, spectra_per_epoch=8000, n_val=2000),
}


def run_learning_grid(spec: GridSpec, *, progress: bool = False) -> pd.DataFrame:
    """Train every (size, learning rate) of ``spec``; one row per run and epoch.

    Columns (:data:`GRID_COLUMNS`): ``n_train, lr, epoch, spectra_seen``, the
    summed MAE on (up to :data:`TRAIN_PROBE`) training spectra ``train_mae``
    and on the validation set ``val_mae``, ``val_mae_GABA``, the epoch's mean
    training loss ``train_loss``, ``val_loss`` and the epoch's ``time_s``.
    """
    import pandas as pd

    from ..synth import synthesize

    train = synthesize(max(spec.sizes), seed=spec.seed, synth=spec.synth)
    val = as_training_data(_arrays(synthesize(spec.n_val, seed=spec.seed + 1, synth=spec.synth)))
    rows: list[dict[str, Any]] = []
    for n in spec.sizes:
        subset = as_training_data(_arrays(train, n))
        probe = as_training_data(_arrays(train, min(n, TRAIN_PROBE)))
        for lr in spec.lrs:
            rows += _one_run(spec, n, lr, subset, val, probe, progress)
    return pd.DataFrame(rows, columns=list(GRID_COLUMNS))


def _one_run(
    spec: GridSpec,
    n: int,
    lr: float,
    subset: TrainingData,
    val: TrainingData,
    probe: TrainingData,
    progress: bool,
) -> list[dict[str, Any]]:
    """Train one cell of the grid; its rows of the table."""
    cfg = spec.train_config(lr)
    torch.manual_seed(cfg.seed)
    model_cfg = resolve_config(spec.model, {"preset": spec.preset, "rows": subset.rows})
    trainer = Trainer(build_model(spec.model, model_cfg.to_dict()), cfg, progress=progress)
    fit_mae: list[float] = []
    trainer.on_epoch = lambda epoch, _: fit_mae.append(
        trainer.validate(probe, epoch - 1)["val_mae"]
    )
    result = trainer.fit(subset, val, resume=False)
    return [
        {
            "n_train": n,
            "lr": lr,
            "epoch": int(h["epoch"]),
            "spectra_seen": int(h["epoch"]) * spec.spectra_per_epoch,
            "train_mae": train_mae,
            "val_mae": h["val_mae"],
            "val_mae_GABA": h["val_mae_GABA"],
            "train_loss": h["train_loss"],
            "val_loss": h["val_loss"],
            "time_s": h["time_s"],
        }
        for h, train_mae in zip(result.history, fit_mae, strict=True)
    ]


def _arrays(batch: Any, n: int | None = None) -> tuple[Any, ...]:
    """``(x, targets, clean)`` of a SynthBatch, the first ``n`` spectra (all by default)."""
    end = len(batch) if n is None else n
    clean = None if batch.clean is None else batch.clean[:end]
    return (batch.x[:end], batch.targets[:end], clean)


def learning_grid(
    spec: GridSpec | None = None, *, store: bool = True, progress: bool = False
) -> pd.DataFrame:
    """The table of :func:`run_learning_grid` for ``spec`` (default: the active scale's).

    A stored result of the same spec (:attr:`GridSpec.artifact_name`, sha256
    checked, configuration compared) is read instead of training; otherwise
    the grid is trained and, with ``store``, written with its sidecar to
    :func:`mrs_lib.artifacts.user_dir`.
    """
    import pandas as pd

    spec = GRID_SPECS[get_scale()] if spec is None else spec
    name = spec.artifact_name
    try:
        path = artifacts.locate(name)
    except artifacts.ArtifactError:
        path = None
    if path is not None:
        record = artifacts.verify(path)
        if record.get("config") == spec.to_dict():
            return pd.read_csv(path)
    table = run_learning_grid(spec, progress=progress)
    if store:
        out = artifacts.user_dir() / name
        table.to_csv(out, index=False)
        artifacts.save(out, config=spec.to_dict(), seed=spec.seed, kind="learning-grid")
    return table


def _two_and_five(value: float, _position: int) -> str:
    """Minor log-axis label: only at 2 and 5 times a power of ten (the rest stay unlabelled)."""
    if value <= 0:
        return ""
    mantissa = value / 10 ** np.floor(np.log10(value))
    return f"{value:g}" if round(mantissa) in (2, 5) else ""


def _finite_range(values: np.ndarray) -> tuple[float, float]:
    """Smallest and largest finite positive value (for log axes); (1, 10) if there is none."""
    finite = values[np.isfinite(values) & (values > 0)]
    return (float(finite.min()), float(finite.max())) if finite.size else (1.0, 10.0)


def final_errors(grid: pd.DataFrame, metric: str = "val_mae") -> pd.DataFrame:
    """``metric`` at each run's last epoch: training-set sizes as rows, learning rates as
    columns."""
    last = grid[grid.epoch == grid.groupby(["n_train", "lr"]).epoch.transform("max")]
    return last.pivot(index="n_train", columns="lr", values=metric).sort_index()


def plot_learning_grid(grid: pd.DataFrame, n_train: int, lr: float) -> Figure:
    """One view of chapter 4's widget: the learning curves of the run (``n_train``, ``lr``)
    and the final validation MAE of every run, the selected one outlined.

    Axis limits are those of the whole grid, so every view shows its data inside the same
    axes and the views can be compared.
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm
    from matplotlib.patches import Rectangle
    from matplotlib.ticker import FuncFormatter

    run = grid[(grid.n_train == n_train) & np.isclose(grid.lr, lr)]
    if run.empty:
        raise MRSDataError(f"learning grid: no run with n_train={n_train} and lr={lr:g}")
    low, high = _finite_range(grid[["train_mae", "val_mae"]].to_numpy())
    fig, (ax0, ax1) = plt.subplots(
        1, 2, figsize=(10.5, 3.8), gridspec_kw={"width_ratios": [1.3, 1]}, layout="constrained"
    )
    for other, g in grid[grid.n_train == n_train].groupby("lr"):
        if not np.isclose(float(other), lr):  # the other learning rates, faint
            ax0.plot(g.spectra_seen, g.val_mae, color="0.8", lw=1)
    ax0.plot(run.spectra_seen, run.train_mae, "o-", color="C0", ms=3, label="training spectra")
    ax0.plot(run.spectra_seen, run.val_mae, "o-", color="C3", ms=3, label="validation spectra")
    ax0.plot([], [], color="0.8", label="validation, other rates")
    ax0.set(
        yscale="log",
        ylim=(low / 1.3, high * 1.3),
        xlim=(0, grid.spectra_seen.max() * 1.04),
        xlabel="spectra seen in training",
        ylabel="summed MAE (max-normalised)",
        title="learning curves",
    )
    ax0.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax0.yaxis.set_minor_formatter(FuncFormatter(_two_and_five))
    ax0.legend(frameon=False, fontsize=8, loc="best")
    table = final_errors(grid)
    norm = LogNorm(*_finite_range(table.to_numpy()))
    ax1.imshow(table.to_numpy(), cmap="viridis_r", norm=norm, aspect="auto")
    for i in range(table.shape[0]):
        for j in range(table.shape[1]):
            value = table.iat[i, j]
            dark = np.isfinite(value) and norm(value) > 0.6  # viridis_r: high errors are dark
            ax1.text(
                j,
                i,
                f"{value:.3f}",
                ha="center",
                va="center",
                fontsize=9,
                color="white" if dark else "black",
            )
    i = list(table.index).index(n_train)
    j = int(np.argmin(np.abs(np.asarray(table.columns, dtype=float) - lr)))
    ax1.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="C3", lw=3))
    ax1.set(
        xticks=range(table.shape[1]),
        xticklabels=[f"{c:g}" for c in table.columns],
        yticks=range(table.shape[0]),
        yticklabels=[f"{r:,}" for r in table.index],
        xlabel="learning rate",
        ylabel="training spectra",
        title="validation MAE at the end",
    )
    fig.suptitle(f"{n_train:,} training spectra, learning rate {lr:g}")
    return fig


__all__ = [
    "GRID_COLUMNS",
    "GRID_SPECS",
    "TRAIN_PROBE",
    "GridSpec",
    "final_errors",
    "learning_grid",
    "plot_learning_grid",
    "run_learning_grid",
]

"""The learning grid of chapter 4 (training-set size x learning rate): mrs_lib.train.grid."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from mrs_lib import artifacts
from mrs_lib.errors import MRSDataError
from mrs_lib.train import grid as grid_mod
from mrs_lib.train.grid import (
    GRID_COLUMNS,
    GRID_SPECS,
    GridSpec,
    final_errors,
    learning_grid,
    plot_learning_grid,
    run_learning_grid,
)

MICRO = GridSpec(
    preset="tiny", sizes=(16, 48), lrs=(1e-3, 3e-2), epochs=2, spectra_per_epoch=32, n_val=16
)


@pytest.fixture(scope="module")
def micro_grid() -> pd.DataFrame:
    return run_learning_grid(MICRO)


def test_spec_checks_and_names() -> None:
    assert GridSpec(sizes=[500, 2000, 8000]).artifact_name == GridSpec().artifact_name
    assert GridSpec(seed=1).artifact_name != GridSpec().artifact_name
    assert GridSpec().artifact_name.startswith("learning-grid-cnn-")
    assert set(GRID_SPECS) == {"tiny", "book", "paper"}
    for bad in ({"sizes": ()}, {"sizes": (10, 10)}, {"lrs": (0.0,)}, {"epochs": 0}):
        with pytest.raises(MRSDataError, match="grid spec"):
            GridSpec(**bad)  # type: ignore[arg-type]
    cfg = GridSpec().train_config(1e-3)
    assert (cfg.lr, cfg.patience, cfg.epoch_size) == (1e-3, 0, 4000)
    assert cfg.plateau_patience > cfg.max_epochs  # the learning rate never drops


def test_grid_table_has_every_run_and_epoch(micro_grid: pd.DataFrame) -> None:
    assert list(micro_grid.columns) == list(GRID_COLUMNS)
    assert len(micro_grid) == 2 * 2 * 2
    assert sorted(set(micro_grid.n_train)) == [16, 48]
    np.testing.assert_array_equal(micro_grid.spectra_seen, micro_grid.epoch * 32)
    assert np.isfinite(micro_grid[["train_mae", "val_mae", "val_mae_GABA"]].to_numpy()).all()
    table = final_errors(micro_grid)
    assert table.shape == (2, 2) and list(table.index) == [16, 48]


def test_grid_is_seeded(micro_grid: pd.DataFrame) -> None:
    again = run_learning_grid(MICRO)
    cols = ["train_mae", "val_mae", "train_loss", "val_loss"]
    np.testing.assert_allclose(again[cols].to_numpy(), micro_grid[cols].to_numpy(), rtol=1e-6)


def test_learning_grid_stores_then_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, micro_grid: pd.DataFrame
) -> None:
    monkeypatch.setenv("MRS_ARTIFACTS_DIR", str(tmp_path))
    monkeypatch.setattr(grid_mod, "run_learning_grid", lambda spec, progress=False: micro_grid)
    first = learning_grid(MICRO)
    stored = tmp_path / MICRO.artifact_name
    assert stored.is_file() and artifacts.verify(stored)["config"] == MICRO.to_dict()

    def fail(spec: GridSpec, progress: bool = False) -> pd.DataFrame:
        raise AssertionError("a stored grid must be read, not trained again")

    monkeypatch.setattr(grid_mod, "run_learning_grid", fail)
    second = learning_grid(MICRO)
    pd.testing.assert_frame_equal(first, second, check_dtype=False)
    stored.write_text(stored.read_text() + "16,0.1,9,9,9,9,9,9,9,9\n")
    with pytest.raises(artifacts.ArtifactError, match="sha256"):
        learning_grid(MICRO)


def test_every_view_keeps_its_data_inside_the_axes(micro_grid: pd.DataFrame) -> None:
    for n in MICRO.sizes:
        for lr in MICRO.lrs:
            fig = plot_learning_grid(micro_grid, n, lr)
            curves, heat = fig.axes[0], fig.axes[1]
            assert fig.get_suptitle() == f"{n:,} training spectra, learning rate {lr:g}"
            (y0, y1), (x0, x1) = curves.get_ylim(), curves.get_xlim()
            for line in curves.get_lines():
                x, y = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
                assert ((y >= y0) & (y <= y1)).all() and ((x >= x0) & (x <= x1)).all()
            assert heat.get_title() and curves.get_title()
            plt.close(fig)
    with pytest.raises(MRSDataError, match="no run"):
        plot_learning_grid(micro_grid, 999, 1e-3)


def test_book_grid_is_shipped_for_its_spec() -> None:
    """Chapter 4 reads the book-scale grid instead of training it: the shipped file must match
    GRID_SPECS["book"] (a changed spec needs a new file, see mrs_lib/assets/README.md)."""
    spec = GRID_SPECS["book"]
    path = artifacts.SHIPPED_DIR / spec.artifact_name
    assert path.is_file(), f"{path.name} is not shipped"
    assert artifacts.verify(path)["config"] == spec.to_dict()
    table = pd.read_csv(path)
    assert list(table.columns) == list(GRID_COLUMNS)
    assert len(table) == len(spec.sizes) * len(spec.lrs) * spec.epochs
    assert np.isfinite(table[["train_mae", "val_mae"]].to_numpy()).all()

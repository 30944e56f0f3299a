"""Every artifact shipped in ``mrs_lib/assets``, loaded by name as the chapters load it.

Names resolve with ``$MRS_ARTIFACTS_DIR`` and ``$MRS_CACHE_DIR`` pointed at empty
temporary folders, so the shipped file (not a user's copy) is the one checked: its
sha256 against the sidecar, then a use of it. Oracles: a checkpoint's mean absolute
error on a fresh seeded test set of the synthesis preset it was trained on is close to
the validation MAE its sidecar records; a study's trial counts and best trial equal the
ones its sidecar records.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from mrs_lib import artifacts

SHIPPED = sorted(
    p.name
    for p in artifacts.SHIPPED_DIR.iterdir()
    if p.is_file() and artifacts.sidecar_path(p).is_file()
)
#: deep ensembles (one file, several networks; mrs_lib.uncertainty), told apart by their sidecar
ENSEMBLES = [
    n
    for n in SHIPPED
    if n.endswith(".pt")
    and "members" in artifacts.read_sidecar(artifacts.SHIPPED_DIR / n)["config"]
]
CHECKPOINTS = [n for n in SHIPPED if n.endswith(".pt") and n not in ENSEMBLES]
#: Found by this test: the shipped weights do not reproduce the validation MAE their sidecar
#: records (0.139 on 200 or 1,000 fresh paper-no-lw spectra, seeds 5 and 6, against 0.092);
#: every other checkpoint is within 5 % of its record.
NOT_AS_RECORDED = {
    "yae-paper-no-lw.pt": "MAE 0.139 on fresh paper-no-lw spectra, sidecar records 0.092"
}
STUDIES = [n for n in SHIPPED if n.endswith(".db")]
GRIDS = [n for n in SHIPPED if n.startswith("learning-grid-") and n.endswith(".csv")]


@pytest.fixture(scope="module")
def isolated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Empty user artifact and cache folders: only the shipped artifacts resolve by name."""
    root = tmp_path_factory.mktemp("shipped")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(artifacts.ENV_ARTIFACTS_DIR, str(root / "artifacts"))
        mp.setenv("MRS_CACHE_DIR", str(root / "cache"))
        yield root


def test_every_shipped_file_is_covered() -> None:
    """Each file in mrs_lib/assets (but the README) has a sidecar and a test below."""
    files = {p.name for p in artifacts.SHIPPED_DIR.iterdir() if p.is_file()}
    sidecars = {artifacts.sidecar_path(artifacts.SHIPPED_DIR / n).name for n in SHIPPED}
    assert files - set(SHIPPED) - sidecars == {"README.md"}
    assert set(SHIPPED) == set(CHECKPOINTS) | set(ENSEMBLES) | set(STUDIES) | set(GRIDS)
    assert len(CHECKPOINTS) >= 5 and len(STUDIES) >= 3


@pytest.mark.parametrize("name", SHIPPED)
def test_loads_by_name_with_its_sha256(isolated: Path, name: str) -> None:
    path, record = artifacts.load(name)
    assert path == artifacts.SHIPPED_DIR / name
    assert record["sha256"] == artifacts.sha256_of(path)
    assert name in artifacts.available()


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.xfail(reason=NOT_AS_RECORDED[n], strict=True))
        if n in NOT_AS_RECORDED
        else n
        for n in CHECKPOINTS
    ],
)
def test_checkpoint_predicts_as_recorded(isolated: Path, name: str) -> None:
    """A fresh test set (200 spectra, seed 5) of the checkpoint's own synthesis preset: the
    total max-normalised MAE is within 25 % of the validation MAE in its sidecar."""
    from mrs_lib.quantify import NetworkQuantifier
    from mrs_lib.train.evaluate import evaluate_checkpoint

    record = artifacts.load(name)[1]
    config = record["config"]
    quantifier = NetworkQuantifier(name)
    assert Path(quantifier.meta["path"]) == artifacts.SHIPPED_DIR / name
    result = evaluate_checkpoint(name, n=200, seed=5, synth=config["data"]["synth"])
    recorded = config["val_metrics"]["val_mae"]
    assert np.isfinite(result["mae_total"])
    assert result["mae_total"] == pytest.approx(recorded, rel=0.25), (name, result["mae"])


@pytest.mark.slow
@pytest.mark.parametrize("name", ENSEMBLES)
def test_ensemble_predicts_as_recorded(isolated: Path, name: str) -> None:
    """A fresh test set (200 spectra, seed 5) of the members' synthesis preset: the member
    mean's total max-normalised MAE is within 25 % of the one its sidecar records."""
    from mrs_lib.uncertainty import evaluate_ensemble

    record = artifacts.load(name)[1]
    recorded = record["evaluation"]["mean"]["mae_total"]
    result = evaluate_ensemble(name, n=200, seed=5, synth=record["config"]["data"]["synth"])
    assert result["mae_total"] == pytest.approx(recorded, rel=0.25), (name, result["mae"])


@pytest.mark.parametrize("name", STUDIES)
def test_study_summary_as_recorded(isolated: Path, name: str) -> None:
    """The study loads from the shipped database; its trial counts and best trial are the
    ones in its sidecar."""
    from mrs_lib.search.report import summary
    from mrs_lib.search.storage import load_study

    record = artifacts.load(name)[1]
    study = load_study(name)
    info = summary(study)
    assert info["trials"] == record["trials"]
    assert sum(info["trials"].values()) == record["command"]["trials"]
    best = record["best"][0]
    assert info["best"]["number"] == best["number"]
    assert info["best"]["value"] == pytest.approx(best["value"], rel=1e-12)


@pytest.mark.parametrize("name", GRIDS)
def test_learning_grid_is_the_one_its_spec_names(isolated: Path, name: str) -> None:
    """A shipped learning grid (chapter 4's widget) is named by its spec's hash, and holds a
    finite validation error for every (training-set size, learning rate) of that spec."""
    import pandas as pd

    from mrs_lib.train.grid import GRID_SPECS, GridSpec

    path, _record = artifacts.load(name)
    specs = [s for s in GRID_SPECS.values() if s.artifact_name == name]
    assert specs, f"{name}: no spec in GRID_SPECS names this file"
    assert isinstance(specs[0], GridSpec)
    grid = pd.read_csv(path)
    assert len(grid) > 0 and np.isfinite(grid.select_dtypes("number").to_numpy()).any()

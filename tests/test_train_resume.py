"""Resuming a training run: only under the same settings, bit-exact then, afresh on request.

Oracles: a run resumed under the same settings ends with the same weights as an
uninterrupted one (bit for bit); every changed setting (seed, learning rate,
batch size, network, data facts, the data itself) is refused with an error that
names it as ``key: old -> new``; ``resume=False`` / ``--fresh`` gives exactly
the run a fresh directory gives.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from mrs_lib.train import ResumeError, TrainConfig, train_model
from mrs_lib.train.checkpoint import STATE_FORMAT, setting_changes


def _toy(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Linear mixtures of five fixed random rows plus noise (targets sum to 1)."""
    basis = np.random.default_rng(7).standard_normal((5, 2, 2048)).astype(np.float32)
    rng = np.random.default_rng(seed)
    c = rng.random((n, 5))
    y = (c / c.sum(axis=1, keepdims=True)).astype(np.float32)
    x = np.einsum("nm,mrp->nrp", c, basis) + 0.05 * rng.standard_normal((n, 2, 2048))
    return x.astype(np.float32), y


TRAIN, VAL = _toy(96, 1), _toy(32, 2)
FAST = {"max_epochs": 3, "lr": 3e-3, "batch_size": 32, "seed": 3, "device": "cpu"}
META = {"synth": "paper", "basis": "paper", "n_train": 96}


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _run(ckdir: Path, *, data: tuple = TRAIN, meta: dict = META, model: object = "tiny",
         resume: bool = True, **cfg: object):  # fmt: skip
    return train_model(
        "cnn",
        model,  # type: ignore[arg-type]
        TrainConfig(**{**FAST, **cfg}),  # type: ignore[arg-type]
        data,
        VAL,
        checkpoint_dir=ckdir,
        resume=resume,
        progress=False,
        meta=meta,
    )


def _weights(res) -> list[torch.Tensor]:  # type: ignore[no-untyped-def]
    return [v.clone() for v in res.model.state_dict().values()]


def _assert_same(a: list[torch.Tensor], b: list[torch.Tensor]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        torch.testing.assert_close(x, y, rtol=0, atol=0)


def test_each_changed_setting_is_refused_and_named(tmp_path: Path) -> None:
    _run(tmp_path, max_epochs=1)
    cases = {
        "train.seed: 3 -> 4": {"seed": 4},
        "train.lr: 0.003 -> 0.001": {"lr": 1e-3},
        "train.batch_size: 32 -> 16": {"batch_size": 16},
        "train.schedule: 'plateau' -> 'cosine'": {"schedule": "cosine"},
        "data.synth: 'paper' -> 'full'": {"meta": {**META, "synth": "full"}},
        "data.n_train: 96 -> (absent)": {"meta": {"synth": "paper", "basis": "paper"}},
        "data_fingerprint.train.sha256": {"data": _toy(96, 9)},
        "data_fingerprint.train.n: 96 -> 64": {"data": _toy(64, 1)},
    }
    for expected, change in cases.items():
        with pytest.raises(ResumeError, match="other settings") as err:
            _run(tmp_path, **change)  # type: ignore[arg-type]
        assert expected in str(err.value), (expected, str(err.value))
        assert "--fresh" in str(err.value)
    with pytest.raises(ResumeError) as err:  # several at once: every one listed
        _run(tmp_path, seed=5, lr=1e-2, meta={**META, "basis": "fida"})
    for key in ("train.seed: 3 -> 5", "train.lr: 0.003 -> 0.01", "data.basis: 'paper' -> 'fida'"):
        assert key in str(err.value)
    with pytest.raises(ResumeError, match="belongs to cnn"):  # another network
        _run(tmp_path, model={"preset": "tiny", "c1": 4})
    # nothing was written by the refused runs: the state still resumes under its settings
    assert len(_run(tmp_path).history) == FAST["max_epochs"]


def test_same_settings_resume_bit_exact_and_stopping_rules_may_change(tmp_path: Path) -> None:
    full = _run(tmp_path / "full")
    _run(tmp_path / "cut", max_epochs=1)
    # the stopping rules (max_epochs, max_time_s, patience) and the threads may change
    resumed = _run(tmp_path / "cut", patience=9, max_time_s=1e6, num_threads=1)
    assert [h["train_loss"] for h in resumed.history] == [h["train_loss"] for h in full.history]
    _assert_same(_weights(full), _weights(resumed))


def test_cosine_schedule_refuses_another_max_epochs(tmp_path: Path) -> None:
    """Under the cosine schedule max_epochs sets every epoch's learning rate: not a budget."""
    _run(tmp_path, max_epochs=2, schedule="cosine")
    with pytest.raises(ResumeError, match=r"train\.max_epochs: 2 -> 3"):
        _run(tmp_path, max_epochs=3, schedule="cosine")


def test_fresh_start_equals_a_run_in_a_new_directory(tmp_path: Path) -> None:
    _run(tmp_path / "old", max_epochs=2, seed=8, lr=1e-2)
    fresh = _run(tmp_path / "old", resume=False)
    new = _run(tmp_path / "new")
    assert len(fresh.history) == FAST["max_epochs"]
    assert [h["train_loss"] for h in fresh.history] == [h["train_loss"] for h in new.history]
    _assert_same(_weights(fresh), _weights(new))
    # and the directory now resumes under the new settings only
    with pytest.raises(ResumeError, match=r"train\.seed: 3 -> 8"):
        _run(tmp_path / "old", seed=8, lr=1e-2)


def test_old_or_broken_state_files_are_refused(tmp_path: Path) -> None:
    _run(tmp_path, max_epochs=1)
    last = tmp_path / "last.pt"
    state = torch.load(last, weights_only=True)
    assert state["format"] == STATE_FORMAT and state["settings"]["train"]["seed"] == 3
    del state["settings"]
    state["format"] = "mrs_lib.train-state/1"
    torch.save(state, last)
    with pytest.raises(ResumeError, match="without its training settings"):
        _run(tmp_path)
    last.write_bytes(last.read_bytes()[:100])
    with pytest.raises(ResumeError, match="unreadable"):
        _run(tmp_path)
    assert len(_run(tmp_path, resume=False).history) == FAST["max_epochs"]


def test_setting_changes_lists_every_difference() -> None:
    old = {"a": 1, "b": {"c": "x", "d": [1, 2]}, "e": float("nan"), "f": 1}
    new = {"a": 1, "b": {"c": "y", "d": [1, 3]}, "e": float("nan"), "g": 2}
    assert setting_changes(old, new) == [
        "b.c: 'x' -> 'y'",
        "b.d: [1, 2] -> [1, 3]",
        "f: 1 -> (absent)",
        "g: (absent) -> 2",
    ]
    assert setting_changes(new, new) == []


def test_mrs_train_refuses_changed_settings_and_fresh_restarts(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    data_file,  # type: ignore[no-untyped-def]
    capsys: pytest.CaptureFixture[str],
) -> None:
    """CLI: a second `mrs train` with another --lr and seed exits 2 naming both; --fresh runs."""
    from mrs_lib.cli import main

    data_file("isbi-fida-megapress/GABA_ON.mat")  # skip when the external basis is absent
    monkeypatch.setenv("MRS_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    monkeypatch.setenv("MRS_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "run"
    base = ["train", "--model", "cnn", "--config", "tiny", "--scale", "tiny", "--basis", "fida",
            "--n-train", "32", "--n-val", "16", "--epochs", "1", "--batch-size", "16",
            "--threads", "1", "--device", "cpu", "--no-progress", "--out", str(out)]  # fmt: skip
    assert main(base) == 0
    capsys.readouterr()
    assert main([*base, "--lr", "0.01", "--seed", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("mrs train: error: checkpoint")
    assert "train.seed: 0 -> 2" in err[0] and "train.lr: None -> 0.01" in err[0]
    assert "data.train_seed: 0 -> 2" in err[0]
    assert main([*base, "--lr", "0.01", "--seed", "2", "--fresh"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["train_seed"] == 2 and summary["epochs"] == 1
    state = torch.load(out / "last.pt", weights_only=True)
    assert state["settings"]["train"]["lr"] == 0.01 and state["settings"]["train"]["seed"] == 2

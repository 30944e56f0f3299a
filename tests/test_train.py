"""Training loop: a tiny run learns, checkpoints round-trip, an interrupted run resumes exactly."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from mrs_lib import artifacts
from mrs_lib.errors import MRSDataError, MRSError
from mrs_lib.train import (
    TrainConfig,
    TrainConfigError,
    load_model,
    predict,
    save_model,
    train_model,
)


def _toy(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Linear mixtures of five fixed random 'basis' rows plus noise (targets sum to 1)."""
    basis = np.random.default_rng(7).standard_normal((5, 2, 2048)).astype(np.float32)
    rng = np.random.default_rng(seed)
    c = rng.random((n, 5))
    y = (c / c.sum(axis=1, keepdims=True)).astype(np.float32)
    clean = np.einsum("nm,mrp->nrp", c, basis).astype(np.float32)
    x = clean + 0.05 * rng.standard_normal(clean.shape).astype(np.float32)
    return x, y, clean


TRAIN, VAL = _toy(256, 1), _toy(64, 2)


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """One torch thread per test: pytest-xdist workers must not oversubscribe the cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


FAST = {"max_epochs": 4, "lr": 3e-3, "batch_size": 32, "seed": 3, "device": "cpu"}


@pytest.mark.parametrize("name", ["cnn", "fcnn", "yae"])
def test_tiny_run_lowers_the_loss(name: str) -> None:
    res = train_model(name, "tiny", TrainConfig(**FAST), TRAIN, VAL, progress=False)
    losses = [h["train_loss"] for h in res.history]
    assert len(losses) == 4
    assert losses[-1] < 0.7 * losses[0]
    assert res.best_metrics["val_mae"] == min(h["val_mae"] for h in res.history)
    assert predict(res.model, VAL[0]).shape == (64, 5)


def test_on_epoch_sees_every_epoch_and_its_exception_propagates() -> None:
    seen: list[int] = []

    class Pruned(Exception):
        pass

    def hook(epoch: int, m: dict[str, float]) -> None:
        seen.append(epoch)
        assert "val_mae" in m and "val_mae_GABA" in m
        if epoch == 2:
            raise Pruned

    with pytest.raises(Pruned):
        train_model("yae", "tiny", TrainConfig(**FAST), TRAIN, VAL, on_epoch=hook, progress=False)
    assert seen == [1, 2]


def test_checkpoint_round_trip_with_provenance(tmp_path: Path) -> None:
    res = train_model(
        "cnn",
        "tiny",
        TrainConfig(**FAST),
        TRAIN,
        VAL,
        checkpoint_dir=tmp_path,
        progress=False,
        meta={"synth": "toy"},
    )
    assert res.checkpoint == tmp_path / "best.pt"
    model, meta = load_model(res.checkpoint)
    np.testing.assert_array_equal(predict(model, VAL[0]), predict(res.model, VAL[0]))
    assert meta["model_name"] == "cnn" and meta["data"] == {"synth": "toy"}
    assert meta["provenance"]["sha256"] == artifacts.sha256_of(res.checkpoint)
    # the file is plain tensors and numbers
    torch.load(res.checkpoint, weights_only=True)
    # float16 export for shipping: predictions agree to half precision
    save_model(res.model, tmp_path / "half.pt", half=True, seed=3)
    half, _ = load_model(tmp_path / "half.pt")
    np.testing.assert_allclose(predict(half, VAL[0]), predict(res.model, VAL[0]), atol=5e-3)
    # a tampered file fails its sha256 check
    with open(res.checkpoint, "ab") as fh:
        fh.write(b"x")
    with pytest.raises(artifacts.ArtifactError, match="sha256"):
        load_model(res.checkpoint)


def test_load_by_artifact_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(artifacts.ENV_ARTIFACTS_DIR, str(tmp_path))
    torch.manual_seed(0)
    from mrs_lib.models import build_model

    save_model(build_model("yae", "tiny"), tmp_path / "yae-toy.pt")
    _model, meta = load_model("yae-toy")
    assert meta["model_name"] == "yae" and Path(meta["path"]).name == "yae-toy.pt"
    with pytest.raises(artifacts.ArtifactError, match="not found"):
        load_model("nope.pt")


def test_interrupted_run_resumes_to_the_same_weights(tmp_path: Path) -> None:
    cfg = {**FAST, "max_epochs": 4}
    full = train_model(
        "yae", "tiny", TrainConfig(**cfg), TRAIN, VAL, checkpoint_dir=tmp_path / "a", progress=False
    )
    train_model(
        "yae",
        "tiny",
        TrainConfig(**{**cfg, "max_epochs": 2}),
        TRAIN,
        VAL,
        checkpoint_dir=tmp_path / "b",
        progress=False,
    )
    resumed = train_model(
        "yae", "tiny", TrainConfig(**cfg), TRAIN, VAL, checkpoint_dir=tmp_path / "b", progress=False
    )
    assert [h["train_loss"] for h in resumed.history] == [h["train_loss"] for h in full.history]
    for (k, a), b in zip(
        full.model.state_dict().items(), resumed.model.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=k)
    # a different architecture refuses to resume from that directory
    with pytest.raises(MRSError, match="belongs to"):
        train_model(
            "yae",
            {"preset": "tiny", "quantifier": 8},
            TrainConfig(**cfg),
            TRAIN,
            VAL,
            checkpoint_dir=tmp_path / "b",
            progress=False,
        )


def test_cosine_schedule_anneals_from_lr_to_min_lr_and_resumes_exactly(tmp_path: Path) -> None:
    cfg = {**FAST, "max_epochs": 4, "schedule": "cosine", "min_lr": 1e-5}
    tc = TrainConfig(**cfg)
    # half a cosine: lr at epoch 0, the midpoint at max_epochs / 2, min_lr at the end
    assert tc.cosine_lr(0) == pytest.approx(3e-3)
    assert tc.cosine_lr(2) == pytest.approx((3e-3 + 1e-5) / 2)
    assert tc.cosine_lr(4) == pytest.approx(1e-5)
    assert all(tc.cosine_lr(e) > tc.cosine_lr(e + 1) for e in range(4))
    full = train_model("cnn", "tiny", tc, TRAIN, VAL, checkpoint_dir=tmp_path / "a", progress=False)
    assert [h["lr"] for h in full.history] == pytest.approx([tc.cosine_lr(e) for e in range(4)])
    # the schedule is a function of the epoch, so an interrupted run resumes bit for bit
    train_model(
        "cnn",
        "tiny",
        TrainConfig(**{**cfg, "max_time_s": 1e-9}),
        TRAIN,
        VAL,
        checkpoint_dir=tmp_path / "b",
        progress=False,
    )
    resumed = train_model(
        "cnn", "tiny", tc, TRAIN, VAL, checkpoint_dir=tmp_path / "b", progress=False
    )
    assert [h["train_loss"] for h in resumed.history] == [h["train_loss"] for h in full.history]
    with pytest.raises(TrainConfigError, match="schedule"):
        TrainConfig(schedule="step")  # type: ignore[arg-type]


def test_early_stopping_restores_the_best_epoch() -> None:
    # a learning rate far too large makes validation worse after the first epochs
    res = train_model(
        "cnn",
        "tiny",
        TrainConfig(**{**FAST, "max_epochs": 30, "patience": 2, "lr": 0.5}),
        TRAIN,
        VAL,
        progress=False,
    )
    assert res.stopped == "early"
    assert len(res.history) == res.best_epoch + 2
    pred = predict(res.model, VAL[0])
    from mrs_lib.metrics import mae

    assert mae(pred, VAL[1]).sum() == pytest.approx(res.best_metrics["val_mae"], rel=1e-5)


def test_bad_inputs_raise_clear_errors() -> None:
    with pytest.raises(TrainConfigError, match="key 'batch_size'"):
        TrainConfig(batch_size=0)
    with pytest.raises(TrainConfigError, match="unknown key"):
        TrainConfig.from_dict({"learning_rate": 1e-3})
    with pytest.raises(MRSDataError, match="clean"):
        train_model("yae", "tiny", TrainConfig(**FAST), TRAIN[:2], VAL, progress=False)
    with pytest.raises(MRSDataError, match="shape"):
        train_model(
            "cnn", "tiny", TrainConfig(**FAST), (TRAIN[0][:, 0], TRAIN[1]), VAL, progress=False
        )


def test_torch_dataset_input_is_accepted() -> None:
    ds = torch.utils.data.TensorDataset(*(torch.from_numpy(a) for a in TRAIN))

    class Items(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return len(ds)

        def __getitem__(self, i: int) -> tuple[torch.Tensor, ...]:
            return ds[i]

    res = train_model(
        "yae", "tiny", TrainConfig(**{**FAST, "max_epochs": 1}), Items(), VAL, progress=False
    )
    assert len(res.history) == 1


@pytest.mark.usefixtures("isolated_dirs")
def test_mrs_train_and_evaluate_print_the_metrics(
    tmp_path: Path, data_file: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """`mrs train --scale tiny` then `mrs evaluate --json` on the FID-A reference basis."""
    import json

    from mrs_lib.cli import main

    data_file("isbi-fida-megapress/GABA_ON.mat")  # skip when the external basis is absent
    out = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--model",
                "yae",
                "--scale",
                "tiny",
                "--basis",
                "fida",
                "--n-train",
                "64",
                "--n-val",
                "32",
                "--epochs",
                "2",
                "--out",
                str(out),
                "--no-progress",
                "--schedule",
                "cosine",
                "--min-lr",
                "1e-6",
                "--export",
                "yae-toy.pt",
            ]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert summary["epochs"] == 2 and summary["basis"] == "fida"
    history = json.loads((out / "history.json").read_text())
    assert [h["lr"] for h in history] == pytest.approx([4e-4, (4e-4 + 1e-6) / 2])
    assert main(["evaluate", "--checkpoint", str(out / "yae-toy.pt"), "--n", "50", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["metabolites"] == ["Cr", "GABA", "Gln", "Glu", "NAA"]
    assert set(res["mae"]) == set(res["slope"]) == set(res["r2"]) == set(res["metabolites"])
    assert res["n"] == 50 and res["basis"] == "fida"


def test_epoch_size_walks_through_shuffled_passes() -> None:
    """Oracle: consecutive sub-epochs of 96 over 256 spectra cover every index once per pass."""
    from mrs_lib.train.data import epoch_order as _epoch_order

    idx = torch.cat([_epoch_order(256, 96, e, seed=3) for e in range(8)])  # 768 = 3 passes
    for p in range(3):
        assert sorted(idx[256 * p : 256 * (p + 1)].tolist()) == list(range(256))
    res = train_model(
        "cnn",
        "tiny",
        TrainConfig(**{**FAST, "epoch_size": 96, "max_epochs": 2}),
        TRAIN,
        VAL,
        progress=False,
    )
    assert len(res.history) == 2
    assert res.history[0]["train_loss"] > 0


def test_init_starts_from_a_checkpoints_weights(tmp_path: Path) -> None:
    """Fine-tuning (chapter 7): ``init`` copies the weights; a vanishing learning rate keeps
    them."""
    first = train_model(
        "cnn",
        "tiny",
        TrainConfig(**FAST),
        TRAIN,
        VAL,
        checkpoint_dir=tmp_path / "a",
        progress=False,
    )
    assert first.checkpoint is not None
    still = TrainConfig(**{**FAST, "max_epochs": 1, "lr": 1e-12})
    fresh = train_model("cnn", "tiny", still, TRAIN, VAL, progress=False)
    tuned = train_model("cnn", "tiny", still, TRAIN, VAL, progress=False, init=first.checkpoint)
    source = dict(first.model.named_parameters())
    for name, p in tuned.model.named_parameters():  # weights, not the batch-norm statistics
        np.testing.assert_allclose(p.detach(), source[name].detach(), atol=1e-6, err_msg=name)
    assert any(
        not torch.allclose(p, source[name], atol=1e-3) for name, p in fresh.model.named_parameters()
    )
    with pytest.raises(MRSDataError, match="init checkpoint"):
        train_model(
            "fcnn", "tiny", TrainConfig(**FAST), TRAIN, VAL, progress=False, init=first.checkpoint
        )

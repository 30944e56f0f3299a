"""Architecture search: spaces build valid models; studies run, resume and share storage."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import optuna
import pytest
import torch
from pg import postgres_server  # noqa: F401 - session fixture used by the PostgreSQL test

from mrs_lib import search
from mrs_lib.models import build_model
from mrs_lib.types import METABOLITES, MODEL_NAMES

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.mark.parametrize("family", MODEL_NAMES)
@pytest.mark.parametrize("space", ["cpu", "paper"])
def test_every_sampled_config_builds_a_model(family: str, space: str) -> None:
    """Oracle: build_model accepts every config a seeded random sampler draws from the space,
    and the network maps a [2, rows, 2048] batch to [2, 5] finite outputs."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=7))
    n = 8 if space == "cpu" else 3  # paper-size networks are large: build a few
    torch.manual_seed(7)  # the initial weights and the input batches
    seen = set()
    for _ in range(n):
        trial = study.ask()
        cfg = search.suggest_config(trial, family, space)
        seen.add(repr(sorted(cfg.items())))
        rows = 2 if trial.number % 2 == 0 else 3
        model = build_model(family, {**cfg, "rows": rows}).eval()
        if space == "cpu" or trial.number == 0:
            with torch.no_grad():
                out = model(torch.randn(2, rows, 2048))
            out = out[-1] if isinstance(out, tuple) and family == "yae" else out
            out = out if isinstance(out, torch.Tensor) else out[0]
            assert out.shape == (2, len(METABOLITES))
            assert torch.isfinite(out).all()
        study.tell(trial, 0.0)
    assert len(seen) == n  # the space is not degenerate


def test_config_round_trips_from_params() -> None:
    """A finished trial's params rebuild exactly the config the objective sampled."""
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3)).ask()
    cfg = search.suggest_config(trial, "yae", "cpu")
    assert search.config_from_params("yae", trial.params, "cpu") == cfg
    assert cfg["encoder"][-1] < cfg["encoder"][0] or len(cfg["encoder"]) == 1


@pytest.mark.parametrize("validation", ["holdout", "kfold"])
def test_split_indices_partition(validation: str, rng: np.random.Generator) -> None:
    """Oracle: train and validation indices are disjoint and cover range(n); k folds tile it."""
    splits = search.split_indices(103, validation, val_fraction=0.2, n_folds=4, rng=rng)
    assert len(splits) == (1 if validation == "holdout" else 4)
    for tr, va in splits:
        assert not set(tr) & set(va)
        assert sorted([*tr, *va]) == list(range(103))
    if validation == "holdout":
        assert len(splits[0][1]) == round(103 * 0.2)
    else:
        assert sorted(np.concatenate([va for _, va in splits])) == list(range(103))


def test_total_max_normalised_mae() -> None:
    """Oracle: a prediction proportional to the truth scores 0; one known error scores its size."""
    truth = np.array([[1.0, 0.5, 0.2, 0.4, 0.8], [0.3, 0.6, 0.9, 0.1, 0.2]])
    assert search.total_max_normalised_mae(3.0 * truth, truth) == pytest.approx(0.0)
    pred = truth.copy()
    pred[0, 1] += 0.1  # max of row 0 stays 1.0
    assert search.total_max_normalised_mae(pred, truth) == pytest.approx(0.1 / 2)


def _cfg(**kw: object) -> search.SearchConfig:
    return search.SearchConfig(**{"family": "cnn", "space": "cpu", "epochs": 4, "seed": 0, **kw})


def test_three_trial_study_runs(tmp_path: Path) -> None:
    url = search.storage_url(tmp_path / "s.db")
    study = search.run_study(
        _cfg(), 3, storage=url, study_name="t", objective=search.proxy_objective("cnn", steps=4)
    )
    assert len(study.trials) == 3
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    assert study.user_attrs["search_config"]["family"] == "cnn"
    best = search.best_configs(study)[0]
    assert best["value"] == pytest.approx(study.best_value)
    assert set(best["model_config"]) >= {"c1", "f1", "pool"}


def test_resume_continues_the_count(tmp_path: Path) -> None:
    """An interrupted study (a trial killed mid-way) is resumed up to the requested total."""
    url = search.storage_url(tmp_path / "s.db")
    proxy = search.proxy_objective("fcnn", steps=3)
    calls = {"n": 0}

    def interrupted(trial: optuna.Trial) -> float:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return proxy(trial)

    with pytest.raises(KeyboardInterrupt):
        search.run_study(_cfg(family="fcnn"), 5, storage=url, study_name="r", objective=interrupted)
    study = optuna.load_study(study_name="r", storage=url)
    assert search.count_trials(study) == 2
    study = search.run_study(_cfg(family="fcnn"), 5, storage=url, study_name="r", objective=proxy)
    states = [t.state.name for t in study.trials]
    assert states.count("COMPLETE") == 5 and states.count("FAIL") == 1
    assert [t.number for t in study.trials] == list(range(6))
    # asking again for 5 runs nothing; asking for 7 runs 2 more
    assert search.optimize_until(study, proxy, 5) == 0
    assert search.optimize_until(study, proxy, 7) == 2


def test_pruning_stops_bad_trials(tmp_path: Path) -> None:
    """Median pruner: a trial reporting worse than all earlier ones at every step is pruned."""
    study = search.open_study(
        "p", search.storage_url(tmp_path / "p.db"), pruner=search.make_pruner("median")
    )

    def curve(trial: optuna.Trial) -> float:
        level = 1.0 if trial.number < 6 else 10.0
        for step in range(5):
            trial.report(level / (step + 1), step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return level / 5

    search.optimize_until(study, curve, 7)
    assert study.trials[-1].state == optuna.trial.TrialState.PRUNED
    assert sum(t.state.name == "COMPLETE" for t in study.trials) == 6


@pytest.mark.parametrize("sampler", ["tpe", "gp", "random"])
def test_samplers_are_seeded(tmp_path: Path, sampler: str) -> None:
    """The same seed gives the same sequence of configurations."""
    runs = []
    for k in range(2):
        study = search.run_study(
            _cfg(sampler=sampler),
            4,
            storage=tmp_path / f"{k}.db",
            study_name="s",
            objective=search.proxy_objective("cnn", steps=1),
        )
        runs.append([t.params for t in study.trials])
    assert runs[0] == runs[1]


def _worker(storage: str, study: str, trials: int, seed: int) -> subprocess.Popen[str]:
    cmd = [
        sys.executable,
        "-m",
        "mrs_lib",
        "search",
        "--model",
        "cnn",
        "--trials",
        str(trials),
        "--storage",
        storage,
        "--study",
        study,
        "--objective",
        "proxy",
        "--epochs",
        "3",
        "--proxy-step-s",
        "0.4",
        "--worker-seed",
        str(seed),
    ]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _run_two_workers(storage: str, study: str, n: int) -> optuna.Study:
    procs = [_worker(storage, study, n, seed) for seed in (1, 2)]
    for p in procs:
        _out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-2000:]
    return optuna.load_study(study_name=study, storage=storage)


def _assert_exactly(study: optuna.Study, n: int) -> None:
    trials = study.trials
    assert len(trials) == n
    assert sorted(t.number for t in trials) == list(range(n))
    assert len({t._trial_id for t in trials}) == n
    assert all(t.state.is_finished() and t.state.name != "FAIL" for t in trials)
    assert len({repr(sorted(t.params.items())) for t in trials}) == n  # no configuration twice
    assert len({t.user_attrs["worker"] for t in trials}) == 2  # both workers took part ...
    overlap = any(
        a.datetime_start < b.datetime_complete and b.datetime_start < a.datetime_complete
        for a in trials
        for b in trials
        if a.user_attrs["worker"] != b.user_attrs["worker"]
    )
    assert overlap  # ... at the same time


def test_two_concurrent_workers_share_one_sqlite_study(tmp_path: Path) -> None:
    """Two `mrs search` processes on one SQLite file produce exactly N distinct trials."""
    url = search.storage_url(tmp_path / "shared.db")
    _assert_exactly(_run_two_workers(url, "w", 8), 8)


def test_two_workers_share_a_postgresql_study(postgres_server: str) -> None:  # noqa: F811
    """The same with the study in a real PostgreSQL server on loopback."""
    _assert_exactly(_run_two_workers(postgres_server, "pgw", 8), 8)


def test_study_lock_is_taken_on_sqlite_and_postgresql(
    tmp_path: Path,
    postgres_server: str,  # noqa: F811
) -> None:
    """optuna wraps RDB storages in a cache without a ``url``: the lock must see through it."""
    from mrs_lib.search.storage import _study_lock

    for url in (search.storage_url(tmp_path / "lock.db"), postgres_server):
        study = search.open_study("lock", url)
        with _study_lock(study) as taken:
            assert taken, url


def test_bad_options_raise_search_error(tmp_path: Path) -> None:
    with pytest.raises(search.SearchError, match="sampler"):
        search.SearchConfig(sampler="cmaes")  # type: ignore[arg-type]
    with pytest.raises(search.SearchError, match="data"):
        search.run_study(_cfg(), 1, storage=tmp_path / "x.db")
    with pytest.raises(search.SearchError, match="empty split"):
        search.split_indices(3, "holdout", val_fraction=0.01, rng=np.random.default_rng(0))


def test_real_objective_trains_and_reports(tmp_path: Path) -> None:
    """The train-based objective runs train_model per trial and reports one value per epoch."""
    rng = np.random.default_rng(5)
    y = rng.random((24, 5)).astype(np.float32)
    y /= y.sum(axis=1, keepdims=True)
    x = rng.standard_normal((24, 2, 2048)).astype(np.float32)
    cfg = search.SearchConfig(
        family="yae",
        epochs=2,
        patience=2,
        val_fraction=0.25,
        train_overrides={"device": "cpu", "num_threads": 1},
    )
    study = search.run_study(cfg, 2, storage=tmp_path / "r.db", data=(x, y, x.copy()))
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE"]
    for t in study.trials:
        assert sorted(t.intermediate_values) == [1, 2]
        assert t.value == pytest.approx(min(t.intermediate_values.values()))
        assert set(t.user_attrs["val_mae_per_metabolite"]) == set(METABOLITES)


def test_export_and_load_shipped_study(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An exported study is one SQLite file with a sidecar; load_study verifies and reads it."""
    monkeypatch.setenv("MRS_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    study = search.run_study(
        _cfg(),
        6,
        storage=tmp_path / "w.db",
        study_name="cnn-cpu",
        objective=search.proxy_objective("cnn", steps=3),
    )
    record = search.export_study(study, tmp_path / "artifacts" / "search-test.db", seed=0)
    assert record["trials"]["COMPLETE"] + record["trials"]["PRUNED"] == 6
    assert not (tmp_path / "artifacts" / "search-test.db-wal").exists()
    loaded = search.load_study("search-test.db")
    assert [t.params for t in loaded.trials] == [t.params for t in study.trials]
    assert loaded.best_value == pytest.approx(study.best_value)
    table = search.compare_with_paper({"cnn": loaded})
    assert table.loc["cnn", "paper best val MAE"] == "0.0073-0.008"
    frame = search.trials_frame(loaded)
    assert len(frame) == 6 and "params_c1" in frame


def test_study_figures(tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    study = search.run_study(
        _cfg(family="yae"),
        12,
        storage=tmp_path / "f.db",
        objective=search.proxy_objective("yae", steps=3),
    )
    imp = search.param_importances(study)
    assert set(imp) <= set(study.best_params) and sum(imp.values()) == pytest.approx(1.0)
    search.plot_history(study)
    search.plot_importances(study)
    axes = search.plot_slices(study, k=3)
    assert len(axes) == 3
    plt.close("all")

"""Search workers: distinct sampler seeds by default, failed trials on SIGTERM/SIGINT, storages
checked, shipped studies read-only, no temporary folder left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
import pytest

from mrs_lib import artifacts, search
from mrs_lib._signals import Terminated
from mrs_lib.artifacts import ArtifactError

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _cfg(**kw: object) -> search.SearchConfig:
    base = {"family": "cnn", "space": "cpu", "epochs": 2, "seed": 0, "sampler": "random"}
    return search.SearchConfig(**{**base, **kw})  # type: ignore[arg-type]


def _params(study: optuna.Study) -> list[str]:
    return [repr(sorted(t.params.items())) for t in study.trials]


def test_negative_search_seed_is_refused() -> None:
    with pytest.raises(search.SearchError, match="seed"):
        _cfg(seed=-1)


def test_worker_seed_is_the_seed_first_then_distinct() -> None:
    assert search.worker_seed(7, 0) == 7
    seeds = [search.worker_seed(7, i) for i in range(200)]
    assert len(set(seeds)) == 200 and all(0 <= s < 2**32 for s in seeds)
    assert seeds == [search.worker_seed(7, i) for i in range(200)]  # a pure function
    assert search.worker_seed(8, 1) != search.worker_seed(7, 1)


def test_default_seeded_workers_never_replay_each_other(tmp_path: Path) -> None:
    """Two workers on one study without seeds draw 12 distinct configurations; the control
    (both given the same seed, as --worker-seed left at --seed used to do) replays them."""
    proxy = search.proxy_objective("cnn", steps=1)
    url = search.storage_url(tmp_path / "d.db")
    search.run_study(_cfg(), 6, storage=url, study_name="d", objective=proxy)
    study = search.run_study(_cfg(), 12, storage=url, study_name="d", objective=proxy)
    assert len(set(_params(study))) == 12
    attrs = [t.user_attrs for t in study.trials]
    assert [a["worker_index"] for a in attrs] == [0] * 6 + [1] * 6
    assert {a["sampler_seed"] for a in attrs} == {0, search.worker_seed(0, 1)}
    assert {a["sampler_seed_from"] for a in attrs} == {"derived"}
    assert study.user_attrs[search.WORKERS_ATTR] == 2
    # control: the same explicit seed for both workers replays the first six configurations
    same = search.storage_url(tmp_path / "s.db")
    search.run_study(_cfg(), 6, storage=same, study_name="s", objective=proxy, seed=0)
    replay = search.run_study(_cfg(), 12, storage=same, study_name="s", objective=proxy, seed=0)
    assert _params(replay)[:6] == _params(replay)[6:]
    assert {t.user_attrs["sampler_seed_from"] for t in replay.trials} == {"given"}


def test_an_explicit_worker_seed_reproduces_the_study(tmp_path: Path) -> None:
    proxy = search.proxy_objective("cnn", steps=1)
    runs = [
        search.run_study(_cfg(), 5, storage=tmp_path / f"{k}.db", objective=proxy, seed=1234)
        for k in range(2)
    ]
    assert _params(runs[0]) == _params(runs[1])
    assert {t.user_attrs["sampler_seed"] for t in runs[0].trials} == {1234}


def test_terminated_worker_fails_its_running_trial_in_process(tmp_path: Path) -> None:
    """SIGTERM during a trial raises Terminated; the trial is FAIL at once, not RUNNING."""
    url = search.storage_url(tmp_path / "t.db")
    proxy = search.proxy_objective("cnn", steps=1)

    def killed(trial: optuna.Trial) -> float:
        if trial.number == 1:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the signal interrupts this
        return proxy(trial)

    handler = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated):
        search.run_study(_cfg(), 4, storage=url, study_name="t", objective=killed)
    assert signal.getsignal(signal.SIGTERM) == handler  # the previous handler is back
    study = optuna.load_study(study_name="t", storage=url)
    assert [t.state.name for t in study.trials] == ["COMPLETE", "FAIL"]


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_mrs_search_worker_killed_marks_trial_failed(
    tmp_path: Path, signum: int, status: int
) -> None:
    url = search.storage_url(tmp_path / "k.db")
    cmd = [sys.executable, "-m", "mrs_lib", "search", "--model", "cnn", "--trials", "3",
           "--storage", url, "--study", "k", "--objective", "proxy", "--epochs", "50",
           "--proxy-step-s", "0.2"]  # fmt: skip
    env = {**os.environ, "MRS_ARTIFACTS_DIR": str(tmp_path / "artifacts")}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(0.3)
            try:
                study = optuna.load_study(study_name="k", storage=url)
            except KeyError:  # the worker has not created the study yet
                continue
            if any(t.state.name == "RUNNING" for t in study.trials):
                break
        else:
            pytest.fail("the worker never started a trial")
        proc.send_signal(signum)
        _out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == status, err
    assert err.strip().splitlines()[-1].startswith("mrs search: "), err
    study = optuna.load_study(study_name="k", storage=url)
    assert [t.state.name for t in study.trials] == ["FAIL"]


def test_bad_storages_are_refused_with_what_was_expected(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n")
    for storage, match in [
        (text, "expected an SQLite database"),
        (tmp_path, "got a directory"),
        (f"sqlite:///{tmp_path}", "got a directory"),
        ("redis://localhost:6379/0", "got scheme 'redis'"),
        ("", "expected an SQLite file path"),
    ]:
        with pytest.raises(search.SearchError, match=match):
            search.storage_url(storage)
    with pytest.raises(search.SearchError, match=r"postgresql://u:\*\*\*@"):  # no password shown
        search.make_storage("postgresql://u:secret@127.0.0.1:1/none")
    empty = tmp_path / "empty.db"
    empty.touch()  # an empty file is a new SQLite database
    assert search.storage_url(empty) == f"sqlite:///{empty.resolve()}"


def test_shipped_studies_are_read_only(tmp_path: Path) -> None:
    shipped = artifacts.SHIPPED_DIR / "search-cnn.db"
    if not shipped.is_file():
        pytest.skip("no shipped study in this checkout")
    before = artifacts.sha256_of(shipped)
    proxy = search.proxy_objective("cnn", steps=1)
    for storage in (shipped, f"sqlite:///{shipped}", artifacts.SHIPPED_DIR / "new.db"):
        with pytest.raises(ArtifactError, match="read-only"):
            search.run_study(_cfg(), 1, storage=storage, objective=proxy)
    study = search.run_study(_cfg(), 1, storage=tmp_path / "w.db", objective=proxy)
    with pytest.raises(ArtifactError, match="copy the file elsewhere"):
        search.export_study(study, shipped)
    assert artifacts.sha256_of(shipped) == before
    with pytest.raises(search.SearchError, match="other than the study's own storage"):
        search.export_study(study, tmp_path / "w.db")
    assert len(search.run_study(_cfg(), 1, storage=tmp_path / "w.db", objective=proxy).trials) == 1
    assert not (artifacts.SHIPPED_DIR / "new.db").exists()


def test_load_study_leaves_no_temporary_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MRS_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    study = search.run_study(
        _cfg(), 4, storage=tmp_path / "w.db", objective=search.proxy_objective("cnn", steps=2)
    )
    search.export_study(study, tmp_path / "artifacts" / "search-t.db", seed=0)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    loaded = search.load_study("search-t.db")
    assert list(scratch.iterdir()) == []
    assert _params(loaded) == _params(study) and len(loaded.trials) == 4
    assert loaded.best_value == pytest.approx(study.best_value)
    with pytest.raises(search.SearchError, match="expected one of"):
        search.load_study("search-t.db", study_name="nope")
    assert list(scratch.iterdir()) == []


@pytest.mark.slow
def test_two_concurrent_default_workers_draw_distinct_configurations(tmp_path: Path) -> None:
    """The reported case: two `mrs search` workers without --worker-seed on one study, 12 TPE
    trials (10 of them its seeded random startup): no configuration twice, two worker indices."""
    url = search.storage_url(tmp_path / "c.db")
    cmd = [sys.executable, "-m", "mrs_lib", "search", "--model", "cnn", "--trials", "12",
           "--storage", url, "--study", "c", "--objective", "proxy", "--epochs", "3",
           "--proxy-step-s", "0.3"]  # fmt: skip
    env = {**os.environ, "MRS_ARTIFACTS_DIR": str(tmp_path / "artifacts")}
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for _ in range(2)
    ]
    for p in procs:
        _out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err[-2000:]
    study = optuna.load_study(study_name="c", storage=url)
    assert len(study.trials) == 12 and len(set(_params(study))) == 12
    assert {t.user_attrs["worker_index"] for t in study.trials} == {0, 1}
    assert len({t.user_attrs["sampler_seed"] for t in study.trials}) == 2

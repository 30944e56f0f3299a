"""Byte-reproducible outputs: the same seed and inputs give the same bytes, whatever the clock.

Oracle: two runs, the second with the zip module's clock moved by a day (the
timestamp a zip member would otherwise carry), write identical files, so the
sha256 recorded in the provenance sidecar is reproducible; another seed gives
other bytes (the comparison is not vacuous).
"""

from __future__ import annotations

import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_helpers import tiny_basis

from mrs_lib import artifacts
from mrs_lib._zip import FIXED_DATE_TIME, savez
from mrs_lib.cli import main
from mrs_lib.quantify import save_spectra_npz
from mrs_lib.synth.store import write_store


class _Clock:
    """Stands in for the ``time`` module inside :mod:`zipfile`: a day later than now."""

    @staticmethod
    def time() -> float:
        return time.time() + 86_400.0

    @staticmethod
    def localtime(secs: float | None = None) -> time.struct_time:
        return time.localtime(secs)


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MRS_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    monkeypatch.setenv("MRS_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def test_the_fake_clock_would_change_a_plain_zip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control: a member written the usual way (writestr with a name) carries the clock."""
    paths = [tmp_path / "a.zip", tmp_path / "b.zip"]
    with zipfile.ZipFile(paths[0], "w") as zf:
        zf.writestr("meta.json", "{}")
    monkeypatch.setattr(zipfile, "time", _Clock)
    with zipfile.ZipFile(paths[1], "w") as zf:
        zf.writestr("meta.json", "{}")
    assert paths[0].read_bytes() != paths[1].read_bytes()


def test_mrs_synth_twice_gives_the_same_bytes_and_sha256(
    isolated: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    basis = tiny_basis().save_npz(isolated / "basis.npz")
    common = ["synth", "--basis", str(basis), "--n", "40", "--quiet", "--workers", "2"]
    outs = [isolated / "one.npz", isolated / "two.npz", isolated / "other.npz"]
    assert main([*common, "--seed", "5", "--out", str(outs[0])]) == 0
    monkeypatch.setattr(zipfile, "time", _Clock)
    assert main([*common, "--seed", "5", "--out", str(outs[1])]) == 0
    assert main([*common, "--seed", "6", "--out", str(outs[2])]) == 0
    capsys.readouterr()
    assert outs[0].read_bytes() == outs[1].read_bytes()
    assert outs[0].read_bytes() != outs[2].read_bytes()
    sha = [artifacts.read_sidecar(p)["sha256"] for p in outs]
    assert sha[0] == sha[1] == artifacts.sha256_of(outs[1]) != sha[2]
    with zipfile.ZipFile(outs[0]) as zf:
        names = zf.namelist()
        assert {i.date_time for i in zf.infolist()} == {FIXED_DATE_TIME}
    assert names[0] == "meta.json" and names[1:] == sorted(names[1:])


def test_store_basis_and_spectra_writers_ignore_the_clock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(3)
    arrays = {"x": rng.standard_normal((4, 2, 8)).astype(np.float16), "targets": rng.random((4, 5))}
    basis = tiny_basis()
    spectra = basis.mix(np.array([8.0, 1.0, 3.0, 9.0, 11.0]))

    def write_all(tag: str) -> list[bytes]:
        write_store(tmp_path / f"store-{tag}.npz", {"seed": 1}, arrays)
        basis.save_npz(tmp_path / f"basis-{tag}.npz")
        save_spectra_npz(tmp_path / f"spectra-{tag}.npz", spectra)
        with open(tmp_path / f"plain-{tag}.npz", "wb") as fh:
            savez(fh, arrays)
        names = ("store", "basis", "spectra", "plain")
        return [(tmp_path / f"{n}-{tag}.npz").read_bytes() for n in names]

    first = write_all("a")
    monkeypatch.setattr(zipfile, "time", _Clock)
    assert write_all("b") == first
    with np.load(tmp_path / "plain-b.npz") as z:  # still an ordinary .npz
        np.testing.assert_array_equal(z["x"], arrays["x"])


def test_checkpoints_are_byte_identical(tmp_path: Path) -> None:
    """torch.save writes fixed timestamps; a saved model is the same bytes twice."""
    from mrs_lib.models import build_model
    from mrs_lib.train import save_model

    torch.manual_seed(0)
    model = build_model("cnn", "tiny")
    for name in ("a", "b"):
        save_model(model, tmp_path / name / "m.pt", seed=0)
    assert (tmp_path / "a" / "m.pt").read_bytes() == (tmp_path / "b" / "m.pt").read_bytes()

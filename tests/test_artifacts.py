"""Artifacts: provenance sidecars, name resolution and the sha256 check."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mrs_lib import artifacts
from mrs_lib.artifacts import ArtifactError


@pytest.fixture
def user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "artifacts"
    d.mkdir()
    monkeypatch.setenv("MRS_ARTIFACTS_DIR", str(d))
    monkeypatch.setenv("MRS_CACHE_DIR", str(tmp_path / "cache"))
    return d


def test_save_then_load_round_trip(user_dir: Path) -> None:
    f = user_dir / "weights.bin"
    f.write_bytes(b"\x00\x01" * 1000)
    record = artifacts.save(f, config={"model": "yae", "epochs": 3}, seed=7)
    assert record["sha256"] == artifacts.sha256_of(f)
    path, loaded = artifacts.load("weights.bin")
    assert path == f
    assert loaded["config"] == {"model": "yae", "epochs": 3}
    assert loaded["seed"] == 7
    assert {"git_sha", "created_utc", "mrs_lib_version", "torch", "numpy"} <= set(loaded)
    assert "weights.bin" in artifacts.available()


def test_tampered_file_is_refused(user_dir: Path) -> None:
    f = user_dir / "weights.bin"
    f.write_bytes(b"abc")
    artifacts.save(f)
    f.write_bytes(b"abd")
    with pytest.raises(ArtifactError, match=r"weights\.bin.*sha256 .* does not match"):
        artifacts.load("weights.bin")


def test_missing_sidecar_and_missing_file(user_dir: Path) -> None:
    (user_dir / "orphan.bin").write_bytes(b"x")
    with pytest.raises(ArtifactError, match="no provenance sidecar"):
        artifacts.load("orphan.bin")
    with pytest.raises(ArtifactError, match=r"'nothing\.pt' not found"):
        artifacts.load("nothing.pt")
    with pytest.raises(ArtifactError, match="bare file name"):
        artifacts.locate("../etc/passwd")


def test_corrupt_sidecar(user_dir: Path) -> None:
    f = user_dir / "w.bin"
    f.write_bytes(b"x")
    artifacts.sidecar_path(f).write_text(json.dumps({"no": "hash"}))
    with pytest.raises(ArtifactError, match="field 'sha256'"):
        artifacts.verify(f)


def test_seed_everything_is_reproducible() -> None:
    import torch

    a = artifacts.seed_everything(3)
    x1, t1 = a.normal(size=3), torch.rand(3)
    b = artifacts.seed_everything(3)
    x2, t2 = b.normal(size=3), torch.rand(3)
    np.testing.assert_array_equal(x1, x2)
    assert torch.equal(t1, t2)


def test_shipped_artifacts_are_read_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every spelling of a path in mrs_lib/assets is refused for writing; other paths pass."""
    shipped = artifacts.SHIPPED_DIR
    link = tmp_path / "link"
    link.symlink_to(shipped, target_is_directory=True)
    for p in (shipped, shipped / "yae-paper.pt", shipped / "new" / "x.db", link / "x.pt",
              shipped.parent / "commands" / ".." / "assets" / "x.npz"):  # fmt: skip
        assert artifacts.is_shipped(p), p
        with pytest.raises(ArtifactError, match="read-only") as err:
            artifacts.ensure_writable(p, "--out")
        assert str(err.value).startswith(f"--out '{p}'") and "copy" in str(err.value)
    for p in (tmp_path / "x.pt", shipped.parent / "assets-copy" / "x.pt", Path("relative.db")):
        assert not artifacts.is_shipped(p) and artifacts.ensure_writable(p) == p
    with pytest.raises(ArtifactError, match="read-only"):  # the sidecar writer refuses too
        artifacts.save(shipped / "yae-paper.pt")
    monkeypatch.setenv("MRS_ARTIFACTS_DIR", str(shipped))
    with pytest.raises(ArtifactError, match=r"\$MRS_ARTIFACTS_DIR"):
        artifacts.user_dir()

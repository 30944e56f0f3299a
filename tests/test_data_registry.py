"""The data registry: MRS_DATA_DIR first, then the cache, then a sha256-verified download."""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from mrs_lib import data
from mrs_lib.errors import DataRegistryError

PAYLOAD = b"PPM Data\n3.0 1.0\n"
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


@pytest.fixture
def fake_entry(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> data.DataFile:
    """A registry entry of our own, with caches in tmp_path (no real download folder touched)."""
    entry = data.DataFile(
        name="test/payload.txt",
        relpath="test/payload.txt",
        sha256=PAYLOAD_SHA,
        url=None,
        licence="CC0",
        description="test payload",
    )
    monkeypatch.setitem(data.REGISTRY, entry.name, entry)
    monkeypatch.setenv("MRS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("MRS_DATA_DIR", raising=False)
    return entry


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A loopback HTTP server over a temporary folder (the 'public origin')."""
    root = tmp_path / "origin"
    root.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_unknown_name_lists_the_registered_ones() -> None:
    with pytest.raises(DataRegistryError, match=r"unknown data file 'nope'.*isbi-fida-megapress"):
        data.fetch("nope")


def test_every_entry_is_complete() -> None:
    for entry in data.REGISTRY.values():
        assert len(entry.sha256) == 64 and int(entry.sha256, 16) >= 0
        assert entry.url is None or entry.url.startswith("https://")
        assert entry.licence and entry.description


def test_data_dir_first(
    fake_entry: data.DataFile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "shared"
    (root / "test").mkdir(parents=True)
    (root / "test" / "payload.txt").write_bytes(PAYLOAD)
    monkeypatch.setenv("MRS_DATA_DIR", str(root))
    assert data.fetch(fake_entry.name) == root / "test" / "payload.txt"


def test_corrupt_file_is_refused(
    fake_entry: data.DataFile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "shared"
    (root / "test").mkdir(parents=True)
    (root / "test" / "payload.txt").write_bytes(PAYLOAD + b"tampered")
    monkeypatch.setenv("MRS_DATA_DIR", str(root))
    with pytest.raises(DataRegistryError, match="does not match the registered"):
        data.fetch(fake_entry.name)


def test_missing_without_origin_says_where_to_look(fake_entry: data.DataFile) -> None:
    with pytest.raises(DataRegistryError, match="MRS_DATA_DIR"):
        data.fetch(fake_entry.name)


def test_download_verified_then_cached(
    fake_entry: data.DataFile, http_root: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, base = http_root
    (root / "payload.txt").write_bytes(PAYLOAD)
    entry = dataclasses.replace(fake_entry, url=f"{base}/payload.txt")
    monkeypatch.setitem(data.REGISTRY, entry.name, entry)
    with pytest.raises(DataRegistryError, match="downloading is disabled"):
        data.fetch(entry.name, download=False)
    path = data.fetch(entry.name)
    assert path.read_bytes() == PAYLOAD
    assert path.is_relative_to(data.cache_dir())
    (root / "payload.txt").unlink()  # the origin disappears: the cache answers
    assert data.fetch(entry.name, download=False) == path


def test_download_with_wrong_hash_fails(
    fake_entry: data.DataFile, http_root: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, base = http_root
    (root / "payload.txt").write_bytes(b"something else")
    entry = dataclasses.replace(fake_entry, url=f"{base}/payload.txt")
    monkeypatch.setitem(data.REGISTRY, entry.name, entry)
    with pytest.raises(DataRegistryError, match="could not download") as err:
        data.fetch(entry.name)
    assert "MRS_DATA_DIR" in str(err.value)
    assert not (data.cache_dir() / entry.relpath).exists()


def test_unreachable_origin_names_mrs_data_dir(
    fake_entry: data.DataFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Offline, outside `make` (MRS_DATA_DIR unset): the error says what to set, not only
    that a download failed."""
    entry = dataclasses.replace(fake_entry, url="http://127.0.0.1:9/payload.txt")  # discard port
    monkeypatch.setitem(data.REGISTRY, entry.name, entry)
    with pytest.raises(DataRegistryError) as err:
        data.fetch(entry.name)
    message = str(err.value)
    assert "could not download" in message and "127.0.0.1:9" in message
    assert "Set the environment variable MRS_DATA_DIR" in message and "it is not set" in message


def test_shared_data_matches_registry() -> None:
    """Every file of ../shared/data (when present) has the registered sha256."""
    if data.data_dir() is None:
        pytest.skip("MRS_DATA_DIR is not set")
    status = data.verify_all()
    assert all(s.startswith("ok") for s in status.values()), status

"""Shared test fixtures.

External reference files come from the data registry without network access:
a test that needs one gets it through ``data_file`` and is skipped, with the
reason, when ``$MRS_DATA_DIR`` (``make test`` and ``.ci/run`` set it to
``../shared/data``) does not hold it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from mrs_lib import data
from mrs_lib.errors import DataRegistryError


@pytest.fixture
def data_file() -> Callable[[str], Path]:
    """Return a function ``name -> Path`` that skips the test when the file is absent."""

    def get(name: str) -> Path:
        try:
            return data.fetch(name, download=False)
        except DataRegistryError as exc:
            pytest.skip(f"external reference file unavailable: {exc}")

    return get


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator: every random test is reproducible."""
    return np.random.default_rng(20260224)


@pytest.fixture
def isolated_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Empty ``$MRS_CACHE_DIR`` and ``$MRS_ARTIFACTS_DIR`` (under one temporary folder).

    For tests that run ``mrs`` commands: they then neither read nor write the user's own
    cache (simulated line lists, downloaded files, artifacts, the LCModel build); names of
    shipped artifacts still resolve to ``mrs_lib/assets``.
    """
    root = tmp_path_factory.mktemp("isolated")
    monkeypatch.setenv("MRS_CACHE_DIR", str(root / "cache"))
    monkeypatch.setenv("MRS_ARTIFACTS_DIR", str(root / "artifacts"))
    return root

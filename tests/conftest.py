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

"""Project hygiene: the conda file lists exactly the pinned pip dependencies."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pyproject_deps() -> list[str]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = meta["optional-dependencies"]
    return [*meta["dependencies"], *extras["book"], *extras["dev"]]


def test_environment_yml_matches_pyproject() -> None:
    text = (ROOT / "environment.yml").read_text()
    listed = re.findall(r"^\s+- ([A-Za-z0-9_.\-]+(?:==|>=|<=)[^\s#]+)\s*$", text, flags=re.M)
    assert sorted(listed) == sorted(_pyproject_deps())
    assert re.search(r"^\s+- -e \.\s*$", text, flags=re.M), (
        "environment.yml must install the package"
    )


def test_direct_dependencies_are_pinned() -> None:
    unpinned = [d for d in _pyproject_deps() if "==" not in d]
    assert not unpinned, f"pin these in pyproject.toml: {unpinned}"
    assert "torch==2.13.0" in _pyproject_deps()

"""Project hygiene: the conda file lists exactly the pinned pip dependencies."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

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


def test_intro_opens_as_a_notebook() -> None:
    """book/intro.md is a MyST text notebook that jupytext (pinned) reads as a notebook with
    every ``{code-cell}`` a code cell, so JupyterLab opens it as one (`make lab` makes that
    the default viewer for Markdown)."""
    jupytext = pytest.importorskip("jupytext")
    assert any(d.startswith("jupytext==") for d in _pyproject_deps())
    path = ROOT / "book" / "intro.md"
    nb = jupytext.read(path)
    n_code = len(re.findall(r"^```\{code-cell\}", path.read_text(encoding="utf-8"), flags=re.M))
    assert n_code >= 1
    assert sum(cell.cell_type == "code" for cell in nb.cells) == n_code
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert nb.metadata["jupytext"]["text_representation"]["format_name"] == "myst"
    assert "set-default-viewer" in (ROOT / "Makefile").read_text(encoding="utf-8")

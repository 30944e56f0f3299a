"""Notebook hygiene: chapters are committed without outputs, and the TOC lists exactly them.

Oracles: the nbformat 4 schema (``outputs`` and ``execution_count`` of code
cells) and the sphinx-external-toc ``jb-book`` format of ``_toc.yml`` (``root``,
``chapters``/``parts`` with ``file`` entries, paths without suffix).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
NOTEBOOKS = sorted(BOOK.glob("*.ipynb"))
SOURCE_SUFFIXES = (".ipynb", ".md", ".rst")


def _dirty_cells(nb: dict[str, Any]) -> list[str]:
    problems = []
    for i, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        if cell.get("outputs"):
            problems.append(f"cell {i}: {len(cell['outputs'])} output(s)")
        if cell.get("execution_count") is not None:
            problems.append(f"cell {i}: execution_count {cell['execution_count']}")
    widgets = nb.get("metadata", {}).get("widgets")
    if widgets:
        problems.append("notebook metadata: saved widget state")
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_committed_without_outputs(path: Path) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    problems = _dirty_cells(nb)
    assert not problems, (
        f"{path.relative_to(ROOT)} must be committed without outputs "
        f"(clear them, e.g. `jupyter nbconvert --clear-output --inplace`): {problems}"
    )
    assert nb.get("metadata", {}).get("kernelspec", {}).get("name") == "python3"


def test_dirty_cell_detector_flags_outputs_and_counts() -> None:
    """The check above can fail: a cell with an output and a count is reported."""
    clean = {"cells": [{"cell_type": "code", "outputs": [], "execution_count": None}]}
    dirty = {
        "cells": [
            {"cell_type": "markdown", "source": "x"},
            {"cell_type": "code", "outputs": [{"output_type": "stream"}], "execution_count": 3},
        ],
        "metadata": {"widgets": {"application/vnd.jupyter.widget-state+json": {}}},
    }
    assert _dirty_cells(clean) == []
    assert _dirty_cells(dirty) == [
        "cell 1: 1 output(s)",
        "cell 1: execution_count 3",
        "notebook metadata: saved widget state",
    ]


def _toc_files(node: Any) -> Iterator[str]:
    """Every ``file``/``root`` entry of a jb-book TOC, recursively."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in {"file", "root"} and isinstance(value, str):
                yield value
            else:
                yield from _toc_files(value)
    elif isinstance(node, list):
        for item in node:
            yield from _toc_files(item)


def _toc() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))


def test_toc_entries_exist() -> None:
    toc = _toc()
    assert toc["format"] == "jb-book"
    assert toc["root"] == "book/intro"
    missing = [
        entry
        for entry in _toc_files(toc)
        if not any((ROOT / f"{entry}{suffix}").is_file() for suffix in SOURCE_SUFFIXES)
    ]
    assert not missing, f"_toc.yml lists files that do not exist: {missing}"


def test_every_chapter_is_in_toc() -> None:
    listed = {str(Path(entry).with_suffix("")) for entry in _toc_files(_toc())}
    chapters = [*NOTEBOOKS, *BOOK.glob("*.md")]
    forgotten = sorted(
        str(p.relative_to(ROOT).with_suffix(""))
        for p in chapters
        if str(p.relative_to(ROOT).with_suffix("")) not in listed
    )
    assert not forgotten, f"add these chapters to _toc.yml (only TOC files are built): {forgotten}"


def test_toc_lists_chapters_in_order() -> None:
    """Numbered chapters (01_, 02_, ...) follow the intro in numeric order, before the back
    matter (appendices, API reference, bibliography)."""
    entries = [e for e in _toc_files(_toc()) if e != "book/intro"]
    numbered = [e for e in entries if Path(e).name[:2].isdigit()]
    assert numbered == sorted(numbered)
    assert entries[: len(numbered)] == numbered, "back matter listed before a chapter"

"""Every exercise solution of chapters 4 to 7 runs, as a reader would run it, at tiny scale.

Solutions are collapsed MyST dropdowns (``:::{admonition} Solution ...`` with ``:class:
dropdown``) holding self-contained Python scripts: they are shown, not executed, by the book
build, so this test executes each one in a fresh namespace with ``MRS_SCALE=tiny``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib
import pytest

from mrs_lib import data
from mrs_lib.errors import DataRegistryError

BOOK = Path(__file__).resolve().parents[1] / "book"
CHAPTERS = (
    "04_training.ipynb",
    "05_phantom_validation.ipynb",
    "06_lcmodel_comparison.ipynb",
    "07_closing_the_gap.ipynb",
)
SOLUTION = re.compile(
    r"^:::\{admonition\} Solution[^\n]*\n:class: dropdown\n(.*?)^:::$", re.S | re.M
)
PYTHON = re.compile(r"^```python\n(.*?)^```$", re.S | re.M)


def solutions(chapter: str) -> list[tuple[str, str]]:
    """``(title, code)`` of every Python block inside a solution dropdown of ``chapter``."""
    cells = json.loads((BOOK / chapter).read_text())["cells"]
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    found = []
    for match in SOLUTION.finditer(text):
        title = match.group(0).splitlines()[0].removeprefix(":::{admonition} ")
        found += [(title, code) for code in PYTHON.findall(match.group(1))]
    return found


CASES = [(chapter, title, code) for chapter in CHAPTERS for title, code in solutions(chapter)]


def test_chapters_have_solutions() -> None:
    for chapter in CHAPTERS:
        assert len(solutions(chapter)) >= 2, f"{chapter}: expected 2-3 exercises with solutions"


@pytest.mark.parametrize(
    ("chapter", "title", "code"), CASES, ids=[f"{c[:2]}-{t}" for c, t, _ in CASES]
)
def test_solution_runs_at_tiny_scale(
    chapter: str, title: str, code: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if "load_design()" in code:
        try:
            data.fetch("swansea_phantom_design_mM.csv", download=False)
        except DataRegistryError as exc:
            pytest.skip(f"external reference file unavailable: {exc}")
    monkeypatch.setenv("MRS_SCALE", "tiny")
    matplotlib.use("Agg")
    exec(compile(code, f"{chapter}: {title}", "exec"), {"__name__": "__main__"})

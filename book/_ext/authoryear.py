"""Sphinx extension: an author-year bibliography for sphinxcontrib-bibtex.

``bibtex_reference_style: author_year`` makes the citations in the text read
"Ma et al. (2026)", but the list that ``{bibliography}`` renders still labels its
entries with pybtex's default ``alpha`` labels, built from the initials of up to
four last names ("[MSKL26]"). This extension registers a pybtex formatting style
``authoryear``: pybtex's ``unsrt`` formatting, entries sorted by author, year and
title, and labels that repeat what the text shows, "Ma et al., 2026" (one author:
"Provencher, 1993"; two: "Lawson & Hanson, 1974"), with a, b, ... appended when two
entries would otherwise share a label. ``_config.yml`` selects it with
``bibtex_default_style: authoryear``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from pybtex.database import Entry, Person
from pybtex.plugin import register_plugin
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle
from pybtex.style.sorting.author_year_title import SortingStyle as AuthorYearTitleSorting

STYLE_NAME = "authoryear"


def _last_name(person: Person) -> str:
    """``von`` part and last name, TeX braces and escapes removed ("de Graaf", "Tkáč")."""
    name = " ".join(person.prelast_names + person.last_names)
    return re.sub(r"[{}\\]", "", name).strip()


def author_year_label(entry: Entry) -> str:
    """The label of one entry: "Provencher, 1993", "Lawson & Hanson, 1974", "Ma et al., 2026"."""
    persons = entry.persons.get("author") or entry.persons.get("editor") or []
    year = entry.fields.get("year", "n.d.")
    if not persons:
        return f"{entry.fields.get('title', entry.key)}, {year}"
    if len(persons) == 1:
        names = _last_name(persons[0])
    elif len(persons) == 2:
        names = f"{_last_name(persons[0])} & {_last_name(persons[1])}"
    else:
        names = f"{_last_name(persons[0])} et al."
    return f"{names}, {year}"


class AuthorYearLabelStyle(BaseLabelStyle):
    """Author-year labels, made unique with a, b, ... after the year."""

    def format_labels(self, sorted_entries: Iterable[Entry]) -> Iterator[str]:
        entries = list(sorted_entries)
        labels = [author_year_label(e) for e in entries]
        counts = Counter(labels)
        seen: Counter[str] = Counter()
        for label in labels:
            if counts[label] > 1:
                yield label + "abcdefghijklmnopqrstuvwxyz"[seen[label]]
                seen[label] += 1
            else:
                yield label


class AuthorYearStyle(UnsrtStyle):
    """pybtex's ``unsrt`` entry formatting with author-year labels and sorting."""

    default_label_style = AuthorYearLabelStyle
    default_sorting_style = AuthorYearTitleSorting


def setup(app: Any) -> dict[str, Any]:
    register_plugin("pybtex.style.formatting", STYLE_NAME, AuthorYearStyle)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}

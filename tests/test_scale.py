"""The MRS_SCALE switch: one variable, three values, clear errors otherwise."""

from __future__ import annotations

import pytest

from mrs_lib import scale
from mrs_lib.errors import MRSError


def test_default_is_book(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MRS_SCALE", raising=False)
    assert scale.get_scale() == "book"


@pytest.mark.parametrize("value", ["tiny", "book", "paper", " Paper "])
def test_pick_follows_environment(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("MRS_SCALE", value)
    expected = {"tiny": 1, "book": 2, "paper": 3}[value.strip().lower()]
    assert scale.pick(tiny=1, book=2, paper=3) == expected


def test_explicit_argument_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MRS_SCALE", "paper")
    assert scale.pick(tiny="a", book="b", paper="c", scale="tiny") == "a"


def test_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MRS_SCALE", "huge")
    with pytest.raises(MRSError, match=r"MRS_SCALE='huge'.*tiny, book, paper"):
        scale.get_scale()

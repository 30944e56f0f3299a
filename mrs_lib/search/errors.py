"""The error of the architecture search and the check of its named options."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import MRSError


class SearchError(MRSError):
    """A search cannot start: unknown family/space/sampler, bad storage URL, empty data."""


def check_choice(value: str, allowed: Sequence[str], what: str) -> None:
    """Raise :class:`SearchError` unless ``value`` is one of ``allowed`` (``what`` names it)."""
    if value not in allowed:
        raise SearchError(f"{what} {value!r}: expected one of {', '.join(allowed)}")


__all__ = ["SearchError", "check_choice"]

"""Subcommands of ``mrs``, one module per pipeline stage.

Each module registers its subcommands with :func:`command` (from
``mrs_lib.commands._registry``); the modules are thin: they parse arguments
and call the library functions that the book's chapters call too.
:func:`load_all` imports them, so that :mod:`mrs_lib.cli` sees every one.
"""

from __future__ import annotations

import importlib
import pkgutil

from ._registry import COMMANDS, Configure, Runner, command


def load_all() -> None:
    """Import every stage module of this package so that its subcommands register."""
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")


__all__ = ["COMMANDS", "Configure", "Runner", "command", "load_all"]

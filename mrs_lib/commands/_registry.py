"""The registry of ``mrs`` subcommands: :func:`command` and the list it fills.

A stage module of :mod:`mrs_lib.commands` registers each subcommand with
``@command(name, help)`` on a function that configures its parser and returns
the function that runs it. :mod:`mrs_lib.cli` builds the parser from
:data:`COMMANDS`; the registry sits below both, so neither imports the other
in a circle.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

Runner = Callable[[argparse.Namespace], int]
"""Runs a parsed subcommand; returns the exit code."""
Configure = Callable[[argparse.ArgumentParser], Runner]
"""Adds a subcommand's arguments to its parser; returns its :data:`Runner`."""

COMMANDS: list[tuple[str, str, Configure]] = []
"""``(name, help, configure)`` of every registered subcommand, in registration order."""


def command(name: str, help: str) -> Callable[[Configure], Configure]:
    """Register ``configure(parser) -> runner`` as the subcommand ``mrs NAME``."""

    def register(configure: Configure) -> Configure:
        if any(existing == name for existing, _h, _c in COMMANDS):
            raise RuntimeError(f"mrs subcommand {name!r} registered twice")
        COMMANDS.append((name, help, configure))
        return configure

    return register


__all__ = ["COMMANDS", "Configure", "Runner", "command"]

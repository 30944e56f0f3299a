"""The ``mrs`` command: thin wrappers over library functions, one subcommand per stage.

Every subcommand calls the same functions the book's chapters call; no logic
lives only here. A stage registers itself with ``@command(name, help)`` on a
function that configures its parser and returns the function that runs it; the
stage modules live in :mod:`mrs_lib.commands` (one file per pipeline stage) and
are discovered when the parser is built.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__
from .commands import COMMANDS, Configure, load_all
from .errors import MRSError

# Subcommands are listed in the order of the book's pipeline; others follow alphabetically.
PIPELINE_ORDER = (
    "data",
    "info",
    "convert",
    "simulate",
    "synth",
    "search",
    "train",
    "evaluate",
    "validate",
    "fit",
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``mrs`` with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="mrs",
        description=(
            "Deep-learning GABA quantification in MEGA-PRESS spectra: every stage of the book."
        ),
    )
    parser.add_argument("--version", action="version", version=f"mrs_lib {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    load_all()

    def order(entry: tuple[str, str, Configure]) -> tuple[int, str]:
        name = entry[0]
        return (PIPELINE_ORDER.index(name) if name in PIPELINE_ORDER else len(PIPELINE_ORDER), name)

    for name, help_text, configure in sorted(COMMANDS, key=order):
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_run=configure(p))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``mrs``; library errors become one clear line and exit code 2."""
    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args))
    except MRSError as exc:
        print(f"mrs {args.command}: error: {exc}", file=sys.stderr)
        return 2


__all__ = ["PIPELINE_ORDER", "build_parser", "main"]

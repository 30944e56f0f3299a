"""The ``mrs`` command: thin wrappers over library functions, one subcommand per stage.

Every subcommand calls the same functions the book's chapters call; no logic
lives only here. A stage registers itself with ``@command(name, help)`` on a
function that configures its parser and returns the function that runs it; the
stage modules live in :mod:`mrs_lib.commands` (one file per pipeline stage) and
are discovered when the parser is built.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Callable, Sequence

from . import __version__
from .errors import MRSError

Runner = Callable[[argparse.Namespace], int]
Configure = Callable[[argparse.ArgumentParser], Runner]

_COMMANDS: list[tuple[str, str, Configure]] = []


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


def command(name: str, help: str) -> Callable[[Configure], Configure]:
    """Register ``configure(parser) -> runner`` as the subcommand ``mrs NAME``."""

    def register(configure: Configure) -> Configure:
        if any(existing == name for existing, _h, _c in _COMMANDS):
            raise RuntimeError(f"mrs subcommand {name!r} registered twice")
        _COMMANDS.append((name, help, configure))
        return configure

    return register


def _load_stage_modules() -> None:
    """Import every module of :mod:`mrs_lib.commands` so that its subcommands register."""
    from . import commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        importlib.import_module(f"{commands.__name__}.{info.name}")


# ---------------------------------------------------------------------------- data
@command("data", "list, locate and verify the external reference files")
def _data(p: argparse.ArgumentParser) -> Runner:
    p.add_argument("action", choices=["list", "path", "verify"], help="what to do")
    p.add_argument("names", nargs="*", help="registry names (for 'path')")

    def run(args: argparse.Namespace) -> int:
        from . import data

        if args.action == "list":
            for name in data.names():
                e = data.REGISTRY[name]
                print(
                    f"{name}\n    {e.description}\n    origin: {e.url or 'facts table (MRS_DATA_DIR only)'}"
                )
            return 0
        if args.action == "path":
            for name in args.names or data.names():
                print(data.fetch(name))
            return 0
        bad = 0
        for name, status in data.verify_all().items():
            bad += not status.startswith("ok")
            print(f"{name}: {status}")
        return 1 if bad else 0

    return run


# ---------------------------------------------------------------------------- main
def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``mrs`` with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="mrs",
        description="Deep-learning GABA quantification in MEGA-PRESS spectra: every stage of the book.",
    )
    parser.add_argument("--version", action="version", version=f"mrs_lib {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _load_stage_modules()

    def order(entry: tuple[str, str, Configure]) -> tuple[int, str]:
        name = entry[0]
        return (PIPELINE_ORDER.index(name) if name in PIPELINE_ORDER else len(PIPELINE_ORDER), name)

    for name, help_text, configure in sorted(_COMMANDS, key=order):
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


__all__ = ["PIPELINE_ORDER", "build_parser", "command", "main"]

"""The ``mrs`` command: thin wrappers over library functions, one subcommand per stage.

Every subcommand calls the same functions the book's chapters call; no logic
lives only here. Add a stage with ``@_command(name, help)`` on a function that
configures its parser and returns the function that runs it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from . import __version__
from .errors import MRSError

Runner = Callable[[argparse.Namespace], int]
Configure = Callable[[argparse.ArgumentParser], Runner]

_COMMANDS: list[tuple[str, str, Configure]] = []


def _command(name: str, help: str) -> Callable[[Configure], Configure]:
    def register(configure: Configure) -> Configure:
        _COMMANDS.append((name, help, configure))
        return configure

    return register


# ---------------------------------------------------------------------------- data
@_command("data", "list, locate and verify the external reference files")
def _data(p: argparse.ArgumentParser) -> Runner:
    p.add_argument("action", choices=["list", "path", "verify"], help="what to do")
    p.add_argument("names", nargs="*", help="registry names (for 'path')")

    def run(args: argparse.Namespace) -> int:
        from . import data

        if args.action == "list":
            for name in data.names():
                e = data.REGISTRY[name]
                print(f"{name}\n    {e.description}\n    origin: {e.url or 'facts table (MRS_DATA_DIR only)'}")
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
    for name, help_text, configure in _COMMANDS:
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


__all__ = ["build_parser", "main"]

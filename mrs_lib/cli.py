"""The ``mrs`` command: thin wrappers over library functions, one subcommand per stage.

Every subcommand calls the same functions the book's chapters call; no logic
lives only here. A stage registers itself with ``@command(name, help)`` on a
function that configures its parser and returns the function that runs it; the
stage modules live in :mod:`mrs_lib.commands` (one file per pipeline stage) and
are discovered when the parser is built.
"""

from __future__ import annotations

import argparse
import signal
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn

from . import __version__
from ._signals import Terminated, terminate_raises
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


class UsageError(Exception):
    """A command line that does not parse: ``prog`` (``"mrs synth"``) and argparse's message."""

    def __init__(self, prog: str, message: str) -> None:
        self.prog, self.message = prog, " ".join(message.split())
        super().__init__(f"{self.prog}: error: {self.message}")


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are raised (one line, printed by :func:`main`).

    argparse itself prints the usage block and exits; :func:`main` prints one
    line naming the argument, what was expected and what was given, and
    returns exit status 2. ``--help`` and ``--version`` still exit with 0.
    """

    def error(self, message: str) -> NoReturn:
        raise UsageError(self.prog, message)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``mrs`` with every registered subcommand."""
    parser = Parser(
        prog="mrs",
        description=(
            "Deep-learning GABA quantification in MEGA-PRESS spectra: every stage of the book."
        ),
    )
    parser.add_argument("--version", action="version", version=f"mrs_lib {__version__}")
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show the Python traceback of an error (also accepted after the subcommand)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    load_all()

    def order(entry: tuple[str, str, Configure]) -> tuple[int, str]:
        name = entry[0]
        return (PIPELINE_ORDER.index(name) if name in PIPELINE_ORDER else len(PIPELINE_ORDER), name)

    for name, help_text, configure in sorted(COMMANDS, key=order):
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="traceback")
        p.set_defaults(_run=configure(p))
    return parser


def _one_line(exc: BaseException) -> str:
    """The message of ``exc`` on one line (its type name when it has none)."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


#: exit status of an unexpected exception (a bug or an unguarded input): not argparse's 2
EXIT_INTERNAL = 1
#: exit status of a library error or a bad command line
EXIT_ERROR = 2


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``mrs``: run one subcommand; every failure is one line on stderr.

    Exit status: 0 success; 2 a bad command line or a library error
    (:class:`~mrs_lib.errors.MRSError`: ``mrs <cmd>: error: ...``, naming the
    file or argument, what was expected and what was found) or an operating
    system error (a file that cannot be read or written); 1 an unexpected
    exception (``mrs <cmd>: internal error: <type>: <message>``); 130 after
    Ctrl-C and 128 + N after signal N (SIGTERM). ``--debug`` adds the
    traceback. SIGTERM unwinds the stack like Ctrl-C (``mrs_lib._signals``),
    so temporary files are removed and a search worker fails its running trial.
    """
    try:
        parser = build_parser()  # imports every stage module: a broken install fails here
    except Exception as exc:
        if "--debug" in (sys.argv[1:] if argv is None else argv):
            traceback.print_exception(exc)
        print(f"mrs: internal error: {type(exc).__name__}: {_one_line(exc)}", file=sys.stderr)
        return EXIT_INTERNAL
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        print(f"{exc} (see '{exc.prog} --help')", file=sys.stderr)
        return EXIT_ERROR
    debug = bool(getattr(args, "debug", False))
    where = f"mrs {args.command}"
    error: BaseException
    try:
        with terminate_raises():
            return int(args._run(args))
    except MRSError as exc:
        error, message, status = exc, f"{where}: error: {_one_line(exc)}", EXIT_ERROR
    except OSError as exc:  # a file the OS cannot open, read or write: the user's to fix
        error, status = exc, EXIT_ERROR
        message = f"{where}: error: {_one_line(exc)} ({type(exc).__name__})"
    except KeyboardInterrupt as exc:
        error, message = exc, f"{where}: interrupted (Ctrl-C)"
        status = 128 + signal.SIGINT
    except Terminated as exc:
        error, message, status = exc, f"{where}: {exc}", 128 + exc.signum
    except Exception as exc:
        error, status = exc, EXIT_INTERNAL
        message = (
            f"{where}: internal error: {type(exc).__name__}: {_one_line(exc)} "
            f"(rerun with 'mrs --debug {args.command} ...' for the traceback)"
        )
    if debug:
        traceback.print_exception(error)
    print(message, file=sys.stderr)
    return status


__all__ = [
    "EXIT_ERROR",
    "EXIT_INTERNAL",
    "PIPELINE_ORDER",
    "Parser",
    "UsageError",
    "build_parser",
    "main",
]

"""Termination signals as exceptions, so that a terminated run cleans up like an interrupted one.

Python turns SIGINT (Ctrl-C) into :class:`KeyboardInterrupt`, which unwinds the
stack: ``finally`` blocks and context managers run, a search worker marks its
running trial failed, temporary folders are removed. SIGTERM (what ``kill``,
batch schedulers and container runtimes send) kills the process outright
instead. Inside :func:`terminate_raises`, SIGTERM raises :class:`Terminated`
in the main thread, so it unwinds the same way. ``mrs`` wraps every
subcommand in it (:func:`mrs_lib.cli.main`); the search workers do too
(:func:`mrs_lib.search.optimize_until`).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType


class Terminated(BaseException):
    """The process received a termination signal (``signum``, SIGTERM by default).

    A :class:`BaseException`, like :class:`KeyboardInterrupt`, so that
    ``except Exception`` clauses do not swallow it.
    """

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"terminated by {signal.Signals(signum).name}")


_depth = 0  # nesting of terminate_raises blocks in the main thread (the outermost installs)
_fired: list[int] = []  # the signal that was turned into Terminated, while the stack unwinds


def _handler(signum: int, _frame: FrameType | None) -> None:
    if not _fired:
        _fired.append(signum)
        raise Terminated(signum)


@contextlib.contextmanager
def terminate_raises(signums: tuple[int, ...] = (signal.SIGTERM,)) -> Iterator[None]:
    """Within the block, the first of ``signums`` raises :class:`Terminated` in the main thread.

    Later signals are ignored while the stack unwinds (so cleanup is not cut
    short; SIGKILL still ends a stuck process). Blocks nest: the outermost one
    installs the handlers and restores the previous ones on exit. Outside the
    main thread (where Python cannot install handlers) the block runs unchanged.
    """
    global _depth
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if _depth > 0:  # an outer block has installed the handlers
        _depth += 1
        try:
            yield
        finally:
            _depth -= 1
        return
    previous = {s: signal.signal(s, _handler) for s in signums}
    _depth = 1
    try:
        yield
    finally:
        _depth = 0
        _fired.clear()
        for s, h in previous.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)


__all__ = ["Terminated", "terminate_raises"]

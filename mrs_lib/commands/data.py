"""``mrs data``: list, locate and verify the external reference files (:mod:`mrs_lib.data`)."""

from __future__ import annotations

import argparse

from .. import data
from ._registry import Runner, command


@command("data", "list, locate and verify the external reference files")
def _data(p: argparse.ArgumentParser) -> Runner:
    p.add_argument("action", choices=["list", "path", "verify"], help="what to do")
    p.add_argument("names", nargs="*", help="registry names (for 'path')")

    def run(args: argparse.Namespace) -> int:
        if args.action == "list":
            for name in data.names():
                e = data.REGISTRY[name]
                origin = e.url or "facts table (MRS_DATA_DIR only)"
                print(f"{name}\n    {e.description}\n    origin: {origin}")
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

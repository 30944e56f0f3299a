"""``mrs lcmodel``: build the real LCModel from source, check a binary, say where it is.

``build`` compiles the registered LCModel 6.3 source with gfortran into the
project's cache and checks it on LCModel's own test case
(:func:`mrs_lib.fit.lcmodel_build.build_lcmodel`; ``make lcmodel`` runs it);
``check`` runs that test case with any binary; ``path`` prints the binary the
adapter (:func:`mrs_lib.fit.lcmodel.find_lcmodel`) would use.
"""

from __future__ import annotations

import argparse
import time

from . import _types
from ._registry import Runner, command


@command("lcmodel", "build the real LCModel from source (gfortran), check it, locate it")
def _lcmodel(p: argparse.ArgumentParser) -> Runner:
    p.add_argument(
        "action",
        choices=["build", "check", "path"],
        help="build: compile into the cache and check; check: run LCModel's test case; "
        "path: print the binary the adapter uses",
    )
    p.add_argument(
        "--lcmodel",
        metavar="PATH",
        help="the binary to check or print (default: $LCMODEL, the cache, then PATH)",
    )
    p.add_argument(
        "--dest",
        metavar="PATH",
        type=_types.output_path,
        help="build: install here instead of the cache",
    )
    p.add_argument(
        "--fc", metavar="COMPILER", help="build: Fortran compiler (default $FC or gfortran)"
    )
    p.add_argument("--force", action="store_true", help="build: rebuild even if up to date")
    p.add_argument("--no-check", action="store_true", help="build: skip the test-case check")

    def run(args: argparse.Namespace) -> int:
        from ..fit import lcmodel_build as lb
        from ..fit.lcmodel import find_lcmodel

        if args.action == "build":
            t0 = time.perf_counter()
            target = args.dest or lb.cached_binary()
            if not args.force and lb.is_current(target):
                print(f"LCModel is up to date (same source, checked): {target}")
            path = lb.build_lcmodel(
                args.dest, compiler=args.fc, force=args.force, check=not args.no_check
            )
            record = lb.read_sidecar(path) or {}
            elapsed = time.perf_counter() - t0
            print(f"LCModel: {path}")
            print(f"  compiler: {record.get('compiler_version', '?')}")
            secs, when = record.get("build_seconds", "?"), record.get("built_at", "?")
            print(f"  compiled in {secs} s ({when})")
            check = record.get("check")
            if isinstance(check, dict) and check.get("ok"):
                print(
                    f"  check: test_lcm concentration table reproduced exactly "
                    f"({check.get('rows')} rows, LCModel {check.get('version')})"
                )
            print(f"  this command took {elapsed:.1f} s")
            return 0
        exe = find_lcmodel(args.lcmodel)
        if args.action == "path":
            print(exe)
            return 0
        result = lb.check_lcmodel(exe)
        print(result.summary())
        return 0 if result.ok else 1

    return run

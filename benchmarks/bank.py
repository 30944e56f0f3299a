"""Basis-variant bank for domain randomisation: build time of 64 variants (issue 12).

Goal: the bank of simulated ``paper`` variants (:func:`mrs_lib.sim.variants.build_bank`,
shifts/J, editing pulse, refocusing model, TE split, B0) is cheap enough to
build once per machine: 64 variants at the preset's 41 positions per axis in
a few minutes on 2 cores. Prints the cold build time (a fresh cache seed, or
``--no-cache``), the warm time (a second call: every variant from the disk
cache) and how many variants used shaped refocusing.

Run: ``.venv/bin/python benchmarks/bank.py [--n 64] [--seed 0] [--grid 41] [--workers 2]``
"""

from __future__ import annotations

import argparse

from mrs_lib.sim.variants import build_bank


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--grid", type=int, default=41, help="positions per axis (shaped)")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--no-cache", action="store_true")
    a = ap.parse_args()
    cold = build_bank(a.n, a.seed, grid_points=a.grid, workers=a.workers, cache=not a.no_cache)
    shaped = sum(p.refocusing == "shaped" for p in cold.params)
    print(f"bank of {len(cold)} variants ({shaped} shaped, grid {a.grid}): {cold.build_s:.1f} s")
    if not a.no_cache:
        warm = build_bank(a.n, a.seed, grid_points=a.grid, workers=a.workers)
        print(f"second call (disk cache): {warm.build_s:.2f} s")


if __name__ == "__main__":
    main()

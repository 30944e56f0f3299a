"""The external test bench: how fast it renders, and what scoring each method on it costs.

Goal: the bench (``mrs validate --bench external``, :mod:`mrs_lib.bench`) is
cheap next to the methods it scores, so a full run (152 spectra x 3 levels)
is dominated by the fitters, and the one-at-a-time decomposition is
affordable for the networks on every spectrum.

Printed:

* the FID-A damped-line model (fitted once, then read from the disk cache):
  cold and warm time;
* render time per level and source for the full Swansea design
  (``--repeats`` scans per phantom; the fastest of three runs), as spectra/s and as a
  ratio to level (a);
* the time to score each method on level (c) (``--n-fit`` spectra for the
  fitters, every spectrum for the networks), as spectra/s and as a ratio to
  rendering those spectra.

Run::

    MRS_DATA_DIR=../shared/data nice .venv/bin/python benchmarks/bench.py [--n-fit 16] [--cold]
"""

from __future__ import annotations

import argparse
import time

from mrs_lib.bench import (
    BenchConditions,
    default_methods,
    get_source,
    make_quantifiers,
    render,
)
from mrs_lib.bench import sources as bench_sources
from mrs_lib.io.phantoms import load_design
from mrs_lib.sim.basis import cache_dir
from mrs_lib.validation import score_scans


def line_model(cold: bool) -> None:
    if cold:
        for f in cache_dir().glob("damped-fida-*.npz"):
            f.unlink()
    for label in ("cold" if cold else "warm", "warm"):
        bench_sources._SOURCES.pop("fida", None)
        t0 = time.perf_counter()
        src = get_source("fida")
        assert isinstance(src, bench_sources.ExternalSource)
        src.lines()
        print(f"FID-A damped-line model ({label}): {time.perf_counter() - t0:.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=2, help="scans per phantom (2: 152 spectra)")
    ap.add_argument("--n-fit", type=int, default=16, help="spectra scored by each fitter")
    ap.add_argument("--methods", nargs="*", default=None, help="default: every shipped method")
    ap.add_argument("--cold", action="store_true", help="refit the line model (clear its cache)")
    args = ap.parse_args()
    design = load_design()
    line_model(args.cold)

    print("\nrender (whole design, warm caches; fastest of three runs)")
    for source in ("fida", "paper"):
        base = None
        for level in ("a", "b", "c"):
            cond = BenchConditions.level(level)
            render(design, cond, source=source, seed=0, repeats=args.repeats)  # warm-up
            times = []
            for seed in (1, 2, 3):  # the fastest of three: timings on a shared machine drift
                t0 = time.perf_counter()
                scans = render(design, cond, source=source, seed=seed, repeats=args.repeats)
                times.append(time.perf_counter() - t0)
            dt = min(times)
            base = dt if base is None else base
            print(
                f"  {source:<6} level ({level}): {len(scans)} spectra in {dt:6.2f} s = "
                f"{len(scans) / dt:7.1f} spectra/s  ({dt / base:4.2f}x level a)"
            )

    print("\nscore level (c), external basis")
    cond = BenchConditions.level("c")
    scans = render(design, cond, source="fida", seed=0, repeats=args.repeats)
    times = []
    for seed in (1, 2, 3):
        t0 = time.perf_counter()
        render(design, cond, source="fida", seed=seed, repeats=args.repeats)
        times.append(time.perf_counter() - t0)
    render_per = min(times) / len(scans)
    methods = args.methods or default_methods()
    qs = make_quantifiers(methods, get_source("fida").larmor_mhz)
    for name, q in qs.items():
        fitter = name in ("lcm", "gannet", "lcmodel")
        subset = scans[:: max(1, len(scans) // args.n_fit)] if fitter else scans
        score_scans({name: q}, [scans[0], scans[-1]])  # build each acquisition's basis
        t0 = time.perf_counter()
        score_scans({name: q}, subset)
        per = (time.perf_counter() - t0) / len(subset)
        print(
            f"  {name:<16} {len(subset):4d} spectra: {1 / per:8.1f} spectra/s  "
            f"({per / render_per:8.3g}x the time to render them)"
        )


if __name__ == "__main__":
    main()

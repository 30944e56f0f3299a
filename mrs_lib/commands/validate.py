"""``mrs validate``: score quantifiers on phantoms with known concentrations (chapter 5)."""

from __future__ import annotations

import argparse

from . import _types
from ._registry import command


@command(
    "validate",
    "score quantifiers on phantom scans (a folder of yours, or digital Swansea phantoms)",
)
def _validate(p: argparse.ArgumentParser):
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--phantoms", metavar="DIR", help="phantom folder (layout: mrs_lib.io.phantoms)"
    )
    src.add_argument(
        "--digital", action="store_true", help="digital phantoms of the Swansea design E1-E4d"
    )
    src.add_argument(
        "--bench",
        choices=["external", "own"],
        help="the test bench (chapter 7): the Swansea design rendered from the external FID-A "
        "basis ('external', a test set, never training data) or from the project's own basis",
    )
    p.add_argument(
        "--methods",
        nargs="+",
        default=None,
        metavar="METHOD",
        help="'lcm', 'gannet', 'lcmodel', or a network checkpoint name/path (e.g. yae-paper.pt); "
        "with --bench also a network with test-time ingredients: ref+<net> (Cr/NAA referencing "
        "and phasing first), hybrid+<net> (LCModel-style fit with the network as prior), "
        "tta+<net> (physics decoder adapted per spectrum; tta+none: the decoder alone); "
        "prefixes compose; "
        "default 'lcm', with --bench every shipped network, lcm, gannet and lcmodel if built",
    )
    p.add_argument(
        "--preset", default="paper", help="simulation preset of the fitters' basis (default: paper)"
    )
    p.add_argument(
        "--refocusing", choices=["ideal", "shaped"], default=None, help="override the preset"
    )
    p.add_argument("--series", nargs="*", default=None, help="only these series (e.g. E1 E3)")
    p.add_argument(
        "--seed", type=_types.seed, default=5, help="seed of the digital phantoms' imperfections"
    )
    p.add_argument(
        "--csv",
        type=_types.output_path,
        default=None,
        metavar="FILE",
        help="also write the per-scan scores as CSV",
    )
    bench = p.add_argument_group("--bench options")
    bench.add_argument(
        "--level",
        nargs="+",
        choices=["a", "b", "c"],
        default=None,
        help="bench levels: a = basis mismatch only, b = + acquisition, c = + sample and "
        "sequence effects (default: all three)",
    )
    bench.add_argument(
        "--decompose",
        action="store_true",
        help="also level (a) with each imperfection alone (offset, phase, linewidth, ...)",
    )
    bench.add_argument(
        "--repeats",
        type=_types.int_range(1, what="a number of scans"),
        default=2,
        help="scans per phantom (default 2: 152 spectra)",
    )
    bench.add_argument(
        "--fit-basis",
        choices=["paper", "fida"],
        default="paper",
        help="basis of lcm/gannet/lcmodel: the project's paper protocol at the data's field "
        "(default) or the FID-A basis itself (the oracle)",
    )
    bench.add_argument("--json", action="store_true", help="print the bench report as JSON")

    def run(args: argparse.Namespace) -> int:
        import time

        if args.bench:
            return _run_bench(args)
        from ..errors import MRSError
        from ..io.phantoms import load_design, load_phantom_folder
        from ..quantify import Quantifier, get_quantifier
        from ..validation import (
            PerAcquisition,
            digital_phantoms,
            mae_table,
            score_scans,
            series_bases,
        )

        if not args.digital:  # read (and check) the scans before simulating any basis
            scans = [
                s
                for s in load_phantom_folder(args.phantoms)
                if args.series is None or s.series in args.series
            ]
            if not scans:
                raise MRSError(f"no phantom scans in series {args.series}")
        basis_for = series_bases(args.preset, refocusing=args.refocusing, progress=False)
        if args.digital:
            design = [d for d in load_design() if args.series is None or d.series in args.series]
            scans = digital_phantoms(design, basis_for, args.seed)
        if not scans:
            raise MRSError(f"no phantom scans in series {args.series}")
        quantifiers: dict[str, Quantifier] = {}
        for m in args.methods or ["lcm"]:
            if m in ("lcm", "gannet", "lcmodel"):
                quantifiers[m] = PerAcquisition(
                    lambda bw, n, m=m: get_quantifier(m, basis=basis_for(bw, n)), m
                )
            else:
                quantifiers[m] = get_quantifier("network", model=m, name=m)
        t0 = time.perf_counter()
        scores = score_scans(quantifiers, scans)
        print(
            f"# {len(scans)} phantom scans, max-normalised MAE per metabolite "
            f"({time.perf_counter() - t0:.1f} s)"
        )
        print(mae_table(scores).round(4).to_string())
        if args.csv:
            scores.to_csv(args.csv, index=False)
            print(f"# per-scan scores written to {args.csv}")
        return 0

    return run


def _run_bench(args: argparse.Namespace) -> int:
    """``mrs validate --bench``: MAE per level, method and metabolite (mrs_lib.bench)."""
    import json

    from ..bench import FACTORS, default_methods, run_bench

    report = run_bench(
        args.methods or default_methods(),
        args.level or ["a", "b", "c"],
        source="fida" if args.bench == "external" else "paper",
        factors=FACTORS if args.decompose else (),
        seed=args.seed,
        repeats=args.repeats,
        series=args.series,
        fit_basis=args.fit_basis,
    )
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    mets = report["metabolites"]
    for name, v in report["variants"].items():
        print(f"# ({name}) {v['title']}: {v['n_scans']} scans rendered in {v['render_s']:.1f} s")
        print(f"{'method':<18}" + "".join(f"{m:>8}" for m in mets) + f"{'seconds':>10}")
        for method, r in v["methods"].items():
            cells = "".join(f"{r['mae'][m]:8.4f}" if m in r["mae"] else f"{'-':>8}" for m in mets)
            print(f"{method:<18}{cells}{r['seconds']:10.1f}")
    return 0

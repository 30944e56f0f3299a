"""``mrs validate``: score quantifiers on phantoms with known concentrations (chapter 5)."""

from __future__ import annotations

import argparse

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
    p.add_argument(
        "--methods",
        nargs="+",
        default=["lcm"],
        metavar="METHOD",
        help="'lcm', 'gannet', 'lcmodel', or a network checkpoint name/path (e.g. yae-paper.pt)",
    )
    p.add_argument(
        "--preset", default="paper", help="simulation preset of the fitters' basis (default: paper)"
    )
    p.add_argument(
        "--refocusing", choices=["ideal", "shaped"], default=None, help="override the preset"
    )
    p.add_argument("--series", nargs="*", default=None, help="only these series (e.g. E1 E3)")
    p.add_argument(
        "--seed", type=int, default=5, help="seed of the digital phantoms' imperfections"
    )
    p.add_argument(
        "--csv", default=None, metavar="FILE", help="also write the per-scan scores as CSV"
    )

    def run(args: argparse.Namespace) -> int:
        import time

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

        basis_for = series_bases(args.preset, refocusing=args.refocusing, progress=False)
        if args.digital:
            design = [d for d in load_design() if args.series is None or d.series in args.series]
            scans = digital_phantoms(design, basis_for, args.seed)
        else:
            scans = [
                s
                for s in load_phantom_folder(args.phantoms)
                if args.series is None or s.series in args.series
            ]
        if not scans:
            raise MRSError(f"no phantom scans in series {args.series}")
        quantifiers: dict[str, Quantifier] = {}
        for m in args.methods:
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

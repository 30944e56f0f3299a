"""``mrs quantify``: users' own scans, from raw data through preprocessing to ratios to Cr."""

from __future__ import annotations

import argparse
import json
import sys

from ..io.bases import FIDA_NAME, PAPER_NAME
from . import _types
from ._registry import Runner, command

FITTERS = ("lcm", "gannet", "lcmodel")


@command(
    "quantify",
    "preprocess raw MEGA-PRESS scans (NIfTI-MRS or vendor files) and quantify them",
)
def _quantify(p: argparse.ArgumentParser) -> Runner:
    p.add_argument(
        "scans",
        nargs="*",
        help="raw scans: NIfTI-MRS with DIM_COIL/DIM_DYN/DIM_EDIT, or vendor files through "
        "spec2nii (.rda, .dat, .dcm, .SDAT/.SPAR, .data/.list, .7)",
    )
    p.add_argument(
        "--method",
        required=True,
        help="lcm, gannet, lcmodel, a network checkpoint name or path (e.g. cnn-cpu), or a "
        "calibrated ensemble (cnn-ensemble: value +- SD, 95 %% interval, out-of-domain flags)",
    )
    p.add_argument(
        "--basis",
        default=PAPER_NAME,
        help=f"basis of the fitters: '{PAPER_NAME}' (default), '{FIDA_NAME}', .npz or NIfTI-MRS",
    )
    p.add_argument(
        "--water-ref",
        action="append",
        default=[],
        metavar="REF",
        help="water reference (one for all scans, or one per scan, in order)",
    )
    p.add_argument("--on", help="a separate edit-ON file (with --off)")
    p.add_argument("--off", help="a separate edit-OFF file (with --on)")
    p.add_argument(
        "--edit",
        default="auto",
        choices=[
            "auto",
            "none",
            "dim-off-first",
            "dim-on-first",
            "interleaved-off-first",
            "interleaved-on-first",
            "blocked-off-first",
            "blocked-on-first",
        ],
        help="where the ON/OFF sub-spectra are (default: detect)",
    )
    p.add_argument("--reject-z", type=_types.positive_float, default=3.5, help="rejection z")
    p.add_argument("--no-reject", action="store_true", help="keep every transient")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="one JSON object per scan (JSON lines)")
    out.add_argument("--csv", type=_types.output_path, metavar="FILE", help="write a CSV table")
    p.add_argument("--lcmodel", default=None, help="lcmodel: the binary")
    p.add_argument(
        "--report",
        type=_types.output_path,
        metavar="DIR",
        help="write a one-page report per scan (PNG and self-contained HTML) into DIR",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    def run(args: argparse.Namespace) -> int:
        from ..errors import MRSDataError
        from ..preprocess import read_scan, scan_from_pair
        from ..scans import quantify_scan

        if (args.on is None) != (args.off is None):
            raise MRSDataError("--on and --off go together")
        jobs: list[tuple[str, str | tuple[str, str]]] = [(s, s) for s in args.scans]
        if args.on is not None:
            jobs.append((f"{args.off} + {args.on}", (args.off, args.on)))
        if not jobs:
            raise MRSDataError("no scan given: pass SCAN files or --off OFF --on ON")
        refs = list(args.water_ref)
        if refs and len(refs) not in (1, len(jobs)):
            raise MRSDataError(
                f"--water-ref: give one reference for all scans or one per scan "
                f"({len(jobs)}), got {len(refs)}"
            )
        quantifier, basis = _quantifier(args)
        rows = []
        progress = _progress(len(jobs), args.no_progress)
        for i, (label, src) in enumerate(jobs):
            if isinstance(src, tuple):
                scan = scan_from_pair(*src)
            else:
                scan = read_scan(src, edit=args.edit)
            water = read_scan(refs[i if len(refs) > 1 else 0], edit="none") if refs else None
            res = quantify_scan(
                scan,
                quantifier,
                water=water,
                basis=basis,
                label=label,
                reject_z=None if args.no_reject else args.reject_z,
            )
            rows.append(res)
            if args.report:
                from ..report import write_report

                write_report(res, args.report, quantifier)
            if args.json:
                print(json.dumps(res.to_json()), flush=True)
            if progress is not None:
                progress.update(1)
        if progress is not None:
            progress.close()
        if args.json:
            return 0
        table = _table(rows)
        if args.csv:
            with open(args.csv, "w", encoding="utf-8") as fh:
                fh.write(_csv(rows))
            print(f"# wrote {args.csv}", file=sys.stderr)
        print(table)
        return 0

    return run


def _progress(n: int, off: bool):
    if n < 2 or off:
        return None
    from tqdm import tqdm

    return tqdm(total=n, unit="scan", file=sys.stderr, leave=False)


def _quantifier(args: argparse.Namespace):
    from ..io.bases import resolve_basis
    from ..quantify import get_quantifier

    m = args.method.lower()
    if m in FITTERS:
        basis = resolve_basis(args.basis)
        kwargs: dict = {"basis": basis}
        if m == "lcmodel":
            kwargs["binary"] = args.lcmodel
        if m == "lcm" and args.report:
            kwargs["keep_fits"] = True
        return get_quantifier(m, **kwargs), basis
    from ..bench.ingredients import INGREDIENTS, make_wrapped

    if m.partition("+")[0] in INGREDIENTS:  # ref+/hybrid+/tta+<network> (chapter 7)
        return make_wrapped(args.method), None
    from ..uncertainty import EnsembleQuantifier, is_ensemble

    if is_ensemble(args.method):
        return EnsembleQuantifier(args.method), None
    return get_quantifier("network", model=args.method), None


def _fmt(x: float | None, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{digits}g}"


def _table(rows: list) -> str:
    from ..scans import WATER_ASSUMPTIONS

    first = rows[0]
    mets = [m for m in first.result.metabolites if m != "Cr"]
    kind = first.uncertainty_kind
    head = f"# {first.result.method}: ratios to Cr" + (f" ({kind} in brackets)" if kind else "")
    if first.result.diagnostics.get("ratio_to_cr_sd") is not None:
        head = f"# {first.result.method}: ratios to Cr ± calibrated SD (95 % intervals: --json)"
    width = max(len("scan"), *(len(r.label) for r in rows))
    lines = [head, f"{'scan':<{width}}  " + "  ".join(f"{m + '/Cr':>16}" for m in mets)]
    for r in rows:
        unc = r.uncertainties or {}
        ratio_sd = r.result.diagnostics.get("ratio_to_cr_sd")
        cells = []
        for j, m in enumerate(mets):
            txt = _fmt(r.ratios_to_cr.get(m))
            if ratio_sd is not None:  # a calibrated ensemble: +- SD of the ratio itself
                txt += f" ± {ratio_sd[0][j]:.2g}"
            elif unc.get(m) is not None:
                txt += f" ({unc[m]:.0f}%)"
            cells.append(f"{txt:>16}")
        lines.append(f"{r.label:<{width}}  " + "  ".join(cells))
    scaled = [r for r in rows if r.water_scaled]
    if scaled:
        a = WATER_ASSUMPTIONS
        lines += [
            "",
            "# water-scaled concentrations (mM, institutional units); assumptions: MR-visible "
            f"water {a['water_concentration_mM']:.0f} mM x tissue water fraction "
            f"{a['tissue_water_fraction']:g}; T2 water {a['water_t2_ms']:g} ms, metabolites "
            f"{a['metabolite_t2_ms']:g} ms at the scan's TE; T1, partial volume and CSF "
            "ignored",
            f"{'scan':<{width}}  " + "  ".join(f"{m:>10}" for m in first.result.metabolites),
        ]
        for r in scaled:
            cells = [f"{_fmt(r.water_scaled.get(m)):>10}" for m in first.result.metabolites]
            lines.append(f"{r.label:<{width}}  " + "  ".join(cells))
    for r in rows:
        for note in r.notes:
            lines.append(f"# {r.label}: {note}")
    return "\n".join(lines)


def _csv(rows: list) -> str:
    import csv
    import io

    mets = list(rows[0].result.metabolites)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(
        ["scan", "method"]
        + [f"{m}/Cr" for m in mets if m != "Cr"]
        + [f"{m}_uncertainty" for m in mets]
        + [f"{m}_mM" for m in mets]
    )
    for r in rows:
        unc = r.uncertainties or {}
        ws = r.water_scaled or {}
        w.writerow(
            [r.label, r.result.method]
            + [
                "" if r.ratios_to_cr.get(m) is None else r.ratios_to_cr[m]
                for m in mets
                if m != "Cr"
            ]
            + ["" if unc.get(m) is None else unc[m] for m in mets]
            + ["" if ws.get(m) is None else ws[m] for m in mets]
        )
    return buf.getvalue()

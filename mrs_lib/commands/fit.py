"""``mrs fit``: quantify edited spectra with a conventional method (chapter 6)."""

from __future__ import annotations

import argparse

from ..io.bases import FIDA_NAME, PAPER_NAME, resolve_basis
from ._registry import command


@command(
    "fit", "quantify MEGA-PRESS spectra with the LCModel-style fit, a Gannet-style fit or LCModel"
)
def _fit(p: argparse.ArgumentParser):
    p.add_argument(
        "--method", required=True, choices=["lcm", "gannet", "lcmodel"], help="quantifier"
    )
    p.add_argument(
        "--basis",
        required=True,
        help=f"basis .npz from 'mrs simulate', a NIfTI-MRS basis, '{PAPER_NAME}' (simulated) "
        f"or '{FIDA_NAME}' (external FID-A basis)",
    )
    p.add_argument(
        "spectra",
        nargs="+",
        help=(
            "NIfTI-MRS files with edit OFF/ON (DIM_EDIT) or .npz files "
            "(fid_off, fid_on, dwell_s, larmor_mhz)"
        ),
    )
    p.add_argument(
        "--strategy",
        default="off+diff",
        choices=["off+diff", "off", "on", "diff"],
        help="lcm: which sub-spectra to fit (default: OFF for all, DIFF for GABA)",
    )
    p.add_argument(
        "--lcmodel",
        default=None,
        help="lcmodel: the binary (default: $LCMODEL, then the cache of 'make lcmodel', then PATH)",
    )
    p.add_argument("--normalise", action="store_true", help="print max-normalised concentrations")

    def run(args: argparse.Namespace) -> int:
        import numpy as np

        from .. import quantify

        basis = resolve_basis(args.basis)
        kwargs: dict = {"basis": basis}
        if args.method == "lcm":
            kwargs["strategy"] = args.strategy
        elif args.method == "lcmodel":
            kwargs["binary"] = args.lcmodel
        q = quantify.get_quantifier(args.method, **kwargs)
        labels, rows, sds, seconds = [], [], [], 0.0
        for path in args.spectra:
            spectra, _truth = quantify.read_spectra(path)
            result = q.quantify(spectra)
            seconds += result.seconds
            n = len(result)
            labels += [path] if n == 1 else [f"{path}[{i}]" for i in range(n)]
            rows.append(result.max_normalised() if args.normalise else result.concentrations)
            sds.append(
                result.uncertainty
                if result.uncertainty is not None
                else np.full_like(rows[-1], np.nan)
            )
        table = quantify.QuantResult(
            result.metabolites, np.concatenate(rows), np.concatenate(sds), {}, q.name, seconds
        )
        # What the numbers are: lcm and LCModel (orthonormally scaled .BASIS) return the weights
        # of the basis spectra that add up to the data; the Gannet-style fit, its peak areas
        # divided by the area one basis unit gives.
        unit = (
            "max-normalised"
            if args.normalise
            else "basis units (peak areas / the area of one basis unit)"
            if args.method == "gannet"
            else "basis units (the weight of each basis spectrum in the data)"
        )
        sd_note = ", (Cramér-Rao %SD)" if args.method != "gannet" else ""
        print(
            f"# {q.name}: concentrations in {unit}{sd_note}; "
            f"{len(table)} spectra in {seconds:.2f} s"
        )
        print(table.table(labels))
        return 0

    return run

"""``mrs synth``: make a stored synthetic dataset from a basis (chapter 2)."""

from __future__ import annotations

import argparse
import sys

from tqdm.auto import tqdm

from ..errors import MRSDataError
from ..io.bases import FIDA_NAME, PAPER_NAME, resolve_basis
from ..synth import SynthConfig, feasible_grids, make_dataset
from . import _types
from ._registry import command


@command("synth", "synthesise a stored training set from a basis and print spectra per second")
def _synth(p: argparse.ArgumentParser):
    p.add_argument(
        "--basis",
        required=True,
        help=f"basis .npz written by 'mrs simulate', a NIfTI-MRS basis, '{PAPER_NAME}' (simulated) "
        f"or '{FIDA_NAME}' (the external FID-A reference basis)",
    )
    p.add_argument(
        "--n",
        type=_types.positive_int,
        required=True,
        help="number of spectra (10000 / 100000 for the paper)",
    )
    p.add_argument(
        "--seed",
        type=_types.seed,
        required=True,
        help="seed: spectrum i depends only on (seed, i)",
    )
    p.add_argument(
        "--augment",
        default="paper",
        help="synthesis preset: paper, paper-no-lw or full (default paper)",
    )
    p.add_argument(
        "--out",
        type=_types.output_path,
        required=True,
        help="output .npz (a provenance sidecar <out>.json is written too); the same seed and "
        "inputs give the same bytes",
    )
    p.add_argument(
        "--dtype", default="float16", choices=["float16", "float32"], help="storage precision"
    )
    p.add_argument(
        "--workers",
        type=_types.positive_int,
        default=None,
        help="threads (default: the CPUs available)",
    )
    p.add_argument(
        "--no-clean", action="store_true", help="do not store the noiseless copy (faster; no YAE)"
    )
    p.add_argument(
        "--quiet", action="store_true", help="no progress bar (shown from 20,000 spectra)"
    )

    def run(args: argparse.Namespace) -> int:
        if args.n < 1:
            raise MRSDataError(f"argument '--n': expected >= 1, got {args.n}")
        basis = resolve_basis(args.basis)
        config = SynthConfig.preset(args.augment)
        if args.no_clean:
            config = config.replace(keep_clean=False)
        if config.grids is not None:
            skipped = [g for g in config.grids if g not in feasible_grids(basis, config.grids)]
            if skipped:
                print(
                    f"note: acquisition grids {skipped} cannot be made from this basis by exact "
                    "decimation and are skipped (simulate the basis at 20000 Hz for all of them)",
                    file=sys.stderr,
                )
        with tqdm(total=args.n, unit="spectra", disable=args.quiet or args.n < 20_000) as bar:
            record = make_dataset(
                basis,
                args.n,
                args.seed,
                config,
                args.out,
                dtype=args.dtype,
                workers=args.workers,
                basis_source=args.basis,
                progress=lambda done, _total: bar.update(done - bar.n),
            )
        print(
            f"{args.n} spectra ({config.name}) in {record['seconds']:.2f} s: "
            f"{record['spectra_per_s']:.0f} spectra/s -> {args.out} "
            f"({record['bytes'] / 1e6:.1f} MB)"
        )
        return 0

    return run

"""``mrs ensemble build|evaluate``: a calibrated deep ensemble from trained members (chapter 8).

The members are trained one by one with ``mrs train ... --seed S`` (a
different seed each: weights, order, training and validation sets); ``build``
packs their ``best.pt`` files into one file, calibrates the spread on a
held-out simulated set, fits the out-of-domain limits and checks both on a
second, independent set (:func:`mrs_lib.uncertainty.build_ensemble`).
"""

from __future__ import annotations

import argparse
import json
import shlex

from . import _types
from ._registry import Runner, command
from .train import _json_ready, print_metric_table


def _build_command(args: argparse.Namespace) -> str:
    """The ``mrs ensemble build`` call that reproduces this one (for the sidecar)."""
    words = ["mrs", "ensemble", "build", *args.paths, "--out", args.out]
    words += ["--n", str(args.n), "--cal-seed", str(args.cal_seed)]
    words += ["--check-seed", str(args.check_seed), "--yae", args.yae]
    return " ".join(shlex.quote(str(w)) for w in words)


@command("ensemble", "pack, calibrate and evaluate a deep ensemble of trained networks")
def _ensemble(p: argparse.ArgumentParser) -> Runner:
    p.add_argument(
        "action",
        choices=["build", "evaluate"],
        help="build: pack member checkpoints, calibrate, check, write one file; "
        "evaluate: score the member mean on fresh simulated spectra",
    )
    p.add_argument(
        "paths",
        nargs="+",
        metavar="FILE",
        help="build: the members' checkpoints (best.pt of each mrs train run); "
        "evaluate: the ensemble file or shipped name (cnn-ensemble)",
    )
    p.add_argument("--out", type=_types.output_path, help="build: the ensemble file (.pt)")
    p.add_argument("--n", type=_types.positive_int, default=2000, help="spectra per simulated set")
    p.add_argument("--cal-seed", type=_types.seed, default=9001, help="build: calibration seed")
    p.add_argument("--check-seed", type=_types.seed, default=9002, help="build: check set seed")
    p.add_argument(
        "--yae",
        default="yae-paper",
        help="build: YAE whose reconstruction error flags inputs ('none': no such flag)",
    )
    p.add_argument(
        "--training-command", help="build: how the members were trained (kept in the sidecar)"
    )
    p.add_argument("--threads", type=_types.positive_int, help="torch CPU threads")
    p.add_argument("--seed", type=_types.seed, default=123, help="evaluate: test set seed")
    p.add_argument("--synth", default="paper", help="evaluate: synthesis preset of the test set")
    p.add_argument("--json", action="store_true", help="evaluate: print JSON only")

    def run(args: argparse.Namespace) -> int:
        from ..errors import MRSError
        from ..uncertainty import build_ensemble, evaluate_ensemble

        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        if args.action == "build":
            if args.out is None:
                raise MRSError("build: --out FILE is required (where the ensemble goes)")
            record = build_ensemble(
                args.paths,
                args.out,
                n=args.n,
                cal_seed=args.cal_seed,
                check_seed=args.check_seed,
                yae=None if args.yae.lower() == "none" else args.yae,
                command=_build_command(args),
                training_command=args.training_command,
            )
            c = record["config"]["calibration"]
            print(
                json.dumps(
                    _json_ready(
                        {
                            "file": args.out,
                            "members": record["config"]["members"],
                            "coverage": c["coverage"],
                            "false_positive_rate": c["false_positive_rate"],
                            "false_positive_reasons": c["false_positive_reasons"],
                        }
                    ),
                    indent=2,
                )
            )
            return 0
        if len(args.paths) != 1:
            raise MRSError(f"evaluate: expected one ensemble file, got {len(args.paths)}")
        name = args.paths[0]
        res = evaluate_ensemble(name, n=args.n, seed=args.seed, synth=args.synth)
        if args.json:
            print(json.dumps(_json_ready(res), indent=2))
            return 0
        print(f"ensemble {name} ({res['members']} members): n={res['n']} seed={args.seed}")
        print_metric_table(res)
        return 0

    return run

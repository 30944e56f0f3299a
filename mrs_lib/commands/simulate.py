"""``mrs simulate``: a MEGA-PRESS ON/OFF basis from a named preset (chapter 1).

Contract (other tools rely on it)::

    mrs simulate --preset NAME [--points N] [--metabolites GABA Glu ...]
                 [--lw-hz 2.0] --out FILE.npz

writes the :meth:`mrs_lib.sim.basis.Basis.save_npz` layout (``metabolites``,
``fid_on``, ``fid_off``, ``dwell_s``, ``larmor_mhz``, ``ppm_reference``,
``te_ms``, ``lw_hz``) with the Lorentzian ``lw_hz`` applied, and prints the
elapsed seconds. ``--out`` ending in ``.nii.gz`` writes NIfTI-MRS instead, and
``.BASIS`` writes three LCModel basis files (``_off``, ``_on``, ``_diff``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from . import _types
from ._registry import Runner, command


@command("simulate", "simulate a MEGA-PRESS ON/OFF basis (npz, NIfTI-MRS or LCModel .BASIS)")
def _simulate(p: argparse.ArgumentParser) -> Runner:
    from ..types import METABOLITES

    p.add_argument(
        "--preset",
        default="paper",
        help="protocol: paper (default), external-reference, fida-default, mrscloud-siemens",
    )
    p.add_argument(
        "--points", type=_types.points, default=None, help="readout points (default: the preset's)"
    )
    p.add_argument(
        "--metabolites",
        nargs="+",
        default=list(METABOLITES),
        choices=list(METABOLITES),
        metavar="NAME",
        help=f"metabolites, in order (default: {' '.join(METABOLITES)})",
    )
    p.add_argument(
        "--lw-hz",
        type=_types.non_negative_float,
        default=0.0,
        help="Lorentzian linewidth to apply (Hz, >= 0)",
    )
    p.add_argument(
        "--grid-points",
        type=_types.positive_int,
        default=None,
        help="positions per axis (shaped refocusing)",
    )
    p.add_argument(
        "--refocusing",
        choices=["ideal", "shaped"],
        default=None,
        help="override the preset's refocusing",
    )
    p.add_argument(
        "--gaba",
        choices=["near2013", "kaiser2008", "govindaraju2000"],
        default="near2013",
        help="GABA spin-system parameters",
    )
    p.add_argument("--no-cache", action="store_true", help="simulate even if cached")
    p.add_argument(
        "--out", type=_types.output_path, required=True, help="output file: .npz, .nii.gz or .BASIS"
    )

    def run(args: argparse.Namespace) -> int:
        from ..errors import MRSError
        from ..sim import simulate_basis

        out = Path(args.out)
        name = out.name.lower()
        if not (name.endswith(".npz") or name.endswith(".nii.gz") or name.endswith(".basis")):
            raise MRSError(f"--out {out}: expected a .npz, .nii.gz or .BASIS file name")
        t0 = time.perf_counter()
        basis = simulate_basis(
            args.preset,
            metabolites=args.metabolites,
            n_points=args.points,
            grid_points=args.grid_points,
            refocusing=args.refocusing,
            gaba=args.gaba,
            cache=not args.no_cache,
            progress=True,
        )
        if args.lw_hz:
            basis = basis.broaden(args.lw_hz)
        written: list[Path] = []
        if name.endswith(".npz"):
            written.append(basis.save_npz(out))
        elif name.endswith(".nii.gz"):
            from ..io.nifti import save_basis

            written.append(Path(save_basis(basis, out)))
        else:
            from ..io.lcmodel import write_basis

            stem = out.name[: -len(".BASIS")]
            for edit in ("off", "on", "diff"):
                written.append(
                    Path(write_basis(out.with_name(f"{stem}_{edit}.BASIS"), basis, edit))
                )
        elapsed = time.perf_counter() - t0
        for path in written:
            print(f"wrote {path}")
        print(f"{basis!r}")
        print(f"elapsed {elapsed:.2f} s")
        return 0

    return run

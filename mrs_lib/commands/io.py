"""``mrs info`` and ``mrs convert``: look inside and convert NIfTI-MRS, LCModel and basis files.

Thin wrappers over :func:`mrs_lib.io.describe` and :func:`mrs_lib.io.convert`
(chapter 1 exports NIfTI-MRS, chapter 6 hands spectra and bases to LCModel).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from . import _types
from ._registry import Runner, command


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_format(v) for v in value) if value else "-"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_format(v)}" for k, v in value.items()) if value else "-"
    return "-" if value is None else str(value)


@command(
    "info", "describe a NIfTI-MRS, LCModel (.RAW/.BASIS/.table/.csv/.COORD) or .npz basis file"
)
def _info(p: argparse.ArgumentParser) -> Runner:
    p.add_argument("file", help="the file to describe")
    p.add_argument(
        "--dwell-s",
        type=_types.positive_float,
        help="dwell time (needed for .RAW, which does not store it)",
    )
    p.add_argument(
        "--larmor-mhz",
        type=_types.positive_float,
        help="spectrometer frequency (needed for .RAW)",
    )
    p.add_argument(
        "--n-points",
        type=_types.points,
        help=".RAW: the number of points (NUNFIL) the data must have; the format does not "
        "store it, so a file cut at a line boundary is caught only with it",
    )
    p.add_argument("--json", action="store_true", help="print the description as JSON")

    def run(args: argparse.Namespace) -> int:
        from .. import io

        info = io.describe(
            args.file, dwell_s=args.dwell_s, larmor_mhz=args.larmor_mhz, n_points=args.n_points
        )
        if args.json:
            print(json.dumps(info, indent=2, default=str))
            return 0
        print(args.file)
        conc = info.pop("concentrations", None)
        for key, value in info.items():
            print(f"  {key:18s} {_format(value)}")
        if conc:
            print(f"  {'metabolite':24s} {'conc':>10s} {'%SD':>5s} {'ratio':>8s}")
            for name, (c, sd, ratio) in conc.items():
                r = "-" if ratio is None else f"{ratio:.3g}"
                print(f"  {name:24s} {c:10.3g} {sd:5.0f} {r:>8s}")
        return 0

    return run


@command("convert", "convert between NIfTI-MRS, LCModel .RAW/.BASIS and the .npz basis")
def _convert(p: argparse.ArgumentParser) -> Runner:
    p.add_argument(
        "src",
        help="input file (.npz basis, .nii/.nii.gz, .RAW; vendor .rda/.dat/.dcm/.SDAT/.7 via "
        "spec2nii)",
    )
    p.add_argument(
        "dst",
        type=_types.output_path,
        help="output file; its suffix picks the format (.npz, .nii.gz, .BASIS, .RAW)",
    )
    p.add_argument(
        "--edit",
        choices=["off", "on", "diff"],
        help="edit state to write (.BASIS output, or .RAW from an edited NIfTI-MRS file)",
    )
    p.add_argument(
        "--n-points",
        type=_types.points,
        help=".BASIS output: NDATAB (zero-fill or truncate the FIDs); .RAW input: the number "
        "of points (NUNFIL) the data must have (1 .. 2^20)",
    )
    p.add_argument(
        "--fwhmba",
        type=_types.positive_float,
        help=".BASIS: basis linewidth in ppm (default from lw_hz)",
    )
    p.add_argument("--dwell-s", type=_types.positive_float, help=".RAW input: dwell time")
    p.add_argument(
        "--larmor-mhz", type=_types.positive_float, help=".RAW input: spectrometer frequency"
    )

    def run(args: argparse.Namespace) -> int:
        from .. import io
        from ..io import vendor

        if vendor.is_vendor(args.src):  # Siemens/Philips/GE raw data: through spec2nii
            for path in _vendor_to_nifti(args.src, args.dst):
                print(path)
            return 0
        out = io.convert(
            args.src,
            args.dst,
            edit=args.edit,
            n_points=args.n_points,
            fwhmba=args.fwhmba,
            dwell_s=args.dwell_s,
            larmor_mhz=args.larmor_mhz,
        )
        print(out)
        return 0

    return run


def _vendor_to_nifti(src: str, dst: str) -> list[str]:
    """``mrs convert VENDOR_FILE OUT.nii.gz``: spec2nii, then the output renamed to ``dst``."""
    import shutil
    import tempfile
    from pathlib import Path

    from ..errors import MRSDataError
    from ..io.vendor import convert_vendor

    out = Path(dst)
    if not out.name.lower().endswith((".nii", ".nii.gz")):
        raise MRSDataError(f"'{dst}': vendor data convert to NIfTI-MRS (.nii or .nii.gz)")
    with tempfile.TemporaryDirectory(prefix="mrs-spec2nii-") as tmp:
        files = convert_vendor(src, tmp)
        out.parent.mkdir(parents=True, exist_ok=True)
        if len(files) == 1:
            gz = out.name.lower().endswith(".gz") == files[0].name.endswith(".gz")
            if not gz:
                raise MRSDataError(f"'{dst}': spec2nii wrote {files[0].name}; use that suffix")
            shutil.move(str(files[0]), out)
            return [str(out)]
        stem = out.name.split(".nii")[0]
        moved = []
        for f in files:
            target = out.parent / f"{stem}_{f.name}"
            shutil.move(str(f), target)
            moved.append(str(target))
        return moved

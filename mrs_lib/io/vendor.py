"""Vendor raw data to NIfTI-MRS through ``spec2nii`` (a dependency, not reimplemented).

``spec2nii`` (Clarke et al., MRM 2022) is the field's converter. It runs as
a child process (``python -c`` with its ``main``), so its prints, its
``sys.exit`` and its warnings stay out of this process; its output files are
read back with :mod:`mrs_lib.io.nifti`. Formats by suffix:

* Siemens ``.rda`` (``spec2nii rda``), twix ``.dat`` (``spec2nii twix -e image``),
  DICOM ``.dcm`` / ``.ima`` or a folder of them (``spec2nii dicom``);
* Philips ``.SDAT`` / ``.SPAR`` pairs (``spec2nii philips``; the partner file
  is found by suffix, any case), ``.data`` / ``.list`` (``spec2nii philips_dl``);
* GE P-files ``.7`` (``spec2nii ge``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ..errors import MRSFormatError

PathLike = str | os.PathLike[str]

#: Suffixes (lower case) handled through spec2nii.
VENDOR_SUFFIXES = (".rda", ".dat", ".dcm", ".ima", ".sdat", ".spar", ".data", ".list", ".7")


def is_vendor(path: PathLike) -> bool:
    """True for a file (or DICOM folder) that :func:`convert_vendor` handles."""
    p = Path(path)
    return p.suffix.lower() in VENDOR_SUFFIXES or (p.is_dir() and any(p.glob("*.[dD][cC][mM]")))


def _partner(path: Path, suffix: str) -> Path:
    for cand in path.parent.glob(path.stem + ".*"):
        if cand.suffix.lower() == suffix:
            return cand
    raise MRSFormatError(path, "file", f"a matching {suffix.upper()} file beside it", "none found")


def spec2nii_args(path: PathLike) -> list[str]:
    """The ``spec2nii`` subcommand and inputs for ``path`` (see the module docstring)."""
    p = Path(path)
    if not p.exists():
        raise MRSFormatError(p, "file", "an existing vendor file", "no such file")
    s = p.suffix.lower()
    if s == ".rda":
        return ["rda", str(p)]
    if s == ".dat":
        return ["twix", "-e", "image", str(p)]
    if s in (".sdat", ".spar"):
        sdat = p if s == ".sdat" else _partner(p, ".sdat")
        spar = p if s == ".spar" else _partner(p, ".spar")
        return ["philips", str(sdat), str(spar)]
    if s in (".data", ".list"):
        data = p if s == ".data" else _partner(p, ".data")
        lst = p if s == ".list" else _partner(p, ".list")
        return ["philips_dl", str(data), str(lst)]
    if s == ".7":
        return ["ge", str(p)]
    if s in (".dcm", ".ima") or p.is_dir():
        return ["dicom", str(p)]
    raise MRSFormatError(
        p, "suffix", f"a vendor format ({', '.join(VENDOR_SUFFIXES)}) or NIfTI-MRS", p.suffix
    )


def convert_vendor(path: PathLike, outdir: PathLike, *, timeout_s: float = 300.0) -> list[Path]:
    """Convert a vendor file with spec2nii into ``outdir``; returns the NIfTI-MRS files written.

    A failure raises :class:`~mrs_lib.errors.MRSFormatError` naming the file
    and the end of spec2nii's own message.
    """
    src = Path(path)
    args = spec2nii_args(src)
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-c",
        "import sys; from spec2nii.spec2nii import main; sys.exit(main())",
        *args[:1],
        "-o",
        str(out),
        "-f",
        src.stem.replace(" ", "_") or "scan",
        *args[1:],
    ]
    before = set(out.glob("*.nii*"))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise MRSFormatError(
            src, "file", f"a conversion within {timeout_s:g} s", "timeout"
        ) from None
    written = sorted(set(out.glob("*.nii*")) - before)
    if proc.returncode != 0 or not written:
        tail = (proc.stderr or proc.stdout).strip().splitlines()
        raise MRSFormatError(
            src,
            f"spec2nii {args[0]}",
            "a file spec2nii converts",
            tail[-1] if tail else f"exit code {proc.returncode}, nothing written",
        )
    return written


__all__ = ["VENDOR_SUFFIXES", "convert_vendor", "is_vendor", "spec2nii_args"]

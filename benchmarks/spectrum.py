"""Resampling to the network grid: zoom-FFT (``Spectrum.to_grid``) vs a direct DFT.

The network input is the spectrum on 1.0-4.5 ppm at 2048 points, a grid that is
not the FFT's. ``Spectrum.to_grid`` evaluates the discrete-time Fourier
transform there with a chirp-z (zoom) FFT. The baseline is the same sum done as
a dense matrix product. Both are exact, so the script also prints their largest
difference.

Run: ``.venv/bin/python benchmarks/spectrum.py [--batch 256]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from mrs_lib.spectrum import Spectrum
from mrs_lib.types import NETWORK_POINTS, NETWORK_PPM_RANGE


def _best_of(fn, repeats: int = 5) -> float:
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--points", type=int, default=4096, help="FID points (paper preset: 4096)")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    dwell, larmor = 1 / 2000, 123.23
    t = np.arange(args.points) * dwell
    freqs = rng.uniform(-300, 300, size=(args.batch, 8))
    fid = np.exp(2j * np.pi * freqs[..., None] * t).sum(axis=1) * np.exp(-np.pi * 4 * t)
    spec = Spectrum(fid, dwell, larmor)

    ppm = np.linspace(*NETWORK_PPM_RANGE, NETWORK_POINTS)
    f = spec.ppm_to_hz(ppm)
    dft = np.exp(-2j * np.pi * np.outer(np.arange(args.points) * dwell, f))

    def direct() -> np.ndarray:
        return fid @ dft

    def zoom() -> np.ndarray:
        return spec.to_grid()[1]

    err = np.max(np.abs(direct() - zoom())) / np.max(np.abs(direct()))
    t_direct, t_zoom = _best_of(direct), _best_of(zoom)
    print(f"batch {args.batch} x {args.points} points -> {NETWORK_POINTS} grid points")
    print(f"direct DFT (matmul): {args.batch / t_direct:10.0f} spectra/s")
    print(f"zoom FFT (to_grid):  {args.batch / t_zoom:10.0f} spectra/s")
    print(f"speed-up: {t_direct / t_zoom:.1f}x; max relative difference {err:.1e}")


if __name__ == "__main__":
    main()

"""Preprocessing speed: a raw scan of 320 transients x 32 coils x 2048 points, then a network.

Goal (issue 15): the whole scan through preprocessing (coil combination,
eddy-current correction, alignment, rejection, averaging, water removal,
ON/OFF alignment, referencing, phase) and the ``cnn-cpu`` network in under
5 s on 2 cores, memory under 2 GB, also with the calibrated ``cnn-ensemble`` (five CNNs
and the YAE of its out-of-domain check); the fitters at their own speed beside it.

The scan is simulated by :func:`mrs_lib.preprocess.simulate_raw` from the
``paper`` basis (truncated to 2048 points at 2000 Hz): 160 ON/OFF pairs,
32 coils, drift, phase noise, 4 motion-corrupted shots, residual water 100x
NAA, lipids, eddy currents and a water reference. Printed: seconds per stage
(median of ``--repeat`` runs), the peak memory that numpy allocates during
preprocessing (tracemalloc) and the process's peak RSS, and the speed of the
Gannet-style and LCModel-style fits on the preprocessed spectra.

Run::

    MRS_SCALE=tiny MRS_DATA_DIR=../shared/data .venv/bin/python benchmarks/preprocess.py
        [--repeat 3] [--no-fitters]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
import tracemalloc

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--pairs", type=int, default=160)
    ap.add_argument("--coils", type=int, default=32)
    ap.add_argument("--no-fitters", action="store_true")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(2)
    from mrs_lib.io.bases import resolve_basis
    from mrs_lib.preprocess import preprocess, simulate_raw
    from mrs_lib.quantify import GannetQuantifier, LCMQuantifier, NetworkQuantifier

    basis = resolve_basis("paper")
    t0 = time.perf_counter()
    sim = simulate_raw(
        basis,
        np.array([1.0, 0.25, 0.4, 1.1, 1.3]),
        n_pairs=args.pairs,
        n_coils=args.coils,
        noise=0.05,
        drift_hz=6.0,
        jitter_hz=1.0,
        phase_sd_deg=10.0,
        corrupted=(7, 100, 201, 300),
        water_ratio=100.0,
        lipid_ratio=3.0,
        offset_hz=10.0,
        eddy_deg=20.0,
        rng=0,
    )
    shape = sim.scan.fid.shape
    print(
        f"raw scan: {shape[0]} coils x {shape[1] * shape[2]} transients x {shape[3]} points "
        f"({sim.scan.fid.nbytes / 2**20:.0f} MiB complex128), simulated in "
        f"{time.perf_counter() - t0:.1f} s"
    )
    from mrs_lib.uncertainty import EnsembleQuantifier

    net = NetworkQuantifier("cnn-cpu")
    ens = EnsembleQuantifier("cnn-ensemble")  # 5 CNNs + the YAE of the domain check
    pre_s, net_s, ens_s = [], [], []
    result = None
    for i in range(args.repeat):
        if i == 0:
            tracemalloc.start()
        t = time.perf_counter()
        result = preprocess(sim.scan, sim.water, keep_transients=False)
        pre_s.append(time.perf_counter() - t)
        if i == 0:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        t = time.perf_counter()
        net.quantify(result.spectra)
        net_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        ens.quantify(result.spectra)
        ens_s.append(time.perf_counter() - t)
    assert result is not None
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rejected = np.argwhere(result.rejection.rejected).tolist() if result.rejection else []
    p, n = statistics.median(pre_s), statistics.median(net_s)
    print(f"preprocessing: {p:.2f} s (median of {args.repeat}); rejected {rejected}")
    e = statistics.median(ens_s)
    print(f"cnn-cpu network: {n:.3f} s")
    print(f"cnn-ensemble (5 members, calibrated SD, out-of-domain flags with the YAE): {e:.3f} s")
    print(f"total: {p + n:.2f} s with one network, {p + e:.2f} s with the ensemble (goal < 5 s)")
    print(
        f"memory: {peak / 2**20:.0f} MiB peak allocated during preprocessing (the raw scan "
        f"itself {sim.scan.fid.nbytes / 2**20:.0f} MiB), process peak RSS {rss:.0f} MiB "
        "(goal < 2 GB)"
    )
    if not args.no_fitters:
        for q in (GannetQuantifier(basis), LCMQuantifier(basis)):
            t = time.perf_counter()
            q.quantify(result.spectra)
            print(f"{q.name}: {time.perf_counter() - t:.2f} s per scan")


if __name__ == "__main__":
    main()

"""Synthesis throughput: spectra per second on the network grid (goal: >= 20,000/s, 2 cores).

Generates batches with :func:`mrs_lib.synth.generate` from the FID-A reference
basis (2048 points, 2000 Hz) or a synthetic singlet basis of the same size
(``--basis singlets``, no data files needed) and prints the best of a few runs
for each preset:

* ``paper``: Sobol concentrations, 2 Hz + U(0, 8) Hz Lorentzian, relative
  noise, 2 rows (OFF, ON real), with and without the noiseless copy;
* ``paper-no-lw``: the same without variable linewidth;
* ``full``: every augmentation, five acquisition grids;
* ``paper, exact``: the paper preset with ``exact=True`` (every spectrum and
  noise realisation by the exact chirp-z transform; the pre-fast-path figure);
* with ``--robust``: the training generator of chapter 7, ``robust`` on the
  bank of 64 basis variants (one drawn per spectrum, 4 input rows OFF/ON real
  and imaginary, :func:`mrs_lib.synth.synthesize`), against ``paper`` on the
  project's ``paper`` basis through the same function in the same process,
  and ``robust-ref`` (chapter 7's networks for the referencing route, 2 rows)
  on the bank plus the nominal basis (``bank+paper``).

The default (fast) paths are described in :mod:`mrs_lib.synth.grid`
("Fast paths"): a Chebyshev expansion in the linewidth for the clean spectra
and a short zero-padded FFT for the noise; their parameters and error bounds
are printed first.

Also times the two building blocks (one chirp-z transform = FFT + inverse FFT
of length 4096, and complex normal noise) so the figures can be read against
the hardware. Two figures per preset: wall-clock spectra/s with ``--workers``
threads, and the CPU time per spectrum of a single thread (``process_time``),
whose inverse times two is what two dedicated cores reach if the work splits
evenly (it does: blocks of 32 spectra are independent). On a shared machine
the load average, printed too, moves the wall-clock figure far more than the
CPU-time one.

Run: ``MRS_DATA_DIR=../shared/data .venv/bin/python benchmarks/synth.py [--n 8192] [--workers 2]``
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from mrs_lib.synth import (
    SynthConfig,
    Synthesizer,
    complex_normal,
    generate,
    grid_transform,
    singlet_basis,
)


def best_rate(fn, n: int, repeats: int, clock=time.perf_counter) -> float:
    """Items per second of ``clock`` time, best of ``repeats`` runs."""
    best = np.inf
    for _ in range(repeats):
        t0 = clock()
        fn()
        best = min(best, clock() - t0)
    return n / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=8192, help="spectra per timed batch")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2, help="threads (the goal is for 2 cores)")
    ap.add_argument("--basis", choices=["fida", "singlets"], default="fida")
    ap.add_argument(
        "--robust", action="store_true", help="also time the robust preset on the bank (chapter 7)"
    )
    args = ap.parse_args()

    if args.basis == "fida":
        from mrs_lib.sim import load_fida_reference

        basis = load_fida_reference()
    else:
        basis = singlet_basis()
    print(f"basis: {basis}")
    print(
        f"cpus available: {len(os.sched_getaffinity(0))}, workers: {args.workers}, "
        f"load average: {os.getloadavg()[0]:.2f}"
    )

    # building blocks, single thread
    gt = grid_transform(basis.n_points, basis.dwell_s, basis.larmor_mhz, basis.on.ppm_reference)
    x = np.ones((256, basis.n_points), np.complex64)
    rng = np.random.default_rng(0)
    rate = best_rate(lambda: gt.prechirped(x), 256, args.repeats)
    print(f"chirp-z (FFT+IFFT, L={gt.L}), 1 thread:       {1e6 / rate:7.1f} us per transform")
    rate = best_rate(lambda: complex_normal(rng, (256, basis.n_points)), 256, args.repeats)
    print(
        f"complex normal noise x {basis.n_points}, 1 thread:   {1e6 / rate:7.1f} us per acquisition"
    )

    plan = Synthesizer(basis, "paper").plans[0]
    exp, gn = plan.expansion(0.0, 8.0), plan.noise
    print(
        f"fast clean: Chebyshev terms {exp.n_terms} per metabolite, "
        f"error bound {exp.max_error:.1e} of the peak"
    )
    print(
        f"fast noise: {gn.n_time} samples -> FFT {gn.fft_len} (exact chirp-z: {gt.L}), "
        f"max covariance error {gn.max_corr_error:.2%} of the variance"
    )

    cases = [
        ("paper", SynthConfig.preset("paper")),
        ("paper, no clean copy", SynthConfig.preset("paper", keep_clean=False)),
        ("paper-no-lw", SynthConfig.preset("paper-no-lw")),
        ("full", SynthConfig.preset("full")),
        ("paper, exact", SynthConfig.preset("paper", exact=True)),
        ("paper, exact, no clean", SynthConfig.preset("paper", exact=True, keep_clean=False)),
    ]
    print(
        "preset                   wall-clock spectra/s   "
        "CPU us/spectrum (1 thread) -> 2 dedicated cores"
    )
    for label, cfg in cases:
        generate(basis, 512, 0, cfg, workers=args.workers)  # warm-up: plans, caches
        rate = best_rate(
            lambda cfg=cfg: generate(basis, args.n, 1, cfg, workers=args.workers),
            args.n,
            args.repeats,
        )
        cpu = best_rate(
            lambda cfg=cfg: generate(basis, args.n // 4, 1, cfg, workers=1),
            args.n // 4,
            args.repeats,
            clock=time.process_time,
        )
        print(
            f"{label:24s} {rate:9.0f} ({args.workers} workers)   {1e6 / cpu:7.1f} us  "
            f"-> {2 * cpu:9.0f} spectra/s"
        )
    if args.robust:
        robust_generator(args.n, args.repeats)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


def robust_generator(n: int, repeats: int) -> None:
    """CPU time per spectrum of ``synthesize``: robust on the bank and robust-ref on the bank
    plus the nominal basis, against paper on the paper basis."""
    from mrs_lib.io.bases import resolve_basis
    from mrs_lib.synth import synthesize
    from mrs_lib.synth.bases import resolve_bases

    t0 = time.perf_counter()
    bank = resolve_bases("bank")
    print(f"bank of {len(bank)} basis variants loaded in {time.perf_counter() - t0:.1f} s")
    rows = ("off:real", "off:imag", "on:real", "on:imag")
    cases = [
        ("paper, paper basis", SynthConfig.preset("paper"), resolve_basis("paper")),
        ("robust, bank, 4 rows", SynthConfig.preset("robust", channels=rows), list(bank)),
        (
            "robust-ref, bank+paper",
            SynthConfig.preset("robust-ref"),
            list(resolve_bases("bank+paper")),
        ),
    ]
    per = {}
    for label, cfg, basis in cases:
        synthesize(256, 0, cfg, basis)  # warm-up: plans, caches
        rate = best_rate(
            lambda cfg=cfg, basis=basis: synthesize(n // 4, 1, cfg, basis),
            n // 4,
            repeats,
            clock=time.process_time,
        )
        per[label] = 1e6 / rate
        print(f"synthesize {label:22s} {1e6 / rate:7.1f} us CPU per spectrum -> {2 * rate:7.0f}/s")
    for label in ("robust, bank, 4 rows", "robust-ref, bank+paper"):
        ratio = per[label] / per["paper, paper basis"]
        print(f"{label} costs {ratio:.1f}x the paper recipe per spectrum")


if __name__ == "__main__":
    main()

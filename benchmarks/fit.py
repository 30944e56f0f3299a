"""Conventional fits against networks on the paper's simulated test set: accuracy and speed.

Test set (method.md, "Data synthesis"): the paper-preset basis (123.23 MHz,
4096 points, 2000 Hz) with a 2 Hz Lorentzian, concentrations U[0, 1)^5, one
total linewidth per spectrum U(2, 8) Hz, complex time-domain noise of SD
U(0, 0.03) x max|FID| drawn independently for OFF and ON
(:func:`mrs_lib.quantify.paper_test_set`). Every method gets the same
:class:`~mrs_lib.spectrum.EditedSpectra` through the one quantifier interface.

Printed: max-normalised MAE per metabolite (the paper's metric), GABA/Cr
absolute error (the Gannet-style fit reports only GABA and Cr), spectra per
second, and speed ratios to the LCModel-style fit measured in the same run.
Fits run on one core (single-threaded BLAS, like LCModel); networks use
torch's default threads and one batched call over the test set.

Networks: trained checkpoints given with ``--model NAME_OR_PATH`` (artifact
names or .pt paths), else the shipped ones that are available
(``yae-paper.pt``, ``yae-paper-no-lw.pt``, ``cnn-cpu.pt``, ``fcnn-cpu.pt``),
else untrained networks of the paper's sizes, timed only (their MAE would be
meaningless and is not printed).

Run::

    MRS_DATA_DIR=../shared/data .venv/bin/python benchmarks/fit.py [--n 40] [--basis paper|fida]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from mrs_lib import artifacts, quantify
from mrs_lib.fit.lcmodel import lcmodel_available
from mrs_lib.sim import load_fida_reference
from mrs_lib.sim.basis import Basis, simulate_basis
from mrs_lib.spectrum import EditedSpectra
from mrs_lib.types import MODEL_NAMES


def load_basis(name: str) -> Basis:
    """The FID-A reference basis (``"fida"``) or a simulated preset, with a 2 Hz Lorentzian."""
    if name == "fida":
        return load_fida_reference()  # already carries 2 Hz
    return simulate_basis(name, progress=False).broaden(2.0)


SHIPPED = ("yae-paper.pt", "yae-paper-no-lw.pt", "cnn-cpu.pt", "fcnn-cpu.pt")


def networks(models: list[str]) -> list[tuple[quantify.NetworkQuantifier, bool]]:
    """(quantifier, trained?) pairs: the given checkpoints, else the shipped ones, else
    untrained paper-size networks (timed only)."""
    if not models:
        have = set(artifacts.available())
        models = [m for m in SHIPPED if m in have]
    if models:
        return [
            (quantify.NetworkQuantifier(m, name=str(m).removesuffix(".pt")), True) for m in models
        ]
    # Imported on use: mrs_lib.models imports torch (seconds), needed here only for stand-ins.
    from mrs_lib.models import build_model

    return [
        (quantify.NetworkQuantifier(build_model(name, "paper"), name=f"{name} (untrained)"), False)
        for name in MODEL_NAMES
    ]


def timed(
    q: quantify.Quantifier, spectra: EditedSpectra, repeats: int = 1
) -> quantify.QuantResult | None:
    """Best-of-``repeats`` result (the quantify call includes building the network input)."""
    best = None
    for _ in range(repeats):
        r = q.quantify(spectra)
        if best is None or r.seconds < best.seconds:
            best = r
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=40, help="test spectra")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--basis", default="paper", help="simulate_basis preset, or 'fida'")
    ap.add_argument(
        "--model", action="append", default=[], help="trained network checkpoint (repeatable)"
    )
    args = ap.parse_args()

    t0 = time.perf_counter()
    basis = load_basis(args.basis)
    test = quantify.paper_test_set(basis, args.n, args.seed)
    setup_s = time.perf_counter() - t0
    print(f"basis {basis!r}; {args.n} test spectra (seed {args.seed}); setup {setup_s:.1f} s")

    rows = []
    methods: list[tuple[object, bool]] = [
        (quantify.LCMQuantifier(basis), True),
        (quantify.GannetQuantifier(basis), True),
    ]
    if lcmodel_available():
        methods.append((quantify.LCModelQuantifier(basis), True))
    else:
        print(
            "no LCModel binary on PATH or $LCMODEL: real LCModel skipped "
            "(see mrs_lib.fit.lcmodel.INSTALL_NOTE)"
        )
    methods += networks(args.model)
    for q, trained in methods:
        is_net = isinstance(q, quantify.NetworkQuantifier)
        r = timed(q, test.spectra, repeats=3 if is_net else 1)
        s = quantify.score(r, test.concentrations)
        s["trained"] = trained
        if is_net:  # latency of one spectrum at a time, for the per-fit comparison
            one = [
                q.quantify(a).seconds for a in list(quantify.iter_acquisitions(test.spectra))[:10]
            ]
            s["single_per_s"] = 1.0 / float(np.median(one))
        rows.append(s)

    names = basis.metabolites
    ref = rows[0]["spectra_per_s"]
    head = f"| method | {' | '.join(names)} | GABA/Cr MAE | spectra/s | x lcm |"
    print("\nMax-normalised MAE per metabolite (paper metric), GABA/Cr absolute error, throughput")
    print(head)
    print("|" + "---|" * (len(names) + 4))
    for s in rows:
        mae = " | ".join(
            "-" if (not s["trained"] or np.isnan(s["mae"][m])) else f"{s['mae'][m]:.3f}"
            for m in names
        )
        gcr = f"{s['gaba_cr_mae']:.3f}" if s["trained"] else "-"
        rate = s["spectra_per_s"]
        print(f"| {s['method']} | {mae} | {gcr} | {rate:.3g} | {rate / ref:.3g} |")
    nets = [s for s in rows if "single_per_s" in s]
    if nets:
        print("\nOne spectrum at a time (batch 1):")
        for s in nets:
            one = s["single_per_s"]
            print(f"  {s['method']}: {one:.3g} spectra/s = {one / ref:.3g} x lcm")


if __name__ == "__main__":
    main()

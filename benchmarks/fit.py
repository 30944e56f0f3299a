"""Conventional fits against networks on the paper's simulated test set: accuracy and speed.

Test set (method.md, "Data synthesis"): the paper-preset basis (123.23 MHz,
4096 points, 2000 Hz) with a 2 Hz Lorentzian, concentrations U[0, 1)^5, one
total linewidth per spectrum U(2, 8) Hz, complex time-domain noise of SD
U(0, 0.03) x max|FID| drawn independently for OFF and ON
(:func:`mrs_lib.quantify.paper_test_set`). Every method gets the same
:class:`~mrs_lib.spectrum.EditedSpectra` through the one quantifier interface.

Printed: max-normalised MAE per metabolite (the paper's metric), GABA/Cr
absolute error (the Gannet-style fit reports only GABA and Cr), spectra per
second, and speed ratios to the LCModel-style fit and to real LCModel measured
in the same run; then the two fitters side by side on the same cores: the
built-in fit (single-threaded BLAS) and real LCModel with ``--workers``
processes (default 1: one core each), spectra/s and their ratio, and how far
their concentrations agree (median relative difference per metabolite, GABA
from the DIFF fit, the rest from the OFF fit), for the default fit and for its
LCModel-mimicking mode (``preset="lcmodel"``, :mod:`mrs_lib.fit.lcm.mimic`,
printed as ``lcm-lcmodel``). An acquisition is one spectrum
(an OFF and a DIFF fit for both fitters). Networks use torch's default threads
and one batched call over the test set.

Networks: trained checkpoints given with ``--model NAME_OR_PATH`` (artifact
names or .pt paths), else the shipped ones that are available
(``yae-paper.pt``, ``yae-paper-no-lw.pt``, ``cnn-cpu.pt``, ``fcnn-cpu.pt``),
else untrained networks of the paper's sizes, timed only (their MAE would be
meaningless and is not printed).

Run::

    MRS_DATA_DIR=../shared/data .venv/bin/python benchmarks/fit.py [--n 40] [--basis paper|fida]
        [--workers 1] [--no-networks]

``--bench a|b|c`` instead scores the two fitters on chapter 7's external bench
(:mod:`mrs_lib.bench`: the Swansea design rendered from the FID-A basis, 152
scans, fitted with the project's ``paper`` basis at the data's field): MAE of
the default fit, its LCModel mode and real LCModel, the median relative
difference of each mode to LCModel, and the speeds.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from mrs_lib import artifacts, metrics, quantify
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
    ap.add_argument(
        "--workers", type=int, default=1, help="LCModel processes at a time (default 1: one core)"
    )
    ap.add_argument("--no-networks", action="store_true", help="time the fitters only")
    ap.add_argument("--bench", choices=["a", "b", "c"], help="the fitters on the external bench")
    args = ap.parse_args()
    if args.bench:
        external_bench(args.bench, args.workers)
        return

    t0 = time.perf_counter()
    basis = load_basis(args.basis)
    test = quantify.paper_test_set(basis, args.n, args.seed)
    setup_s = time.perf_counter() - t0
    print(f"basis {basis!r}; {args.n} test spectra (seed {args.seed}); setup {setup_s:.1f} s")

    rows = []
    mimic = quantify.LCMQuantifier(basis, preset="lcmodel")
    mimic.name = "lcm-lcmodel"
    methods: list[tuple[quantify.Quantifier, bool]] = [
        (quantify.LCMQuantifier(basis), True),
        (mimic, True),
        (quantify.GannetQuantifier(basis), True),
    ]
    if lcmodel_available():
        methods.append((quantify.LCModelQuantifier(basis, workers=args.workers), True))
    else:
        print(
            "no LCModel binary on PATH or $LCMODEL: real LCModel skipped "
            "(see mrs_lib.fit.lcmodel.INSTALL_NOTE)"
        )
    if not args.no_networks:
        methods += networks(args.model)
    results = {}
    for q, trained in methods:
        is_net = isinstance(q, quantify.NetworkQuantifier)
        r = timed(q, test.spectra, repeats=3 if is_net else 1)
        assert r is not None
        results[r.method] = r
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
    if "lcmodel" in results:
        for name in ("lcm", "lcm-lcmodel"):
            fitters_side_by_side(
                results[name], results["lcmodel"], test.concentrations, args.workers
            )


def external_bench(level: str, workers: int) -> None:
    """The built-in fit and real LCModel on chapter 7's external bench at ``level``."""
    import pandas as pd

    from mrs_lib.bench import BenchConditions, get_source, render
    from mrs_lib.bench.sources import fitter_bases
    from mrs_lib.io.phantoms import load_design
    from mrs_lib.validation import PerAcquisition, score_scans

    if not lcmodel_available():
        raise SystemExit("no LCModel binary: `make lcmodel` builds it")
    scans = render(load_design(), BenchConditions.level(level), source="fida", seed=0, repeats=2)
    basis_for = fitter_bases(get_source("fida").larmor_mhz, "paper")
    options = {
        "lcm": ("lcm", {}),
        "lcm-lcmodel": ("lcm", {"preset": "lcmodel"}),
        "lcmodel": ("lcmodel", {"workers": workers}),
    }
    parts, seconds = [], {}
    for name, (method, kw) in options.items():
        q = PerAcquisition(
            lambda bw, n, method=method, kw=kw: quantify.get_quantifier(
                method, basis=basis_for(bw, n), **kw
            ),
            name,
        )
        t0 = time.perf_counter()
        parts.append(score_scans({name: q}, scans))
        seconds[name] = time.perf_counter() - t0
    table = pd.concat(parts, ignore_index=True)
    mae = table.pivot_table(index="method", columns="metabolite", values="abs_error")
    est = table.pivot_table(
        index=["series", "scan"], columns=["method", "metabolite"], values="estimate"
    )
    true = table[table.method == "lcm"].pivot_table(
        index=["series", "scan"], columns="metabolite", values="true_mm"
    )
    names = list(mae.columns)
    print(f"External bench, level ({level}), {len(scans)} scans; max-normalised MAE:")
    print(mae.round(4).to_string())
    for name in ("lcm", "lcm-lcmodel"):
        rel = metrics.relative_difference(est[name][names], est["lcmodel"][names], true[names])
        print(
            f"median |{name} - LCModel| / LCModel: "
            + ", ".join(f"{m} {v:.3f}" for m, v in zip(names, rel, strict=True))
        )
        print(
            f"seconds: {name} {seconds[name]:.0f} (1 core), LCModel {seconds['lcmodel']:.0f} "
            f"({workers} process(es)); {name} / LCModel speed = "
            f"{seconds['lcmodel'] / seconds[name]:.2f}"
        )


def fitters_side_by_side(
    lcm: quantify.QuantResult, real: quantify.QuantResult, truth: np.ndarray, workers: int
) -> None:
    """Speed on the same cores and agreement of the built-in fit with real LCModel."""
    print(
        f"\nBuilt-in fit ({lcm.method}, 1 core) and real LCModel ({workers} process(es)) "
        "on the same spectra:"
    )
    ratio = lcm.per_second / real.per_second
    print(
        f"  spectra/s: {lcm.method} {lcm.per_second:.3g} ({1 / lcm.per_second:.2f} s each), "
        f"LCModel {real.per_second:.3g} ({1 / real.per_second:.2f} s each); "
        f"lcm / LCModel = {ratio:.2f} (per core: {ratio * workers:.2f})"
    )
    rel = metrics.relative_difference(lcm.concentrations, real.concentrations, truth)
    print(
        f"  median |{lcm.method} - LCModel| / LCModel (spectra with the metabolite present): "
        + ", ".join(f"{m} {v:.3f}" for m, v in zip(lcm.metabolites, rel, strict=True))
    )


if __name__ == "__main__":
    main()
